-- imax-gateway schema, version 19: organizations (issue 27). Owners, management agents,
-- service bureaus, contract administrators and HUD are entities of the directory: properties
-- are owned (and optionally managed) by one, mailboxes belong to one, people are employed by
-- one. A coordinator may have a Business Partner Relationship with a non-property
-- organization (a service bureau or a CA, R3) and assigns users to it as to a property.
CREATE TABLE organizations (
    id         INTEGER PRIMARY KEY,
    org_id     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('owner', 'management-agent', 'service-bureau', 'contract-administrator', 'hud')),
    name       TEXT NOT NULL,
    tax_id     TEXT,
    created_at INTEGER NOT NULL
);

-- Nullable, so older builds keep creating rows without them (an owner is then found by the
-- property's mailbox, below).
ALTER TABLE properties ADD COLUMN owner_id INTEGER REFERENCES organizations(id);
ALTER TABLE properties ADD COLUMN agent_id INTEGER REFERENCES organizations(id);
ALTER TABLE mailboxes ADD COLUMN organization_id INTEGER REFERENCES organizations(id);
ALTER TABLE accounts ADD COLUMN organization_id INTEGER REFERENCES organizations(id);

-- A coordinator's BPRs with non-property organizations (R3), and people assigned to an
-- organization (its staff), flagged for removal at the deadline like a property assignment.
CREATE TABLE organization_partners (
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, organization_id)
);
CREATE TABLE organization_assignments (
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    flagged_by      TEXT,
    flagged_at      INTEGER,
    PRIMARY KEY (account_id, organization_id)
);
CREATE INDEX organization_assignments_org ON organization_assignments (organization_id);
CREATE INDEX properties_owner ON properties (owner_id);
CREATE INDEX properties_agent ON properties (agent_id);

-- Existing data: each mailbox becomes its own organization (same ID, the kind its mailbox
-- kind says), and each property is owned by its mailbox's: R25's one business relationship
-- per TRACSMail ID, so R2's count per owner is what it was per mailbox.
INSERT INTO organizations (org_id, kind, name, created_at)
    SELECT imax_id,
           CASE kind WHEN 'hud' THEN 'hud'
                     WHEN 'ca' THEN 'contract-administrator'
                     WHEN 'service-bureau' THEN 'service-bureau'
                     ELSE 'owner' END,
           name, created_at
      FROM mailboxes;
UPDATE mailboxes SET organization_id = (SELECT o.id FROM organizations o WHERE o.org_id = mailboxes.imax_id);
UPDATE properties SET owner_id = (SELECT m.organization_id FROM mailboxes m WHERE m.id = properties.mailbox_id);
