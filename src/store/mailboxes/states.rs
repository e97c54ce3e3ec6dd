//! A mailbox's state as the coordinator's and Help Desk's pages show it: frozen by wrong
//! passwords, and when it was last used (inactivity).

use super::Mailboxes;
use crate::clock::to_epoch;
use crate::store::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

impl Mailboxes<'_> {
    /// The mailboxes of a coordinator's BPR properties, with their freezes.
    pub async fn states_of_coordinator(
        &self,
        coordinator: i64,
    ) -> Result<Vec<MailboxState>, StoreError> {
        let pool = self.pool;
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT {MAILBOX_STATE} FROM business_partners b
           JOIN properties p ON p.id = b.property_id
           JOIN mailboxes m ON m.id = p.mailbox_id
          WHERE b.account_id = $1 ORDER BY m.imax_id"
        ))
        .bind(coordinator)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .iter()
            .map(MailboxState::from_row)
            .collect::<Result<_, _>>()?)
    }
    /// One mailbox's state.
    pub async fn state(&self, imax_id: &str) -> Result<Option<MailboxState>, StoreError> {
        let pool = self.pool;
        let row = sqlx::query(&format!(
            "SELECT {MAILBOX_STATE} FROM mailboxes m WHERE m.imax_id = $1"
        ))
        .bind(imax_id)
        .fetch_optional(pool)
        .await?;
        Ok(row.as_ref().map(MailboxState::from_row).transpose()?)
    }
    /// Active mailboxes unused since `cutoff` (inactive), longest unused first, at most 100.
    pub async fn unused_since(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<MailboxState>, StoreError> {
        let pool = self.pool;
        let rows = sqlx::query(&format!(
            "SELECT {MAILBOX_STATE} FROM mailboxes m
          WHERE m.active = 1 AND COALESCE(m.last_used_at, m.created_at) <= $1
          ORDER BY COALESCE(m.last_used_at, m.created_at), m.imax_id LIMIT 100"
        ))
        .bind(to_epoch(cutoff))
        .fetch_all(pool)
        .await?;
        Ok(rows
            .iter()
            .map(MailboxState::from_row)
            .collect::<Result<_, _>>()?)
    }
    /// Mailboxes whose iMAX ID or name matches the LIKE pattern `like` (escaped with `\`).
    pub async fn search_states(&self, like: &str) -> Result<Vec<MailboxState>, StoreError> {
        let pool = self.pool;
        let rows = sqlx::query(&format!(
            "SELECT {MAILBOX_STATE} FROM mailboxes m
          WHERE m.imax_id LIKE $1 ESCAPE '\\' OR m.name LIKE $1 ESCAPE '\\'
          ORDER BY m.imax_id LIMIT 50"
        ))
        .bind(like)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .iter()
            .map(MailboxState::from_row)
            .collect::<Result<_, _>>()?)
    }
}

/// A mailbox, whether wrong passwords have frozen it and when it was last used, as the
/// coordinator's and Help Desk's pages show it.
#[derive(Debug, Clone)]
pub struct MailboxState {
    pub imax_id: String,
    pub name: String,
    pub frozen_until: Option<OffsetDateTime>,
    pub failed_passwords: u32,
    /// Its last use, or its creation if never used: inactivity counts from here.
    pub used_or_made_at: OffsetDateTime,
}

impl MailboxState {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<MailboxState, sqlx::Error> {
        Ok(MailboxState {
            imax_id: r.try_get("imax_id")?,
            name: r.try_get("name")?,
            frozen_until: r
                .try_get::<Option<i64>, _>("frozen_until")?
                .map(crate::clock::from_epoch),
            failed_passwords: r
                .try_get::<i64, _>("failed_passwords")?
                .try_into()
                .unwrap_or(u32::MAX),
            used_or_made_at: crate::clock::from_epoch(r.try_get("used_or_made_at")?),
        })
    }

    /// Since when it has been inactive at `now` (unused `after_days` days; 0: never).
    pub fn inactive_at(&self, now: OffsetDateTime, after_days: i64) -> Option<OffsetDateTime> {
        let since = self.used_or_made_at + time::Duration::days(after_days);
        (after_days > 0 && now >= since).then_some(since)
    }

    /// The freeze, if one is in force at `now`.
    pub fn frozen_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.frozen_until.filter(|t| *t > now)
    }
}

const MAILBOX_STATE: &str = "m.imax_id, m.name, m.frozen_until,
    CAST((SELECT COALESCE(SUM(x.failed), 0) FROM mailbox_attempts x WHERE x.mailbox_id = m.id)
        AS BIGINT) AS failed_passwords,
    COALESCE(m.last_used_at, m.created_at) AS used_or_made_at";
