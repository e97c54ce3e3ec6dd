//! Browser sessions, stored in the database so that any gateway node sharing it serves any
//! request, and ending a session (sign-out, timeout, account change) ends it on every node.
//!
//! Only the SHA-256 of the cookie value is stored: reading this table does not let anyone
//! take over a session.

use super::reconnect::{insert_once_more, once_more};
use super::StoreError;
use crate::clock::{from_epoch, to_epoch};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

/// How far a session has got (issue 30): only a signed-in one opens any page but its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    SignedIn,
    /// The password was right; the second factor's code is awaited (short-lived).
    SecondFactor,
    /// The person's group requires a second factor and it has none: enrolment first.
    Enrol,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::SignedIn => "signed-in",
            SessionStage::SecondFactor => "second-factor",
            SessionStage::Enrol => "enrol",
        }
    }
    /// An unknown stage grants nothing: it reads as awaiting the code.
    pub fn parse(s: &str) -> SessionStage {
        match s {
            "signed-in" => SessionStage::SignedIn,
            "enrol" => SessionStage::Enrol,
            _ => SessionStage::SecondFactor,
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: i64,
    pub mid: String,
    pub auth_epoch: i64,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The open mailbox and its auth_epoch when it was opened.
    pub mailbox: Option<(i64, i64)>,
    pub stage: SessionStage,
    /// Wrong codes sent in this session (while its stage is `SecondFactor`).
    pub code_failures: i64,
}

/// A session row with its M-ID, decoded by name.
impl sqlx::FromRow<'_, sqlx::any::AnyRow> for SessionRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        let mailbox = match (
            row.try_get::<Option<i64>, _>("mailbox_id")?,
            row.try_get::<Option<i64>, _>("mailbox_epoch")?,
        ) {
            (Some(id), Some(epoch)) => Some((id, epoch)),
            _ => None,
        };
        Ok(SessionRow {
            id_hash: row.try_get("id_hash")?,
            account_id: row.try_get("account_id")?,
            mid: row.try_get("mid")?,
            auth_epoch: row.try_get("auth_epoch")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: from_epoch(row.try_get("created_at")?),
            last_seen_at: from_epoch(row.try_get("last_seen_at")?),
            mailbox,
            stage: SessionStage::parse(&row.try_get::<String, _>("stage")?),
            code_failures: row.try_get("code_failures")?,
        })
    }
}

/// This part of the store (`Store::sessions()`).
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    pool: &'a AnyPool,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Sessions { pool }
    }

    pub async fn create(&self, s: &SessionRow) -> Result<(), StoreError> {
        let pool = self.pool;
        // The id is random and only this caller writes it: a second run that finds it knows
        // the first one landed (`reconnect`).
        insert_once_more("session", || async {
            sqlx::query(
                "INSERT INTO web_sessions (id_hash, account_id, auth_epoch, csrf_token, created_at,
            last_seen_at, stage)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&s.id_hash)
            .bind(s.account_id)
            .bind(s.auth_epoch)
            .bind(&s.csrf_token)
            .bind(to_epoch(s.created_at))
            .bind(to_epoch(s.last_seen_at))
            .bind(s.stage.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .await?;
        Ok(())
    }
    pub async fn load(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let pool = self.pool;
        // The first statement of every browser request: once more if its session broke.
        let row: Option<SessionRow> = once_more("read", || {
            sqlx::query_as(
                "SELECT s.id_hash, s.account_id, a.mid, s.auth_epoch, s.csrf_token, s.created_at,
                s.last_seen_at, s.mailbox_id, s.mailbox_epoch, s.stage, s.code_failures
           FROM web_sessions s JOIN accounts a ON a.id = s.account_id
          WHERE s.id_hash = $1",
            )
            .bind(id_hash)
            .fetch_optional(pool)
        })
        .await?;
        Ok(row)
    }
    /// Moves the idle deadline on.
    pub async fn touch(&self, id_hash: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let pool = self.pool;
        // Setting the same value twice is setting it once.
        once_more("session", || {
            sqlx::query("UPDATE web_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(to_epoch(at))
                .bind(id_hash)
                .execute(pool)
        })
        .await?;
        Ok(())
    }
    /// Records the mailbox opened in this session, or closes it (`None`).
    pub async fn set_mailbox(
        &self,
        id_hash: &str,
        mailbox: Option<(i64, i64)>,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        once_more("session", || {
            sqlx::query(
                "UPDATE web_sessions SET mailbox_id = $1, mailbox_epoch = $2 WHERE id_hash = $3",
            )
            .bind(mailbox.map(|m| m.0))
            .bind(mailbox.map(|m| m.1))
            .bind(id_hash)
            .execute(pool)
        })
        .await?;
        Ok(())
    }
    /// Moves a session on to `stage` (a code given, an enrolment confirmed).
    pub async fn set_stage(&self, id_hash: &str, stage: SessionStage) -> Result<(), StoreError> {
        let pool = self.pool;
        once_more("session", || {
            sqlx::query("UPDATE web_sessions SET stage = $1 WHERE id_hash = $2")
                .bind(stage.as_str())
                .bind(id_hash)
                .execute(pool)
        })
        .await?;
        Ok(())
    }
    /// Counts a wrong code in this session; the count now (0 when the session is gone).
    pub async fn count_code_failure(&self, id_hash: &str) -> Result<i64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar(
            "UPDATE web_sessions SET code_failures = code_failures + 1 WHERE id_hash = $1
             RETURNING code_failures",
        )
        .bind(id_hash)
        .fetch_optional(self.pool)
        .await?;
        Ok(n.unwrap_or(0))
    }
    /// Ends one session.
    pub async fn delete(&self, id_hash: &str) -> Result<(), StoreError> {
        let pool = self.pool;
        once_more("session", || {
            sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
        })
        .await?;
        Ok(())
    }
    /// Removes sessions idle since before `idle_cutoff` or begun before `lifetime_cutoff`.
    pub async fn purge_expired(
        &self,
        idle_cutoff: OffsetDateTime,
        lifetime_cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query("DELETE FROM web_sessions WHERE last_seen_at < $1 OR created_at < $2")
                .bind(to_epoch(idle_cutoff))
                .bind(to_epoch(lifetime_cutoff))
                .execute(pool)
                .await?
                .rows_affected(),
        )
    }
}
