//! REAC-TAC staff (R16): who restores terminated M-IDs, apart from the Multifamily Help Desk.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use sqlx::AnyPool;
use time::OffsetDateTime;

/// This part of the store (`Store::reac_tac()`).
#[derive(Clone, Copy)]
pub struct ReacTac<'a> {
    pool: &'a AnyPool,
    writer: &'a super::Committer,
}

impl<'a> ReacTac<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        ReacTac { pool, writer }
    }

    pub async fn is_staff(&self, account: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reac_tac WHERE account_id = $1")
            .bind(account)
            .fetch_one(self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Makes `account` REAC-TAC staff, or (`member` false) ends it.
    pub async fn set(
        &self,
        account: i64,
        member: bool,
        by: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                if member {
                    sqlx::query(
                        "INSERT INTO reac_tac (account_id, added_at, added_by) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(account)
                    .bind(to_epoch(at))
                    .bind(by)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query("DELETE FROM reac_tac WHERE account_id = $1")
                        .bind(account)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(())
            })
            .await
    }
}
