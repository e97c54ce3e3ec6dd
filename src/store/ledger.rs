//! What the TRACS round-trip ledger reads (issue 31, `docs/ledger.md`): a contract's property
//! and administrator, the TRACS files the property sent that administrator in a window, and
//! the replies tied to them by `in_reply_to`, all from the messages themselves, never from a
//! copy kept for the purpose (which could drift from them).
//!
//! A message row holds no contract number (body records' contract fields are at positions
//! this gateway has not confirmed, `tracs/layout.rs`), so a file belongs to a contract by the
//! directory: sent from the mailbox of the contract's property to the contract's administrator.

use super::notices::MissingWhat;
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

/// Something the ledger found missing, to be noticed once (issue 31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMissing {
    pub contract: String,
    /// `YYYY-MM`.
    pub month: String,
    pub what: MissingWhat,
    /// The file's message id for a missing reply; `voucher` for the voucher (one a month).
    pub item: String,
    /// The voucher's due day, `YYYY-MM-DD` (empty for a reply).
    pub due: String,
    /// The mailbox that sent (or should have sent) it, whose subscribers are told.
    pub mailbox: i64,
}

/// The outbox rows of a missing item (`$1` its row, `$2` now, `$3` the unanswered file's
/// message id or empty, `$4` the mailbox): one per subscriber, but none to a subscriber who is
/// owed (or was sent) issue 30's own reminder of that same unanswered file, so that nobody is
/// told twice of one file.
const MISSING_NOTICES: &str =
    "INSERT INTO notices (kind, account_id, message_id, missing_id, event_at)
    SELECT 'ledger_missing', s.account_id, m.id, $1, $2
      FROM subscriptions s LEFT JOIN messages m ON m.message_id = $3
     WHERE s.mailbox_id = $4
       AND NOT EXISTS (SELECT 1 FROM notices o
                        WHERE o.kind = 'not_answered' AND o.message_id = m.id
                          AND o.account_id = s.account_id
                          AND (o.outcome IS NULL OR o.outcome = 'sent'))";

impl Ledger<'_> {
    /// The contracts whose property's mailbox someone subscribed to: the only ones whose
    /// missing items anyone is told of, so the watch reads no others' ledgers.
    pub async fn watched(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT c.contract_number FROM contracts c JOIN properties p ON p.id = c.property_id
              WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.mailbox_id = p.mailbox_id)
              ORDER BY c.contract_number",
        )
        .fetch_all(self.pool)
        .await?)
    }

    /// The items of `contract`'s `month` already found missing (and noticed).
    pub async fn known_missing(
        &self,
        contract: &str,
        month: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT item FROM ledger_missing WHERE contract = $1 AND month = $2",
            )
            .bind(contract)
            .bind(month)
            .fetch_all(self.pool)
            .await?,
        )
    }

    /// Records a missing item and, in the same transaction, the notices its mailbox's
    /// subscribers are owed; whether this call found it first. The unique key on (contract,
    /// month, item) decides between nodes watching at once: only the insert that made the row
    /// writes notices.
    pub async fn record_missing(
        &self,
        found: &FoundMissing,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let engine = super::Engine::of_pool(self.pool);
        let mut conn = self.pool.acquire().await?;
        let mut tx = super::begin_write_on(&mut conn, engine).await?;
        let row: Option<i64> = sqlx::query_scalar(
            "INSERT INTO ledger_missing (contract, month, item, what, due, mailbox_id, found_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (contract, month, item) DO NOTHING RETURNING id",
        )
        .bind(&found.contract)
        .bind(&found.month)
        .bind(&found.item)
        .bind(found.what.as_str())
        .bind(&found.due)
        .bind(found.mailbox)
        .bind(to_epoch(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let file = match found.what {
            MissingWhat::Reply => found.item.as_str(),
            MissingWhat::Voucher => "",
        };
        sqlx::query(MISSING_NOTICES)
            .bind(row)
            .bind(to_epoch(now))
            .bind(file)
            .bind(found.mailbox)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether `contract` is administered by a contract administrator (an organization of
    /// kind `contract-administrator`, by the organization of the contract's administrator
    /// mailbox: R12, R25) with which the coordinator `account` has a Business Partner
    /// Relationship (R3: a CA's coordinator has one with its organization).
    pub async fn administered_for(&self, contract: &str, account: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM contracts c
               JOIN mailboxes a ON a.id = c.administrator_mailbox
               JOIN organizations o ON o.id = a.organization_id
               JOIN organization_partners op ON op.organization_id = o.id
              WHERE c.contract_number = $1 AND op.account_id = $2
                AND o.kind = 'contract-administrator'",
        )
        .bind(contract)
        .bind(account)
        .fetch_one(self.pool)
        .await?;
        Ok(n > 0)
    }
}
