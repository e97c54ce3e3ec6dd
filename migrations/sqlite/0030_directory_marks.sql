-- Directory marks (issue 29): a node remembers a caller's context (the account with its rights,
-- the mailbox, the allow-lists, R6's affiliation) and, on the next call, asks only whether the
-- directory changed since: `directory_changes.mark` takes a new random value in the same
-- transaction as every write to a table that context is read from, by the triggers below, on
-- whichever node (or tool) writes. Random, not a count: a database restored from a backup must
-- never show a mark a node saw before with other rows. Not a change: the columns each call may
-- write as its use (`accounts.last_activity_at`, `last_signin_at`, `mailboxes.last_used_at`),
-- which a node's remembered context is never older than by more than the activity granularity
-- (`store::context::remembered`); every other column is watched, and a test fails when a new
-- column is neither (`store::context::remembered::tests`).

CREATE TABLE directory_changes (id INTEGER PRIMARY KEY CHECK (id = 1), mark BIGINT NOT NULL);
INSERT INTO directory_changes (id, mark) VALUES (1, random());

CREATE TRIGGER accounts_insert_marks AFTER INSERT ON accounts
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER accounts_delete_marks AFTER DELETE ON accounts
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER accounts_update_marks AFTER UPDATE OF id, mid, kind, full_name, email, organization, password_hash, password_changed_at, status, lock_reason, failed_signins, created_at, auth_epoch, rob_accepted_at, recertified_at, affiliation, locked_until, failure_locks, stranger_failures, stranger_locked_until, stranger_locks, organization_id ON accounts
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER working_group_insert_marks AFTER INSERT ON working_group
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER working_group_delete_marks AFTER DELETE ON working_group
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER working_group_update_marks AFTER UPDATE ON working_group
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER account_rights_insert_marks AFTER INSERT ON account_rights
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER account_rights_delete_marks AFTER DELETE ON account_rights
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER account_rights_update_marks AFTER UPDATE ON account_rights
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER mailboxes_insert_marks AFTER INSERT ON mailboxes
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER mailboxes_delete_marks AFTER DELETE ON mailboxes
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER mailboxes_update_marks AFTER UPDATE OF id, imax_id, kind, name, description, email, password_hash, password_changed_at, active, accepts_attachments, auth_epoch, created_at, failed_passwords, frozen_until, mid_frozen_until, organization_id, allowed_networks ON mailboxes
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organizations_insert_marks AFTER INSERT ON organizations
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organizations_delete_marks AFTER DELETE ON organizations
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organizations_update_marks AFTER UPDATE ON organizations
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER properties_insert_marks AFTER INSERT ON properties
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER properties_delete_marks AFTER DELETE ON properties
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER properties_update_marks AFTER UPDATE ON properties
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER property_assignments_insert_marks AFTER INSERT ON property_assignments
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER property_assignments_delete_marks AFTER DELETE ON property_assignments
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER property_assignments_update_marks AFTER UPDATE ON property_assignments
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER business_partners_insert_marks AFTER INSERT ON business_partners
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER business_partners_delete_marks AFTER DELETE ON business_partners
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER business_partners_update_marks AFTER UPDATE ON business_partners
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organization_assignments_insert_marks AFTER INSERT ON organization_assignments
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organization_assignments_delete_marks AFTER DELETE ON organization_assignments
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organization_assignments_update_marks AFTER UPDATE ON organization_assignments
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organization_partners_insert_marks AFTER INSERT ON organization_partners
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organization_partners_delete_marks AFTER DELETE ON organization_partners
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER organization_partners_update_marks AFTER UPDATE ON organization_partners
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER mailbox_senders_insert_marks AFTER INSERT ON mailbox_senders
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER mailbox_senders_delete_marks AFTER DELETE ON mailbox_senders
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER mailbox_senders_update_marks AFTER UPDATE ON mailbox_senders
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER contracts_insert_marks AFTER INSERT ON contracts
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER contracts_delete_marks AFTER DELETE ON contracts
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER contracts_update_marks AFTER UPDATE ON contracts
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER recertifications_insert_marks AFTER INSERT ON recertifications
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER recertifications_delete_marks AFTER DELETE ON recertifications
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
CREATE TRIGGER recertifications_update_marks AFTER UPDATE ON recertifications
  BEGIN UPDATE directory_changes SET mark = random() WHERE id = 1; END;
