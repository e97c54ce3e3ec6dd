//! The audit chain in the database: appending records inside a write transaction (one
//! chain for every node), reading its head, and walking it. The records and their hashes are
//! `crate::audit`'s.

use super::StoreError;
use crate::audit::{record_hash, AuditEntry, Verdict, GENESIS};
use crate::clock::{from_epoch, rfc3339, to_epoch};
use sqlx::{AnyConnection, AnyPool, Row};

/// This part of the store (`Store::audit_log()`).
#[derive(Clone, Copy)]
pub struct AuditLog<'a> {
    pool: &'a AnyPool,
}

impl<'a> AuditLog<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        AuditLog { pool }
    }

    pub(super) fn pool(&self) -> &'a AnyPool {
        self.pool
    }

    /// The newest record's sequence number and hash.
    pub async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool)
                .await?,
        )
    }
    /// The hash of record `seq`, if it is there.
    pub async fn hash_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(pool)
                .await?,
        )
    }
    /// When the chain's first record was written (none: the chain is empty).
    pub async fn first_at(&self) -> Result<Option<time::OffsetDateTime>, StoreError> {
        let pool = self.pool;
        let at: Option<i64> = sqlx::query_scalar("SELECT MIN(at) FROM audit_log")
            .fetch_one(pool)
            .await?;
        Ok(at.map(from_epoch))
    }
    /// Walks the whole chain and names the first record edited, removed or reordered.
    pub async fn verify(&self) -> Result<Verdict, StoreError> {
        Ok(verify(self.pool).await?)
    }
    /// The hashes of records `first..=last`, in order (a signed checkpoint's Merkle tree,
    /// issue 31).
    pub async fn hashes_between(&self, first: i64, last: i64) -> Result<Vec<String>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(
            "SELECT hash FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await?)
    }
    /// The record of a message's successful `SendFile`: its sequence number, previous hash
    /// and entry (a receipt's inclusion proof). Read by the sequence number its message row
    /// notes (`messages.audit_seq`, written with it since schema version 29); a message stored
    /// before (or by an older build) has none, and its record is searched for in the log.
    pub async fn stored_file_record(
        &self,
        message_id: &str,
    ) -> Result<Option<(i64, String, AuditEntry)>, StoreError> {
        const COLUMNS: &str = "seq, at, actor, action, door, mailbox, message_id, client_addr,
            outcome, detail, prev_hash, request_id";
        const OURS: &str = "message_id = $1 AND action = 'SendFile' AND outcome = 'ok'";
        let noted: Option<Option<i64>> =
            sqlx::query_scalar("SELECT audit_seq FROM messages WHERE message_id = $1")
                .bind(message_id)
                .fetch_optional(self.pool)
                .await?;
        let row = match noted.flatten() {
            Some(seq) => {
                let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq = $2 AND {OURS}");
                sqlx::query(&sql)
                    .bind(message_id)
                    .bind(seq)
                    .fetch_optional(self.pool)
                    .await?
            }
            None => {
                let sql =
                    format!("SELECT {COLUMNS} FROM audit_log WHERE {OURS} ORDER BY seq LIMIT 1");
                sqlx::query(&sql)
                    .bind(message_id)
                    .fetch_optional(self.pool)
                    .await?
            }
        };
        let Some(row) = row else { return Ok(None) };
        let entry = entry_of(&row)?;
        Ok(Some((
            row.try_get("seq")?,
            row.try_get("prev_hash")?,
            entry,
        )))
    }
    /// How many records the chain holds (its newest sequence number).
    pub async fn records(&self) -> Result<i64, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
                .fetch_one(pool)
                .await?,
        )
    }
}

/// Appends a record inside the caller's write transaction; returns its sequence number.
pub(crate) async fn append(conn: &mut AnyConnection, e: &AuditEntry) -> Result<i64, sqlx::Error> {
    Chain::head(conn).await?.append(conn, e).await
}

/// The PostgreSQL advisory lock that serialises appends to the chain, every node's, held to
/// the end of the transaction that takes it.
macro_rules! chain_lock {
    () => {
        "pg_advisory_xact_lock(7071002)"
    };
}

/// The chain's lock ([`BEGIN_LOCKED`]'s), for a statement that takes it itself.
pub(crate) const CHAIN_LOCK: &str = chain_lock!();

/// `BEGIN` and, in the same round trip (one simple query), the PostgreSQL advisory lock that
/// serialises appends to the chain, every node's. The head is read by the next statement,
/// whose snapshot is taken once the lock is held.
pub(super) const BEGIN_LOCKED: &str = concat!("BEGIN; SELECT ", chain_lock!());

/// Records per multi-row INSERT (13 parameters each, well inside both engines' limits).
pub(crate) const MAX_ROWS_PER_INSERT: usize = 500;

/// The chain's head inside one write transaction: appending several records costs one lock
/// and one read, then one INSERT each (the group committer appends a whole batch this way).
#[derive(Debug, Clone)]
pub struct Chain {
    seq: i64,
    hash: String,
}

impl Chain {
    /// Reads the head, in a transaction begun by
    /// [`begin_write_on`](super::begin_write_on). One chain for every node: appenders take
    /// turns, on PostgreSQL by the lock of [`BEGIN_LOCKED`] (held to the end of the transaction), on SQLite
    /// by its write lock.
    pub async fn head(conn: &mut AnyConnection) -> Result<Chain, sqlx::Error> {
        let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
        Ok(match head {
            Some(row) => Chain {
                seq: row.try_get::<i64, _>("seq")?,
                hash: row.try_get::<String, _>("hash")?,
            },
            None => Chain {
                seq: 0,
                hash: GENESIS.to_string(),
            },
        })
    }

    /// Appends `entries` after the head in one statement (a group commit's records: one round
    /// trip instead of one per request); the head moves only once they are written. At most
    /// [`MAX_ROWS_PER_INSERT`] entries.
    pub(crate) async fn append_all(
        &mut self,
        conn: &mut AnyConnection,
        entries: &[&AuditEntry],
    ) -> Result<(), sqlx::Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let records = self.chained(entries);
        let sql = format!(
            "INSERT INTO audit_log {}",
            Records::values(1, records.len())
        );
        records.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
        self.moved_to(&records);
        Ok(())
    }

    /// `entries` chained after the head, to be written by one statement ([`Records`]); the
    /// head moves ([`Chain::moved_to`]) once they are.
    pub(crate) fn chained<'e>(&self, entries: &[&'e AuditEntry]) -> Records<'e> {
        let mut rows = Vec::with_capacity(entries.len());
        let (mut seq, mut prev) = (self.seq, self.hash.clone());
        for e in entries {
            seq += 1;
            let hash = record_hash(seq, &prev, e);
            rows.push((seq, prev, hash.clone(), *e));
            prev = hash;
        }
        Records { rows }
    }

    /// The sequence number the next record appended will be written as.
    pub(crate) fn next_seq(&self) -> i64 {
        self.seq + 1
    }

    /// The head: its sequence number and hash (after a batch, the batch's last record).
    pub(crate) fn last(&self) -> (i64, String) {
        (self.seq, self.hash.clone())
    }

    /// The head after `records` were written.
    pub(crate) fn moved_to(&mut self, records: &Records<'_>) {
        if let Some((seq, _, hash, _)) = records.rows.last() {
            self.seq = *seq;
            self.hash = hash.clone();
        }
    }

    /// Appends `e` after the head; the head moves only once the record is written.
    pub(crate) async fn append(
        &mut self,
        conn: &mut AnyConnection,
        e: &AuditEntry,
    ) -> Result<i64, sqlx::Error> {
        self.append_all(conn, &[e]).await?;
        Ok(self.seq)
    }
}

/// Audit records chained in memory, for one multi-row INSERT.
pub(crate) struct Records<'e> {
    /// Sequence number, previous hash, hash, entry.
    rows: Vec<(i64, String, String, &'e AuditEntry)>,
}

impl<'e> Records<'e> {
    /// Parameters per record.
    pub(crate) const PARAMS: usize = 13;

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The columns and `VALUES` of `n` records whose parameters start at `$first`.
    pub(crate) fn values(first: usize, n: usize) -> String {
        let values =
            super::placeholders_at(first, n, Self::PARAMS, |p| format!("({})", p.join(", ")));
        format!(
            "(seq, at, actor, action, door, mailbox, message_id, client_addr, outcome, detail,
              prev_hash, hash, request_id) VALUES {values}"
        )
    }

    /// Binds the records' parameters, in the order of [`Records::values`].
    pub(crate) fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for (seq, prev, hash, e) in &self.rows {
            q = q
                .bind(*seq)
                .bind(to_epoch(e.at))
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.door)
                .bind(&e.mailbox)
                .bind(&e.message_id)
                .bind(&e.client_addr)
                .bind(&e.outcome)
                .bind(&e.detail)
                .bind(prev)
                .bind(hash)
                .bind(&e.request_id);
        }
        q
    }
}

/// A record's entry as read from its row.
pub(super) fn entry_of(row: &sqlx::any::AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        at: from_epoch(row.try_get("at")?),
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        door: row.try_get("door")?,
        mailbox: row.try_get("mailbox")?,
        message_id: row.try_get("message_id")?,
        client_addr: row.try_get("client_addr")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        request_id: row.try_get("request_id")?,
    })
}

/// Walks the whole chain in order, in pages, with bounded memory.
pub(super) async fn verify(pool: &AnyPool) -> Result<Verdict, sqlx::Error> {
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS.to_string();
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, door, mailbox, message_id, client_addr, outcome,
                detail, prev_hash, hash, request_id
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 1000",
        )
        .bind(expected_seq)
        .fetch_all(pool)
        .await?;
        let last_page = rows.len() < 1000;
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            if seq != expected_seq {
                return Ok(Verdict::Broken {
                    seq: expected_seq,
                    reason: format!("record {expected_seq} is missing (next present is {seq})"),
                });
            }
            let entry = entry_of(&row)?;
            let stored_prev: String = row.try_get("prev_hash")?;
            let stored_hash: String = row.try_get("hash")?;
            if stored_prev != prev_hash {
                return Ok(Verdict::Broken {
                    seq,
                    reason: format!(
                        "record {seq} does not follow record {}: removed or reordered",
                        seq - 1
                    ),
                });
            }
            if record_hash(seq, &stored_prev, &entry) != stored_hash {
                return Ok(Verdict::Broken {
                    seq,
                    reason: format!(
                        "record {seq} ({} at {}) was edited",
                        entry.action,
                        rfc3339(entry.at)
                    ),
                });
            }
            prev_hash = stored_hash;
            expected_seq += 1;
        }
        if last_page {
            return Ok(Verdict::Intact {
                records: expected_seq - 1,
            });
        }
    }
}
