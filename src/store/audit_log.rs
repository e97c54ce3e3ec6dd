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
    /// Walks the whole chain and names the first record edited, removed or reordered.
    pub async fn verify(&self) -> Result<Verdict, StoreError> {
        Ok(verify(self.pool).await?)
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
    /// Reads the head. One chain for every node: on PostgreSQL, appenders take turns (the lock
    /// is held to the end of the caller's transaction); SQLite's write transaction already
    /// serialises them.
    pub async fn head(conn: &mut AnyConnection) -> Result<Chain, sqlx::Error> {
        if conn.backend_name() == "PostgreSQL" {
            sqlx::query("SELECT pg_advisory_xact_lock(7071002)")
                .execute(&mut *conn)
                .await?;
        }
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
        let mut rows = Vec::with_capacity(entries.len());
        let (mut seq, mut prev) = (self.seq, self.hash.clone());
        for e in entries {
            seq += 1;
            let hash = record_hash(seq, &prev, e);
            rows.push((seq, prev, hash.clone(), *e));
            prev = hash;
        }
        let values = super::placeholders(rows.len(), 13, |p| format!("({})", p.join(", ")));
        let sql = format!(
            "INSERT INTO audit_log (seq, at, actor, action, door, mailbox, message_id,
                client_addr, outcome, detail, prev_hash, hash, request_id) VALUES {values}"
        );
        let mut q = sqlx::query(&sql);
        for (seq, prev, hash, e) in &rows {
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
        q.execute(&mut *conn).await?;
        self.seq = seq;
        self.hash = prev;
        Ok(())
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
            let entry = AuditEntry {
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
            };
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
