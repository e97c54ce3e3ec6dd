-- imax-gateway schema (PostgreSQL), version 2: who operates the directory.

-- HUD Help Desk staff (R4, R14, R16, R24): accounts that may unlock coordinators, restore
-- terminated M-IDs, admit to the working group, reset mailbox passwords and post broadcasts.
CREATE TABLE help_desk (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    added_at   BIGINT NOT NULL,
    added_by   TEXT NOT NULL
);

-- Which coordinators manage which users (R3, R14, R19: a user may have several).
CREATE TABLE coordinator_users (
    coordinator_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    assigned_at    BIGINT NOT NULL,
    PRIMARY KEY (coordinator_id, user_id)
);
CREATE INDEX coordinator_users_user ON coordinator_users (user_id);
