-- imax-gateway schema, version 15: certification scoped by Business Partner Relationship
-- (seed Q25, Q28) and property assignments flagged for removal (R18).
--
-- `recertifications` keeps one row per user and cycle (its first certification, which older
-- builds read and write); each coordinator's certification of a user for a cycle is a row here,
-- and covers the user's properties the coordinator has a BPR with.
CREATE TABLE cycle_certifications (
    user_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    cycle          INTEGER NOT NULL,
    coordinator_id INTEGER NOT NULL REFERENCES accounts(id),
    certified_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, cycle, coordinator_id)
);
INSERT INTO cycle_certifications (user_id, cycle, coordinator_id, certified_at)
    SELECT user_id, cycle, coordinator_id, certified_at FROM recertifications;

-- The cycles whose deadline has been applied to property assignments: once each, so that a
-- property assigned after the deadline is not taken away by the next run of the job.
CREATE TABLE certification_deadlines (
    cycle      INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
);

-- Who flagged a property assignment for removal at the deadline (R18), and when.
ALTER TABLE property_assignments ADD COLUMN flagged_by TEXT;
ALTER TABLE property_assignments ADD COLUMN flagged_at INTEGER;
