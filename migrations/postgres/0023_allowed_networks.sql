-- imax-gateway schema: address allow-lists (issue 30, item 5). An organization or a mailbox
-- may list the networks (CIDR, comma-separated, canonical) its vendor software connects from;
-- empty: any address. System-to-system calls for the organization's M-IDs, or for the mailbox
-- (or a mailbox of the organization), from any other address are refused as a wrong password.
ALTER TABLE organizations ADD COLUMN allowed_networks TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN allowed_networks TEXT NOT NULL DEFAULT '';
