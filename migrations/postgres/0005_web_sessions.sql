-- imax-gateway schema (PostgreSQL), version 5: browser sessions, kept in the database so that every
-- gateway node sharing it knows every session, and a sign-out ends it everywhere.

CREATE TABLE web_sessions (
    -- SHA-256 (hex) of the cookie's random value: a copy of this table opens no session.
    id_hash       TEXT PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- The account's auth_epoch when the session began: a password change, lock or rights
    -- change anywhere ends the session.
    auth_epoch    BIGINT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    -- The mailbox opened with its TRACSMail ID and password (R10), with its auth_epoch then.
    mailbox_id    BIGINT REFERENCES mailboxes(id) ON DELETE SET NULL,
    mailbox_epoch BIGINT
);

CREATE INDEX web_sessions_account ON web_sessions (account_id);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);
