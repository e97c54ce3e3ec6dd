-- Attempts counted apart from the directory's mark (issue 29's threat model): the counts of
-- wrong passwords in a row (`accounts.failed_signins` from familiar addresses,
-- `stranger_failures` from strangers') are written by every sign-in attempt that is checked in
-- full, before its password is, so that parallel guesses count (`accounts::claim_attempt`).
-- Marked, they let anyone who types an M-ID and a wrong password make every node read every
-- caller's context whole again, one guess at a time. Each attempt reads its count afresh from
-- the row (the statement that counts it returns it), and no rule decides from a remembered
-- context's count; what a run of failures changes for everyone (a lock: `locked_until`,
-- `stranger_locked_until`, the locks in a row, the status) stays marked.

DROP TRIGGER accounts_marks ON accounts;
CREATE CONSTRAINT TRIGGER accounts_marks AFTER INSERT OR DELETE OR UPDATE OF id, mid, kind, full_name, email, organization, password_hash, password_changed_at, status, lock_reason, created_at, auth_epoch, rob_accepted_at, recertified_at, affiliation, locked_until, failure_locks, stranger_locked_until, stranger_locks, organization_id ON accounts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_changed();
