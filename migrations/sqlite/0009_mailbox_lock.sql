-- imax-gateway schema, version 9: wrong TRACSMail passwords are counted per mailbox (before the
-- password is checked), and a mailbox with too many in a row is frozen until a time passes or
-- the Help Desk resets its password (R24).

ALTER TABLE mailboxes ADD COLUMN failed_passwords INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN frozen_until INTEGER;
