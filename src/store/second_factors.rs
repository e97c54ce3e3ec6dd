//! Second factors (issue 30): each person's TOTP secret, pending until confirmed by a current
//! code, the last time step a code was accepted for, and the recovery codes' hashes.
//!
//! Every acceptance of a code moves `last_step` forward, or finds it moved, in one
//! statement (`last_step < step`): two requests racing with the same code, on any node, accept
//! it once. A recovery code is spent the same way (`used_at IS NULL`).
//!
//! The secret arrives sealed under a key kept outside the database (`gateway::sealed`); this
//! module stores and returns it as it is given.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use sqlx::AnyPool;
use time::OffsetDateTime;

/// A person's second factor as stored.
#[derive(Debug, Clone)]
pub struct SecondFactorRow {
    /// The secret as stored (sealed).
    pub stored: String,
    /// Confirmed by a current code (until then it does not guard the sign-in).
    pub enrolled: bool,
    pub last_step: i64,
}

/// This part of the store (`Store::second_factors()`).
#[derive(Clone, Copy)]
pub struct SecondFactors<'a> {
    pool: &'a AnyPool,
    writer: &'a super::Committer,
}

impl<'a> SecondFactors<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        SecondFactors { pool, writer }
    }

    pub async fn load(&self, account: i64) -> Result<Option<SecondFactorRow>, StoreError> {
        let row: Option<(String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT secret, enrolled_at, last_step FROM second_factors WHERE account_id = $1",
        )
        .bind(account)
        .fetch_optional(self.pool)
        .await?;
        Ok(row.map(|(stored, enrolled_at, last_step)| SecondFactorRow {
            stored,
            enrolled: enrolled_at.is_some(),
            last_step,
        }))
    }

    /// Starts an enrolment with a new secret, replacing a pending one (and nothing else: the
    /// caller has checked that none is confirmed).
    pub async fn begin(
        &self,
        account: i64,
        stored: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                remove_all(tx, account).await?;
                sqlx::query(
                    "INSERT INTO second_factors (account_id, secret, created_at) VALUES ($1, $2, $3)",
                )
                .bind(account)
                .bind(stored)
                .bind(to_epoch(at))
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }

    /// Confirms a pending enrolment with the step of a current code and stores the recovery
    /// codes' hashes (slot, PHC string); false when there was no pending enrolment or its step
    /// was used (nothing written, nothing recorded).
    pub async fn confirm(
        &self,
        account: i64,
        step: i64,
        recovery: &[(i64, String)],
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.writer
            .change(self.pool, async |tx| {
                let done = sqlx::query(
                    "UPDATE second_factors SET enrolled_at = $1, last_step = $2
                      WHERE account_id = $3 AND enrolled_at IS NULL AND last_step < $2",
                )
                .bind(to_epoch(at))
                .bind(step)
                .bind(account)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok((false, None));
                }
                for (slot, hash) in recovery {
                    sqlx::query(
                        "INSERT INTO recovery_codes (account_id, slot, code_hash) VALUES ($1, $2, $3)",
                    )
                    .bind(account)
                    .bind(slot)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok((true, Some(audit.clone())))
            })
            .await
    }

    /// Accepts a code of `step` at sign-in: true, with `audit` recorded, when no code of this
    /// step or a later one was accepted before.
    pub async fn use_step(
        &self,
        account: i64,
        step: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = self
            .writer
            .counted(self.pool, audit, async |tx| {
                Ok(sqlx::query(
                    "UPDATE second_factors SET last_step = $1
                      WHERE account_id = $2 AND enrolled_at IS NOT NULL AND last_step < $1",
                )
                .bind(step)
                .bind(account)
                .execute(&mut *tx)
                .await?
                .rows_affected())
            })
            .await?;
        Ok(n == 1)
    }

    /// The hash of the unused recovery code in `slot`, if any.
    pub async fn recovery_hash(
        &self,
        account: i64,
        slot: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT code_hash FROM recovery_codes
              WHERE account_id = $1 AND slot = $2 AND used_at IS NULL",
        )
        .bind(account)
        .bind(slot)
        .fetch_optional(self.pool)
        .await?)
    }

    /// Spends the recovery code in `slot`: true, with `audit` recorded, when it was unused.
    pub async fn spend_recovery(
        &self,
        account: i64,
        slot: i64,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = self
            .writer
            .counted(self.pool, audit, async |tx| {
                Ok(sqlx::query(
                    "UPDATE recovery_codes SET used_at = $1
                      WHERE account_id = $2 AND slot = $3 AND used_at IS NULL",
                )
                .bind(to_epoch(at))
                .bind(account)
                .bind(slot)
                .execute(&mut *tx)
                .await?
                .rows_affected())
            })
            .await?;
        Ok(n == 1)
    }

    /// Removes a person's second factor and recovery codes; false when there was none.
    pub async fn remove(&self, account: i64, audit: &AuditEntry) -> Result<bool, StoreError> {
        let n = self
            .writer
            .counted(self.pool, audit, async |tx| remove_all(tx, account).await)
            .await?;
        Ok(n > 0)
    }
}

async fn remove_all(tx: &mut sqlx::AnyConnection, account: i64) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    Ok(
        sqlx::query("DELETE FROM second_factors WHERE account_id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    )
}
