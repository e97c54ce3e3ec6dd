-- imax-gateway schema (PostgreSQL), version 15: certification scoped by Business Partner
-- Relationship (seed Q25, Q28), property assignments flagged for removal (R18), and HUD's own
-- staff recertified by their supervisor, OTC or COR (internal user recertification).
--
-- `recertifications` keeps one row per user and cycle (its first certification, which older
-- builds read and write); each coordinator's certification of a user for a cycle is a row here,
-- and covers the user's properties the coordinator has a BPR with.
CREATE TABLE cycle_certifications (
    user_id        BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    cycle          BIGINT NOT NULL,
    coordinator_id BIGINT NOT NULL REFERENCES accounts(id),
    certified_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, cycle, coordinator_id)
);
INSERT INTO cycle_certifications (user_id, cycle, coordinator_id, certified_at)
    SELECT user_id, cycle, coordinator_id, certified_at FROM recertifications;

-- The cycles whose deadline has been applied to property assignments: once each, so that a
-- property assigned after the deadline is not taken away by the next run of the job.
CREATE TABLE certification_deadlines (
    cycle      BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
);

-- Who flagged a property assignment for removal at the deadline (R18), and when.
ALTER TABLE property_assignments ADD COLUMN flagged_by TEXT;
ALTER TABLE property_assignments ADD COLUMN flagged_at BIGINT;

-- HUD staff (H-IDs) the Help Desk designated to certify staff: a supervisor, OTC or COR.
CREATE TABLE internal_certifiers (
    account_id    BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    designated_by TEXT NOT NULL,
    designated_at BIGINT NOT NULL
);
-- The staff (H-IDs, C-IDs) each certifier took on (the first of the three steps). Their
-- certifications are rows of `recertifications` and `cycle_certifications` whose
-- coordinator_id is the certifier.
CREATE TABLE internal_staff (
    certifier_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    staff_id     BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    assigned_at  BIGINT NOT NULL,
    PRIMARY KEY (certifier_id, staff_id)
);

-- Unread listings (a received folder without acknowledged messages, what vendor software asks
-- for) walk only the unacknowledged messages, however long the acknowledged history.
CREATE INDEX messages_to_unacked ON messages (to_mailbox, received_at, id) WHERE acked_at IS NULL;
