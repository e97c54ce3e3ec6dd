-- imax-gateway schema (PostgreSQL), version 4: TRACSMail mailbox profiles (R23) and Help Desk password
-- resets (R24).

CREATE TABLE mailbox_profiles (
    mailbox_id          BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    contact_name        TEXT NOT NULL,
    description         TEXT NOT NULL,
    title               TEXT NOT NULL,
    organization        TEXT NOT NULL,
    firm_name           TEXT NOT NULL,
    street1             TEXT NOT NULL,
    street2             TEXT NOT NULL DEFAULT '',
    city                TEXT NOT NULL,
    state               TEXT NOT NULL,
    postal_code         TEXT NOT NULL,
    country             TEXT NOT NULL DEFAULT 'US',
    phone               TEXT NOT NULL DEFAULT '',
    fax                 TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL,
    pin_hash            TEXT NOT NULL,
    secondary_first     TEXT NOT NULL DEFAULT '',
    secondary_last      TEXT NOT NULL DEFAULT '',
    secondary_email     TEXT NOT NULL DEFAULT '',
    secondary_pin_hash  TEXT,
    reset_failures      BIGINT NOT NULL DEFAULT 0,
    resets_frozen_until BIGINT
);
