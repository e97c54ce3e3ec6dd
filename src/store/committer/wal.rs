//! SQLite's write-ahead log, kept short: copied back into the database file off the commit
//! path, and started again from its beginning once it has grown.
//!
//! Left to SQLite, the commit that takes the log past 1,000 pages copies it back (every
//! connection is opened with `wal_autocheckpoint = 0`, `Store::open`): that request and every
//! request of its batch then wait for a few megabytes of copying and an fsync of the database
//! file, which was most of the slowest 1 % of SendFile answers under load. So a task copies it
//! every [`CHECKPOINT_EVERY`] with a `PASSIVE` checkpoint, which takes no lock a writer or
//! reader waits for.
//!
//! A `PASSIVE` checkpoint alone never lets the log start again under steady load: the writer
//! goes back to the log's first frame only when, as it begins, every frame has been copied and
//! no reader still reads the log, and with a commit every few milliseconds the copy never
//! catches up. Issue 29 measured the log at 800 MB after eight seconds of SendFile, every
//! commit writing to new pages of a growing file (the kernel allocating page cache and blocks
//! for each, a tenth of the gateway's CPU) and the file never given back. So once the log
//! holds [`RESTART_AT`] frames (`limits.sqlite_wal_restart_mb`), the task takes the
//! committer's turn (the committer waits between two batches, so nothing is written
//! meanwhile), copies what the `PASSIVE` copy left (a few milliseconds of commits) and
//! restarts the log (`RESTART`), waiting at most
//! [`READERS_WAIT_MS`] for readers of the old frames: those are short reads; a long one (a
//! backup) makes this round give up, and the next round tries again. The log file keeps its
//! size, so the next commits overwrite pages the kernel already holds.

use super::{turn, Queued};
use crate::store::SQLITE_BUSY_MS;
use sqlx::{AnyPool, Row};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Frames (pages of 4 KiB) in the log past which it is restarted, unless
/// `limits.sqlite_wal_restart_mb` says otherwise: 256 MiB, a few seconds of
/// SendFile 10 KiB at full speed on the reference machine. A restart pauses the committer for
/// 10 to 25 ms (the rest of the log copied, the database file fsynced); every 32 MiB, that
/// doubled the p99 of SendFile under load.
pub(super) const RESTART_AT: i64 = 65_536;

/// How long a restart waits for readers of the old frames before it gives up for this round
/// (the committer is paused meanwhile).
const READERS_WAIT_MS: u32 = 20;

/// What `PRAGMA wal_checkpoint` answered: whether it was kept from finishing, and the frames
/// in the log.
#[derive(Debug, Clone, Copy)]
struct Log {
    busy: bool,
    frames: i64,
}

impl Log {
    fn of(row: &sqlx::any::AnyRow) -> Result<Log, sqlx::Error> {
        Ok(Log {
            busy: row.try_get::<i64, _>(0)? != 0,
            frames: row.try_get(1)?,
        })
    }
}

/// The task: checkpoints, and restarts, until the committer's queue is gone.
pub(super) async fn checkpoints(
    pool: AnyPool,
    queue: mpsc::WeakSender<Queued>,
    restart_at: Arc<AtomicI64>,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = Instant::now();
        let log = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
            .and_then(|row| Log::of(&row))
        {
            Ok(log) => log,
            Err(e) => {
                if !pool.is_closed() {
                    tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
                }
                continue;
            }
        };
        metrics::histogram!("imax_wal_checkpoint_seconds").record(started.elapsed().as_secs_f64());
        metrics::gauge!("imax_wal_frames").set(log.frames as f64);
        if log.frames < restart_at.load(Ordering::Relaxed) {
            continue;
        }
        let Some(queue) = queue.upgrade() else {
            return;
        };
        restart(&pool, &queue).await;
    }
}

/// Copies the rest of the log and starts it again, in the committer's turn.
async fn restart(pool: &AnyPool, queue: &mpsc::Sender<Queued>) {
    let Some(_turn) = turn(queue).await else {
        return;
    };
    let started = Instant::now();
    let restarted = match pool.acquire().await {
        Ok(mut conn) => {
            let log = restart_on(&mut conn).await;
            // A session left with the short busy timeout is not given back.
            if log.is_err() {
                conn.close_on_drop();
            }
            log
        }
        Err(e) => Err(e),
    };
    metrics::histogram!("imax_wal_restart_seconds").record(started.elapsed().as_secs_f64());
    let outcome = match restarted {
        Ok(log) if !log.busy => "restarted",
        Ok(_) => "readers",
        Err(e) => {
            tracing::warn!(error = %e, "could not restart the write-ahead log");
            "failed"
        }
    };
    metrics::counter!("imax_wal_restarts_total", "outcome" => outcome).increment(1);
}

/// `RESTART` on `conn`, waiting at most [`READERS_WAIT_MS`] for readers, then the session's
/// usual busy timeout back.
async fn restart_on(conn: &mut sqlx::AnyConnection) -> Result<Log, sqlx::Error> {
    sqlx::query(&format!("PRAGMA busy_timeout = {READERS_WAIT_MS}"))
        .execute(&mut *conn)
        .await?;
    let log = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| Log::of(&row));
    sqlx::query(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_MS}"))
        .execute(&mut *conn)
        .await?;
    log
}
