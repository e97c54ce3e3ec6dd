-- imax-gateway schema, version 12: when each TRACSMail ID was last used (opened or used by
-- either door), so that one unused for a prescribed time goes inactive until the Help Desk's
-- password reset reactivates it (the 2018 release's reset/reactivate function).

ALTER TABLE mailboxes ADD COLUMN last_used_at INTEGER;

-- Existing mailboxes count their unused time from this upgrade, not from their creation.
UPDATE mailboxes SET last_used_at = CAST(strftime('%s', 'now') AS INTEGER);
