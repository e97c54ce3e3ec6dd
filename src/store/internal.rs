//! HUD's own staff recertification (the internal user recertification): HUD staff the Help
//! Desk designated (a supervisor, OTC or COR) take H-ID and C-ID staff on, review their rights
//! and recertify them yearly, in a window of their own. Certifications share the tables of the
//! external ones (`recertifications`, `cycle_certifications`), the certifier standing where a
//! coordinator does.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use sqlx::AnyPool;
use time::OffsetDateTime;

/// This part of the store (`Store::internal()`).
#[derive(Clone, Copy)]
pub struct Internal<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Internal<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Internal { pool, writer }
    }

    /// Whether `account` is a designated certifier.
    pub async fn is_certifier(&self, account: i64) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM internal_certifiers WHERE account_id = $1")
                .bind(account)
                .fetch_one(self.pool)
                .await?;
        Ok(n > 0)
    }

    /// Designates `account` as a certifier (`Some((by, at))`) or ends the designation, with
    /// its staff links; false when nothing changed.
    pub async fn designate(
        &self,
        account: i64,
        designation: Option<(&str, OffsetDateTime)>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let pool = self.pool;
        self.writer
            .change(pool, async |tx| {
                let n = match designation {
                    Some((by, at)) => sqlx::query(
                        "INSERT INTO internal_certifiers (account_id, designated_by, designated_at)
                         VALUES ($1, $2, $3) ON CONFLICT (account_id) DO NOTHING",
                    )
                    .bind(account)
                    .bind(by)
                    .bind(to_epoch(at))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                    None => {
                        sqlx::query("DELETE FROM internal_staff WHERE certifier_id = $1")
                            .bind(account)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("DELETE FROM internal_certifiers WHERE account_id = $1")
                            .bind(account)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                    }
                };
                Ok((n > 0, (n > 0).then(|| audit.clone())))
            })
            .await
    }

    /// A certifier takes a staff member on (the first step).
    pub async fn take_on(
        &self,
        certifier: i64,
        staff: i64,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO internal_staff (certifier_id, staff_id, assigned_at)
                     VALUES ($1, $2, $3) ON CONFLICT (certifier_id, staff_id) DO NOTHING",
                )
                .bind(certifier)
                .bind(staff)
                .bind(to_epoch(at))
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }

    /// Whether `certifier` took `staff` on.
    pub async fn certifies(&self, certifier: i64, staff: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM internal_staff WHERE certifier_id = $1 AND staff_id = $2",
        )
        .bind(certifier)
        .bind(staff)
        .fetch_one(self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The M-IDs of a certifier's staff, in order.
    pub async fn staff_of(&self, certifier: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT a.mid FROM internal_staff s JOIN accounts a ON a.id = s.staff_id
              WHERE s.certifier_id = $1 ORDER BY a.mid",
        )
        .bind(certifier)
        .fetch_all(self.pool)
        .await?)
    }

    /// The certifiers of a staff member (the first one stands for an imported certification).
    pub async fn certifiers_of(&self, staff: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT certifier_id FROM internal_staff WHERE staff_id = $1 ORDER BY assigned_at, 1",
        )
        .bind(staff)
        .fetch_all(self.pool)
        .await?)
    }
}
