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
//! It is the one write path. A change whose statements depend on what its own transaction
//! reads (administration: check, then write) cannot be described as [`Effect`]s in advance, so
//! it queues for a turn instead ([`Committer::audited`], [`Committer::change`]): the committer
//! commits the batch before it, lets the caller run its transaction (the same write
//! transaction, the same audit append, a failed connection closed the same way), and goes on
//! when the caller is done. Writes are thereby serialized on one node in the order they were
//! queued, and never compete for SQLite's write lock.

use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use crate::store::audit_log::{Chain, Records, MAX_ROWS_PER_INSERT};
use crate::store::reconnect;
use crate::store::Engine;
use crate::store::StoreError;
use sqlx::{AnyConnection, AnyPool, Connection, Row};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Mutex};

const MAX_BATCH: usize = 256;

/// How often SQLite's write-ahead log is copied back into the database file (see
/// [`checkpoint_wal`]).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A message row, written after its body is sealed.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message_id: String,
    pub from_mailbox: i64,
    pub to_mailbox: i64,
    pub sent_by: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub body_key: String,
    /// The body is listed as an upload in progress, which this row's transaction ends
    /// (database bodies; see `bodies::chunks`).
    pub claim_upload: bool,
    /// A small body written by this row's transaction (database bodies up to
    /// `bodies::INLINE` bytes).
    pub inline_body: Option<Vec<u8>>,
    pub received_at: OffsetDateTime,
    /// The TRACS transmission key (sender | date stamp | time stamp), for TRACS files.
    pub tracs_key: Option<String>,
    pub routed_by: &'static str,
    /// Marked by the sender as a deliberate resend (not a duplicate).
    pub resend: bool,
    /// Accepted although the recipient disagrees with the directory (when the operator
    /// chose to accept and mark such files).
    pub misrouted: bool,
    /// The message this one answers (its public message id).
    pub in_reply_to: Option<String>,
}

/// A write a request asks for.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Boxed: a message row is far larger than any other effect.
    InsertMessage(Box<NewMessage>),
    /// First retrieval by the recipient (later fetches keep the first time).
    MarkRetrieved {
        message: i64,
        at: OffsetDateTime,
    },
    MarkAcked {
        message: i64,
        at: OffsetDateTime,
    },
    /// R13: the M-ID used iMAX at `at` (a successful sign-in, too).
    RecordActivity {
        account: i64,
        at: OffsetDateTime,
    },
    /// A browser sign-in (R10, R16): the M-ID was used, though iMAX not yet (R13).
    RecordSignIn {
        account: i64,
        at: OffsetDateTime,
    },
    /// A wrong password that was the last one allowed on its side (R14's smart lockout):
    /// from a familiar address it locks the M-ID (if active, or its last failure lock has
    /// run out) until `until`; from a stranger's, it locks strangers' addresses only. The
    /// attempt itself was counted before the password was checked. Neither moves the
    /// account's `auth_epoch`: nobody's open session ends for someone else's failures.
    LockForFailures {
        account: i64,
        side: super::accounts::Side,
        at: OffsetDateTime,
        until: OffsetDateTime,
    },
    /// A TRACSMail ID was opened or used at `at` (its inactivity counts from here).
    RecordMailboxUse {
        mailbox: i64,
        at: OffsetDateTime,
    },
    /// A wrong TRACSMail password that was `account`'s last one allowed at `mailbox`:
    /// freezes the mailbox for that M-ID until `until`, and, with `everyone`, for every M-ID
    /// that has not opened it within 90 days (several M-IDs' freezes at once). No session on
    /// the mailbox ends (its `auth_epoch` stays).
    FreezeMailbox {
        mailbox: i64,
        account: i64,
        at: OffsetDateTime,
        until: OffsetDateTime,
        everyone: bool,
    },
    /// The access decision found that time has locked or terminated the account.
    SetStatus {
        account: i64,
        status: &'static str,
        lock_reason: Option<&'static str>,
    },
}

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

/// Why a job was not (or may not have been) committed. The difference matters: a body whose
/// row was certainly not committed may be deleted; one whose row may exist must be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Nothing of the job is in the database: its statements failed (the transaction was
    /// rolled back), or the database could not be reached to begin.
    #[error("not committed: {message}")]
    NotCommitted {
        /// The job's message broke the unique index of transmissions (a duplicate arriving
        /// at the same moment as its original).
        duplicate_transmission: bool,
        /// The database's disk is full (SQLite's SQLITE_FULL, PostgreSQL's disk_full).
        storage_full: bool,
        message: String,
    },
    /// The connection failed while committing: the job may or may not be in the database.
    #[error("commit outcome unknown: {0}")]
    Unknown(String),
}

impl CommitError {
    fn not_committed(e: &sqlx::Error) -> CommitError {
        let storage_full = match e {
            sqlx::Error::Database(d) => {
                matches!(d.code().as_deref(), Some("13") | Some("53100"))
                    || d.message().contains("disk is full")
            }
            sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        };
        CommitError::NotCommitted {
            duplicate_transmission: false,
            storage_full,
            message: e.to_string(),
        }
    }

    /// A job's failure, on a connection still usable after its rollback: a unique violation
    /// whose TRACS key is in the table now is its transmission arriving at the same moment as
    /// its original (asked of the database, not read from the error's text).
    async fn of_job(conn: &mut AnyConnection, job: &Job, e: &sqlx::Error) -> CommitError {
        let mut failure = CommitError::not_committed(e);
        let unique = matches!(e, sqlx::Error::Database(d) if d.is_unique_violation());
        let keys = job.effects.iter().filter_map(|effect| match effect {
            Effect::InsertMessage(m) => m.tracs_key.as_deref(),
            _ => None,
        });
        if unique {
            for key in keys {
                let found: Result<Option<i64>, _> =
                    sqlx::query_scalar("SELECT id FROM messages WHERE tracs_key = $1")
                        .bind(key)
                        .fetch_optional(&mut *conn)
                        .await;
                if let (
                    Ok(Some(_)),
                    CommitError::NotCommitted {
                        duplicate_transmission,
                        ..
                    },
                ) = (found, &mut failure)
                {
                    *duplicate_transmission = true;
                }
            }
        }
        failure
    }

    /// Whether the job failed because the database's storage is full.
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self,
            CommitError::NotCommitted {
                storage_full: true,
                ..
            }
        )
    }
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
        let checkpoints = (crate::store::Engine::of_pool(&pool) == crate::store::Engine::Sqlite)
            .then(|| Arc::new(tokio::spawn(checkpoint_wal(pool.clone()))));
        let task = tokio::spawn(run(pool, rx, busy.clone()));
        Committer {
            tx,
            task: Arc::new(Mutex::new(Some(task))),
            busy,
            checkpoints,
        }
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
            duplicate_transmission: false,
            storage_full: false,
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
        let stopped = || StoreError::Db(sqlx::Error::PoolClosed);
        let (begin, my_turn) = oneshot::channel();
        // Dropped when this function returns or is cancelled: either ends the turn.
        let (_done, done) = oneshot::channel::<()>();
        self.tx
            .send(Queued::Turn { begin, done })
            .await
            .map_err(|_| stopped())?;
        my_turn.await.map_err(|_| stopped())?;
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

/// Copies SQLite's write-ahead log back into the database file, off the commit path. Left to
/// SQLite, the commit that takes the log past 1,000 pages does it (every connection is opened
/// with `wal_autocheckpoint = 0`, `Store::open`): that request and every request of its batch
/// then wait for a few megabytes of copying and an fsync of the database file, which is most
/// of the slowest 1 % of SendFile answers under load. A `PASSIVE` checkpoint takes no lock a
/// writer or reader waits for; what readers still use is copied by a later one.
async fn checkpoint_wal(pool: AnyPool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if !pool.is_closed() {
                tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
            }
            continue;
        }
        metrics::histogram!("imax_wal_checkpoint_seconds").record(started.elapsed().as_secs_f64());
    }
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Queued>, busy: Arc<Mutex<()>>) {
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
            commit_jobs(&pool, batch).await;
        }
        if let Some((begin, done)) = turn {
            if begin.send(()).is_ok() {
                // Ends when the caller is done or gone.
                let _ = done.await;
            }
        }
    }
}

/// Commits a batch of jobs and answers each.
async fn commit_jobs(pool: &AnyPool, batch: Vec<Job>) {
    let started = std::time::Instant::now();
    metrics::histogram!("imax_commit_batch_size").record(batch.len() as f64);
    let results = commit_batch(pool, &batch).await;
    metrics::histogram!("imax_commit_seconds").record(started.elapsed().as_secs_f64());
    match results {
        Ok(per_job) => {
            for (job, r) in batch.into_iter().zip(per_job) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

/// Commits a batch on a connection of its own. A connection whose transaction failed in any
/// way is closed, never handed back to the pool, so a rollback that could not complete (a full
/// disk) never leaves a connection inside a transaction for the next batch; when the database
/// works again, so does the committer.
///
/// A batch whose session broke (the database restarted) is committed once more on a fresh
/// session, never twice (issue 25, item 7; `reconnect`): when it broke before `COMMIT` was sent
/// nothing of it committed; when it broke on `COMMIT`, the audit chain tells — the batch's
/// last record is there, with its hash, exactly when the batch committed — and it is looked
/// up under the chain's lock, which the broken transaction held until it ended.
async fn commit_batch(
    pool: &AnyPool,
    batch: &[Job],
) -> Result<Vec<Result<(), CommitError>>, CommitError> {
    let engine = crate::store::Engine::of_pool(pool);
    let committing = match commit_attempt(pool, engine, batch, None).await {
        Ok(results) => return Ok(results),
        Err(Failed::Final(e)) => return Err(e),
        Err(Failed::BeforeCommit(e)) => {
            tracing::info!(error = %e, "the batch's database session broke; committing it again");
            None
        }
        Err(Failed::AtCommit { error, committing }) => {
            tracing::info!(error = %error, "the batch's session broke on COMMIT; checking the chain");
            Some(committing)
        }
    };
    reconnect::note_break();
    reconnect::count_retry("commit");
    match commit_attempt(pool, engine, batch, committing).await {
        Ok(results) => Ok(results),
        Err(Failed::Final(e) | Failed::BeforeCommit(e)) => Err(e),
        Err(Failed::AtCommit { error, .. }) => Err(error),
    }
}

/// What a batch's transaction had written when its `COMMIT` was sent.
#[derive(Debug)]
struct Committing {
    /// The chain's head after the batch: its last record's sequence number and hash.
    last: (i64, String),
    /// Each job's result, as the commit would make it.
    results: Vec<Result<(), CommitError>>,
}

/// Why an attempt at a batch did not answer its jobs.
#[derive(Debug)]
enum Failed {
    /// Refused or failed for good: the jobs are answered with it.
    Final(CommitError),
    /// The session broke before `COMMIT` was sent: nothing of the batch committed.
    BeforeCommit(CommitError),
    /// The session broke while committing: the batch may or may not be in the database.
    AtCommit {
        error: CommitError,
        committing: Committing,
    },
}

impl Failed {
    /// A failure before `COMMIT` was sent: nothing committed either way.
    fn before(e: sqlx::Error) -> Failed {
        let error = CommitError::not_committed(&e);
        if reconnect::is_broken(&e) {
            Failed::BeforeCommit(error)
        } else {
            Failed::Final(error)
        }
    }
}

/// One attempt at a batch. `committed`: an earlier attempt's session broke on `COMMIT`; if the
/// chain holds its last record the batch committed then, and its results stand.
async fn commit_attempt(
    pool: &AnyPool,
    engine: Engine,
    batch: &[Job],
    committed: Option<Committing>,
) -> Result<Vec<Result<(), CommitError>>, Failed> {
    let mut conn = pool.acquire().await.map_err(Failed::before)?;
    let out = async {
        if let Some(earlier) = committed {
            if landed(&mut conn, engine, &earlier.last).await? {
                return Ok(earlier.results);
            }
        }
        commit_on(&mut conn, engine, batch).await
    }
    .await;
    if out.as_ref().map_or(true, |r| r.iter().any(|r| r.is_err())) {
        conn.close_on_drop();
    }
    out
}

/// Whether the chain's record `last.0` is `last.1` (the batch that wrote it committed), asked
/// under the chain's lock. A failure here leaves the outcome unknown.
async fn landed(
    conn: &mut AnyConnection,
    engine: Engine,
    last: &(i64, String),
) -> Result<bool, Failed> {
    let unknown = |e: sqlx::Error| Failed::Final(CommitError::Unknown(e.to_string()));
    let mut tx = crate::store::begin_write_on(conn, engine)
        .await
        .map_err(unknown)?;
    let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(last.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unknown)?;
    tx.rollback().await.map_err(unknown)?;
    Ok(hash.as_deref() == Some(last.1.as_str()))
}

/// A write transaction and the audit chain's head in it; nothing is committed yet.
async fn begin_batch(
    conn: &mut AnyConnection,
    engine: crate::store::Engine,
) -> Result<(sqlx::Transaction<'_, sqlx::Any>, Chain), Failed> {
    let mut tx = crate::store::begin_write_on(conn, engine)
        .await
        .map_err(Failed::before)?;
    let chain = Chain::head(&mut tx).await.map_err(Failed::before)?;
    Ok((tx, chain))
}

/// Sends `COMMIT`. The database answering with an error (a full disk, a conflict) did not
/// commit; a session that broke while committing leaves the outcome to the chain to tell.
async fn finish(
    tx: sqlx::Transaction<'_, sqlx::Any>,
    chain: &Chain,
    results: Vec<Result<(), CommitError>>,
) -> Result<Vec<Result<(), CommitError>>, Failed> {
    match tx.commit().await {
        Ok(()) => Ok(results),
        Err(e @ sqlx::Error::Database(_)) if !reconnect::is_broken(&e) => {
            Err(Failed::Final(CommitError::not_committed(&e)))
        }
        Err(e) if reconnect::is_broken(&e) => Err(Failed::AtCommit {
            error: CommitError::Unknown(e.to_string()),
            committing: Committing {
                last: chain.last(),
                results,
            },
        }),
        Err(e) => Err(Failed::Final(CommitError::Unknown(e.to_string()))),
    }
}

async fn commit_on(
    conn: &mut AnyConnection,
    engine: crate::store::Engine,
    batch: &[Job],
) -> Result<Vec<Result<(), CommitError>>, Failed> {
    // Usually every job succeeds: apply them all in one transaction, without savepoints (on
    // PostgreSQL each statement is a round trip, and the committer is the one writer).
    let (mut tx, mut chain) = begin_batch(conn, engine).await?;
    let failed = apply_batch(&mut tx, engine, batch, &mut chain).await.err();
    let Some(e) = failed else {
        return finish(tx, &chain, batch.iter().map(|_| Ok(())).collect()).await;
    };
    // Nothing of this transaction is committed, whether or not the rollback completes (the
    // connection is closed if it does not).
    if reconnect::is_broken(&e) || tx.rollback().await.is_err() {
        return Err(Failed::before(e));
    }
    if let [job] = batch {
        return Ok(vec![Err(CommitError::of_job(conn, job, &e).await)]);
    }
    // A job failed: do it again, each job in its own savepoint, so that one failing job does
    // not sink the others.
    let (mut tx, mut chain) = begin_batch(conn, engine).await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let mut sp = tx.begin().await.map_err(Failed::before)?;
        let mut next = chain.clone();
        match apply(&mut sp, job, &mut next).await {
            Ok(()) => {
                sp.commit().await.map_err(Failed::before)?;
                chain = next;
                results.push(Ok(()));
            }
            Err(e) if reconnect::is_broken(&e) => return Err(Failed::before(e)),
            Err(e) => {
                sp.rollback().await.map_err(Failed::before)?;
                results.push(Err(CommitError::of_job(&mut tx, job, &e).await));
            }
        }
    }
    finish(tx, &chain, results).await
}

async fn apply(conn: &mut AnyConnection, job: &Job, chain: &mut Chain) -> Result<(), sqlx::Error> {
    apply_effects(conn, job).await?;
    chain.append(conn, &job.audit).await?;
    Ok(())
}

/// Every job's effects and audit records, the new rows of the whole batch written together in
/// one round trip ([`write_at_once`]; above its parameter limit, a multi-row statement per
/// kind of row). Any failure fails the batch, which is then done again job by job
/// (savepoints), where the failing job is found.
async fn apply_batch(
    conn: &mut AnyConnection,
    engine: Engine,
    batch: &[Job],
    chain: &mut Chain,
) -> Result<(), sqlx::Error> {
    let mut messages: Vec<&NewMessage> = Vec::new();
    for job in batch {
        for effect in &job.effects {
            match effect {
                Effect::InsertMessage(m) => messages.push(&**m),
                other => apply_effect(conn, other).await?,
            }
        }
    }
    let entries: Vec<&AuditEntry> = batch.iter().map(|j| &j.audit).collect();
    let params = messages.len() * (MESSAGE_PARAMS + 3) + entries.len() * Records::PARAMS;
    // Listings of database bodies (to end, and count) exist beside PostgreSQL only.
    let listed = messages.iter().any(|m| m.claim_upload);
    if params <= MAX_PARAMS_AT_ONCE && (engine == Engine::Postgres || !listed) {
        return write_at_once(conn, engine, &messages, chain, &entries).await;
    }
    write_messages(conn, &messages).await?;
    for part in entries.chunks(MAX_ROWS_PER_INSERT) {
        chain.append_all(conn, part).await?;
    }
    Ok(())
}

/// Parameters of one [`write_at_once`] at most (PostgreSQL allows 65,535 per statement,
/// SQLite numbers them up to 32,766).
const MAX_PARAMS_AT_ONCE: usize = 30_000;

/// A batch's new rows in one round trip (new messages, their inline bodies, the end of their
/// uploads' listings, the audit records), while the committer, the one writer, holds the
/// write lock: one statement of data-modifying `WITH` parts on PostgreSQL, one string of
/// statements on SQLite (each a hand-off to sqlx's SQLite worker thread, which cost more than
/// the statements themselves). Parameters are numbered across the whole text, so both engines
/// bind them alike. The listings it ended are counted, as [`write_messages`] counts them.
async fn write_at_once(
    conn: &mut AnyConnection,
    engine: Engine,
    messages: &[&NewMessage],
    chain: &mut Chain,
    entries: &[&AuditEntry],
) -> Result<(), sqlx::Error> {
    let inline = inline_bodies(messages);
    let claims = claims(messages);
    let records = chain.chained(entries);
    let mut parts = Vec::new();
    let mut next = 1;
    if !messages.is_empty() {
        parts.push((
            "m",
            format!(
                "INSERT INTO messages {}",
                message_values(next, messages.len())
            ),
        ));
        next += messages.len() * MESSAGE_PARAMS;
    }
    if !inline.is_empty() {
        let values = super::placeholders_at(next, inline.len(), 2, |p| {
            format!("({}, 0, {})", p[0], p[1])
        });
        parts.push((
            "c",
            format!("INSERT INTO body_chunks (body_key, seq, data) VALUES {values}"),
        ));
        next += inline.len() * 2;
    }
    if !claims.is_empty() {
        let list = super::placeholders_at(next, claims.len(), 1, |p| p[0].clone());
        parts.push((
            "d",
            format!("DELETE FROM body_uploads WHERE body_key IN ({list}) RETURNING 1"),
        ));
        next += claims.len();
    }
    if records.len() > 0 {
        parts.push((
            "a",
            format!(
                "INSERT INTO audit_log {}",
                Records::values(next, records.len())
            ),
        ));
    }
    if parts.is_empty() {
        return Ok(());
    }
    let sql = match engine {
        Engine::Postgres => {
            // Each part a `WITH` of its own; `d` (if any) counts the listings it ended.
            let ended = if claims.is_empty() {
                "0"
            } else {
                "(SELECT COUNT(*) FROM d)"
            };
            let parts: Vec<String> = parts
                .iter()
                .map(|(name, part)| format!("{name} AS ({part})"))
                .collect();
            format!("WITH {} SELECT CAST({ended} AS BIGINT)", parts.join(", "))
        }
        Engine::Sqlite => parts
            .iter()
            .map(|(_, part)| part.as_str())
            .collect::<Vec<_>>()
            .join(";\n"),
    };
    let mut query = bind_messages(sqlx::query(&sql), messages);
    for (key, data) in &inline {
        query = query.bind(*key).bind(*data);
    }
    for key in &claims {
        query = query.bind(*key);
    }
    let query = records.bind(query);
    if engine == Engine::Postgres {
        let claimed: i64 = query.fetch_one(&mut *conn).await?.try_get(0)?;
        all_claimed(claimed as u64, claims.len())?;
    } else {
        // No listings here (see `apply_batch`): nothing to count.
        query.execute(&mut *conn).await?;
    }
    chain.moved_to(&records);
    Ok(())
}

/// The inline bodies among `messages`: (body key, bytes).
fn inline_bodies<'m>(messages: &[&'m NewMessage]) -> Vec<(&'m str, &'m [u8])> {
    messages
        .iter()
        .filter_map(|m| {
            m.inline_body
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| (m.body_key.as_str(), d))
        })
        .collect()
}

/// The uploads whose listings `messages`' transaction ends (database bodies).
fn claims<'m>(messages: &[&'m NewMessage]) -> Vec<&'m str> {
    messages
        .iter()
        .filter(|m| m.claim_upload)
        .map(|m| m.body_key.as_str())
        .collect()
}

/// The rows and the end of their uploads' listings commit together; an upload a sweep took as
/// abandoned has lost its body, and its row must not exist.
fn all_claimed(ended: u64, claims: usize) -> Result<(), sqlx::Error> {
    if ended == claims as u64 {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(
            "an upload was swept as abandoned before its message was stored".into(),
        ))
    }
}

/// New messages, with their inline bodies and the end of their uploads' listings (database
/// bodies), in one statement each per [`MAX_ROWS_PER_INSERT`] rows.
async fn write_messages(
    conn: &mut AnyConnection,
    messages: &[&NewMessage],
) -> Result<(), sqlx::Error> {
    for part in messages.chunks(MAX_ROWS_PER_INSERT) {
        let sql = format!("INSERT INTO messages {}", message_values(1, part.len()));
        bind_messages(sqlx::query(&sql), part)
            .execute(&mut *conn)
            .await?;
    }
    let inline = inline_bodies(messages);
    for part in inline.chunks(MAX_ROWS_PER_INSERT) {
        let values = super::placeholders(part.len(), 2, |p| format!("({}, 0, {})", p[0], p[1]));
        let sql = format!("INSERT INTO body_chunks (body_key, seq, data) VALUES {values}");
        let mut query = sqlx::query(&sql);
        for (key, data) in part {
            query = query.bind(*key).bind(*data);
        }
        query.execute(&mut *conn).await?;
    }
    let claims = claims(messages);
    for part in claims.chunks(MAX_ROWS_PER_INSERT) {
        let list = super::placeholders(part.len(), 1, |p| p[0].clone());
        let sql = format!("DELETE FROM body_uploads WHERE body_key IN ({list})");
        let mut query = sqlx::query(&sql);
        for key in part {
            query = query.bind(*key);
        }
        let ended = query.execute(&mut *conn).await?;
        all_claimed(ended.rows_affected(), part.len())?;
    }
    Ok(())
}

/// Parameters per new message.
const MESSAGE_PARAMS: usize = 14;

/// The columns and `VALUES` of `n` new messages whose parameters start at `$first`.
fn message_values(first: usize, n: usize) -> String {
    let values =
        super::placeholders_at(first, n, MESSAGE_PARAMS, |p| format!("({})", p.join(", ")));
    format!(
        "(message_id, from_mailbox, to_mailbox, sent_by, file_name, size_bytes, sha256,
          body_key, received_at, tracs_key, routed_by, resend, misrouted, in_reply_to)
         VALUES {values}"
    )
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds new messages' parameters, in the order of [`message_values`].
fn bind_messages<'q>(mut query: AnyQuery<'q>, rows: &[&'q NewMessage]) -> AnyQuery<'q> {
    for m in rows {
        query = query
            .bind(&m.message_id)
            .bind(m.from_mailbox)
            .bind(m.to_mailbox)
            .bind(&m.sent_by)
            .bind(&m.file_name)
            .bind(m.size_bytes as i64)
            .bind(&m.sha256)
            .bind(&m.body_key)
            .bind(to_epoch(m.received_at))
            .bind(&m.tracs_key)
            .bind(m.routed_by)
            .bind(i64::from(m.resend))
            .bind(i64::from(m.misrouted))
            .bind(&m.in_reply_to);
    }
    query
}

async fn apply_effects(conn: &mut AnyConnection, job: &Job) -> Result<(), sqlx::Error> {
    for effect in &job.effects {
        apply_effect(conn, effect).await?;
    }
    Ok(())
}

async fn apply_effect(conn: &mut AnyConnection, effect: &Effect) -> Result<(), sqlx::Error> {
    match effect {
        Effect::InsertMessage(m) => write_messages(conn, &[&**m]).await?,
        Effect::MarkRetrieved { message, at } => {
            sqlx::query(
                "UPDATE messages SET retrieved_at = $1 WHERE id = $2 AND retrieved_at IS NULL",
            )
            .bind(to_epoch(*at))
            .bind(message)
            .execute(&mut *conn)
            .await?;
        }
        Effect::MarkAcked { message, at } => {
            sqlx::query("UPDATE messages SET acked_at = $1, retrieved_at = COALESCE(retrieved_at, $1) WHERE id = $2 AND acked_at IS NULL")
                .bind(to_epoch(*at))
                .bind(message)
                .execute(&mut *conn)
                .await?;
        }
        Effect::RecordActivity { account, at } => {
            sqlx::query(
                "UPDATE accounts SET
                        last_activity_at = CASE WHEN COALESCE(last_activity_at, 0) > $1 THEN last_activity_at ELSE $1 END,
                        last_signin_at = CASE WHEN COALESCE(last_signin_at, 0) > $1 THEN last_signin_at ELSE $1 END
                 WHERE id = $2",
            )
            .bind(to_epoch(*at))
            .bind(account)
            .execute(&mut *conn)
            .await?;
        }
        Effect::RecordSignIn { account, at } => {
            sqlx::query(
                "UPDATE accounts SET
                        last_signin_at = CASE WHEN COALESCE(last_signin_at, 0) > $1 THEN last_signin_at ELSE $1 END
                 WHERE id = $2",
            )
            .bind(to_epoch(*at))
            .bind(account)
            .execute(&mut *conn)
            .await?;
        }
        Effect::LockForFailures {
            account,
            side,
            at,
            until,
        } => {
            // The run of failures starts again when the lock ends; attempts during it are not
            // counted (`accounts::claim_attempt`).
            let sql = match side {
                super::accounts::Side::Familiar => {
                    "UPDATE accounts SET status = 'locked', lock_reason = 'failed_signins',
                        locked_until = $2, failed_signins = 0, failure_locks = failure_locks + 1
                     WHERE id = $1 AND (status = 'active' OR (status = 'locked'
                        AND lock_reason = 'failed_signins' AND locked_until <= $3))"
                }
                super::accounts::Side::Stranger => {
                    "UPDATE accounts SET stranger_locked_until = $2, stranger_failures = 0,
                        stranger_locks = stranger_locks + 1
                     WHERE id = $1 AND (stranger_locked_until IS NULL OR stranger_locked_until <= $3)"
                }
            };
            sqlx::query(sql)
                .bind(account)
                .bind(to_epoch(*until))
                .bind(to_epoch(*at))
                .execute(&mut *conn)
                .await?;
        }
        Effect::RecordMailboxUse { mailbox, at } => {
            sqlx::query(
                "UPDATE mailboxes SET last_used_at = $1 WHERE id = $2
                 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(to_epoch(*at))
            .bind(mailbox)
            .execute(&mut *conn)
            .await?;
        }
        Effect::FreezeMailbox {
            mailbox,
            account,
            at,
            until,
            everyone,
        } => {
            // The run of failures starts again when the freeze ends; attempts during it are
            // not counted (`mailboxes::claim_attempt`).
            sqlx::query(
                "UPDATE mailbox_attempts SET frozen_until = $3, failed = 0
                 WHERE mailbox_id = $1 AND account_id = $2
                   AND (frozen_until IS NULL OR frozen_until <= $4)",
            )
            .bind(mailbox)
            .bind(account)
            .bind(to_epoch(*until))
            .bind(to_epoch(*at))
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE mailboxes SET mid_frozen_until = $2,
                    frozen_until = CASE WHEN $3 = 1 AND (frozen_until IS NULL OR frozen_until <= $4)
                        THEN $2 ELSE frozen_until END
                 WHERE id = $1",
            )
            .bind(mailbox)
            .bind(to_epoch(*until))
            .bind(i64::from(*everyone))
            .bind(to_epoch(*at))
            .execute(&mut *conn)
            .await?;
        }
        Effect::SetStatus {
            account,
            status,
            lock_reason,
        } => {
            // Applied once: a node that finds the transition already made by another (both
            // saw the same stale state) changes nothing.
            sqlx::query("UPDATE accounts SET status = $1, lock_reason = $2, auth_epoch = auth_epoch + 1 WHERE id = $3 AND status <> $1")
                .bind(*status)
                .bind(*lock_reason)
                .bind(account)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEntry, Verdict};
    use crate::store::audit_log::verify;

    fn job(
        effects: Vec<Effect>,
        action: &str,
    ) -> (Job, oneshot::Receiver<Result<(), CommitError>>) {
        let (reply, rx) = oneshot::channel();
        let audit = AuditEntry::new(OffsetDateTime::UNIX_EPOCH, "admin", action, "cli");
        (
            Job {
                effects,
                audit,
                reply,
            },
            rx,
        )
    }

    /// A message row naming a mailbox that does not exist (refused by the foreign key).
    fn bad_message() -> Effect {
        Effect::InsertMessage(Box::new(NewMessage {
            message_id: "20260101-bad".into(),
            from_mailbox: 999_999,
            to_mailbox: 999_999,
            sent_by: "M1".into(),
            file_name: "X.DAT".into(),
            size_bytes: 1,
            sha256: "00".into(),
            body_key: "k".into(),
            claim_upload: false,
            inline_body: None,
            received_at: OffsetDateTime::UNIX_EPOCH,
            tracs_key: None,
            routed_by: "sender",
            resend: false,
            misrouted: false,
            in_reply_to: None,
        }))
    }

    #[tokio::test]
    async fn a_failing_job_fails_alone_and_the_chain_holds() {
        let dir = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::Store::open(&url, dir.path())
            .await
            .expect("store");
        let (a, _) = job(vec![], "First");
        let (b, _) = job(vec![bad_message()], "Second");
        let (c, _) = job(vec![], "Third");
        let results = commit_batch(&store.pool, &[a, b, c]).await.expect("batch");
        assert!(results[0].is_ok());
        assert!(results[1].is_err());
        assert!(results[2].is_ok());
        let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
            .fetch_all(&store.pool)
            .await
            .expect("audit");
        assert_eq!(actions, ["First", "Third"]);
        assert_eq!(
            verify(&store.pool).await.expect("verify"),
            Verdict::Intact { records: 2 }
        );
        // A whole batch of good jobs: one transaction, every record chained.
        let jobs: Vec<Job> = (0..5).map(|n| job(vec![], &format!("J{n}")).0).collect();
        let results = commit_batch(&store.pool, &jobs).await.expect("batch");
        assert!(results.iter().all(|r| r.is_ok()));
        assert_eq!(
            verify(&store.pool).await.expect("verify"),
            Verdict::Intact { records: 7 }
        );
    }

    /// After a session broke on `COMMIT`, the chain tells whether the batch landed: its last
    /// record is there with its hash exactly when it committed (issue 25, item 7).
    #[tokio::test]
    async fn the_chain_tells_whether_a_batch_landed() {
        let dir = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::Store::open(&url, dir.path())
            .await
            .expect("store");
        let engine = Engine::of_pool(&store.pool);
        let jobs: Vec<Job> = (0..3).map(|n| job(vec![], &format!("J{n}")).0).collect();
        let mut conn = store.pool.acquire().await.expect("conn");
        let (mut tx, mut chain) = begin_batch(&mut conn, engine).await.expect("begin");
        apply_batch(&mut tx, engine, &jobs, &mut chain)
            .await
            .expect("apply");
        let last = chain.last();
        // Not committed yet (rolled back): not there, so the batch is committed again.
        tx.rollback().await.expect("rollback");
        assert!(!landed(&mut conn, engine, &last).await.expect("asked"));
        let results = commit_on(&mut conn, engine, &jobs).await.expect("commit");
        assert!(results.iter().all(|r| r.is_ok()));
        // Committed: the same record, the same hash; any other hash is another batch's.
        assert!(landed(&mut conn, engine, &last).await.expect("asked"));
        let other = (last.0, "0".repeat(64));
        assert!(!landed(&mut conn, engine, &other).await.expect("asked"));
    }
}
