//! Forwarding the audit chain to a syslog collector (issue 30 item 2, `audit.syslog`).
//!
//! The chain is the source: a task on each node reads the records after its durable cursor
//! ([`cursor`]), sends them in RFC 5424 ([`rfc5424`]) over UDP or TCP ([`transport`]), and only
//! then moves the cursor. While the collector is unreachable the records wait in the chain and
//! the task retries with a doubling pause (up to `audit.syslog_retry_max_secs`); once it is back
//! they follow in order, none skipped. Over TCP none is lost; a crash between sending and
//! moving the cursor sends a batch again (the collector can tell by `seq`). UDP tells the
//! sender nothing of a lost datagram: use TCP where every record must arrive.
//!
//! New records are found by asking the chain every [`POLL`], so records written by every node
//! of a shared database are forwarded too; several nodes forwarding to one collector each send
//! every record (set `audit.syslog` on one of them, or let the collector drop repeats by
//! `seq`). Metrics: `imax_audit_forwarded_total`, `imax_audit_forward_lag` (records written
//! but not yet forwarded) and `imax_audit_forward_failures_total`.

pub mod cursor;
pub mod rfc5424;
mod transport;

use crate::config::{Config, SyslogTarget};
use crate::store::Store;
use cursor::{Cursor, Position};
use std::time::Duration;
use transport::Link;

/// How often the chain is asked for new records: a record reaches the collector this long
/// after it is written, at most, while the collector keeps up.
pub const POLL: Duration = Duration::from_millis(250);
/// Records read and sent at once (one write, one cursor update).
const BATCH: u32 = 500;
/// The first pause after a failure; it doubles up to `audit.syslog_retry_max_secs`.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// The forwarding task's parts.
pub struct Forwarder {
    target: SyslogTarget,
    cursor: Cursor,
    store: Store,
    retry_max: Duration,
    host: String,
}

impl Forwarder {
    /// The forwarder `config` asks for, if `audit.syslog` names a collector; `checkpoint_file`
    /// is where the checkpoints go (the cursor defaults to beside it).
    pub fn from_config(
        config: &Config,
        store: Store,
        checkpoint_file: &std::path::Path,
    ) -> Option<Forwarder> {
        let target = config.audit.syslog_target()?;
        let file = if config.audit.syslog_cursor_file.is_empty() {
            Cursor::beside(checkpoint_file)
        } else {
            config.audit.syslog_cursor_file.clone().into()
        };
        Some(Forwarder {
            target,
            cursor: Cursor::new(file),
            store,
            retry_max: Duration::from_secs(config.audit.syslog_retry_max_secs),
            host: hostname(),
        })
    }

    /// Forwards until the task is aborted.
    pub async fn run(self) {
        let mut at = self.start_position().await;
        let mut link: Option<Link> = None;
        let mut pause = FIRST_RETRY;
        tracing::info!(collector = %self.target.address, from = at.seq, "forwarding the audit chain to syslog");
        loop {
            match self.step(&mut at, &mut link).await {
                Ok(0) => {
                    // Nothing after the cursor: no lag, and no need to ask the chain's head.
                    metrics::gauge!("imax_audit_forward_lag").set(0.0);
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Ok(_) => pause = FIRST_RETRY,
                Err(e) => {
                    link = None;
                    metrics::counter!("imax_audit_forward_failures_total").increment(1);
                    tracing::warn!(collector = %self.target.address, error = %e, retry_in_ms = pause.as_millis() as u64, "could not forward audit records; they wait in the chain");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.retry_max);
                }
            }
            if let Ok(head) = self.store.audit_log().records().await {
                metrics::gauge!("imax_audit_forward_lag").set((head - at.seq).max(0) as f64);
            }
        }
    }

    /// Sends the next batch after `at` and moves the cursor past it; how many were sent.
    async fn step(&self, at: &mut Position, link: &mut Option<Link>) -> Result<usize, String> {
        let records = self
            .store
            .audit_log()
            .after(at.seq, BATCH)
            .await
            .map_err(|e| format!("reading the chain: {e}"))?;
        let Some(last) = records.last() else {
            return Ok(0);
        };
        if link.as_ref().is_some_and(Link::closed) {
            *link = None;
        }
        let open = match link {
            Some(l) => l,
            None => link.insert(Link::open(&self.target).await.map_err(|e| e.to_string())?),
        };
        let pid = std::process::id();
        let messages: Vec<String> = records
            .iter()
            .map(|r| rfc5424::message(r, &self.host, pid))
            .collect();
        open.send(&messages).await.map_err(|e| e.to_string())?;
        let next = Position {
            seq: last.seq,
            hash: last.hash.clone(),
        };
        self.cursor
            .store(&next)
            .map_err(|e| format!("writing {}: {e}", self.cursor.file().display()))?;
        *at = next;
        metrics::counter!("imax_audit_forwarded_total").increment(records.len() as u64);
        Ok(records.len())
    }

    /// Where forwarding resumes: the cursor, unless the chain no longer holds the record it
    /// names (a database restored from before it): then from the chain's head, with a warning.
    async fn start_position(&self) -> Position {
        let p = match self.cursor.load() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "the syslog cursor is unreadable: forwarding from the chain's start");
                return Position::default();
            }
        };
        if p.seq == 0 {
            return p;
        }
        match self.store.audit_log().hash_at(p.seq).await {
            Ok(Some(h)) if h == p.hash => p,
            Ok(_) => {
                let head = self.store.audit_log().head().await.ok().flatten();
                let (seq, hash) = head.unwrap_or((0, String::new()));
                tracing::warn!(cursor = p.seq, head = seq, "the chain no longer holds the record the syslog cursor names: forwarding from its head");
                Position { seq, hash }
            }
            Err(_) => p,
        }
    }
}

/// This host's name for the HOSTNAME field (`-` when unknown).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".into())
}
