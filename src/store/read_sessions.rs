//! Sessions kept out of the pool between the reads every request makes.
//!
//! sqlx pings every session it takes back into its pool (a spawned task, and on PostgreSQL a
//! round trip that wakes the database's backend; on SQLite a trip to the connection's thread
//! and back). The reads of every system-to-system call (the callers' contexts, a file's) paid
//! one each, for nothing: a session is wanted again at once. [`Kept`] keeps up to `slots`
//! sessions between reads and lends them; a read that finds every kept session busy borrows
//! one from the pool as before, so reads are never fewer at once than without it. A kept
//! session is lent again as it is when it was used a moment ago, and pinged first when it idled
//! for [`reconnect::IDLE_CHECK_AFTER`] or since a break was seen (as the pool checks its idle
//! sessions, `reconnect`); one whose read failed, or was abandoned, goes back to the pool
//! (pinged there, or closed), never to the kept ones.
//!
//! The pool must keep sessions for everything else: `slots` is at most four, and at most the
//! pool's size less three (the committer's session, and two for everything else;
//! [`Kept::slots_for`]).

use super::direct::DirectReads;
use super::reconnect;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Sessions kept for reads, and lent.
#[derive(Debug)]
pub(crate) struct Kept {
    pool: AnyPool,
    /// SQLite's reads on the asking thread, tried before a session (`store::direct`).
    direct: Option<DirectReads>,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<(PoolConnection<Any>, Instant)>>,
}

/// A session lent for one read; [`Lent::done`] keeps it for the next.
pub(crate) struct Lent<'a> {
    conn: PoolConnection<Any>,
    /// `None`: borrowed from the pool (every kept session was busy); it goes back there.
    kept: Option<(&'a Kept, OwnedSemaphorePermit)>,
}

impl Kept {
    pub(crate) fn new(pool: AnyPool, slots: usize) -> Kept {
        Kept {
            pool,
            direct: None,
            slots: Arc::new(Semaphore::new(slots)),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Reads of the SQLite file at `path` made on the asking thread first (`store::direct`).
    pub(crate) fn with_direct(mut self, path: Option<&std::path::Path>) -> Kept {
        self.direct = path.map(DirectReads::new);
        self
    }

    /// The reads made on the asking thread, for SQLite.
    pub(super) fn direct(&self) -> Option<&DirectReads> {
        self.direct.as_ref()
    }

    /// How many sessions a pool of `size` can keep for reads: all but the committer's and
    /// two for everything else (administration's turns, sign-ins' writes, housekeeping).
    pub(crate) fn slots_for(size: u32) -> usize {
        size.saturating_sub(3).min(4) as usize
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(PoolConnection<Any>, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A kept session (the one used last), or one from the pool when every kept one is busy.
    pub(crate) async fn lend(&self) -> Result<Lent<'_>, sqlx::Error> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Ok(Lent {
                conn: self.pool.acquire().await?,
                kept: None,
            });
        };
        let popped = self.idle().pop();
        let conn = match popped {
            Some((conn, since)) if !reconnect::needs_check(since.elapsed()) => conn,
            Some((mut conn, _)) => match conn.ping().await {
                Ok(()) => conn,
                Err(e) => {
                    tracing::info!(error = %e, "a kept database session was dead; opening another");
                    reconnect::note_break();
                    reconnect::count_retry("idle_session");
                    conn.close_on_drop();
                    drop(conn);
                    self.pool.acquire().await?
                }
            },
            None => self.pool.acquire().await?,
        };
        Ok(Lent {
            conn,
            kept: Some((self, slot)),
        })
    }

    /// Gives every kept session back to the pool, and keeps none from now on (before the pool
    /// closes, which waits for them).
    pub(crate) fn release(&self) {
        self.slots.close();
        self.idle().clear();
    }
}

impl Lent<'_> {
    /// The read succeeded: a kept session is kept for the next one.
    pub(crate) fn done(self) {
        if let Some((kept, _slot)) = self.kept {
            if !kept.slots.is_closed() {
                kept.idle().push((self.conn, Instant::now()));
            }
        }
    }
}

impl std::ops::Deref for Lent<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool() -> (tempfile::TempDir, AnyPool) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("pool");
        (dir, pool)
    }

    async fn read(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT 1").fetch_one(conn).await
    }

    #[tokio::test]
    async fn a_read_keeps_its_session_and_a_crowd_borrows_from_the_pool() {
        let (_dir, pool) = pool().await;
        let kept = Kept::new(pool.clone(), 1);
        let mut a = kept.lend().await.expect("lend");
        assert_eq!(read(&mut a).await.expect("read"), 1);
        // Every kept session is busy: the next read borrows one from the pool, given back there.
        let mut b = kept.lend().await.expect("lend");
        assert!(b.kept.is_none());
        read(&mut b).await.expect("read");
        b.done();
        a.done();
        assert_eq!(
            kept.idle().len(),
            1,
            "the kept session waits for the next read"
        );
        // A read that failed (or was abandoned) lets its session go back to the pool.
        let mut c = kept.lend().await.expect("lend");
        assert!(sqlx::query("SELECT nothing FROM nowhere")
            .execute(&mut *c)
            .await
            .is_err());
        drop(c);
        assert!(kept.idle().is_empty());
        // Released (the store closes): nothing is kept any more, and the pool closes.
        kept.lend().await.expect("lend").done();
        kept.release();
        assert!(kept.idle().is_empty());
        let d = kept.lend().await.expect("lend");
        assert!(d.kept.is_none());
        d.done();
        assert!(kept.idle().is_empty());
        tokio::time::timeout(std::time::Duration::from_secs(5), pool.close())
            .await
            .expect("the pool closes");
    }

    #[test]
    fn the_pool_keeps_sessions_for_everything_else() {
        assert_eq!(Kept::slots_for(2), 0);
        assert_eq!(Kept::slots_for(6), 3);
        assert_eq!(Kept::slots_for(8), 4);
        assert_eq!(Kept::slots_for(64), 4);
    }
}
