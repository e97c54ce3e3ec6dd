//! Security Awareness Training records (seed Q24): owners/agents keep each user's certificate;
//! certification requires training within the last year (R20).

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use sqlx::AnyPool;
use time::OffsetDateTime;

/// A person's last recorded training: the day it was completed (`YYYY-MM-DD`, in Washington)
/// and the certificate's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRecord {
    pub completed_on: String,
    pub certificate: String,
}

/// This part of the store (`Store::training()`).
#[derive(Clone, Copy)]
pub struct Training<'a> {
    pool: &'a AnyPool,
    writer: &'a super::Committer,
}

impl<'a> Training<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Training { pool, writer }
    }

    pub async fn load(&self, account: i64) -> Result<Option<TrainingRecord>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT completed_on, certificate FROM training WHERE account_id = $1")
                .bind(account)
                .fetch_optional(self.pool)
                .await?;
        Ok(row.map(|(completed_on, certificate)| TrainingRecord {
            completed_on,
            certificate,
        }))
    }

    /// Records `account`'s training (the latest replaces the one before; the audit log keeps
    /// every record).
    pub async fn record(
        &self,
        account: i64,
        record: &TrainingRecord,
        by: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                sqlx::query("DELETE FROM training WHERE account_id = $1")
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO training (account_id, completed_on, certificate, recorded_at, recorded_by)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(account)
                .bind(&record.completed_on)
                .bind(&record.certificate)
                .bind(to_epoch(at))
                .bind(by)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }
}
