-- no-transaction (src/store/migrate.rs runs this file outside a transaction: SQLite changes a
-- CHECK constraint only by rebuilding the table, and the rebuild must not fire the foreign
-- keys' ON DELETE actions of the tables that refer to it, which are off only outside one).
-- imax-gateway schema: the vendor sandbox (issue 31). Organizations of kind 'vendor' and
-- mailboxes of kind 'sandbox' (TRACX IDs), and the sandbox's simulated TRACS, TRACXTRACS.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE organizations_new (
    id         INTEGER PRIMARY KEY,
    org_id     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('owner', 'management-agent', 'service-bureau', 'contract-administrator', 'hud', 'vendor')),
    name       TEXT NOT NULL,
    tax_id     TEXT,
    created_at INTEGER NOT NULL,
    allowed_networks TEXT NOT NULL DEFAULT ''
);
INSERT INTO organizations_new (id, org_id, kind, name, tax_id, created_at, allowed_networks)
    SELECT id, org_id, kind, name, tax_id, created_at, allowed_networks FROM organizations;
DROP TABLE organizations;
ALTER TABLE organizations_new RENAME TO organizations;
CREATE TABLE mailboxes_new (
    id                  INTEGER PRIMARY KEY,
    imax_id             TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('hud', 'ca', 'property', 'service-bureau', 'sandbox')),
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    password_hash       TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    accepts_attachments INTEGER NOT NULL DEFAULT 1,
    auth_epoch          INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL
, failed_passwords INTEGER NOT NULL DEFAULT 0, frozen_until INTEGER, last_used_at INTEGER, mid_frozen_until INTEGER, organization_id INTEGER REFERENCES organizations(id),
    allowed_networks TEXT NOT NULL DEFAULT '');
INSERT INTO mailboxes_new (id, imax_id, kind, name, description, email, password_hash,
        password_changed_at, active, accepts_attachments, auth_epoch, created_at,
        failed_passwords, frozen_until, last_used_at, mid_frozen_until, organization_id,
        allowed_networks)
    SELECT id, imax_id, kind, name, description, email, password_hash,
        password_changed_at, active, accepts_attachments, auth_epoch, created_at,
        failed_passwords, frozen_until, last_used_at, mid_frozen_until, organization_id,
        allowed_networks
      FROM mailboxes;
DROP TABLE mailboxes;
ALTER TABLE mailboxes_new RENAME TO mailboxes;
-- The simulated TRACS: no password opens it ('!' is no password hash), it takes TRACS files
-- only, like TRACMPROD.
INSERT INTO mailboxes (imax_id, kind, name, password_hash, password_changed_at,
        accepts_attachments, created_at)
    VALUES ('TRACXTRACS', 'sandbox', 'TRACS (sandbox)', '!', 0, 0, 0);
COMMIT;
PRAGMA foreign_keys = ON;
