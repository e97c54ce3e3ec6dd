-- The same-content duplicate check asks "did this sender send this content since then, and
-- to whom": the sender and the digest first, so that the question is answered from the few
-- entries of that content whatever the sender's history, for one recipient or for the
-- administrators of a project (`store::context::file_context`).
DROP INDEX messages_same_content;
CREATE INDEX messages_same_content ON messages (from_mailbox, sha256, to_mailbox, received_at);

