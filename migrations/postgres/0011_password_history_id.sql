-- Nothing to change here: SQLite's password_history gains the id this table always had.
SELECT 1;
