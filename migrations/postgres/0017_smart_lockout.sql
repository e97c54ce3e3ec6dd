-- imax-gateway schema, version 17: authority follows the account, and a stranger cannot lock
-- other people out (issue 25; docs/rules.md beside R14 and R24).
--
-- 1. Whether an M-ID is HUD staff, a contractor or an industry user is a property of the
--    account, set by HUD (operator or Help Desk) when it is made; existing rows take it from the
--    letter their ID was issued with.
ALTER TABLE accounts ADD COLUMN affiliation TEXT NOT NULL DEFAULT 'industry'
    CHECK (affiliation IN ('hud', 'contractor', 'industry'));
UPDATE accounts SET affiliation = CASE substr(mid, 1, 1) WHEN 'H' THEN 'hud'
    WHEN 'C' THEN 'contractor' ELSE 'industry' END;

-- 2. Failed sign-ins lock for a time that doubles with each lock in a row (failure_locks),
--    counted apart for familiar addresses (where the M-ID signed in within 90 days: the
--    status lock, for everyone) and for strangers' addresses (stranger_*: only those).
--    A lock for failed sign-ins made before this version has no end (locked_until NULL) and
--    waits for a coordinator or the Help Desk, as it did.
ALTER TABLE accounts ADD COLUMN locked_until BIGINT;
ALTER TABLE accounts ADD COLUMN failure_locks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN stranger_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN stranger_locked_until BIGINT;
ALTER TABLE accounts ADD COLUMN stranger_locks BIGINT NOT NULL DEFAULT 0;

-- Where each M-ID last signed in successfully from (an IPv4 address or an IPv6 prefix).
CREATE TABLE account_clients (
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client       TEXT NOT NULL,
    signed_in_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client)
);

-- 3. Wrong TRACSMail passwords count per (mailbox, M-ID): one M-ID's failures freeze the
--    mailbox for that M-ID; several M-IDs' freezes freeze it for everyone who has not opened it
--    within 90 days (opened_at). mailboxes.frozen_until stays the freeze for everyone;
--    mailboxes.mid_frozen_until is the latest per-M-ID freeze, so that the credential cache
--    is bypassed while any is in force.
CREATE TABLE mailbox_attempts (
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    failed       BIGINT NOT NULL DEFAULT 0,
    frozen_until BIGINT,
    opened_at    BIGINT,
    PRIMARY KEY (mailbox_id, account_id)
);
ALTER TABLE mailboxes ADD COLUMN mid_frozen_until BIGINT;
