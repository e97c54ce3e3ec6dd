//! Who operates the directory: Help Desk staff, coordinators and the users they manage, Business
//! Partner Relationships and property assignments.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use crate::directory::{AccountKind, Right};
use sqlx::AnyPool;
use time::OffsetDateTime;

/// This part of the store (`Store::operators()`).
#[derive(Clone, Copy)]
pub struct Operators<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Operators<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Operators { pool, writer }
    }

    /// A coordinator's BPR properties as (number, name), by number (R3).
    pub async fn bpr_property_names(
        &self,
        coordinator: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT p.property_number, p.name FROM business_partners b
               JOIN properties p ON p.id = b.property_id
              WHERE b.account_id = $1 ORDER BY p.property_number",
        )
        .bind(coordinator)
        .fetch_all(self.pool)
        .await?)
    }

    pub async fn is_help_desk(&self, account: i64) -> Result<bool, StoreError> {
        let pool = self.pool;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM help_desk WHERE account_id = $1")
            .bind(account)
            .fetch_one(pool)
            .await?;
        Ok(n > 0)
    }
    pub async fn add_help_desk(
        &self,
        account: i64,
        by: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO help_desk (account_id, added_at, added_by) VALUES ($1, $2, $3) ON
                CONFLICT DO NOTHING",
                )
                .bind(account)
                .bind(to_epoch(at))
                .bind(by)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }
    /// Records that `coordinator` manages `user` (R3, R19).
    pub async fn link(
        &self,
        coordinator: i64,
        user: i64,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                "INSERT INTO coordinator_users (coordinator_id, user_id, assigned_at) VALUES ($1,
                $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(coordinator)
            .bind(user)
            .bind(to_epoch(at))
            .execute(&mut *tx)
            .await?;
                Ok(())
            })
            .await
    }
    pub async fn manages(&self, coordinator: i64, user: i64) -> Result<bool, StoreError> {
        let pool = self.pool;
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM coordinator_users c WHERE c.coordinator_id = $1 AND c.user_id =
            $2 AND {SHARES_A_PROPERTY}"
        ))
        .bind(coordinator)
        .bind(user)
        .fetch_one(pool)
        .await?;
        Ok(n > 0)
    }
    /// The M-IDs of the users a coordinator manages, in M-ID order.
    pub async fn managed_users(&self, coordinator: i64) -> Result<Vec<String>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(&format!(
            "SELECT a.mid FROM coordinator_users c JOIN accounts a ON a.id = c.user_id
             WHERE c.coordinator_id = $1 AND {SHARES_A_PROPERTY} ORDER BY a.mid"
        ))
        .bind(coordinator)
        .fetch_all(pool)
        .await?)
    }
    /// Property ids a coordinator has a Business Partner Relationship with (R3).
    pub async fn bpr_properties(&self, coordinator: i64) -> Result<Vec<i64>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(
            "SELECT property_id FROM business_partners WHERE account_id = $1 ORDER BY 1",
        )
        .bind(coordinator)
        .fetch_all(pool)
        .await?)
    }
    /// Property ids a person is assigned to (R6, R22).
    pub async fn assigned_properties(&self, account: i64) -> Result<Vec<i64>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(
            "SELECT property_id FROM property_assignments WHERE account_id = $1 ORDER BY 1",
        )
        .bind(account)
        .fetch_all(pool)
        .await?)
    }
    /// Coordinators with a BPR on a property (R2: one at least before any user, five at most).
    pub async fn coordinators_of(&self, property: i64) -> Result<Vec<i64>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(
            "SELECT b.account_id FROM business_partners b JOIN accounts a ON a.id = b.account_id
         WHERE b.property_id = $1 AND a.kind = 'coordinator' ORDER BY 1",
        )
        .bind(property)
        .fetch_all(pool)
        .await?)
    }
    pub async fn set_property_assignment(
        &self,
        account: i64,
        property: i64,
        assigned: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                let sql = if assigned {
                    "INSERT INTO property_assignments (account_id, property_id) VALUES ($1, $2) ON
                    CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM property_assignments WHERE account_id = $1 AND property_id = $2"
                };
                sqlx::query(sql)
                    .bind(account)
                    .bind(property)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }
    pub async fn revoke(
        &self,
        account: i64,
        right: Right,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query("DELETE FROM account_rights WHERE account_id = $1 AND right_name = $2")
                    .bind(account)
                    .bind(right.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE accounts SET auth_epoch = auth_epoch + 1 WHERE id = $1")
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }
    /// Removes a right flagged for removal (R18) once its deadline passed; false if it is no longer
    /// there (another node, or a coordinator, got there first): then nothing is written, so two
    /// nodes applying deadlines at once never audit or apply a removal twice.
    pub async fn remove_flagged(
        &self,
        account: i64,
        right: Right,
        flagged_at: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let pool = self.pool;
        self.writer
            .change(pool, async |tx| {
                let gone = sqlx::query(
                    "DELETE FROM account_rights WHERE account_id = $1 AND right_name = $2
                    AND flagged_for_removal = 1 AND flagged_at = $3",
                )
                .bind(account)
                .bind(right.as_str())
                .bind(flagged_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // Another node removed it first: nothing changed, nothing recorded.
                if gone == 0 {
                    return Ok((false, None));
                }
                sqlx::query("UPDATE accounts SET auth_epoch = auth_epoch + 1 WHERE id = $1")
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
                Ok((true, Some(audit.clone())))
            })
            .await
    }
    /// Other coordinators sharing a BPR property with `coordinator`: (M-ID, name), by M-ID.
    pub async fn fellow_coordinators(
        &self,
        coordinator: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT a.mid, a.full_name FROM business_partners mine
               JOIN business_partners o ON o.property_id = mine.property_id
                AND o.account_id <> mine.account_id
               JOIN accounts a ON a.id = o.account_id
              WHERE mine.account_id = $1 AND a.kind = 'coordinator' ORDER BY a.mid",
        )
        .bind(coordinator)
        .fetch_all(self.pool)
        .await?)
    }
    /// A coordinator who left (R22): its BPRs, property assignments, staff links and rights
    /// go and it becomes a plain user, in one transaction with `audit`, unless it is the last
    /// coordinator of a property that still has users (R2): then nothing changes and those
    /// properties' numbers are returned. Otherwise returns the BPR properties' numbers it
    /// had, empty when it was not a coordinator (any more).
    pub async fn demote(
        &self,
        account: i64,
        audit: &AuditEntry,
    ) -> Result<Result<Vec<String>, Vec<String>>, StoreError> {
        let pool = self.pool;
        self.writer
            .change(pool, async |tx| {
                let orphaned: Vec<String> = sqlx::query_scalar(
                    "SELECT p.property_number FROM business_partners b
                       JOIN properties p ON p.id = b.property_id
                      WHERE b.account_id = $1
                        AND NOT EXISTS (SELECT 1 FROM business_partners o
                               JOIN accounts oa ON oa.id = o.account_id
                              WHERE o.property_id = b.property_id AND o.account_id <> $1
                                AND oa.kind = 'coordinator')
                        AND EXISTS (SELECT 1 FROM property_assignments pa
                               JOIN accounts u ON u.id = pa.account_id
                              WHERE pa.property_id = b.property_id AND u.kind = 'user')
                      ORDER BY 1",
                )
                .bind(account)
                .fetch_all(&mut *tx)
                .await?;
                if !orphaned.is_empty() {
                    return Ok((Err(orphaned), None));
                }
                let had: Vec<String> = sqlx::query_scalar(
                    "SELECT p.property_number FROM business_partners b
                       JOIN properties p ON p.id = b.property_id WHERE b.account_id = $1 ORDER BY 1",
                )
                .bind(account)
                .fetch_all(&mut *tx)
                .await?;
                let demoted = sqlx::query(
                    "UPDATE accounts SET kind = $1, auth_epoch = auth_epoch + 1
                      WHERE id = $2 AND kind = $3",
                )
                .bind(AccountKind::User.as_str())
                .bind(account)
                .bind(AccountKind::Coordinator.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if demoted == 0 {
                    return Ok((Ok(Vec::new()), None));
                }
                for sql in [
                    "DELETE FROM business_partners WHERE account_id = $1",
                    "DELETE FROM property_assignments WHERE account_id = $1",
                    "DELETE FROM coordinator_users WHERE coordinator_id = $1",
                    "DELETE FROM account_rights WHERE account_id = $1",
                ] {
                    sqlx::query(sql).bind(account).execute(&mut *tx).await?;
                }
                let audit = audit.clone().detail(format!(
                    "{} bprs_removed=[{}]",
                    audit.detail,
                    had.join(",")
                ));
                Ok((Ok(had), Some(audit)))
            })
            .await
    }
    /// Turns a user into a coordinator (R4) with BPRs on `properties`.
    pub async fn promote(
        &self,
        account: i64,
        properties: &[i64],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "UPDATE accounts SET kind = $1, auth_epoch = auth_epoch + 1 WHERE id = $2",
                )
                .bind(AccountKind::Coordinator.as_str())
                .bind(account)
                .execute(&mut *tx)
                .await?;
                for p in properties {
                    sqlx::query(
                        "INSERT INTO business_partners (account_id, property_id) VALUES ($1, $2) ON
                    CONFLICT DO NOTHING",
                    )
                    .bind(account)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            })
            .await
    }
    /// Flags (or unflags) a right for removal at the deadline (R18).
    pub async fn flag_right(
        &self,
        account: i64,
        right: Right,
        flag: Option<(&str, OffsetDateTime)>,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                let n = sqlx::query(
            "UPDATE account_rights SET flagged_for_removal = $1, flagged_by = $2, flagged_at = $3
             WHERE account_id = $4 AND right_name = $5",
        )
        .bind(flag.is_some() as i64)
        .bind(flag.map(|f| f.0))
        .bind(flag.map(|f| to_epoch(f.1)))
        .bind(account)
        .bind(right.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
                Ok(n)
            })
            .await
    }
    /// Records a user's recertification for `cycle` by `coordinator` (R17, R18).
    pub async fn recertify(
        &self,
        user: i64,
        cycle: i32,
        coordinator: i64,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                "INSERT INTO recertifications (user_id, cycle, coordinator_id, certified_at) VALUES
                ($1, $2, $3, $4)
             ON CONFLICT (user_id, cycle) DO NOTHING",
            )
            .bind(user)
            .bind(cycle as i64)
            .bind(coordinator)
            .bind(to_epoch(at))
            .execute(&mut *tx)
            .await?;
                // Each coordinator's certification covers its own BPR properties
                // (`store::certifications`).
                sqlx::query(
                    "INSERT INTO cycle_certifications (user_id, cycle, coordinator_id, certified_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, cycle, coordinator_id) DO NOTHING",
                )
                .bind(user)
                .bind(cycle as i64)
                .bind(coordinator)
                .bind(to_epoch(at))
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE accounts SET recertified_at = $1 WHERE id = $2")
                    .bind(to_epoch(at))
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }
    /// Rights flagged for removal, with their holder's M-ID and when they were flagged.
    /// Rights flagged for removal: (account, M-ID, its affiliation, right, flagged at).
    pub async fn flagged_rights(
        &self,
    ) -> Result<Vec<(i64, String, String, String, i64)>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_as(
            "SELECT r.account_id, a.mid, a.affiliation, r.right_name, r.flagged_at FROM account_rights r
         JOIN accounts a ON a.id = r.account_id
         WHERE r.flagged_for_removal = 1 AND r.flagged_at IS NOT NULL ORDER BY r.account_id",
        )
        .fetch_all(pool)
        .await?)
    }
    /// Coordinators managing a user.
    pub async fn managers_of(&self, user: i64) -> Result<Vec<i64>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(
            "SELECT coordinator_id FROM coordinator_users WHERE user_id = $1 ORDER BY 1",
        )
        .bind(user)
        .fetch_all(pool)
        .await?)
    }
}

/// A coordinator (`c.coordinator_id`) manages a user (`c.user_id`) only while one of its BPR
/// properties, or one of the organizations it has a BPR with (a service bureau's or a CA's
/// coordinator, issue 27), is among the user's assignments (R3, R14, R22): authority lapses
/// the moment they no longer share a property or an organization.
const SHARES_A_PROPERTY: &str = "(EXISTS (SELECT 1 FROM property_assignments pa
        JOIN business_partners b ON b.property_id = pa.property_id AND b.account_id =
        c.coordinator_id
       WHERE pa.account_id = c.user_id)
    OR EXISTS (SELECT 1 FROM organization_assignments oa
        JOIN organization_partners op ON op.organization_id = oa.organization_id
         AND op.account_id = c.coordinator_id
       WHERE oa.account_id = c.user_id))";
