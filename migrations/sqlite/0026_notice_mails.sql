-- imax-gateway schema, version 26: each mail of notices is composed, and recorded, before
-- it is first sent (issue 30, item 1: a crash neither loses nor doubles a mail).

-- A mail as composed before its first try: its recipient, its Message-ID (random, without
-- the angle brackets), its time (the Date header), subject and text. The notices it tells of
-- point at it (`notices.mail_id`), so the set is fixed: a retry, on this node or another
-- after a crash between the relay's acceptance and the settling, sends this very mail again
-- (the same Message-ID, Date, recipient and text), which mail software drops as a duplicate;
-- notices that arrive later go into the next mail. `notices` counts them, so a sender holding
-- only part of a mail's notices can tell.
CREATE TABLE notice_mails (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    message_id  TEXT NOT NULL UNIQUE,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    composed_at INTEGER NOT NULL,
    notices     INTEGER NOT NULL
);
ALTER TABLE notices ADD COLUMN mail_id INTEGER REFERENCES notice_mails(id) ON DELETE SET NULL;
CREATE INDEX notices_mail ON notices (mail_id);
