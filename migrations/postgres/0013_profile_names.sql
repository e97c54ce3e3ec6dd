-- imax-gateway schema, version 13: the primary contact's first and last names apart, as the
-- iMAX User Profile asks for them (R23). contact_name stays, written as "first last", for the
-- Help Desk's comparison and for older builds; existing profiles are split at the first space.

ALTER TABLE mailbox_profiles ADD COLUMN contact_first TEXT NOT NULL DEFAULT '';
ALTER TABLE mailbox_profiles ADD COLUMN contact_last TEXT NOT NULL DEFAULT '';
UPDATE mailbox_profiles SET
    contact_first = CASE WHEN position(' ' in btrim(contact_name)) > 0
        THEN substr(btrim(contact_name), 1, position(' ' in btrim(contact_name)) - 1)
        ELSE btrim(contact_name) END,
    contact_last = CASE WHEN position(' ' in btrim(contact_name)) > 0
        THEN btrim(substr(btrim(contact_name), position(' ' in btrim(contact_name)) + 1))
        ELSE '' END;
