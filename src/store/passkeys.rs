//! Passkeys (WebAuthn) of the browser door's second factor (issue 30): each person's
//! registered credentials, and the ceremony a browser session has begun.
//!
//! A passkey arrives serialised by the core (`gateway::passkeys`); this module stores and
//! returns it as it is given. A ceremony's state is taken once: the answer clears it in the
//! same statement that reads it back unchanged, so a replayed answer finds nothing.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use sqlx::AnyPool;
use time::OffsetDateTime;

/// A registered passkey as stored.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub credential_id: String,
    /// The passkey as the core serialised it.
    pub passkey: String,
}

/// This part of the store (`Store::passkeys()`).
#[derive(Clone, Copy)]
pub struct Passkeys<'a> {
    pool: &'a AnyPool,
    writer: &'a super::Committer,
}

impl<'a> Passkeys<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Passkeys { pool, writer }
    }

    /// `account`'s passkeys, oldest first.
    pub async fn of(&self, account: i64) -> Result<Vec<PasskeyRow>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT credential_id, passkey FROM passkeys WHERE account_id = $1
              ORDER BY created_at, credential_id",
        )
        .bind(account)
        .fetch_all(self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(credential_id, passkey)| PasskeyRow {
                credential_id,
                passkey,
            })
            .collect())
    }

    /// Records a new passkey with `audit`; false (nothing written) when its credential id is
    /// registered already.
    pub async fn add(
        &self,
        account: i64,
        row: &PasskeyRow,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.writer
            .change(self.pool, async |tx| {
                let known: Option<i64> =
                    sqlx::query_scalar("SELECT account_id FROM passkeys WHERE credential_id = $1")
                        .bind(&row.credential_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if known.is_some() {
                    return Ok((false, None));
                }
                sqlx::query(
                    "INSERT INTO passkeys (credential_id, account_id, passkey, created_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&row.credential_id)
                .bind(account)
                .bind(&row.passkey)
                .bind(to_epoch(at))
                .execute(&mut *tx)
                .await?;
                Ok((true, Some(audit.clone())))
            })
            .await
    }

    /// Records a passkey's use at sign-in (its counter moved) with `audit`.
    pub async fn used(
        &self,
        account: i64,
        row: &PasskeyRow,
        counter: u32,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = self
            .writer
            .counted(self.pool, audit, async |tx| {
                Ok(sqlx::query(
                    "UPDATE passkeys SET passkey = $1, counter = $2, last_used_at = $3
                      WHERE credential_id = $4 AND account_id = $5",
                )
                .bind(&row.passkey)
                .bind(i64::from(counter))
                .bind(to_epoch(at))
                .bind(&row.credential_id)
                .bind(account)
                .execute(&mut *tx)
                .await?
                .rows_affected())
            })
            .await?;
        Ok(n == 1)
    }

    /// Removes every passkey of `account` with `audit`; how many there were.
    pub async fn remove_all(&self, account: i64, audit: &AuditEntry) -> Result<u64, StoreError> {
        self.writer
            .counted(self.pool, audit, async |tx| {
                Ok(sqlx::query("DELETE FROM passkeys WHERE account_id = $1")
                    .bind(account)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected())
            })
            .await
    }

    /// Keeps the ceremony `state` a browser session has begun (replacing an earlier one).
    pub async fn begin_ceremony(&self, session: &str, state: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET passkey_state = $1 WHERE id_hash = $2")
            .bind(state)
            .bind(session)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Takes the ceremony a session has begun, once.
    pub async fn take_ceremony(&self, session: &str) -> Result<Option<String>, StoreError> {
        let state: Option<Option<String>> =
            sqlx::query_scalar("SELECT passkey_state FROM web_sessions WHERE id_hash = $1")
                .bind(session)
                .fetch_optional(self.pool)
                .await?;
        let Some(state) = state.flatten() else {
            return Ok(None);
        };
        let taken = sqlx::query(
            "UPDATE web_sessions SET passkey_state = NULL
              WHERE id_hash = $1 AND passkey_state = $2",
        )
        .bind(session)
        .bind(&state)
        .execute(self.pool)
        .await?;
        Ok((taken.rows_affected() == 1).then_some(state))
    }
}
