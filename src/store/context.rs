//! The caller's whole context in one statement: a system-to-system call names an M-ID, a
//! mailbox and comes from a client address, and the gateway needs the account with its
//! rights, the mailbox, and the client's throttle count before anything else. One round trip
//! instead of three on every call (`gateway::Gateway::authorize_mailbox`).

use super::accounts::{account_from_rows, ACCOUNT_COLUMNS, ACCOUNT_FROM, RIGHT_COLUMNS};
use super::mailboxes::{mailbox_from, prefixed_columns};
use super::{Store, StoreError};
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
