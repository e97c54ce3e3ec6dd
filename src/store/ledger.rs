//! What the TRACS round-trip ledger reads (issue 31, `docs/ledger.md`): a contract's property
//! and administrator, the TRACS files the property sent that administrator in a window, and
//! the replies tied to them by `in_reply_to`, all from the messages themselves, never from a
//! copy kept for the purpose (which could drift from them).
//!
//! A message row holds no contract number (body records' contract fields are at positions
//! this gateway has not confirmed, `tracs/layout.rs`), so a file belongs to a contract by the
//! directory: sent from the mailbox of the contract's property to the contract's administrator.

use super::StoreError;
use crate::clock::{from_epoch, to_epoch};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

/// A contract as the directory has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractParties {
    pub contract: String,
    pub property_id: i64,
    pub property: String,
    /// The mailbox the property sends from (none: it sends nothing).
    pub property_mailbox: Option<(i64, String)>,
    pub administrator: (i64, String),
}

/// A TRACS file the property sent its administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    pub message_id: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub received_at: OffsetDateTime,
    pub body_key: String,
}

/// A message that answers one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyFile {
    pub message_id: String,
    pub in_reply_to: String,
    pub file_name: String,
    pub from_mailbox: String,
    pub received_at: OffsetDateTime,
    pub retrieved: bool,
}

/// The files sent from `$1` to `$2` in `[$3, $4)`: TRACS files (a transmission key), no replies.
const SENT: &str = "FROM messages m WHERE m.from_mailbox = $1 AND m.to_mailbox = $2
    AND m.tracs_key IS NOT NULL AND m.in_reply_to IS NULL
    AND m.received_at >= $3 AND m.received_at < $4";

/// This part of the store (`Store::ledger()`).
#[derive(Clone, Copy)]
pub struct Ledger<'a> {
    pool: &'a AnyPool,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Ledger { pool }
    }

    /// The property and administrator of `contract`, if the directory has it.
    pub async fn contract(&self, contract: &str) -> Result<Option<ContractParties>, StoreError> {
        let row = sqlx::query(
            "SELECT c.contract_number, p.id AS property_id, p.property_number, pm.id AS pm_id, pm.imax_id AS pm_imax,
                    a.id AS a_id, a.imax_id AS a_imax
               FROM contracts c JOIN properties p ON p.id = c.property_id
               LEFT JOIN mailboxes pm ON pm.id = p.mailbox_id
               JOIN mailboxes a ON a.id = c.administrator_mailbox
              WHERE c.contract_number = $1",
        )
        .bind(contract)
        .fetch_optional(self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let pm: Option<i64> = r.try_get("pm_id")?;
        Ok(Some(ContractParties {
            contract: r.try_get("contract_number")?,
            property_id: r.try_get("property_id")?,
            property: r.try_get("property_number")?,
            property_mailbox: match pm {
                Some(id) => Some((id, r.try_get("pm_imax")?)),
                None => None,
            },
            administrator: (r.try_get("a_id")?, r.try_get("a_imax")?),
        }))
    }

    /// The TRACS files `from` sent `to` in `[since, until)`, oldest first, at most `limit`.
    pub async fn sent(
        &self,
        from: i64,
        to: i64,
        (since, until): (OffsetDateTime, OffsetDateTime),
        limit: u32,
    ) -> Result<Vec<SentFile>, StoreError> {
        let sql = format!(
            "SELECT m.message_id, m.file_name, m.size_bytes, m.received_at, m.body_key {SENT}
              ORDER BY m.received_at, m.id LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .bind(to_epoch(since))
            .bind(to_epoch(until))
            .bind(i64::from(limit))
            .fetch_all(self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SentFile {
                    message_id: r.try_get("message_id")?,
                    file_name: r.try_get("file_name")?,
                    size_bytes: r.try_get::<i64, _>("size_bytes")?.max(0) as u64,
                    received_at: from_epoch(r.try_get("received_at")?),
                    body_key: r.try_get("body_key")?,
                })
            })
            .collect()
    }

    /// The replies to the files [`Ledger::sent`] lists for the same arguments, oldest first
    /// (through the partial index on `in_reply_to`).
    pub async fn replies(
        &self,
        from: i64,
        to: i64,
        (since, until): (OffsetDateTime, OffsetDateTime),
        limit: u32,
    ) -> Result<Vec<ReplyFile>, StoreError> {
        let sql = format!(
            "SELECT r.message_id, r.in_reply_to, r.file_name, r.received_at, f.imax_id,
                    CASE WHEN r.retrieved_at IS NULL THEN 0 ELSE 1 END AS retrieved
               FROM messages r JOIN mailboxes f ON f.id = r.from_mailbox
              WHERE r.in_reply_to IN (SELECT m.message_id {SENT})
              ORDER BY r.received_at, r.id LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .bind(to_epoch(since))
            .bind(to_epoch(until))
            .bind(i64::from(limit))
            .fetch_all(self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ReplyFile {
                    message_id: r.try_get("message_id")?,
                    in_reply_to: r.try_get("in_reply_to")?,
                    file_name: r.try_get("file_name")?,
                    from_mailbox: r.try_get("imax_id")?,
                    received_at: from_epoch(r.try_get("received_at")?),
                    retrieved: r.try_get::<i64, _>("retrieved")? == 1,
                })
            })
            .collect()
    }
}
