//! Reading and changing M-IDs, their rights and working-group membership.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::{from_epoch, to_epoch};
use crate::directory::{Account, AccountKind, AccountStatus, Affiliation, MId, Right, Rights};
use sqlx::AnyPool;
use time::OffsetDateTime;

mod lockout;
use super::columns::Columns;
pub use lockout::Side;

/// An account row, decoded by these names in `load`.
pub(super) const ACCOUNT_COLUMNS: &str =
    "a.id, a.mid, a.kind, a.affiliation, a.locked_until, a.stranger_locked_until,
     a.failure_locks, a.stranger_locks, a.full_name, a.email, a.password_hash, a.password_changed_at,
     a.status, a.lock_reason, a.failed_signins, a.last_activity_at, a.last_signin_at, a.created_at,
     a.auth_epoch, w.admitted_at AS working_group_since, a.rob_accepted_at,
     (SELECT MAX(cycle) FROM recertifications r WHERE r.user_id = a.id) AS recertified_cycle";

/// Each right of the account, one row per right (see [`account_from_rows`]).
pub(super) const RIGHT_COLUMNS: &str = "r.right_name, r.granted_at, r.flagged_at";
pub(super) const ACCOUNT_FROM: &str = "FROM accounts a
    LEFT JOIN working_group w ON w.account_id = a.id
    LEFT JOIN account_rights r ON r.account_id = a.id";

/// This part of the store (`Store::accounts()`).
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Accounts { pool, writer }
    }

    /// M-IDs whose ID or name matches `like` (an SQL LIKE pattern with `\\` as escape),
    /// at most 50, by M-ID: the Help Desk's search.
    pub async fn search(&self, like: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT mid FROM accounts WHERE mid LIKE $1 ESCAPE '\\' OR full_name LIKE $1 ESCAPE
                '\\'
              ORDER BY mid LIMIT 50",
        )
        .bind(like)
        .fetch_all(self.pool)
        .await?)
    }

    /// The free-text organization an M-ID was made with (before organizations, or a firm's
    /// name).
    pub async fn organization_text(&self, account: i64) -> Result<String, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT organization FROM accounts WHERE id = $1")
                .bind(account)
                .fetch_optional(self.pool)
                .await?
                .unwrap_or_default(),
        )
    }

    /// The M-ID of an account id.
    pub async fn mid_of(&self, account: i64) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT mid FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_optional(self.pool)
            .await?)
    }

    /// Loads an account with its rights and working-group admission, in one statement (one
    /// row per right; every request of both doors reads its caller's account afresh).
    pub async fn load(&self, mid: &MId) -> Result<Option<Account>, StoreError> {
        let pool = self.pool;
        let sql =
            format!("SELECT {ACCOUNT_COLUMNS}, {RIGHT_COLUMNS} {ACCOUNT_FROM} WHERE a.mid = $1");
        let rows = sqlx::query(&sql).bind(mid.as_str()).fetch_all(pool).await?;
        Ok(account_from_rows(&rows)?)
    }
    pub async fn create(
        &self,
        a: &NewAccount,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                let changed = if a.password_is_current {
                    to_epoch(now)
                } else {
                    0
                };
                let id: i64 = sqlx::query_scalar(
                "INSERT INTO accounts (mid, kind, full_name, email, organization, password_hash,
                password_changed_at, created_at, affiliation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(a.mid.as_str())
            .bind(a.kind.as_str())
            .bind(&a.full_name)
            .bind(&a.email)
            .bind(&a.organization)
            .bind(&a.password_hash)
            .bind(changed)
            .bind(to_epoch(now))
            .bind(a.affiliation.as_str())
            .fetch_one(&mut *tx)
            .await?;
                Ok(id)
            })
            .await
    }
    pub async fn grant(
        &self,
        account: i64,
        right: Right,
        by: &str,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                "INSERT INTO account_rights (account_id, right_name, granted_at, granted_by) VALUES
                ($1, $2, $3, $4)
             ON CONFLICT (account_id, right_name) DO NOTHING",
            )
            .bind(account)
            .bind(right.as_str())
            .bind(to_epoch(now))
            .bind(by)
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
    pub async fn admit_to_working_group(
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
            "INSERT INTO working_group (account_id, admitted_at, admitted_by) VALUES ($1, $2, $3)
             ON CONFLICT (account_id) DO UPDATE SET admitted_at = excluded.admitted_at,
             admitted_by = excluded.admitted_by",
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
    /// Sets a new password hash, remembers the old one for the history rule, and forgets every
    /// remembered credential (epoch bump). `current` false makes it expire at once.
    pub async fn set_password(
        &self,
        account: i64,
        new_hash: &str,
        current: bool,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO password_history (account_id, password_hash, changed_at)
             SELECT id, password_hash, $2 FROM accounts WHERE id = $1",
                )
                .bind(account)
                .bind(to_epoch(now))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE accounts SET password_hash = $1, password_changed_at = $2, auth_epoch =
                auth_epoch + 1 WHERE id = $3",
                )
                .bind(new_hash)
                .bind(if current { to_epoch(now) } else { 0 })
                .bind(account)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }
    /// The last `n` password hashes, newest first (the current one is not included).
    pub async fn password_history(&self, account: i64, n: u32) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE account_id = $1
              ORDER BY changed_at DESC, id DESC LIMIT $2",
        )
        .bind(account)
        .bind(n as i64)
        .fetch_all(self.pool)
        .await?)
    }
    /// Sets the status (unlock, lock, terminate, restore), resetting the failure count and, for an
    /// unlock, counting the unlock as activity so that the 90-day lock does not strike again at once.
    pub async fn set_status(
        &self,
        account: i64,
        status: AccountStatus,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        let (s, reason) = status.to_columns();
        self.writer
            .audited(pool, audit, async |tx| {
                let touch = if status == AccountStatus::Active {
                    Some(to_epoch(now))
                } else {
                    None
                };
                sqlx::query(
                // A coordinator's or the Help Desk's unlock lifts both sides' failure locks
                // at once and starts their growth again (R14).
                "UPDATE accounts SET status = $1, lock_reason = $2, failed_signins = 0, auth_epoch
                = auth_epoch + 1, locked_until = NULL, stranger_failures = 0,
                    stranger_locked_until = NULL, failure_locks = 0, stranger_locks = 0,
                    last_activity_at = COALESCE($3, last_activity_at),
                    last_signin_at = COALESCE($3, last_signin_at)
             WHERE id = $4",
            )
            .bind(s)
            .bind(reason)
            .bind(touch)
            .bind(account)
            .execute(&mut *tx)
            .await?;
                Ok(())
            })
            .await
    }
    /// Records that the person accepted the Rules of Behavior (R21).
    pub async fn accept_rules_of_behavior(
        &self,
        account: i64,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query("UPDATE accounts SET rob_accepted_at = $1 WHERE id = $2")
                    .bind(to_epoch(at))
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }
    /// Appends an audit record with no other change (a refusal worth recording).
    pub async fn record(&self, audit: &AuditEntry) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer.audited(pool, audit, async |_| Ok(())).await
    }
}

/// A new M-ID.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub mid: MId,
    pub kind: AccountKind,
    /// Set by HUD (operator or Help Desk); coordinators make industry M-IDs only.
    pub affiliation: Affiliation,
    pub full_name: String,
    pub email: String,
    pub organization: String,
    pub password_hash: String,
    /// `false` makes the password expire at once, so the person must change it (R15).
    pub password_is_current: bool,
}

/// The account in `rows` (one per right, each with every [`ACCOUNT_COLUMNS`] and the right's
/// `right_name`, `granted_at`, `flagged_at`), if there is one.
pub(super) fn account_from_rows<R: Columns>(rows: &[R]) -> Result<Option<Account>, sqlx::Error> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let id = row.int("id")?;
    let HeldRights {
        rights,
        imax_granted_at,
        flagged,
    } = rights_from_rows(rows)?;
    let status = row.text("status")?;
    let reason = row.opt_text("lock_reason")?;
    let decode = |e: &str| sqlx::Error::Decode(e.to_string().into());
    Ok(Some(Account {
        id,
        mid: MId::parse(&row.text("mid")?).ok_or_else(|| decode("bad mid"))?,
        kind: AccountKind::parse(&row.text("kind")?).ok_or_else(|| decode("bad kind"))?,
        affiliation: Affiliation::parse(&row.text("affiliation")?)
            .ok_or_else(|| decode("bad affiliation"))?,
        locked_until: row.opt_int("locked_until")?.map(from_epoch),
        stranger_locked_until: row.opt_int("stranger_locked_until")?.map(from_epoch),
        failure_locks: row.int("failure_locks")?.try_into().unwrap_or(u32::MAX),
        stranger_locks: row.int("stranger_locks")?.try_into().unwrap_or(u32::MAX),
        full_name: row.text("full_name")?,
        email: row.text("email")?,
        password_hash: row.text("password_hash")?,
        password_changed_at: from_epoch(row.int("password_changed_at")?),
        status: AccountStatus::from_columns(&status, reason.as_deref())
            .ok_or_else(|| decode("bad status"))?,
        failed_signins: row.int("failed_signins")?.try_into().unwrap_or(u32::MAX),
        last_activity_at: row.opt_int("last_activity_at")?.map(from_epoch),
        last_signin_at: row.opt_int("last_signin_at")?.map(from_epoch),
        created_at: from_epoch(row.int("created_at")?),
        auth_epoch: row.int("auth_epoch")?,
        rights,
        working_group_since: row.opt_int("working_group_since")?.map(from_epoch),
        imax_granted_at,
        rob_accepted_at: row.opt_int("rob_accepted_at")?.map(from_epoch),
        recertified_cycle: row.opt_int("recertified_cycle")?.map(|c| c as i32),
        flagged,
    }))
}

/// An account's rights as its rows hold them (one row per right).
struct HeldRights {
    rights: Rights,
    /// When the iMAX role was granted (R8's working-group delay counts from it).
    imax_granted_at: Option<OffsetDateTime>,
    /// The rights flagged for removal, with when (R18).
    flagged: Vec<(Right, OffsetDateTime)>,
}

/// The rights in `rows`, one per right (a row without one: an account holding none).
fn rights_from_rows<R: Columns>(rows: &[R]) -> Result<HeldRights, sqlx::Error> {
    let mut rights = Rights::default();
    let mut imax_granted_at = None;
    let mut flagged = Vec::new();
    for right in rows {
        let Some(name) = right.opt_text("right_name")? else {
            continue;
        };
        let at = right.int("granted_at")?;
        let flagged_at = right.opt_int("flagged_at")?;
        if let Some(r) = Right::parse(&name) {
            rights.set(r, true);
            if let Some(f) = flagged_at {
                flagged.push((r, from_epoch(f)));
            }
            if r == Right::Imax {
                imax_granted_at = Some(from_epoch(at));
            }
        }
    }
    Ok(HeldRights {
        rights,
        imax_granted_at,
        flagged,
    })
}
