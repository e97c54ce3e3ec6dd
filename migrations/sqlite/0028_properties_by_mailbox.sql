-- A property by its mailbox: every SendFile asks which properties a mailbox belongs to (R6's
-- affiliation, the file's administrators, R12's routing). Without it each look-up read the
-- whole table, one row per HUD property the gateway knows.
CREATE INDEX properties_mailbox ON properties (mailbox_id);
