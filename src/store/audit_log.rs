//! Reads of the audit chain that its checkpoints and the operators' endpoints need.

use super::StoreError;
use sqlx::AnyPool;

/// This part of the store (`Store::audit_log()`).
#[derive(Clone, Copy)]
pub struct AuditLog<'a> {
    pool: &'a AnyPool,
}

impl<'a> AuditLog<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        AuditLog { pool }
    }

    /// The newest record's sequence number and hash.
    pub async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool)
                .await?,
        )
    }
    /// The hash of record `seq`, if it is there.
    pub async fn hash_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(pool)
                .await?,
        )
    }
    /// How many records the chain holds (its newest sequence number).
    pub async fn records(&self) -> Result<i64, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
                .fetch_one(pool)
                .await?,
        )
    }
}
