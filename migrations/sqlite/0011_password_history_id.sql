-- The same columns as on PostgreSQL: password changes are ordered by an id of their own (it
-- was the rowid here). tests/storage.rs compares both engines' schemas.
CREATE TABLE password_history_new (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    changed_at    INTEGER NOT NULL
);
INSERT INTO password_history_new (id, account_id, password_hash, changed_at)
    SELECT rowid, account_id, password_hash, changed_at FROM password_history;
DROP TABLE password_history;
ALTER TABLE password_history_new RENAME TO password_history;
CREATE INDEX password_history_account ON password_history (account_id, changed_at);
