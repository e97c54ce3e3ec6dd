-- imax-gateway schema, version 27: notices of what the TRACS round-trip ledger finds missing
-- (issue 31, item 2).

-- Each item the ledger found missing, once: the month's voucher after its due day, or a reply
-- to a file (`item`: 'voucher', or the file's message id) past `tracs.answer_expected_hours`.
-- The unique key is what keeps two nodes watching at once from noticing an item twice: only
-- the insert that made the row writes its notices. Nothing of the files is copied here; the
-- ledger itself is read from the messages each time (`store/ledger.rs`).
CREATE TABLE ledger_missing (
    id          INTEGER PRIMARY KEY,
    contract    TEXT NOT NULL REFERENCES contracts(contract_number) ON DELETE CASCADE,
    month       TEXT NOT NULL,
    item        TEXT NOT NULL,
    what        TEXT NOT NULL CHECK (what IN ('voucher', 'reply')),
    -- The voucher's due day (YYYY-MM-DD), as the ledger said when it found it missing.
    due         TEXT NOT NULL DEFAULT '',
    -- The mailbox that sent (or should have sent) it: its subscribers are told.
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    found_at    INTEGER NOT NULL,
    UNIQUE (contract, month, item)
);

-- A notice of a missing item goes through the same outbox (`notices`, kind 'ledger_missing'):
-- it names the item, and the file (`message_id`) when a reply is missing; a missing voucher
-- has no message. SQLite cannot drop a NOT NULL, so the table is made again.
CREATE TABLE notices_new (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    message_id  INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    event_at    INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    done_at     INTEGER,
    outcome     TEXT,
    mail_id     INTEGER REFERENCES notice_mails(id) ON DELETE SET NULL,
    missing_id  INTEGER REFERENCES ledger_missing(id) ON DELETE CASCADE
);
INSERT INTO notices_new (id, kind, account_id, message_id, event_at, attempts, next_try_at,
                         lease_owner, lease_until, done_at, outcome, mail_id)
    SELECT id, kind, account_id, message_id, event_at, attempts, next_try_at,
           lease_owner, lease_until, done_at, outcome, mail_id FROM notices;
DROP TABLE notices;
ALTER TABLE notices_new RENAME TO notices;
CREATE INDEX notices_pending ON notices (done_at, account_id);
CREATE INDEX notices_message ON notices (message_id);
CREATE INDEX notices_mail ON notices (mail_id);
CREATE INDEX notices_missing ON notices (missing_id) WHERE missing_id IS NOT NULL;
