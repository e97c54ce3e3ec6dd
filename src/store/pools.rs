//! The database's pools: how each engine's sessions are opened and what every session is set
//! to as it opens.

use super::{reconnect, StoreError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The file a `sqlite://` URL names (none for in-memory databases).
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then_some(path)
}

/// PostgreSQL sessions that carry whole chunks (uploads' writes, which commit without waiting
/// for the disk, and downloads' reads; see
/// [`ChunkBodies`](super::bodies::ChunkBodies)'s `uploads`); a few suffice, as each statement
/// carries a whole chunk.
pub(super) async fn upload_pool(url: &str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        // Each session keeps buffers of a chunk's size: a few, so that memory stays flat.
        .max_connections(4)
        .min_connections(0)
        .test_before_acquire(false)
        // A session that may have died unseen (a restart) is checked first (`reconnect`).
        .before_acquire(reconnect::check_before_use)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET synchronous_commit = off").await?;
                postgres_session(conn).await
            })
        })
        .connect_with(AnyConnectOptions::from_str(url)?)
        .await
}

/// SQLite's pool: the file created if missing (owner-only), every connection in WAL mode with
/// each commit fsynced.
pub(super) async fn sqlite_pool(url: &str) -> Result<AnyPool, StoreError> {
    if let Some(path) = sqlite_path(url) {
        crate::ground::private::sqlite_file(Path::new(path))?;
    }
    // Create the file if missing (the Any driver passes the URL through).
    let url = if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    };
    let options = AnyConnectOptions::from_str(&url)?;
    AnyPoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        // A file on this machine does not hang up: no ping before each use
        // (each one is a trip to the connection's thread and back).
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL: readers never wait for the writer. FULL: each commit is
                // fsynced, so a receipt is never sent for a row a power cut could
                // take back. The log is checkpointed by a task of the committer's,
                // not by a commit. (A memory-mapped file was tried for reads: a
                // growing database is mapped again and again, which cost more than
                // the reads saved.)
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_MS};
                         PRAGMA wal_autocheckpoint = 0;"
                );
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(StoreError::from)
}

/// How long a SQLite session waits for a lock before it fails (`busy_timeout`, set as each
/// session opens).
pub(crate) const SQLITE_BUSY_MS: u32 = 10_000;

/// PostgreSQL's pool of `sessions` sessions (at least 2), each checked before use when it may
/// have died unseen (`reconnect`).
pub(super) async fn postgres_pool(url: &str, sessions: u32) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)?;
    AnyPoolOptions::new()
        .max_connections(sessions.max(2))
        .min_connections(1)
        // No round trip before each statement: sqlx pings every session as it
        // returns to the pool, so one used recently is alive. One that may have
        // died unseen (idle long, or since a restart was noticed) is pinged
        // first, and a statement whose session broke is retried where that is
        // safe (`reconnect`): a restart of the database is invisible to clients.
        .test_before_acquire(false)
        .before_acquire(reconnect::check_before_use)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| Box::pin(async move { postgres_session(conn).await }))
        .connect_with(options)
        .await
        .map_err(StoreError::from)
}

/// What every PostgreSQL session of the gateway's is set to as it opens. The gateway runs
/// short, indexed statements, each kind prepared once per session:
///
/// * `plan_cache_mode = force_generic_plan`: each kind is planned once per session (again
///   when statistics change), never per call. Left to choose, PostgreSQL compares the generic
///   plan's cost with the average of the custom plans made so far; once the first automatic
///   `ANALYZE` raised the estimates, that average (still weighed down by the cheap plans made
///   on empty tables) stayed below the generic plan's cost, and the caller's context was
///   planned again on every call: 0.77 ms of planning for 0.09 ms of execution, most of
///   PostgreSQL's CPU. The gateway's statements are written so that an index leads them
///   whatever the values (searches put in only the conditions given, listings page by key
///   ranges), so a plan for particular values buys nothing; [`Store::file_context`]'s
///   `+m.to_mailbox`, `+m.received_at` is where an index had to be kept from leading.
/// * no JIT compilation and no parallel workers: both start only from a large cost
///   estimate, and a plan made while tables were new (a fresh database, then the first
///   automatic `ANALYZE` of some tables but not others) can estimate thousands of rows
///   where there is one. The caller's context then took 1.9 s of LLVM compilation on every
///   execution, or 9 ms launching two workers, instead of 0.4 ms, and SendFile fell to 5
///   requests a second.
///
/// [`Store::file_context`]: super::Store::file_context
async fn postgres_session(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "SET plan_cache_mode = force_generic_plan; SET jit = off;
         SET max_parallel_workers_per_gather = 0",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a session of `pool` says `setting` is.
    async fn shown(pool: &AnyPool, setting: &str) -> String {
        sqlx::query_scalar(&format!("SHOW {setting}"))
            .fetch_one(pool)
            .await
            .expect("show")
    }

    /// Runs where the tests have a PostgreSQL server (`IMAX_TEST_POSTGRES`, as `scripts/test`
    /// gives its PostgreSQL passes); elsewhere there is nothing to check.
    #[tokio::test]
    async fn postgres_sessions_plan_once_and_neither_compile_nor_launch_workers() {
        let Ok(url) = std::env::var("IMAX_TEST_POSTGRES") else {
            return;
        };
        sqlx::any::install_default_drivers();
        let pools = [
            postgres_pool(&url, 2).await.expect("pool"),
            upload_pool(&url).await.expect("uploads"),
        ];
        for pool in &pools {
            assert_eq!(shown(pool, "jit").await, "off");
            assert_eq!(shown(pool, "max_parallel_workers_per_gather").await, "0");
            assert_eq!(shown(pool, "plan_cache_mode").await, "force_generic_plan");
        }
        assert_eq!(shown(&pools[1], "synchronous_commit").await, "off");
        for pool in pools {
            pool.close().await;
        }
    }
}
