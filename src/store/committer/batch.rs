//! One batch's transaction: every job at once, again job by job (savepoints) when one fails,
//! and once more on a fresh session when the database's session broke.

use super::effect::apply_effects;
use super::rows::{
    receipt_record, write_at_once, write_messages, NewRow, MAX_PARAMS_AT_ONCE, MESSAGE_PARAMS,
};
use super::{repeats, CommitError, Effect, Job};
use crate::audit::AuditEntry;
use crate::store::audit_log::{Chain, Records, MAX_ROWS_PER_INSERT};
use crate::store::messages::Duplicate;
use crate::store::reconnect;
use crate::store::Engine;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use std::time::Instant;

mod one_trip;
use one_trip::OneTrip;

/// The committer's own session, kept from one batch to the next instead of going back to the
/// pool after each: sqlx pings every session it takes back (on PostgreSQL a round trip and a
/// wake-up of the database's backend, on SQLite a trip to the connection's thread), once per
/// batch for nothing, as the committer is the one writer and wants a session again at once.
/// Kept only after a batch that succeeded; checked before use when it may have died unseen
/// ([`reconnect::needs_check`], as the pool checks its idle sessions); given back to the pool
/// when the committer stops.
#[derive(Default)]
pub(super) struct Held {
    session: Option<(PoolConnection<Any>, Instant)>,
    /// The chain's head as this committer's last batch left it, so that the next can go in
    /// one trip ([`one_trip`]). Taken by every attempt, put back only by one that
    /// committed; forgotten when a turn (which appends on its own) has run.
    head: Option<Chain>,
    /// After one trip was refused (another node appended, most likely), batches go the locked
    /// way for a while: `wait` more of them, twice as many after each refusal in a row (at
    /// most [`MAX_WAIT`]), none once a trip commits.
    refusals: Backoff,
}

/// Batches that go the locked way after a refused trip, at most.
const MAX_WAIT: u32 = 64;

#[derive(Default)]
struct Backoff {
    last: u32,
    wait: u32,
}

impl Held {
    /// The kept session if it is still alive, else one from the pool.
    async fn take(&mut self, pool: &AnyPool) -> Result<PoolConnection<Any>, sqlx::Error> {
        if let Some((mut conn, since)) = self.session.take() {
            if !reconnect::needs_check(since.elapsed()) {
                return Ok(conn);
            }
            match conn.ping().await {
                Ok(()) => return Ok(conn),
                Err(e) => {
                    tracing::info!(error = %e, "the committer's database session was dead; opening another");
                    reconnect::note_break();
                    reconnect::count_retry("idle_session");
                    conn.close_on_drop();
                }
            }
        }
        pool.acquire().await
    }

    fn keep(&mut self, conn: PoolConnection<Any>) {
        self.session = Some((conn, Instant::now()));
    }

    /// Another writer appended (a turn): the head known here is no longer the chain's.
    pub(super) fn forget_head(&mut self) {
        self.head = None;
    }

    /// The head a batch may go in one trip from, if any (taken: only a commit puts it back).
    fn head_for_one_trip(&mut self) -> Option<Chain> {
        let head = self.head.take()?;
        if head.last().0 == 0 {
            return None;
        }
        if self.refusals.wait > 0 {
            self.refusals.wait -= 1;
            return None;
        }
        Some(head)
    }

    fn refused(&mut self) {
        let last = (self.refusals.last * 2).clamp(1, MAX_WAIT);
        self.refusals = Backoff { last, wait: last };
    }
}

/// Commits a batch of jobs and answers each.
pub(super) async fn commit_jobs(pool: &AnyPool, held: &mut Held, batch: Vec<Job>) {
    let started = std::time::Instant::now();
    metrics::histogram!("imax_commit_batch_size").record(batch.len() as f64);
    let results = commit_batch(pool, held, &batch).await;
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
    held: &mut Held,
    batch: &[Job],
) -> Result<Vec<Result<(), CommitError>>, CommitError> {
    let engine = crate::store::Engine::of_pool(pool);
    let committing = match commit_attempt(pool, held, engine, batch, None).await {
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
    match commit_attempt(pool, held, engine, batch, committing).await {
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
    held: &mut Held,
    engine: Engine,
    batch: &[Job],
    committed: Option<Committing>,
) -> Result<Vec<Result<(), CommitError>>, Failed> {
    let mut conn = held.take(pool).await.map_err(Failed::before)?;
    let out = async {
        if let Some(earlier) = committed {
            if landed(&mut conn, engine, &earlier.last).await? {
                return Ok(earlier.results);
            }
        } else if let Some(head) = held.head_for_one_trip() {
            match one_trip::commit(&mut conn, engine, batch, &head).await? {
                OneTrip::Committed(results, next) => {
                    metrics::counter!("imax_commit_batches_total", "path" => "one_trip")
                        .increment(1);
                    held.refusals = Backoff::default();
                    held.head = Some(next);
                    return Ok(results);
                }
                OneTrip::Refused => {
                    metrics::counter!("imax_commit_one_trips_refused_total").increment(1);
                    held.refused();
                }
                OneTrip::Declined => {}
            }
        }
        metrics::counter!("imax_commit_batches_total", "path" => "locked").increment(1);
        commit_on(&mut conn, engine, batch, &mut held.head).await
    }
    .await;
    if out.as_ref().map_or(true, |r| r.iter().any(|r| r.is_err())) {
        conn.close_on_drop();
    } else {
        held.keep(conn);
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

/// The batch in one transaction: first the repeats its files left to the commit
/// ([`repeats`]), whose jobs are left out; then the others, all at once, or job by job when one
/// fails.
async fn commit_on(
    conn: &mut AnyConnection,
    engine: crate::store::Engine,
    batch: &[Job],
    head: &mut Option<Chain>,
) -> Result<Vec<Result<(), CommitError>>, Failed> {
    let (mut tx, mut chain) = begin_batch(conn, engine).await?;
    let repeated = repeats::look_up(&mut tx, batch)
        .await
        .map_err(Failed::before)?;
    let writing: Vec<&Job> = batch
        .iter()
        .zip(&repeated)
        .filter(|(_, r)| r.is_none())
        .map(|(job, _)| job)
        .collect();
    // Usually every job succeeds: apply them all in one transaction, without savepoints (on
    // PostgreSQL each statement is a round trip, and the committer is the one writer).
    let failed = apply_batch(&mut tx, engine, &writing, &mut chain)
        .await
        .err();
    let Some(e) = failed else {
        let results = answers(&repeated, writing.iter().map(|_| Ok(())).collect());
        let results = finish(tx, &chain, results).await?;
        *head = Some(chain);
        return Ok(results);
    };
    // Nothing of this transaction is committed, whether or not the rollback completes (the
    // connection is closed if it does not).
    if reconnect::is_broken(&e) || tx.rollback().await.is_err() {
        return Err(Failed::before(e));
    }
    if let [job] = writing[..] {
        let failure = CommitError::of_job(conn, job, &e).await;
        return Ok(answers(&repeated, vec![Err(failure)]));
    }
    // A job failed: do it again, each job in its own savepoint, so that one failing job does
    // not sink the others.
    let (mut tx, mut chain) = begin_batch(conn, engine).await?;
    let mut results = Vec::with_capacity(writing.len());
    for job in writing {
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
    let results = finish(tx, &chain, answers(&repeated, results)).await?;
    *head = Some(chain);
    Ok(results)
}

/// Each job's answer: [`CommitError::Repeats`] where the commit found the transmission its file
/// repeats, else the next of `written` (the other jobs' results, in order).
fn answers(
    repeated: &[Option<Duplicate>],
    written: Vec<Result<(), CommitError>>,
) -> Vec<Result<(), CommitError>> {
    let mut written = written.into_iter();
    repeated
        .iter()
        .map(|r| match r {
            Some(d) => Err(CommitError::Repeats(d.clone())),
            None => written
                .next()
                .unwrap_or_else(|| Err(CommitError::Unknown("no result for a job".into()))),
        })
        .collect()
}

async fn apply(conn: &mut AnyConnection, job: &Job, chain: &mut Chain) -> Result<(), sqlx::Error> {
    // The job's record is the next one of the chain.
    apply_effects(conn, job, chain.next_seq()).await?;
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
    batch: &[&Job],
    chain: &mut Chain,
) -> Result<(), sqlx::Error> {
    let mut messages: Vec<NewRow> = Vec::new();
    // Job `j`'s record is written as the chain's `first + j`-th.
    let first = chain.next_seq();
    for (seq, job) in (first..).zip(batch) {
        for effect in &job.effects {
            match effect {
                Effect::InsertMessage(m) => {
                    messages.push((&**m, receipt_record(m, &job.audit, seq)));
                }
                other => super::effect::apply_effect(conn, other, (&job.audit, seq)).await?,
            }
        }
    }
    let entries: Vec<&AuditEntry> = batch.iter().map(|j| &j.audit).collect();
    // Per message: its row, an inline body (2), a listing (1) and its id for the notices (1).
    let params = messages.len() * (MESSAGE_PARAMS + 4) + entries.len() * Records::PARAMS;
    // Listings of database bodies (to end, and count) exist beside PostgreSQL only.
    let listed = messages.iter().any(|(m, _)| m.claim_upload);
    if params <= MAX_PARAMS_AT_ONCE && (engine == Engine::Postgres || !listed) {
        return write_at_once(conn, engine, &messages, chain, &entries).await;
    }
    write_messages(conn, &messages).await?;
    for part in entries.chunks(MAX_ROWS_PER_INSERT) {
        chain.append_all(conn, part).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
