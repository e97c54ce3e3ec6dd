-- The same-content duplicate check leads with the digest: `sha256 = $digest` is the only
-- equality of that look-up an index may match (the sender, the recipient and the time are
-- written `+m.from_mailbox`, `+m.to_mailbox`, `+m.received_at`: a unary plus leaves a value
-- alone and only stops an index from matching it), so the rows read are the copies of this
-- content, a handful, whatever any mailbox's history. With the sender first (migration 16),
-- the sender's equality also matched `messages_from`, and PostgreSQL's generic plan for a
-- batch's look-ups, made while the table was small, read every message the sender ever sent
-- for each file (1,404 pages a file after 7,000 messages, most of a batch's time; issue 29,
-- `docs/performance.md`).
DROP INDEX messages_same_content;
CREATE INDEX messages_same_content ON messages (sha256, from_mailbox, to_mailbox, received_at);
