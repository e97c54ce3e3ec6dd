-- imax-gateway schema, version 1. Times are UTC seconds since the epoch.

CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    mid                 TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('coordinator', 'user')),
    full_name           TEXT NOT NULL,
    email               TEXT NOT NULL DEFAULT '',
    organization        TEXT NOT NULL DEFAULT '',
    password_hash       TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'terminated')),
    lock_reason         TEXT,
    failed_signins      INTEGER NOT NULL DEFAULT 0,
    last_activity_at    INTEGER,
    last_signin_at      INTEGER,
    created_at          INTEGER NOT NULL,
    auth_epoch          INTEGER NOT NULL DEFAULT 0,
    -- Room for the account lifecycle (R17-R21): Rules of Behavior and recertification.
    rob_accepted_at     INTEGER,
    recertified_at      INTEGER
);

-- The iMAX Coordinator action and the iMAX, TCC and TCR roles (R5-R7).
CREATE TABLE account_rights (
    account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    right_name          TEXT NOT NULL CHECK (right_name IN ('imax-coordinator', 'imax', 'tcc', 'tcr')),
    granted_at          INTEGER NOT NULL,
    granted_by          TEXT NOT NULL,
    flagged_for_removal INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, right_name)
);

-- The iMAX working group of the system-to-system interface (R8).
CREATE TABLE working_group (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    admitted_at INTEGER NOT NULL,
    admitted_by TEXT NOT NULL
);

CREATE TABLE password_history (
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    changed_at    INTEGER NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, changed_at);

-- TRACSMail mailboxes (iMAX IDs), with room for the R23 profile.
CREATE TABLE mailboxes (
    id                  INTEGER PRIMARY KEY,
    imax_id             TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('hud', 'ca', 'property', 'service-bureau')),
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    password_hash       TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    accepts_attachments INTEGER NOT NULL DEFAULT 1,
    auth_epoch          INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL
);

CREATE TABLE properties (
    id              INTEGER PRIMARY KEY,
    property_number TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    mailbox_id      INTEGER REFERENCES mailboxes(id)
);

-- Each contract's administrator: HUD's mailbox or a CA's (R12).
CREATE TABLE contracts (
    contract_number        TEXT PRIMARY KEY,
    property_id            INTEGER NOT NULL REFERENCES properties(id),
    administrator_mailbox  INTEGER NOT NULL REFERENCES mailboxes(id)
);
CREATE INDEX contracts_property ON contracts (property_id);

-- Business Partner Relationships of coordinators (R3) and property assignments (R6, R22).
CREATE TABLE business_partners (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, property_id)
);
CREATE TABLE property_assignments (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, property_id)
);

-- A message is a row here plus a body file; the row is committed only after the body is
-- durable, so a visible row always has its body.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    message_id    TEXT NOT NULL UNIQUE,
    from_mailbox  INTEGER NOT NULL REFERENCES mailboxes(id),
    to_mailbox    INTEGER NOT NULL REFERENCES mailboxes(id),
    sent_by       TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    body_key      TEXT NOT NULL UNIQUE,
    received_at   INTEGER NOT NULL,
    retrieved_at  INTEGER,
    acked_at      INTEGER
);
CREATE INDEX messages_to ON messages (to_mailbox, received_at, id);
CREATE INDEX messages_from ON messages (from_mailbox, received_at, id);

CREATE TABLE broadcasts (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    posted_by   TEXT NOT NULL,
    posted_at   INTEGER NOT NULL
);

-- The audit chain: each record holds the SHA-256 of the previous one.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    door        TEXT NOT NULL,
    mailbox     TEXT,
    message_id  TEXT,
    client_addr TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
