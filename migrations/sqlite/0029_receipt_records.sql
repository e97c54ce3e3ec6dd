-- The audit record of the SendFile that stored a message (its sequence number), written with
-- the message: a receipt's inclusion proof reads that record by its key, where it read the
-- whole audit log for it (a year's records per question). Older rows keep NULL and are found
-- as before.
ALTER TABLE messages ADD COLUMN audit_seq INTEGER;
