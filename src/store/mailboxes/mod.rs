//! TRACSMail mailboxes, properties and contracts: a mailbox, its password attempts and its
//! administrators here; properties and contracts in [`properties`], the states the
//! coordinator's and Help Desk's pages show in [`states`].

use super::columns::{Columns, Prefixed};
use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::{from_epoch, to_epoch};
use crate::directory::{ImaxId, Mailbox, MailboxKind};
use sqlx::AnyPool;

mod properties;
mod states;

pub use states::MailboxState;
use time::OffsetDateTime;

/// A row of [`COLUMNS`], decoded by name (`query_as::<_, Mailbox>`).
impl sqlx::FromRow<'_, sqlx::any::AnyRow> for Mailbox {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        mailbox_from(row, "")
    }
}

/// The mailbox in `row`, whose columns are [`COLUMNS`], each named with `prefix` first (a
/// query that reads other tables' columns too, `store::context`).
pub(super) fn mailbox_from<R: Columns>(row: &R, prefix: &str) -> Result<Mailbox, sqlx::Error> {
    let decode = |e: &str| sqlx::Error::Decode(e.to_string().into());
    let row = Prefixed { row, prefix };
    Ok(Mailbox {
        id: row.int("id")?,
        imax_id: ImaxId::parse(&row.text("imax_id")?).ok_or_else(|| decode("bad imax id"))?,
        kind: MailboxKind::parse(&row.text("kind")?).ok_or_else(|| decode("bad kind"))?,
        name: row.text("name")?,
        password_hash: row.text("password_hash")?,
        active: row.int("active")? != 0,
        auth_epoch: row.int("auth_epoch")?,
        accepts_attachments: row.int("accepts_attachments")? != 0,
        frozen_until: row.opt_int("frozen_until")?.map(from_epoch),
        mid_frozen_until: row.opt_int("mid_frozen_until")?.map(from_epoch),
        created_at: from_epoch(row.int("created_at")?),
        last_used_at: row.opt_int("last_used_at")?.map(from_epoch),
    })
}

/// The mailboxes (columns under `prefix`) of rows ordered by that mailbox's id, each once;
/// rows where the (outer-joined) mailbox is missing are skipped.
pub(super) fn distinct_mailboxes<R: Columns>(
    rows: &[R],
    prefix: &str,
) -> Result<Vec<Mailbox>, sqlx::Error> {
    let mut found: Vec<Mailbox> = Vec::new();
    for row in rows {
        let id = Prefixed { row, prefix }.opt_int("id")?;
        if id.is_some() {
            let m = mailbox_from(row, prefix)?;
            if found.last().is_none_or(|l| l.id != m.id) {
                found.push(m);
            }
        }
    }
    Ok(found)
}

/// [`COLUMNS`] of the table aliased `alias`, each renamed with `prefix` first (see
/// [`mailbox_from`]).
pub(super) fn prefixed_columns(alias: &str, prefix: &str) -> String {
    COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{0} AS {prefix}{0}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) const COLUMNS: &str = "id, imax_id, kind, name, password_hash, active, auth_epoch, accepts_attachments, frozen_until, mid_frozen_until, created_at, last_used_at";

/// This part of the store (`Store::mailboxes()`).
#[derive(Clone, Copy)]
pub struct Mailboxes<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Mailboxes<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Mailboxes { pool, writer }
    }

    /// Counts `account`'s attempt at `mailbox`'s password before the password is checked, so
    /// that parallel guesses are counted too: failures count per (mailbox, M-ID), so that one
    /// M-ID's wrong passwords freeze the mailbox for that M-ID only. While that M-ID's freeze is
    /// in force nothing is counted (its run starts again from nothing when the freeze ends).
    pub async fn claim_attempt(
        &self,
        mailbox: i64,
        account: i64,
        now: OffsetDateTime,
    ) -> Result<Attempt, StoreError> {
        let (n, frozen, opened): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "INSERT INTO mailbox_attempts (mailbox_id, account_id, failed) VALUES ($1, $2, 1)
             ON CONFLICT (mailbox_id, account_id) DO UPDATE SET failed = CASE
                 WHEN mailbox_attempts.frozen_until > $3 THEN mailbox_attempts.failed
                 ELSE mailbox_attempts.failed + 1 END
             RETURNING failed, frozen_until, opened_at",
        )
        .bind(mailbox)
        .bind(account)
        .bind(to_epoch(now))
        .fetch_one(self.pool)
        .await?;
        Ok(Attempt {
            n: n.try_into().unwrap_or(u32::MAX),
            frozen_until: frozen.map(from_epoch).filter(|t| *t > now),
            opened_at: opened.map(from_epoch),
        })
    }
    /// The right password for `account`'s attempt `n`: the run of failures up to it is
    /// forgiven (later attempts, still being checked, stay counted); with `opened`, the M-ID
    /// opened the mailbox now (a freeze for everyone spares it for 90 days).
    pub async fn attempt_succeeded(
        &self,
        mailbox: i64,
        account: i64,
        n: u32,
        opened: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mailbox_attempts SET failed = CASE WHEN failed > $3 THEN failed - $3 ELSE 0 END,
                opened_at = COALESCE($4, opened_at)
             WHERE mailbox_id = $1 AND account_id = $2",
        )
        .bind(mailbox)
        .bind(account)
        .bind(i64::from(n))
        .bind(opened.map(to_epoch))
        .execute(self.pool)
        .await?;
        Ok(())
    }
    /// How many other M-IDs than `account` are frozen out of `mailbox` at `now`.
    pub async fn frozen_mids(
        &self,
        mailbox: i64,
        account: i64,
        now: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mailbox_attempts WHERE mailbox_id = $1 AND account_id <> $2
               AND frozen_until > $3",
        )
        .bind(mailbox)
        .bind(account)
        .bind(to_epoch(now))
        .fetch_one(self.pool)
        .await?;
        Ok(n.try_into().unwrap_or(u32::MAX))
    }
    pub async fn load(&self, imax_id: &ImaxId) -> Result<Option<Mailbox>, StoreError> {
        let pool = self.pool;
        let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE imax_id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(imax_id.as_str())
            .fetch_optional(pool)
            .await?)
    }
    pub async fn load_by_id(&self, id: i64) -> Result<Option<Mailbox>, StoreError> {
        let pool = self.pool;
        let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?)
    }
    /// The address book: every active administrator mailbox (HUD and the CAs), HUD first.
    pub async fn administrators(&self) -> Result<Vec<Mailbox>, StoreError> {
        let pool = self.pool;
        let sql = format!(
            "SELECT {COLUMNS} FROM mailboxes WHERE kind IN ('hud', 'ca') AND active = 1
         ORDER BY kind DESC, imax_id"
        );
        Ok(sqlx::query_as(&sql).fetch_all(pool).await?)
    }
    pub async fn create(
        &self,
        m: &NewMailbox,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                let id = sqlx::query_scalar(
                    "INSERT INTO mailboxes (imax_id, kind, name, email, password_hash,
                password_changed_at, created_at, accepts_attachments)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
                )
                .bind(m.imax_id.as_str())
                .bind(m.kind.as_str())
                .bind(&m.name)
                .bind(&m.email)
                .bind(&m.password_hash)
                .bind(to_epoch(now))
                // HUD's TRACS takes TRACS files only.
                .bind(i64::from(m.kind != MailboxKind::Hud))
                .fetch_one(&mut *tx)
                .await?;
                Ok(id)
            })
            .await
    }
    pub async fn set_password(
        &self,
        mailbox: i64,
        hash: &str,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                "UPDATE mailboxes SET password_hash = $1, password_changed_at = $2, auth_epoch =
                auth_epoch + 1,
                    failed_passwords = 0, frozen_until = NULL, mid_frozen_until = NULL,
                    last_used_at = $2
             WHERE id = $3",
            )
            .bind(hash)
            .bind(to_epoch(now))
            .bind(mailbox)
            .execute(&mut *tx)
            .await?;
                sqlx::query(
                    "UPDATE mailbox_attempts SET failed = 0, frozen_until = NULL
                     WHERE mailbox_id = $1",
                )
                .bind(mailbox)
                .execute(&mut *tx)
                .await?;
                // A new password ends any run of refused Help Desk resets (R24), any freeze for
                // wrong passwords, and reactivates an inactive mailbox (its unused time counts
                // from now).
                sqlx::query(
                "UPDATE mailbox_profiles SET reset_failures = 0, resets_frozen_until = NULL WHERE
                mailbox_id = $1",
            )
            .bind(mailbox)
            .execute(&mut *tx)
            .await?;
                Ok(())
            })
            .await
    }
    /// The mailbox `project` and the administrators of its properties' contracts (by id, each
    /// once), in one statement; `None` if there is no such mailbox.
    pub async fn with_administrators(
        &self,
        project: &ImaxId,
    ) -> Result<Option<(Mailbox, Vec<Mailbox>)>, StoreError> {
        let sql = format!(
            "SELECT {}, {} FROM mailboxes p
               LEFT JOIN properties pr ON pr.mailbox_id = p.id
               LEFT JOIN contracts c ON c.property_id = pr.id
               LEFT JOIN mailboxes a ON a.id = c.administrator_mailbox
              WHERE p.imax_id = $1 ORDER BY a.id",
            prefixed_columns("p", "p_"),
            prefixed_columns("a", "a_")
        );
        let rows = sqlx::query(&sql)
            .bind(project.as_str())
            .fetch_all(self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        Ok(Some((
            mailbox_from(first, "p_")?,
            distinct_mailboxes(&rows, "a_")?,
        )))
    }
    /// The distinct administrator mailboxes of the contracts of every property that `mailbox`
    /// serves: the candidates for "send to my administrator" (R12).
    pub async fn administrators_for(&self, mailbox: i64) -> Result<Vec<Mailbox>, StoreError> {
        let pool = self.pool;
        let sql = format!(
            "SELECT {COLUMNS} FROM mailboxes WHERE id IN (
             SELECT c.administrator_mailbox FROM contracts c
             JOIN properties p ON p.id = c.property_id WHERE p.mailbox_id = $1)
         ORDER BY id"
        );
        Ok(sqlx::query_as(&sql).bind(mailbox).fetch_all(pool).await?)
    }
    /// Links a coordinator to a property it has a Business Partner Relationship with (R3).
    pub async fn add_business_partner(
        &self,
        account: i64,
        property: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO business_partners (account_id, property_id) VALUES ($1, $2) ON
                CONFLICT DO NOTHING",
                )
                .bind(account)
                .bind(property)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }
    /// Whether `sender` may stand as Sender's iMAX ID in files sent from `mailbox` (R11).
    pub async fn may_send_for(&self, mailbox: i64, sender: &str) -> Result<bool, StoreError> {
        let pool = self.pool;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mailbox_senders s JOIN mailboxes m ON m.id = s.sender_mailbox_id
          WHERE s.mailbox_id = $1 AND m.imax_id = $2",
        )
        .bind(mailbox)
        .bind(sender)
        .fetch_one(pool)
        .await?;
        Ok(n > 0)
    }
    /// Whether `administrator` (a CA's mailbox) administers the contract of a property whose
    /// mailbox is `imax_id`.
    pub async fn administers(&self, administrator: i64, imax_id: &str) -> Result<bool, StoreError> {
        let pool = self.pool;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM contracts c JOIN properties p ON p.id = c.property_id
               JOIN mailboxes m ON m.id = p.mailbox_id
              WHERE c.administrator_mailbox = $1 AND m.imax_id = $2",
        )
        .bind(administrator)
        .bind(imax_id)
        .fetch_one(pool)
        .await?;
        Ok(n > 0)
    }
    /// Lets `sender` appear as Sender's iMAX ID in files sent from `mailbox`, or stops it.
    pub async fn set_sender(
        &self,
        mailbox: i64,
        sender: i64,
        allowed: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                if allowed {
                    sqlx::query(
                    "INSERT INTO mailbox_senders (mailbox_id, sender_mailbox_id) VALUES ($1, $2) ON
                    CONFLICT DO NOTHING",
                )
                .bind(mailbox)
                .bind(sender)
                .execute(&mut *tx)
                .await?;
                } else {
                    sqlx::query(
                        "DELETE FROM mailbox_senders WHERE mailbox_id = $1 AND sender_mailbox_id =
                        $2",
                    )
                    .bind(mailbox)
                    .bind(sender)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            })
            .await
    }
    /// Whether a mailbox accepts files that are not TRACS files.
    pub async fn set_accepts_attachments(
        &self,
        mailbox: i64,
        accepts: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query("UPDATE mailboxes SET accepts_attachments = $1 WHERE id = $2")
                    .bind(i64::from(accepts))
                    .bind(mailbox)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }
}

/// One M-ID's counted attempt at a mailbox's password ([`Mailboxes::claim_attempt`]).
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// Its place in this M-ID's current run of failures at this mailbox.
    pub n: u32,
    /// This M-ID's freeze at this mailbox, if one is in force.
    pub frozen_until: Option<OffsetDateTime>,
    /// When this M-ID last opened the mailbox with its right password.
    pub opened_at: Option<OffsetDateTime>,
}

/// A new mailbox.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub imax_id: ImaxId,
    pub kind: MailboxKind,
    pub name: String,
    pub email: String,
    pub password_hash: String,
}
