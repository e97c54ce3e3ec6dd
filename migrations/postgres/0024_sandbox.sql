-- imax-gateway schema: the vendor sandbox (issue 31). Organizations of kind 'vendor' and
-- mailboxes of kind 'sandbox' (TRACX IDs), and the sandbox's simulated TRACS, TRACXTRACS.
ALTER TABLE organizations DROP CONSTRAINT organizations_kind_check;
ALTER TABLE organizations ADD CONSTRAINT organizations_kind_check
    CHECK (kind IN ('owner', 'management-agent', 'service-bureau', 'contract-administrator', 'hud', 'vendor'));
ALTER TABLE mailboxes DROP CONSTRAINT mailboxes_kind_check;
ALTER TABLE mailboxes ADD CONSTRAINT mailboxes_kind_check
    CHECK (kind IN ('hud', 'ca', 'property', 'service-bureau', 'sandbox'));
-- The simulated TRACS: no password opens it ('!' is no password hash), it takes TRACS files
-- only, like TRACMPROD.
INSERT INTO mailboxes (imax_id, kind, name, password_hash, password_changed_at,
        accepts_attachments, created_at)
    VALUES ('TRACXTRACS', 'sandbox', 'TRACS (sandbox)', '!', 0, 0, 0);
