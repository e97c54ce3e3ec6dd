-- imax-gateway schema (PostgreSQL), version 3: yearly recertification of users (R17-R20).

-- One row per user and cycle (the year whose window the certification belongs to).
CREATE TABLE recertifications (
    user_id        BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    cycle          BIGINT NOT NULL,
    coordinator_id BIGINT NOT NULL REFERENCES accounts(id),
    certified_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, cycle)
);

-- Who flagged a right for removal at the deadline (R18), and when.
ALTER TABLE account_rights ADD COLUMN flagged_by TEXT;
ALTER TABLE account_rights ADD COLUMN flagged_at BIGINT;
