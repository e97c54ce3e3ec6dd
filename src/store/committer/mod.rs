//! Group commit: one task applies the writes of many concurrent requests in one transaction.
//!
//! SQLite has one writer at a time and every durable commit costs an fsync. Instead of each
//! request committing on its own, requests send a [`Job`] (the effects of the request plus its
//! audit record) and wait; the committer drains whatever jobs are waiting, applies them and
//! appends their audit records in order (one chain-head read per batch), commits once, and
//! answers every job. If a job fails, the batch is applied again with each job in its own
//! savepoint, so one failing job does not sink the others. Under load many requests share one
//! fsync (and, on PostgreSQL, few round trips); alone, a request pays exactly one.
//!
//! It is the write path of requests and of administration. A change whose statements depend
//! on what its own transaction reads (administration: check, then write) cannot be described
//! as [`Effect`]s in advance, so it queues for a turn instead ([`Committer::audited`],
//! [`Committer::change`]): the committer commits the batch before it, lets the caller run its
//! transaction (the same write transaction, the same audit append, a failed connection closed
//! the same way), and goes on when the caller is done. These writes are thereby serialized on
//! one node in the order they were queued, and never compete for SQLite's write lock.
//!
//! Not yet every write: the gateway's own bookkeeping still goes through the pool, beside the
//! committer (web sessions, throttle and lockout counters, mailbox unlock attempts, passkey
//! ceremonies, the notices' leases and marks). Each is one short statement, correct on both
//! engines; on SQLite it waits on the busy handler while a batch holds the write lock (under
//! `strace`, during `scripts/count-writes`, the notices' claim waited up to 1.1 s). Moving
//! them into turns is open work.
//!
//! Its parts: [`effect`] (the writes a request may ask for and how each is applied),
//! [`error`] (what a job's caller is told), `batch` (one batch's transaction, its retry
//! job by job and after a broken session; a batch of new messages and updates in one round
//! trip from the head the last batch left, `batch::one_trip`), `repeats` (the repeats a
//! batch's files left to it), `rows` (a batch's new rows in one statement), `updates` (a
//! retrieval, an acknowledgement, a use: one statement per kind) and `wal` (SQLite's
//! write-ahead log kept short).

mod batch;
pub mod effect;
pub mod error;
pub(in crate::store) mod repeats;
mod rows;
mod updates;
mod wal;

pub use effect::{Effect, NewMessage, RepeatCheck};
pub use error::CommitError;

use crate::audit::AuditEntry;
use crate::store::StoreError;
use sqlx::{AnyConnection, AnyPool};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

const MAX_BATCH: usize = 256;

struct Job {
    effects: Vec<Effect>,
    audit: AuditEntry,
    reply: oneshot::Sender<Result<(), CommitError>>,
}

/// What the committer's queue carries. Jobs are nearly all of it, so a turn taking a job's room
/// in the queue costs less than boxing every job.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Job(Job),
    /// A caller's turn to write a change itself: told when it may begin, and the committer
    /// waits for `done` (or for the caller to go away) before the next batch.
    Turn {
        begin: oneshot::Sender<()>,
        done: oneshot::Receiver<()>,
    },
}

/// Handle to the committer task.
#[derive(Debug, Clone)]
pub struct Committer {
    tx: mpsc::Sender<Queued>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Held by the task while a batch is being committed.
    busy: Arc<Mutex<()>>,
    /// SQLite: the task that checkpoints the write-ahead log.
    checkpoints: Option<Arc<tokio::task::JoinHandle<()>>>,
    /// SQLite: the log's size, in frames, past which that task restarts it.
    wal_restart: Arc<AtomicI64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("action", &self.audit.action)
            .finish()
    }
}

impl Committer {
    pub fn start(pool: AnyPool) -> Committer {
        let (tx, rx) = mpsc::channel(4096);
        let busy = Arc::new(Mutex::new(()));
        let wal_restart = Arc::new(AtomicI64::new(wal::RESTART_AT));
        let checkpoints = (crate::store::Engine::of_pool(&pool) == crate::store::Engine::Sqlite)
            .then(|| {
                let task = wal::checkpoints(pool.clone(), tx.downgrade(), wal_restart.clone());
                Arc::new(tokio::spawn(task))
            });
        let task = tokio::spawn(run(pool, rx, busy.clone()));
        Committer {
            tx,
            task: Arc::new(Mutex::new(Some(task))),
            busy,
            checkpoints,
            wal_restart,
        }
    }

    /// SQLite: restarts the write-ahead log once it holds `bytes` (pages of 4 KiB, at least one).
    pub fn restart_wal_at(&self, bytes: u64) {
        let frames = i64::try_from(bytes / 4096).unwrap_or(i64::MAX).max(1);
        self.wal_restart.store(frames, Ordering::Relaxed);
    }

    /// Applies `effects` and appends `audit`, durably, before returning.
    pub async fn commit(&self, effects: Vec<Effect>, audit: AuditEntry) -> Result<(), CommitError> {
        let (reply, rx) = oneshot::channel();
        // Every request's outcome is audited through here, so the audit record is also the
        // metric (counted once committed).
        let span = crate::ground::request_span();
        span.record("mid", audit.actor.as_str());
        span.record("operation", audit.action.as_str());
        span.record("outcome", audit.outcome.as_str());
        if let Some(m) = &audit.mailbox {
            span.record("mailbox", m.as_str());
        }
        let labels = [
            ("door", audit.door.clone()),
            ("operation", audit.action.clone()),
            ("outcome", audit.outcome.clone()),
        ];
        let stopped = |what: &str| CommitError::NotCommitted {
            reason: error::NotCommitted::Failed,
            message: format!("the committer has stopped ({what})"),
        };
        self.tx
            .send(Queued::Job(Job {
                effects,
                audit,
                reply,
            }))
            .await
            .map_err(|_| stopped("not queued"))?;
        // The job was queued: if the committer is gone before answering, nobody can say
        // whether it was committed.
        let committed = rx
            .await
            .map_err(|_| CommitError::Unknown("the committer stopped before answering".into()))?;
        if committed.is_ok() {
            metrics::counter!("imax_requests_total", &labels).increment(1);
        }
        committed
    }

    /// Runs `body` and appends `audit` in one write transaction, in the committer's turn (see
    /// the module's documentation); returns the body's value once both are committed.
    pub async fn audited<T>(
        &self,
        pool: &AnyPool,
        audit: &AuditEntry,
        body: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.change(pool, async |tx| Ok((body(tx).await?, Some(audit.clone()))))
            .await
    }

    /// [`Committer::audited`] for a change that writes its audit record only when it changed
    /// something: the body returns its value and the record (none: its transaction is rolled
    /// back, nothing recorded).
    pub async fn change<T>(
        &self,
        pool: &AnyPool,
        body: impl AsyncFnOnce(&mut AnyConnection) -> Result<(T, Option<AuditEntry>), StoreError>,
    ) -> Result<T, StoreError> {
        // Dropped when this function returns or is cancelled: either ends the turn.
        let _turn = turn(&self.tx)
            .await
            .ok_or(StoreError::Db(sqlx::Error::PoolClosed))?;
        let engine = crate::store::Engine::of_pool(pool);
        let mut conn = pool.acquire().await?;
        let written = async {
            let mut tx = crate::store::begin_write_on(&mut conn, engine).await?;
            let (value, audit) = body(&mut tx).await?;
            match audit {
                Some(audit) => {
                    crate::store::audit_log::append(&mut tx, &audit).await?;
                    tx.commit().await?;
                }
                None => tx.rollback().await?,
            }
            Ok(value)
        }
        .await;
        // As for batches: a connection whose transaction failed is never reused.
        if written.is_err() {
            conn.close_on_drop();
        }
        written
    }

    /// [`Committer::change`] for a change of one statement whose count of rows says whether
    /// it changed anything: `audit` is recorded when the body reports rows changed (a guarded
    /// `UPDATE` that finds its guard moved, a `DELETE` of nothing: rolled back, unrecorded).
    /// Returns the count.
    pub async fn counted(
        &self,
        pool: &AnyPool,
        audit: &AuditEntry,
        body: impl AsyncFnOnce(&mut AnyConnection) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        self.change(pool, async |tx| {
            let n = body(tx).await?;
            Ok((n, (n > 0).then(|| audit.clone())))
        })
        .await
    }

    /// Lets queued jobs and the batch in progress finish, then stops the task. Called after
    /// the server has drained, when no new jobs arrive.
    pub async fn stop(&self) {
        let handle = self.task.lock().await.take();
        if let Some(h) = handle {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                while self.tx.capacity() < self.tx.max_capacity() {
                    tokio::task::yield_now().await;
                }
            })
            .await;
            let _guard = self.busy.lock().await;
            h.abort();
        }
        if let Some(c) = &self.checkpoints {
            c.abort();
        }
    }
}

/// Waits for the committer's turn (after the jobs queued before it) and holds it: the
/// committer writes nothing until the returned sender is dropped. None: the committer has
/// stopped.
async fn turn(queue: &mpsc::Sender<Queued>) -> Option<oneshot::Sender<()>> {
    let (begin, my_turn) = oneshot::channel();
    let (turn, done) = oneshot::channel::<()>();
    queue.send(Queued::Turn { begin, done }).await.ok()?;
    my_turn.await.ok()?;
    Some(turn)
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Queued>, busy: Arc<Mutex<()>>) {
    let mut held = batch::Held::default();
    while let Some(first) = rx.recv().await {
        let _guard = busy.lock().await;
        // The jobs waiting, up to the first turn (which comes after their batch).
        let (mut batch, mut turn) = (Vec::new(), None);
        let mut next = Some(first);
        while let Some(queued) = next.take() {
            match queued {
                Queued::Job(job) => batch.push(job),
                Queued::Turn { begin, done } => {
                    turn = Some((begin, done));
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            batch::commit_jobs(&pool, &mut held, batch).await;
        }
        if let Some((begin, done)) = turn {
            if begin.send(()).is_ok() {
                // Ends when the caller is done or gone.
                let _ = done.await;
                held.forget_head();
            }
        }
    }
}
