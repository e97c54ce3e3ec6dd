-- imax-gateway schema (PostgreSQL), version 26: passkeys (WebAuthn) as a second factor (issue 30, item 3).

-- A person's registered passkeys: the credential id (base64url, unique across accounts, as
-- the authenticator made it), the passkey as webauthn-rs serialises it (public key, algorithm,
-- signature counter) and the counter on its own, kept for the operator's eye.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    passkey       TEXT NOT NULL,
    counter       BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- The WebAuthn ceremony a browser session has begun (its challenge and expectations, as
-- webauthn-rs serialises them), taken once by the answer.
ALTER TABLE web_sessions ADD COLUMN passkey_state TEXT;
