//! Arrival notices (issue 30): who subscribed to which mailbox, and the outbox of notices owed
//! to them. The committer writes a message's notices in the message's own transaction
//! (`committer::rows`); here a sender claims those that fell due, with a lease so that nodes
//! sharing one database never send the same notice at once, and settles them.

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

mod mails;
pub use mails::ComposedMail;

/// What a notice tells its subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeKind {
    /// A message arrived in a subscribed mailbox.
    Arrival,
    /// A message a subscribed mailbox sent was not retrieved in time.
    NotRetrieved,
    /// A TRACS file a subscribed mailbox sent got no reply in time.
    NotAnswered,
    /// The TRACS round-trip ledger found something missing for a contract and month that a
    /// subscribed mailbox sent or should have sent (issue 31: `store::ledger::record_missing`).
    LedgerMissing,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Arrival => "arrival",
            NoticeKind::NotRetrieved => "not_retrieved",
            NoticeKind::NotAnswered => "not_answered",
            NoticeKind::LedgerMissing => "ledger_missing",
        }
    }

    fn parse(s: &str) -> Option<NoticeKind> {
        [
            NoticeKind::Arrival,
            NoticeKind::NotRetrieved,
            NoticeKind::NotAnswered,
            NoticeKind::LedgerMissing,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Whether a person is to be subscribed to a mailbox, or no longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    On,
    Off,
}

/// How a notice ended (`notices.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// No longer owed when it fell due (retrieved, answered, or its kind turned off).
    Moot,
    /// The subscriber has no address on file.
    NoAddress,
    /// Failed `notifications.max_attempts` times.
    GaveUp,
    /// The subscriber unsubscribed since, or the mailbox no longer opens to them (R6).
    Withdrawn,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Moot => "moot",
            Outcome::NoAddress => "no_address",
            Outcome::GaveUp => "gave_up",
            Outcome::Withdrawn => "withdrawn",
        }
    }
}

/// How long after its message each kind falls due, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub arrival: i64,
    pub not_retrieved: i64,
    pub not_answered: i64,
    /// Arrivals not yet due join a subscriber's digest that another arrival made due.
    pub digest: bool,
}

/// A claimed notice, with what its mail tells.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub kind: NoticeKind,
    pub attempts: u32,
    pub mid: String,
    pub email: String,
    pub message_id: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub received_at: OffsetDateTime,
    pub from_mailbox: String,
    pub to_mailbox: String,
    pub retrieved: bool,
    pub answered: bool,
    /// The mailbox subscribed to: the recipient's for an arrival, the sender's otherwise.
    pub mailbox_id: i64,
    /// Whether the subscription still holds.
    pub subscribed: bool,
    /// The subscriber (`accounts.id`).
    pub account_id: i64,
    /// The mail this notice was composed into before a first try (`notice_mails`), if any:
    /// every later try sends that mail again, as it is.
    pub mail_id: Option<i64>,
    /// A ledger's notice: what is missing (the message fields above are then the unanswered
    /// file's, or empty for a missing voucher).
    pub ledger: Option<LedgerItem>,
}

/// What the ledger found missing, for a notice's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerItem {
    pub contract: String,
    /// `YYYY-MM`.
    pub month: String,
    pub what: MissingWhat,
    /// The voucher's due day, `YYYY-MM-DD` (empty for a reply).
    pub due: String,
}

/// The two things the ledger misses (`ledger_missing.what`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingWhat {
    /// The month's voucher, after its due day.
    Voucher,
    /// A reply to a sent file, after `tracs.answer_expected_hours`.
    Reply,
}

impl MissingWhat {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingWhat::Voucher => "voucher",
            MissingWhat::Reply => "reply",
        }
    }
}

/// Not settled, not held by a live lease, not waiting for a retry (`n`: the row, `$1`: now).
const FREE: &str = "n.done_at IS NULL AND n.next_try_at <= $1 \
     AND (n.lease_until IS NULL OR n.lease_until <= $1)";
/// Fallen due by its kind's window (`$2`, `$3`, `$4`: arrival, not retrieved, not answered; a
/// ledger's notice at once, its item being missing already).
const DUE: &str = "n.event_at <= $1 - CASE n.kind WHEN 'arrival' THEN $2 \
     WHEN 'not_retrieved' THEN $3 WHEN 'ledger_missing' THEN 0 ELSE $4 END";
/// The mailbox a notice's subscriber subscribed to: the recipient's for an arrival, the one
/// that sent (or should have sent) the item for the ledger's, the sender's otherwise.
const SUBSCRIBED_TO: &str = "CASE WHEN n.kind = 'arrival' THEN m.to_mailbox \
     WHEN n.kind = 'ledger_missing' THEN lm.mailbox_id ELSE m.from_mailbox END";

/// This part of the store (`Store::notices()`).
#[derive(Clone, Copy)]
pub struct Notices<'a> {
    pool: &'a AnyPool,
    writer: &'a super::Committer,
}

impl<'a> Notices<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Notices { pool, writer }
    }

    /// Subscribes `account` to `mailbox` (or ends it); whether anything changed. Only a change
    /// is audited. The caller has decided that the person may open the mailbox.
    pub async fn subscribe(
        &self,
        account: i64,
        mailbox: i64,
        change: Subscription,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.writer
            .change(self.pool, async |tx| {
                let q = if change == Subscription::On {
                    sqlx::query(
                        "INSERT INTO subscriptions (account_id, mailbox_id, created_at)
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(account)
                    .bind(mailbox)
                    .bind(to_epoch(at))
                } else {
                    sqlx::query(
                        "DELETE FROM subscriptions WHERE account_id = $1 AND mailbox_id = $2",
                    )
                    .bind(account)
                    .bind(mailbox)
                };
                let changed = q.execute(&mut *tx).await?.rows_affected() > 0;
                Ok((changed, changed.then(|| audit.clone())))
            })
            .await
    }

    /// The mailboxes `account` subscribed to (their ids).
    pub async fn subscribed(&self, account: i64) -> Result<Vec<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT mailbox_id FROM subscriptions WHERE account_id = $1")
                .bind(account)
                .fetch_all(self.pool)
                .await?,
        )
    }

    /// Claims for `owner` until `lease_until` the notices due at `now` (at most `limit`), with
    /// each digest subscriber's arrivals not yet due, and the rest of any mail composed already
    /// (`notice_mails`: its notices go together); then reads them. A row another node claimed
    /// meanwhile fails the claim's own condition and stays that node's. Arrivals join only a
    /// digest not composed yet: one composed is sent as it was, later ones go into the next.
    /// `owner` names one round of one node: what an earlier round holds is not read again.
    pub async fn claim(
        &self,
        owner: &str,
        now: OffsetDateTime,
        w: Windows,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        let due_digest = FREE.replace("n.", "d.") + " AND " + &DUE.replace("n.", "d.");
        // PostgreSQL: a node claiming at the same moment skips the rows this one is taking
        // and takes the next ones, rather than waiting for them and finding them gone.
        let skip = match super::Engine::of_pool(self.pool) {
            super::Engine::Postgres => "FOR UPDATE OF n SKIP LOCKED",
            super::Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE notices SET lease_owner = $5, lease_until = $6
              WHERE id IN (SELECT n.id FROM notices n WHERE {FREE} AND ({DUE}
                     OR (n.kind = 'arrival' AND $7 = 1 AND n.account_id IN
                         (SELECT d.account_id FROM notices d WHERE d.kind = 'arrival'
                             AND d.mail_id IS NULL AND {due_digest})))
                     ORDER BY n.id LIMIT {limit} {skip})
                AND done_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)"
        );
        sqlx::query(&sql)
            .bind(to_epoch(now))
            .bind(w.arrival)
            .bind(w.not_retrieved)
            .bind(w.not_answered)
            .bind(owner)
            .bind(to_epoch(lease_until))
            .bind(i64::from(w.digest))
            .execute(self.pool)
            .await?;
        self.claim_whole_mails(owner, now, lease_until).await?;
        self.claimed(owner).await
    }

    /// The notices `owner` holds, with their messages, subscriber by subscriber (in an order
    /// that follows from the rows alone, so a mail reads the same each time).
    async fn claimed(&self, owner: &str) -> Result<Vec<Claimed>, StoreError> {
        // A ledger's notice has no message for a missing voucher: its mailboxes are the
        // contract's (the property's, its administrator's), its time when it was found.
        let sql = format!(
            "SELECT n.id, n.kind, n.attempts, a.mid, a.email,
                    COALESCE(m.message_id, '') AS message_id, COALESCE(m.file_name, '') AS file_name,
                    COALESCE(m.size_bytes, 0) AS size_bytes,
                    COALESCE(m.received_at, n.event_at) AS received_at,
                    fm.imax_id AS from_id, COALESCE(tm.imax_id, '') AS to_id,
                    CAST(CASE WHEN m.retrieved_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS retrieved,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM messages r WHERE r.in_reply_to = m.message_id)
                         THEN 1 ELSE 0 END AS BIGINT) AS answered,
                    {SUBSCRIBED_TO} AS mailbox_id,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM subscriptions s
                                            WHERE s.account_id = n.account_id
                                              AND s.mailbox_id = {SUBSCRIBED_TO})
                         THEN 1 ELSE 0 END AS BIGINT) AS subscribed,
                    n.account_id, n.mail_id, lm.contract, lm.month, lm.what, lm.due
               FROM notices n JOIN accounts a ON a.id = n.account_id
               LEFT JOIN messages m ON m.id = n.message_id
               LEFT JOIN ledger_missing lm ON lm.id = n.missing_id
               LEFT JOIN contracts c ON c.contract_number = lm.contract
               JOIN mailboxes fm ON fm.id = COALESCE(m.from_mailbox, lm.mailbox_id)
               LEFT JOIN mailboxes tm ON tm.id = COALESCE(m.to_mailbox, c.administrator_mailbox)
              WHERE n.lease_owner = $1 AND n.done_at IS NULL
              ORDER BY n.account_id, n.kind, COALESCE(m.received_at, n.event_at), n.id"
        );
        let rows = sqlx::query(&sql).bind(owner).fetch_all(self.pool).await?;
        rows.iter().map(claimed_row).collect()
    }

    /// Renews `owner`'s lease on `ids` until `until`, if it still holds all of them at `now`
    /// (a round that took long may have lost some to another node): whether it did.
    pub async fn renew(
        &self,
        owner: &str,
        ids: &[i64],
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let list = crate::store::placeholders_at(4, ids.len(), 1, |p| p[0].clone());
        let sql = format!(
            "UPDATE notices SET lease_until = $1
              WHERE lease_owner = $2 AND lease_until > $3 AND done_at IS NULL AND id IN ({list})"
        );
        let mut q = sqlx::query(&sql)
            .bind(to_epoch(until))
            .bind(owner)
            .bind(to_epoch(now));
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.execute(self.pool).await?.rows_affected() == ids.len() as u64)
    }

    /// Ends `owner`'s notices `ids` with `outcome` at `now`.
    pub async fn settle(
        &self,
        owner: &str,
        ids: &[i64],
        now: OffsetDateTime,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        let list = crate::store::placeholders_at(4, ids.len(), 1, |p| p[0].clone());
        let sql = format!(
            "UPDATE notices SET done_at = $1, outcome = $2, lease_owner = NULL, lease_until = NULL
              WHERE lease_owner = $3 AND id IN ({list})"
        );
        let mut q = sqlx::query(&sql)
            .bind(to_epoch(now))
            .bind(outcome.as_str())
            .bind(owner);
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(self.pool).await?;
        Ok(())
    }

    /// A failed send of `owner`'s notices `ids`: counted, and tried again from `next_try`.
    pub async fn retry_later(
        &self,
        owner: &str,
        ids: &[i64],
        next_try: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let list = crate::store::placeholders_at(3, ids.len(), 1, |p| p[0].clone());
        let sql = format!(
            "UPDATE notices SET attempts = attempts + 1, next_try_at = $1, lease_owner = NULL,
                    lease_until = NULL
              WHERE lease_owner = $2 AND id IN ({list})"
        );
        let mut q = sqlx::query(&sql).bind(to_epoch(next_try)).bind(owner);
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(self.pool).await?;
        Ok(())
    }

    /// Notices not yet settled: (all of them, those due at `now`), for the queue gauges.
    pub async fn depth(&self, now: OffsetDateTime, w: Windows) -> Result<(i64, i64), StoreError> {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN {DUE} THEN 1 ELSE 0 END), 0) AS BIGINT)
               FROM notices n WHERE n.done_at IS NULL"
        );
        let (all, due): (i64, i64) = sqlx::query_as(&sql)
            .bind(to_epoch(now))
            .bind(w.arrival)
            .bind(w.not_retrieved)
            .bind(w.not_answered)
            .fetch_one(self.pool)
            .await?;
        Ok((all, due))
    }
}

fn claimed_row(r: &sqlx::any::AnyRow) -> Result<Claimed, StoreError> {
    let kind: String = r.try_get("kind")?;
    Ok(Claimed {
        id: r.try_get("id")?,
        kind: NoticeKind::parse(&kind).unwrap_or(NoticeKind::Arrival),
        attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        mid: r.try_get("mid")?,
        email: r.try_get("email")?,
        message_id: r.try_get("message_id")?,
        file_name: r.try_get("file_name")?,
        size_bytes: u64::try_from(r.try_get::<i64, _>("size_bytes")?).unwrap_or(0),
        received_at: crate::clock::from_epoch(r.try_get("received_at")?),
        from_mailbox: r.try_get("from_id")?,
        to_mailbox: r.try_get("to_id")?,
        retrieved: r.try_get::<i64, _>("retrieved")? != 0,
        answered: r.try_get::<i64, _>("answered")? != 0,
        mailbox_id: r.try_get("mailbox_id")?,
        subscribed: r.try_get::<i64, _>("subscribed")? != 0,
        account_id: r.try_get("account_id")?,
        mail_id: r.try_get("mail_id")?,
        ledger: ledger_item(r)?,
    })
}

fn ledger_item(r: &sqlx::any::AnyRow) -> Result<Option<LedgerItem>, StoreError> {
    let Some(contract) = r.try_get::<Option<String>, _>("contract")? else {
        return Ok(None);
    };
    let what: String = r.try_get("what")?;
    Ok(Some(LedgerItem {
        contract,
        month: r.try_get("month")?,
        what: if what == "voucher" {
            MissingWhat::Voucher
        } else {
            MissingWhat::Reply
        },
        due: r.try_get("due")?,
    }))
}
