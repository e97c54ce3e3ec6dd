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
--
-- PostgreSQL: constraint triggers deferred to the commit, so that the mark's row is the last lock
-- a transaction takes (taken in the middle, two writers of the directory could each hold a row
-- the other waits for); TRUNCATE, which they cannot watch, has a trigger of its own.

CREATE TABLE directory_changes (id INTEGER PRIMARY KEY CHECK (id = 1), mark BIGINT NOT NULL);
INSERT INTO directory_changes (id, mark) VALUES (1, (random() * 9.2e18)::bigint);

CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE directory_changes SET mark = (random() * 9.2e18)::bigint WHERE id = 1;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER accounts_marks AFTER INSERT OR DELETE OR UPDATE OF id, mid, kind, full_name, email, organization, password_hash, password_changed_at, status, lock_reason, failed_signins, created_at, auth_epoch, rob_accepted_at, recertified_at, affiliation, locked_until, failure_locks, stranger_failures, stranger_locked_until, stranger_locks, organization_id ON accounts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER accounts_truncate_marks AFTER TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER working_group_marks AFTER INSERT OR DELETE OR UPDATE ON working_group
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER working_group_truncate_marks AFTER TRUNCATE ON working_group
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER account_rights_marks AFTER INSERT OR DELETE OR UPDATE ON account_rights
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER account_rights_truncate_marks AFTER TRUNCATE ON account_rights
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER mailboxes_marks AFTER INSERT OR DELETE OR UPDATE OF id, imax_id, kind, name, description, email, password_hash, password_changed_at, active, accepts_attachments, auth_epoch, created_at, failed_passwords, frozen_until, mid_frozen_until, organization_id, allowed_networks ON mailboxes
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER mailboxes_truncate_marks AFTER TRUNCATE ON mailboxes
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER organizations_marks AFTER INSERT OR DELETE OR UPDATE ON organizations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER organizations_truncate_marks AFTER TRUNCATE ON organizations
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER properties_marks AFTER INSERT OR DELETE OR UPDATE ON properties
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER properties_truncate_marks AFTER TRUNCATE ON properties
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER property_assignments_marks AFTER INSERT OR DELETE OR UPDATE ON property_assignments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER property_assignments_truncate_marks AFTER TRUNCATE ON property_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER business_partners_marks AFTER INSERT OR DELETE OR UPDATE ON business_partners
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER business_partners_truncate_marks AFTER TRUNCATE ON business_partners
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER organization_assignments_marks AFTER INSERT OR DELETE OR UPDATE ON organization_assignments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER organization_assignments_truncate_marks AFTER TRUNCATE ON organization_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER organization_partners_marks AFTER INSERT OR DELETE OR UPDATE ON organization_partners
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER organization_partners_truncate_marks AFTER TRUNCATE ON organization_partners
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER mailbox_senders_marks AFTER INSERT OR DELETE OR UPDATE ON mailbox_senders
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER mailbox_senders_truncate_marks AFTER TRUNCATE ON mailbox_senders
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER contracts_marks AFTER INSERT OR DELETE OR UPDATE ON contracts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER contracts_truncate_marks AFTER TRUNCATE ON contracts
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE CONSTRAINT TRIGGER recertifications_marks AFTER INSERT OR DELETE OR UPDATE ON recertifications
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
CREATE TRIGGER recertifications_truncate_marks AFTER TRUNCATE ON recertifications
  FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
