-- imax-gateway schema, version 19: the compliance records (issue 28).

-- REAC-TAC staff (R16): HUD's Real Estate Assessment Center Technical Assistance Center, which
-- restores terminated and Secure-Systems-locked M-IDs; distinct from the Multifamily Help Desk.
CREATE TABLE reac_tac (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    added_at   INTEGER NOT NULL,
    added_by   TEXT NOT NULL
);

-- Security Awareness Training (seed Q24): the last completion each coordinator recorded for a
-- person, a day (YYYY-MM-DD, in Washington) and the certificate's reference.
CREATE TABLE training (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    completed_on TEXT NOT NULL,
    certificate  TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL,
    recorded_by  TEXT NOT NULL
);
