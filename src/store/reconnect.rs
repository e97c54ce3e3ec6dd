//! A database that comes back is invisible to clients (issue 25, item 7).
//!
//! When PostgreSQL restarts (or an administrator ends its sessions), every pooled session dies
//! at once, and the pool only learns it when a statement fails on one. Two things keep that
//! failure from reaching a client:
//!
//! * **Checked before use, only when it can have died unseen.** A session is handed out as it
//!   is when it went back to the pool recently (sqlx pings every session as it returns, so it
//!   was alive then) — under load, always, at no cost. A session idle for longer than
//!   [`IDLE_CHECK_AFTER`], or idle since before a break was last seen on any session, is
//!   pinged first (one round trip) and replaced by a fresh one if it is dead. Pinging every
//!   session on every use (`test_before_acquire`) costs a round trip per statement, for a
//!   failure that happens on a restart: measured on the 2-core development machine with
//!   PostgreSQL beside the gateway, `SELECT 1` alone took 118-136 µs without it and 193-219
//!   µs with it, and 8 tasks on 2 sessions did 10,500 statements/s without it, 7,900 with it.
//! * **Retried once, only where nothing can commit twice.** A statement that fails because
//!   its session broke ([`is_broken`]) is run once more on a fresh one when that is certain to
//!   be safe: a read; a write whose second run changes nothing the first did (the same values
//!   set again, or an insert whose unique key tells that the first one landed); the group
//!   committer's transaction when it broke before `COMMIT` was sent, or, when it broke on
//!   `COMMIT`, after the audit chain shows the batch is not there (see the committer). Each
//!   retry counts in `imax_database_retries_total{what}`.
//!
//! One mark of the last break serves the whole process (one database, a few pools): a break
//! seen by one pool makes the others check their idle sessions too, which costs a ping each.

use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, Connection};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A pooled session idle this long is pinged before it is used. A restart takes longer than
/// this, so the sessions it killed are all older; one killed sooner (an administrator ending
/// sessions) is found by the statement that fails on it, which is then retried.
pub const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// When this process began measuring (the mark below counts from it).
fn epoch() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Nanoseconds after [`epoch`] of the last broken session seen, plus one (0: none yet).
static LAST_BREAK: AtomicU64 = AtomicU64::new(0);

/// Notes that a session was found broken: every session idle since then is checked.
pub(crate) fn note_break() {
    let at = epoch().elapsed().as_nanos() as u64 + 1;
    LAST_BREAK.fetch_max(at, Ordering::Relaxed);
}

/// Whether a session idle for `idle_for` must be pinged before it is used.
pub(crate) fn needs_check(idle_for: Duration) -> bool {
    if idle_for >= IDLE_CHECK_AFTER {
        return true;
    }
    match LAST_BREAK.load(Ordering::Relaxed) {
        0 => false,
        mark => {
            let since_break = epoch()
                .elapsed()
                .saturating_sub(Duration::from_nanos(mark - 1));
            idle_for >= since_break
        }
    }
}

/// Counts one retry (or one dead session replaced before use) of kind `what`.
pub(crate) fn count_retry(what: &'static str) {
    metrics::counter!("imax_database_retries_total", "what" => what).increment(1);
}

/// The pools' `before_acquire` hook: pings a session that may have died unseen
/// ([`needs_check`]); a dead one is closed, and the pool opens a fresh one in its place.
pub(crate) fn check_before_use(
    conn: &mut AnyConnection,
    meta: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if !needs_check(meta.idle_for) {
            return Ok(true);
        }
        match conn.ping().await {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::info!(error = %e, "a pooled database session was dead; opening another");
                note_break();
                count_retry("idle_session");
                Ok(false)
            }
        }
    })
}

/// Whether `e` says the session broke (rather than the statement being refused): an I/O error,
/// or PostgreSQL's connection-exception class (08) and its shutdown codes (57P01
/// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now). A pool that is closed or
/// timed out is not a broken session: retrying would not help.
pub fn is_broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.len() == 5 && (c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03"))
        }),
        _ => false,
    }
}

/// Runs a read (or a statement whose second run changes nothing the first did) and, if its
/// session broke, once more on a fresh one.
pub(crate) async fn once_more<T, F, Fut>(what: &'static str, run: F) -> Result<T, sqlx::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    match run().await {
        Err(e) if is_broken(&e) => {
            tracing::info!(error = %e, what, "a database session broke; retrying once");
            note_break();
            count_retry(what);
            run().await
        }
        done => done,
    }
}

/// [`once_more`] for an insert guarded by a unique key only this caller writes: a unique
/// violation on the second run means the first run landed (its answer was lost with its
/// session), so it is success, not a second row.
pub(crate) async fn insert_once_more<F, Fut>(what: &'static str, run: F) -> Result<u64, sqlx::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, sqlx::Error>>,
{
    match run().await {
        Err(e) if is_broken(&e) => {
            tracing::info!(error = %e, what, "a database session broke; retrying once");
            note_break();
            count_retry(what);
            match run().await {
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(1),
                done => done,
            }
        }
        done => done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_checked_when_idle_long_or_since_a_break() {
        // Sessions used a moment ago are used as they are, until a break is seen.
        assert!(!needs_check(Duration::from_millis(5)));
        assert!(needs_check(IDLE_CHECK_AFTER));
        std::thread::sleep(Duration::from_millis(20));
        note_break();
        // Idle since before the break: checked; returned to the pool after it: not.
        assert!(needs_check(Duration::from_millis(15)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!needs_check(Duration::from_millis(5)));
    }

    #[test]
    fn only_broken_sessions_count_as_broken() {
        assert!(is_broken(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset
        ))));
        assert!(!is_broken(&sqlx::Error::PoolTimedOut));
        assert!(!is_broken(&sqlx::Error::PoolClosed));
        assert!(!is_broken(&sqlx::Error::RowNotFound));
    }
}
