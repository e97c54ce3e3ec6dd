//! A request's context in as few statements as it can be read.
//!
//! * The caller's ([`Store::caller_context`]): a system-to-system call names an M-ID, a
//!   mailbox and comes from a client address, and the gateway needs the account with its
//!   rights, the mailbox, and the client's throttle count before anything else. One round trip
//!   instead of three on every call (`gateway::Gateway::authorize_mailbox`).
//! * A TRACS file's ([`Store::file_context`]): once the body has arrived, routing needs the
//!   mailbox the header's project names with its contracts' administrators, and the duplicate
//!   check needs the earlier transmission this one would repeat. One round trip instead of two
//!   on every file a property sends (`gateway::send`).

use super::accounts::{account_from_rows, ACCOUNT_COLUMNS, ACCOUNT_FROM, RIGHT_COLUMNS};
use super::mailboxes::{mailbox_from, prefixed_columns};
use super::messages::Duplicate;
use super::{Store, StoreError};
use crate::clock::{from_epoch, to_epoch};
use crate::directory::{Account, ImaxId, MId, Mailbox};
use sqlx::Row;

/// What one statement read for a call.
#[derive(Debug, Clone)]
pub struct CallerContext {
    pub account: Option<Account>,
    /// The client's failed attempts and the start of their window, if it has any.
    pub throttle: Option<(i64, i64)>,
    /// `None` when the account does not exist (then nothing else was read).
    pub mailbox: Option<Option<Mailbox>>,
}

impl Store {
    /// The account `mid` (with its rights), the count under `client_key`, and the mailbox
    /// `imax_id`, in one statement. An unknown M-ID reads nothing else: its call is refused
    /// before the mailbox matters.
    pub async fn caller_context(
        &self,
        mid: &MId,
        client_key: Option<&str>,
        imax_id: Option<&ImaxId>,
    ) -> Result<CallerContext, StoreError> {
        let mailbox_columns = prefixed_columns("m", "mb_");
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, {RIGHT_COLUMNS},
                    t.failures AS throttle_failures, t.window_start AS throttle_window_start,
                    {mailbox_columns}
               {ACCOUNT_FROM}
               LEFT JOIN auth_throttle t ON t.client_addr = $2
               LEFT JOIN mailboxes m ON m.imax_id = $3
              WHERE a.mid = $1"
        );
        let rows = sqlx::query(&sql)
            .bind(mid.as_str())
            // A key no client has: the throttle is not asked about a call without an address.
            .bind(client_key.unwrap_or(""))
            .bind(imax_id.map(|i| i.as_str()).unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(CallerContext {
                account: None,
                throttle: None,
                mailbox: None,
            });
        };
        let throttle = match (
            first.try_get::<Option<i64>, _>("throttle_failures")?,
            first.try_get::<Option<i64>, _>("throttle_window_start")?,
        ) {
            (Some(n), Some(start)) if client_key.is_some() => Some((n, start)),
            _ => None,
        };
        let mailbox = match first.try_get::<Option<i64>, _>("mb_id")? {
            Some(_) => Some(mailbox_from(first, "mb_")?),
            None => None,
        };
        Ok(CallerContext {
            account: account_from_rows(&rows)?,
            throttle,
            mailbox: Some(mailbox),
        })
    }
}

/// What [`Store::file_context`] looks for besides the project: a transmission this one
/// repeats.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateQuery<'a> {
    /// The TRACS transmission key (Sender's iMAX ID, date and time stamps).
    pub key: Option<&'a str>,
    /// The sending mailbox, for the same-content check.
    pub from: i64,
    pub sha256: &'a str,
    /// The start of the same-content window (`None`: no such check).
    pub since: Option<time::OffsetDateTime>,
}

/// The mailbox a TRACS header's Project's iMAX ID names, the administrators of its
/// contracts, and the transmission this file repeats, as far as one statement can tell.
#[derive(Debug, Clone)]
pub struct FileContext {
    pub project: Mailbox,
    /// Each once, by id.
    pub administrators: Vec<Mailbox>,
    /// The newest earlier transmission with the same key, or else with the same content from
    /// the sender to one of `administrators` (with the recipient it went to).
    duplicate: Option<(Duplicate, i64)>,
}

impl FileContext {
    /// The transmission a file sent to `to` repeats, if this context can tell: it can when
    /// `to` is one of the project's administrators (where a property's files go). `None`:
    /// ask [`Messages::find_duplicate`](super::messages::Messages::find_duplicate).
    pub fn duplicate_for(&self, to: i64) -> Option<Option<Duplicate>> {
        if !self.administrators.iter().any(|a| a.id == to) {
            return None;
        }
        match &self.duplicate {
            None => Some(None),
            Some((d @ Duplicate::SameKey { .. }, _)) => Some(Some(d.clone())),
            Some((d @ Duplicate::SameContent { .. }, went_to)) if *went_to == to => {
                Some(Some(d.clone()))
            }
            // The newest same content went to another administrator; an older one may have
            // gone to `to`.
            Some(_) => None,
        }
    }
}

impl Store {
    /// The mailbox `project` with the administrators of its contracts, and the transmission
    /// `dup` describes, in one statement; `None` if there is no such mailbox.
    pub async fn file_context(
        &self,
        project: &ImaxId,
        dup: DuplicateQuery<'_>,
    ) -> Result<Option<FileContext>, StoreError> {
        let sql = format!(
            "SELECT {}, {}, d.why AS d_why, d.message_id AS d_message_id,
                    d.received_at AS d_received_at, d.to_mailbox AS d_to
               FROM mailboxes p
               LEFT JOIN properties pr ON pr.mailbox_id = p.id
               LEFT JOIN contracts c ON c.property_id = pr.id
               LEFT JOIN mailboxes a ON a.id = c.administrator_mailbox
               LEFT JOIN (
                 SELECT why, message_id, received_at, to_mailbox FROM (
                   SELECT 2 AS why, message_id, received_at, to_mailbox FROM messages
                    WHERE tracs_key = $2 AND resend = 0
                   UNION ALL
                   SELECT 1 AS why, m.message_id, m.received_at, m.to_mailbox FROM messages m
                    WHERE $5 IS NOT NULL AND m.from_mailbox = $3 AND m.sha256 = $4
                      AND m.received_at >= $5
                      AND m.to_mailbox IN (
                        SELECT c2.administrator_mailbox FROM mailboxes p2
                          JOIN properties pr2 ON pr2.mailbox_id = p2.id
                          JOIN contracts c2 ON c2.property_id = pr2.id
                         WHERE p2.imax_id = $1)
                 ) x ORDER BY why DESC, received_at DESC LIMIT 1
               ) d ON 1 = 1
              WHERE p.imax_id = $1 ORDER BY a.id",
            prefixed_columns("p", "p_"),
            prefixed_columns("a", "a_")
        );
        let rows = sqlx::query(&sql)
            .bind(project.as_str())
            .bind(dup.key)
            .bind(dup.from)
            .bind(dup.sha256)
            .bind(dup.since.map(to_epoch))
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut administrators: Vec<Mailbox> = Vec::new();
        for row in &rows {
            if row.try_get::<Option<i64>, _>("a_id")?.is_some() {
                let a = mailbox_from(row, "a_")?;
                if administrators.last().is_none_or(|l| l.id != a.id) {
                    administrators.push(a);
                }
            }
        }
        let duplicate = match first.try_get::<Option<i64>, _>("d_why")? {
            None => None,
            Some(why) => {
                let id: String = first.try_get("d_message_id")?;
                let at = from_epoch(first.try_get("d_received_at")?);
                let to: i64 = first.try_get("d_to")?;
                let d = if why == 2 {
                    Duplicate::SameKey { id, at }
                } else {
                    Duplicate::SameContent { id, at }
                };
                Some((d, to))
            }
        };
        Ok(Some(FileContext {
            project: mailbox_from(first, "p_")?,
            administrators,
            duplicate,
        }))
    }
}
