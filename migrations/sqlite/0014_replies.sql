-- imax-gateway schema, version 14: a reply names the message it answers (the gateway's own
-- format-error replies, and HUD's or a CA's answer to a file it fetched), by its public
-- message id. Older builds leave it empty and list replies as ordinary messages.

ALTER TABLE messages ADD COLUMN in_reply_to TEXT;
CREATE INDEX messages_in_reply_to ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL;
