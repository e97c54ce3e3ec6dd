-- imax-gateway schema, version 21: arrival notices (issue 30, item 1).

-- A person (M-ID) subscribed to a mailbox they may open (R6): they are told of its arrivals,
-- and of its sent messages nobody retrieved or answered.
CREATE TABLE subscriptions (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, mailbox_id)
);
CREATE INDEX subscriptions_mailbox ON subscriptions (mailbox_id);

-- The outbox: one row per notice a subscriber is owed about a message, written by the
-- transaction that stores the message (so a crash neither loses nor invents one). `kind` is
-- arrival, not_retrieved or not_answered; when it falls due follows from `event_at` (the
-- message's arrival) and the settings. A sender claims rows with a lease (`lease_owner`,
-- `lease_until`), so nodes sharing the database never send the same row at once; `done_at`
-- and `outcome` (sent, moot, no_address, gave_up) end a row.
CREATE TABLE notices (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    event_at    INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    done_at     INTEGER,
    outcome     TEXT
);
CREATE INDEX notices_pending ON notices (done_at, account_id);
CREATE INDEX notices_message ON notices (message_id);
