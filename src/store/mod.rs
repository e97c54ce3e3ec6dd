//! Persistence: the database (directory, message rows, audit chain) and the body store.
//!
//! The store guarantees the gateway's "nothing lost, nothing half-visible" promise:
//!
//! * a body is streamed to a staging file, hashed on the way, fsynced, and moved into place
//!   ([`bodies`]) *before* its row is committed, so a visible row always has its body;
//! * rows and their audit records are committed together by the [`committer`], which groups
//!   concurrent requests into one transaction (one fsync for many requests);
//! * at start-up, staging leftovers are removed and, after an unclean stop, bodies without a row
//!   are swept.
//!
//! SQL is written to run on SQLite and PostgreSQL alike (`$n` placeholders, epoch integers).

/// Runs `$body` in one write transaction (`BEGIN IMMEDIATE`, so writers queue instead of
/// failing) that also appends `$audit`: a change and its audit record stand or fall together.
/// The body's value is returned.
macro_rules! audited {
    ($pool:expr, $audit:expr, |$tx:ident| $body:block) => {{
        let mut $tx = $pool.begin_with("BEGIN IMMEDIATE").await?;
        let out = $body;
        $crate::audit::append(&mut $tx, $audit).await?;
        $tx.commit().await?;
        Ok(out)
    }};
}

pub mod accounts;
pub mod bodies;
pub mod committer;
pub mod mailboxes;
pub mod messages;
mod migrate;
pub mod operators;
pub mod profiles;
pub mod sessions;

pub use bodies::{BodyStore, SealedBody, StagedBody};
pub use committer::{Committer, Effect, NewMessage};
pub use migrate::SCHEMA_VERSION;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The database pool plus the body store and the group committer.
#[derive(Debug, Clone)]
pub struct Store {
    pub pool: SqlitePool,
    pub bodies: BodyStore,
    pub committer: Committer,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("body store: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported database URL {0:?}: this build supports sqlite://")]
    UnsupportedUrl(String),
    #[error("the database schema is version {found}, newer than this gateway's {supported}; upgrade the gateway")]
    SchemaTooNew { found: i64, supported: i64 },
}

impl Store {
    /// Opens (creating if needed) the database at `url` and the body store under `data_dir`,
    /// applies migrations, and cleans up after any earlier crash.
    pub async fn open(url: &str, data_dir: &Path) -> Result<Store, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        }
        std::fs::create_dir_all(data_dir)?;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: each commit is fsynced, so a receipt is never sent for a row a power cut
            // could take back.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        migrate::run(&pool).await?;
        let bodies = BodyStore::open(&data_dir.join("messages"))?;
        let committer = Committer::start(pool.clone());
        let store = Store {
            pool,
            bodies,
            committer,
        };
        Ok(store)
    }

    /// Removes staging leftovers; if the last stop was not clean, also removes bodies that no
    /// row refers to (moved into place, then the process died before its row committed).
    ///
    /// Only the serving gateway calls this, holding the data directory's lock: an `imax admin`
    /// command running beside a live gateway must never sweep that gateway's uploads in flight.
    pub async fn recover(&self) -> Result<(), StoreError> {
        let removed_staged = self.bodies.clear_staging()?;
        let mut orphans = 0usize;
        if !self.bodies.take_clean_mark()? {
            let keys = self.bodies.all_keys()?;
            for key in keys {
                let known: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM messages WHERE body_key = $1")
                        .bind(&key)
                        .fetch_optional(&self.pool)
                        .await?;
                if known.is_none() {
                    self.bodies.remove(&key)?;
                    orphans += 1;
                }
            }
        }
        if removed_staged + orphans > 0 {
            tracing::warn!(
                removed_staged,
                orphans,
                "removed leftovers of an interrupted run"
            );
        }
        Ok(())
    }

    /// Finishes queued writes and closes the pool.
    pub async fn close(&self) {
        self.committer.stop().await;
        self.pool.close().await;
    }

    /// Closes after the gateway stopped serving, marking a clean stop so that the next start
    /// need not sweep for orphan bodies.
    pub async fn close_clean(&self) {
        self.committer.stop().await;
        if let Err(e) = self.bodies.mark_clean() {
            tracing::warn!(error = %e, "could not mark a clean stop");
        }
        self.pool.close().await;
    }
}
