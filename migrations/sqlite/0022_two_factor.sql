-- imax-gateway schema, version 22: a second factor on the browser door (issue 30, item 3).

-- A person's TOTP secret (RFC 6238), base32. Pending until `enrolled_at` is set by a current
-- code; `last_step` is the last time step a code was accepted for, so that no code is used
-- twice (nor one of an earlier step).
CREATE TABLE second_factors (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    enrolled_at INTEGER,
    last_step   INTEGER NOT NULL DEFAULT -1
);

-- Ten single-use recovery codes per enrolment, each hashed with argon2id like a password and
-- found by its slot (the code's first character), so that one hash is checked per attempt.
CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    slot       INTEGER NOT NULL,
    code_hash  TEXT NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, slot)
);

-- A browser session's stage: 'signed-in'; 'second-factor', after the password and before the
-- code (grants nothing else, short-lived); 'enrol', a person whose kind requires a second
-- factor and who has none (grants only the enrolment). `code_failures` counts wrong codes in
-- this session.
ALTER TABLE web_sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'signed-in';
ALTER TABLE web_sessions ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
