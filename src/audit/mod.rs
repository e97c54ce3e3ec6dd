//! The audit log: an append-only hash chain in the database.
//!
//! Every record stores the SHA-256 of the previous record (`prev_hash`) and its own `hash`,
//! computed over its sequence number, `prev_hash` and every field. [`verify`] walks the chain
//! and reports the first record that was edited, removed or reordered. Records are appended
//! inside the same transaction as the change they describe ([`append`]), so a change and its
//! record stand or fall together.
//!
//! An attacker who can write the database could recompute every hash after an edit, or cut
//! the chain's end; [`checkpoint`] signs the head with a key kept outside the database and
//! exports it on a schedule, so that `imax audit verify` sees that too.

pub mod checkpoint;

use crate::clock::{from_epoch, rfc3339, to_epoch};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};
use time::OffsetDateTime;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One thing that happened: who, what, on which mailbox/message, from where, with what outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// An M-ID, `admin` for the command line, or `system` for scheduled transitions.
    pub actor: String,
    pub action: String,
    /// `s2s`, `web`, `cli` or `system`.
    pub door: String,
    pub mailbox: Option<String>,
    pub message_id: Option<String>,
    pub client_addr: Option<String>,
    /// `ok` or a refusal code.
    pub outcome: String,
    /// Free text: before/after of admin changes, reasons. Never a secret.
    pub detail: String,
    /// The request's id (its `X-Request-Id`), when a request through a door made the record.
    pub request_id: Option<String>,
}

impl AuditEntry {
    pub fn new(at: OffsetDateTime, actor: &str, action: &str, door: &str) -> Self {
        Self {
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            door: door.to_string(),
            mailbox: None,
            message_id: None,
            client_addr: None,
            outcome: "ok".to_string(),
            detail: String::new(),
            request_id: None,
        }
    }
    pub fn mailbox(mut self, m: impl Into<String>) -> Self {
        self.mailbox = Some(m.into());
        self
    }
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.message_id = Some(m.into());
        self
    }
    pub fn client(mut self, addr: Option<String>) -> Self {
        self.client_addr = addr;
        self
    }
    pub fn request(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }
    pub fn outcome(mut self, o: impl Into<String>) -> Self {
        self.outcome = o.into();
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }
}

fn field(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of a record: unambiguous (length-prefixed fields) and covering everything.
pub fn record_hash(seq: i64, prev_hash: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(seq.to_be_bytes());
    field(&mut h, prev_hash);
    h.update(to_epoch(e.at).to_be_bytes());
    for f in [&e.actor, &e.action, &e.door, &e.outcome, &e.detail] {
        field(&mut h, f);
    }
    for f in [&e.mailbox, &e.message_id, &e.client_addr] {
        match f {
            Some(s) => {
                h.update([1]);
                field(&mut h, s);
            }
            None => h.update([0]),
        }
    }
    // Added with schema version 10: records without one hash as they always did.
    if let Some(id) = &e.request_id {
        h.update([2]);
        field(&mut h, id);
    }
    hex::encode(h.finalize())
}

/// Appends a record inside the caller's write transaction; returns its sequence number.
pub async fn append(conn: &mut AnyConnection, e: &AuditEntry) -> Result<i64, sqlx::Error> {
    Chain::head(conn).await?.append(conn, e).await
}

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
                seq: row.try_get::<i64, _>(0)?,
                hash: row.try_get::<String, _>(1)?,
            },
            None => Chain {
                seq: 0,
                hash: GENESIS.to_string(),
            },
        })
    }

    /// Appends `e` after the head; the head moves only once the record is written.
    pub async fn append(
        &mut self,
        conn: &mut AnyConnection,
        e: &AuditEntry,
    ) -> Result<i64, sqlx::Error> {
        let seq = self.seq + 1;
        let hash = record_hash(seq, &self.hash, e);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, door, mailbox, message_id, client_addr, outcome, detail, prev_hash, hash, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(seq)
        .bind(to_epoch(e.at))
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.door)
        .bind(&e.mailbox)
        .bind(&e.message_id)
        .bind(&e.client_addr)
        .bind(&e.outcome)
        .bind(&e.detail)
        .bind(&self.hash)
        .bind(&hash)
        .bind(&e.request_id)
        .execute(&mut *conn)
        .await?;
        self.seq = seq;
        self.hash = hash;
        Ok(seq)
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        records: i64,
    },
    /// The first record at which the chain breaks, and why.
    Broken {
        seq: i64,
        reason: String,
    },
}

/// Walks the whole chain in order, in pages, with bounded memory.
pub async fn verify(pool: &AnyPool) -> Result<Verdict, sqlx::Error> {
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS.to_string();
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, door, mailbox, message_id, client_addr, outcome, detail, prev_hash, hash, request_id
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 1000",
        )
        .bind(expected_seq)
        .fetch_all(pool)
        .await?;
        let last_page = rows.len() < 1000;
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            if seq != expected_seq {
                return Ok(Verdict::Broken {
                    seq: expected_seq,
                    reason: format!("record {expected_seq} is missing (next present is {seq})"),
                });
            }
            let entry = AuditEntry {
                at: from_epoch(row.try_get(1)?),
                actor: row.try_get(2)?,
                action: row.try_get(3)?,
                door: row.try_get(4)?,
                mailbox: row.try_get(5)?,
                message_id: row.try_get(6)?,
                client_addr: row.try_get(7)?,
                outcome: row.try_get(8)?,
                detail: row.try_get(9)?,
                request_id: row.try_get(12)?,
            };
            let stored_prev: String = row.try_get(10)?;
            let stored_hash: String = row.try_get(11)?;
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
