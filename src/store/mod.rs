//! Persistence: the database (directory, message rows, audit chain) and the body store.
//!
//! The store guarantees the gateway's "nothing lost, nothing half-visible" promise:
//!
//! * a body is streamed into the body store ([`bodies`]: files beside SQLite, chunks in the
//!   database on PostgreSQL), hashed on the way, and made durable *before* its row is
//!   committed, so a visible row always has its whole body;
//! * rows and their audit records are committed together by the [`committer`], the one write
//!   path: it groups concurrent requests into one transaction (one fsync for many requests),
//!   and gives administration's check-then-write changes their turn in the same queue;
//! * bodies whose row never committed are removed: for files at start-up (staging leftovers,
//!   and after an unclean stop bodies without a row); in the database by age, at start-up and
//!   hourly, since other nodes may have uploads in flight.
//!
//! SQL is written to run on SQLite and PostgreSQL alike (`$n` placeholders, epoch integers).

pub mod accounts;
pub mod allow_lists;
pub mod audit_log;
mod audit_search;
pub mod backup;
pub mod bodies;
pub mod certifications;
pub mod check;
mod columns;
pub mod committer;
mod context;
mod direct;
pub mod internal;
pub mod ledger;
pub mod mailboxes;
pub mod messages;
mod migrate;
pub mod notices;
pub mod operators;
pub mod organizations;
pub mod passkeys;
mod placeholders;
mod pools;
pub(crate) use placeholders::{placeholders, placeholders_at};
pub mod profiles;
pub mod reac_tac;
mod read_sessions;
pub mod reconnect;
pub mod sandbox;
pub mod second_factors;
pub mod sessions;
#[cfg(test)]
pub(crate) mod test_databases;
pub mod throttle;
pub mod training;

pub use bodies::{BodyReader, BodyStore, SealedBody, StagedBody};
pub use committer::{CommitError, Committer, Effect, NewMessage, RepeatCheck};
pub use context::{CallerContext, DuplicateQuery, FileContext, UsesAt};
pub use migrate::{SchemaFit, SCHEMA_VERSION};
pub use pools::sqlite_path;
pub(crate) use pools::SQLITE_BUSY_MS;
use pools::{postgres_pool, sqlite_pool, upload_pool};

use bodies::{ChunkBodies, FileBodies};
use sqlx::{AnyConnection, AnyPool};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::{Engine, POSTGRES_SESSIONS, REMEMBERED_CALLERS};

impl Engine {
    pub fn of_pool(pool: &AnyPool) -> Engine {
        match pool.connect_options().database_url.scheme() {
            "sqlite" => Engine::Sqlite,
            _ => Engine::Postgres,
        }
    }
}

/// Starts a write transaction on a connection the caller holds, holding the write lock from
/// the start, so writers queue instead of failing halfway. SQLite: `BEGIN IMMEDIATE`.
/// PostgreSQL: the audit chain's lock ([`audit_log::BEGIN_LOCKED`]), which every write
/// transaction takes (each appends to the chain) and which serialises the nodes' writers,
/// taken in the same round trip as `BEGIN`.
pub async fn begin_write_on(
    conn: &mut AnyConnection,
    engine: Engine,
) -> Result<sqlx::Transaction<'_, sqlx::Any>, sqlx::Error> {
    use sqlx::Connection;
    match engine {
        Engine::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await,
        Engine::Postgres => conn.begin_with(audit_log::BEGIN_LOCKED).await,
    }
}

/// A readiness answer and when the database gave it (`None`: it did not answer).
type ReadyAnswer = (std::time::Instant, Option<SchemaFit>);

/// The database pool plus the body store and the group committer.
#[derive(Debug, Clone)]
pub struct Store {
    /// Private: the rest of the gateway goes through the handles below, so SQL lives here.
    pool: AnyPool,
    pub engine: Engine,
    pub bodies: BodyStore,
    pub committer: Committer,
    /// Reads shared by concurrent requests (`context`).
    shared: context::SharedReads,
    /// Callers' contexts this node read, served again while the directory is unchanged.
    remembered: Arc<context::Remembered>,
    /// Sessions kept for the reads of every call, so that none goes back to the pool (and is
    /// pinged there) between them ([`read_sessions`]).
    reads: Arc<read_sessions::Kept>,
    /// The last readiness answer and when it was asked ([`Store::schema_fit_cached`]).
    ready: Arc<tokio::sync::Mutex<Option<ReadyAnswer>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("body store: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("the database schema is version {found}, newer than this gateway's {supported}; upgrade the gateway")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("schema migration {version} was applied from a file that differs from this build's; a migration is never edited once released (add a new one)")]
    MigrationChanged { version: i64 },
    #[error("schema migration: {0}")]
    Migrate(String),
}

impl StoreError {
    /// A row with the same key exists already (a unique index refused the write).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(d)) if d.is_unique_violation())
    }
}

impl Store {
    /// People: M-IDs, their rights, passwords, failed attempts and activity.
    pub fn accounts(&self) -> accounts::Accounts<'_> {
        accounts::Accounts::new(&self.pool, &self.committer)
    }
    /// TRACSMail IDs, properties, contracts and who may send for whom.
    pub fn mailboxes(&self) -> mailboxes::Mailboxes<'_> {
        mailboxes::Mailboxes::new(&self.pool, &self.committer)
    }
    /// Messages and broadcasts: folders, lookups, history.
    pub fn messages(&self) -> messages::Messages<'_> {
        messages::Messages::new(&self.pool, &self.committer)
    }
    /// What yearly certifications cover, and what lapses at their deadlines.
    pub fn certifications(&self) -> certifications::Certifications<'_> {
        certifications::Certifications::new(&self.pool, &self.committer)
    }
    /// HUD's own staff recertification: certifiers and their staff.
    pub fn internal(&self) -> internal::Internal<'_> {
        internal::Internal::new(&self.pool, &self.committer)
    }
    /// What vendors' sandbox mailboxes did (issue 31), for their certification reports.
    pub fn sandbox(&self) -> sandbox::Sandbox<'_> {
        sandbox::Sandbox::new(&self.pool)
    }
    /// What the TRACS round-trip ledger reads (issue 31).
    pub fn ledger(&self) -> ledger::Ledger<'_> {
        ledger::Ledger::new(&self.pool)
    }
    /// Organizations: owners, agents, service bureaus, CAs and HUD (issue 27).
    pub fn organizations(&self) -> organizations::Organizations<'_> {
        organizations::Organizations::new(&self.pool, &self.committer)
    }
    /// Coordinators, Help Desk staff and what they manage.
    pub fn operators(&self) -> operators::Operators<'_> {
        operators::Operators::new(&self.pool, &self.committer)
    }
    /// REAC-TAC staff (R16) and training records (Q24): the compliance records.
    pub fn reac_tac(&self) -> reac_tac::ReacTac<'_> {
        reac_tac::ReacTac::new(&self.pool, &self.committer)
    }
    /// Arrival notices: subscriptions and the outbox (issue 30).
    pub fn notices(&self) -> notices::Notices<'_> {
        notices::Notices::new(&self.pool, &self.committer)
    }
    pub fn training(&self) -> training::Training<'_> {
        training::Training::new(&self.pool, &self.committer)
    }
    /// Mailbox profiles (R23) and reset attempts.
    pub fn profiles(&self) -> profiles::Profiles<'_> {
        profiles::Profiles::new(&self.pool, &self.committer)
    }
    /// Second factors of the browser door (issue 30).
    pub fn second_factors(&self) -> second_factors::SecondFactors<'_> {
        second_factors::SecondFactors::new(&self.pool, &self.committer)
    }
    /// Passkeys of the browser door's second factor (issue 30).
    pub fn passkeys(&self) -> passkeys::Passkeys<'_> {
        passkeys::Passkeys::new(&self.pool, &self.committer)
    }
    /// Browser sessions.
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions::new(&self.pool)
    }
    /// The failed-password counts per client.
    pub fn throttle(&self) -> throttle::ThrottleCounts<'_> {
        throttle::ThrottleCounts::new(&self.pool)
    }
    /// How the database's schema fits this build (`/readyz`; rolling upgrades).
    pub async fn schema_fit(&self) -> Result<SchemaFit, StoreError> {
        Ok(migrate::fit(&self.pool).await?)
    }
    /// [`Store::schema_fit`] asked of the database at most once per `max_age`, however many
    /// ask (`/readyz`, which anyone reaching the listener may call: issue 25, item 8). Callers
    /// arriving while it is asked wait for that answer; a failure (`None`) is kept as long.
    pub async fn schema_fit_cached(&self, max_age: Duration) -> Option<SchemaFit> {
        let mut last = self.ready.lock().await;
        if let Some((at, fit)) = *last {
            if at.elapsed() < max_age {
                return fit;
            }
        }
        metrics::counter!("imax_readiness_database_checks_total").increment(1);
        let fit = match self.schema_fit().await {
            Ok(fit) => Some(fit),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: the database did not answer");
                None
            }
        };
        *last = Some((std::time::Instant::now(), fit));
        fit
    }
    /// The audit chain: appending, its head and length, walking it.
    pub fn audit_log(&self) -> audit_log::AuditLog<'_> {
        audit_log::AuditLog::new(&self.pool)
    }

    /// Opens (creating if needed) the database at `url` and the body store under `data_dir`,
    /// applies migrations, and cleans up after any earlier crash.
    /// Keeps `bytes` free on the data directory's filesystem: uploads are refused below.
    pub fn with_min_free_disk(mut self, bytes: u64) -> Store {
        self.bodies = self.bodies.with_min_free(bytes);
        self
    }

    /// Remembers at most `n` callers' contexts (`limits.remembered_callers`; 0: none).
    pub fn with_remembered_callers(mut self, n: usize) -> Store {
        self.remembered = Arc::new(context::Remembered::new(n));
        self
    }

    /// SQLite: restarts the write-ahead log once it holds `bytes` (`limits.sqlite_wal_restart_mb`).
    pub fn with_wal_restart(self, bytes: u64) -> Store {
        self.committer.restart_wal_at(bytes);
        self
    }

    /// Keeps bodies in the bucket `bodies.url` names, if any (issue 29; PostgreSQL only, as
    /// the configuration checks).
    pub fn with_bodies(mut self, settings: &crate::config::Bodies) -> Result<Store, StoreError> {
        if !settings.url.is_empty() {
            self.bodies = BodyStore::Objects(bodies::ObjectBodies::connect(
                &settings.url,
                &settings.s3_endpoint,
                bodies::Parts {
                    size: settings.s3_part_mib * 1024 * 1024,
                    in_flight: settings.s3_parts_in_flight,
                },
                self.pool.clone(),
            )?);
        }
        Ok(self)
    }

    pub async fn open(url: &str, data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_with_sessions(url, data_dir, POSTGRES_SESSIONS).await
    }

    /// [`Store::open`] with `sessions` PostgreSQL sessions for statements
    /// (`limits.postgres_sessions`).
    pub async fn open_with_sessions(
        url: &str,
        data_dir: &Path,
        sessions: u32,
    ) -> Result<Store, StoreError> {
        let engine = Engine::of_url(url).ok_or_else(|| {
            // Printed without its password (issue 25, item 8).
            StoreError::UnsupportedUrl(crate::config::redacted_url(url))
        })?;
        sqlx::any::install_default_drivers();
        crate::ground::private::dir(data_dir)?;
        let pool = match engine {
            Engine::Sqlite => sqlite_pool(url).await?,
            Engine::Postgres => postgres_pool(url, sessions).await?,
        };
        let sqlite_file = sqlite_path(url).filter(|_| engine == Engine::Sqlite);
        migrate::run(&pool, engine, sqlite_file.map(Path::new)).await?;
        let bodies = match engine {
            Engine::Sqlite => BodyStore::Files(
                FileBodies::open(&data_dir.join("messages"))?.with_database(pool.clone()),
            ),
            Engine::Postgres => BodyStore::Chunks(
                ChunkBodies::new(pool.clone()).with_upload_pool(upload_pool(url).await?),
            ),
        };
        let committer = Committer::start(pool.clone());
        let slots = read_sessions::Kept::slots_for(pool.options().get_max_connections());
        let reads =
            read_sessions::Kept::new(pool.clone(), slots).with_direct(sqlite_file.map(Path::new));
        let reads = Arc::new(reads);
        let store = Store {
            shared: context::SharedReads::start(reads.clone()),
            remembered: Arc::new(context::Remembered::new(REMEMBERED_CALLERS)),
            reads,
            ready: Arc::default(),
            pool,
            engine,
            bodies,
            committer,
        };
        Ok(store)
    }

    /// Removes what an interrupted run left behind. For files: staging leftovers and, if the
    /// last stop was not clean, bodies that no row refers to (moved into place, then the
    /// process died before its row committed). For database bodies: abandoned uploads, by age.
    ///
    /// Only the serving gateway calls this, holding the data directory's lock: an `imax admin`
    /// command running beside a live gateway must never sweep that gateway's uploads in flight.
    pub async fn recover(&self) -> Result<(), StoreError> {
        let files = match &self.bodies {
            BodyStore::Files(files) => files,
            BodyStore::Chunks(_) | BodyStore::Objects(_) => {
                self.sweep_abandoned_uploads().await?;
                return Ok(());
            }
        };
        let removed_staged = files.clear_staging()?;
        let mut orphans = 0usize;
        if !files.take_clean_mark()? {
            for key in files.all_keys()? {
                let known: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM messages WHERE body_key = $1")
                        .bind(&key)
                        .fetch_optional(&self.pool)
                        .await?;
                if known.is_none() {
                    files.remove(&key)?;
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

    /// Database bodies: removes uploads no node has touched for an hour (their node stopped
    /// between receiving and committing). Run at start-up and hourly by every node.
    pub async fn sweep_abandoned_uploads(&self) -> Result<u64, StoreError> {
        let removed = self
            .bodies
            .sweep_abandoned(bodies::chunks::STALE_SECS)
            .await?;
        if removed > 0 {
            tracing::warn!(
                removed,
                "removed uploads abandoned by a stopped gateway node"
            );
        }
        Ok(removed)
    }

    /// The statement pool's sessions: (open, idle). On PostgreSQL `limits.postgres_sessions`
    /// caps the first; busy sessions near it mean statements wait for one.
    pub fn pool_sessions(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    /// Finishes queued writes and closes the pool.
    pub async fn close(&self) {
        self.committer.stop().await;
        self.close_pools().await;
    }

    /// Closes the pool, and on PostgreSQL the uploads' own sessions with it.
    async fn close_pools(&self) {
        if let BodyStore::Chunks(chunks) = &self.bodies {
            chunks.close_uploads().await;
        }
        self.reads.release();
        self.pool.close().await;
    }

    /// Closes after the gateway stopped serving, marking a clean stop so that the next start
    /// need not sweep for orphan bodies.
    pub async fn close_clean(&self) {
        self.committer.stop().await;
        if let BodyStore::Files(files) = &self.bodies {
            if let Err(e) = files.mark_clean() {
                tracing::warn!(error = %e, "could not mark a clean stop");
            }
        }
        self.close_pools().await;
    }
}
