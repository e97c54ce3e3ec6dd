-- imax-gateway schema (PostgreSQL), version 6: what is known of each transmission (TRACS header checks,
-- routing, duplicates) and who may send for whom.

-- The TRACS transmission key (Sender's iMAX ID | date stamp | time stamp of the first header),
-- how the recipient was chosen, and the sender's own marks.
ALTER TABLE messages ADD COLUMN tracs_key TEXT;
ALTER TABLE messages ADD COLUMN routed_by TEXT NOT NULL DEFAULT 'sender';
ALTER TABLE messages ADD COLUMN resend BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN misrouted BIGINT NOT NULL DEFAULT 0;

-- The MAT Guide asks that date and time stamps be unique per sender: a second file with the
-- same key is a duplicate unless marked as a deliberate resend.
CREATE UNIQUE INDEX messages_tracs_key ON messages (tracs_key) WHERE tracs_key IS NOT NULL AND resend = 0;
CREATE INDEX messages_same_content ON messages (from_mailbox, to_mailbox, sha256, received_at);
-- The history purge walks messages by age.
CREATE INDEX messages_age ON messages (received_at, id);

-- HUD's TRACS takes TRACS files only; CAs and properties may accept attachments (PDF letters…).
UPDATE mailboxes SET accepts_attachments = 0 WHERE kind = 'hud';

-- A mailbox whose iMAX ID may stand as Sender's iMAX ID in the headers of files sent from
-- another mailbox (a service bureau preparing files for its client properties, R11).
CREATE TABLE mailbox_senders (
    mailbox_id        BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    sender_mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    PRIMARY KEY (mailbox_id, sender_mailbox_id)
);
