-- imax-gateway schema, version 13: the primary contact's first and last names apart, as the
-- iMAX User Profile asks for them (R23). contact_name stays, written as "first last", for the
-- Help Desk's comparison and for older builds; existing profiles are split at the first space.

ALTER TABLE mailbox_profiles ADD COLUMN contact_first TEXT NOT NULL DEFAULT '';
ALTER TABLE mailbox_profiles ADD COLUMN contact_last TEXT NOT NULL DEFAULT '';
UPDATE mailbox_profiles SET
    contact_first = CASE WHEN instr(trim(contact_name), ' ') > 0
        THEN substr(trim(contact_name), 1, instr(trim(contact_name), ' ') - 1)
        ELSE trim(contact_name) END,
    contact_last = CASE WHEN instr(trim(contact_name), ' ') > 0
        THEN trim(substr(trim(contact_name), instr(trim(contact_name), ' ') + 1))
        ELSE '' END;
