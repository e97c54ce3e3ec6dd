-- imax-gateway schema, version 18: the last change of a mailbox profile (R23), shown on the
-- Help Desk's reset page (R24): when (epoch seconds), who (an M-ID, or `admin`) and which
-- fields (their labels, never a value). Nullable: older builds leave them as they are.

ALTER TABLE mailbox_profiles ADD COLUMN profile_changed_at INTEGER;
ALTER TABLE mailbox_profiles ADD COLUMN profile_changed_by TEXT;
ALTER TABLE mailbox_profiles ADD COLUMN profile_changed_fields TEXT;
