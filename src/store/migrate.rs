//! Embedded, versioned schema migrations, applied by sqlx's migrator.
//!
//! Each engine has its own directory (`migrations/sqlite`, `migrations/postgres`) with the same
//! numbered files. sqlx's migrator applies them in order, each in its own transaction, records
//! each one's SHA-384 in `_sqlx_migrations`, and refuses to start when an applied migration's
//! file has changed since (an edited migration is noticed, not silently skipped).
//!
//! Nodes are upgraded one at a time, so for a while older binaries run on the schema the first
//! upgraded node migrated to. Each migration therefore says which older binaries may keep
//! running on it ([`COMPATIBLE_BACK_TO`]: a new nullable column or table is harmless to them; a
//! changed meaning is not), recorded in `schema_version`, the table every build reads (builds
//! before the migrator read only it). A gateway starts, and says it is ready, on its own schema
//! or a newer one every step of which is compatible with it; on any other it refuses, so an old
//! binary never writes rows a newer schema would misread.
//!
//! Any number of nodes may start at once on a fresh database: the whole run, from the first
//! table touched to the last record, holds one lock (PostgreSQL: a session advisory lock on
//! the migrating connection; SQLite: an exclusive lock on a file beside the database), so one
//! node migrates and the others wait, then find the work done.

use super::{Engine, StoreError};
use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool};
use std::borrow::Cow;
use std::path::Path;

/// Each engine's migrations: (file name, SQL), version `n` being the `n`-th file.
macro_rules! migrations {
    ($dir:literal: $($file:literal),+ $(,)?) => {
        &[$(($file, include_str!(concat!("../../migrations/", $dir, "/", $file, ".sql")))),+]
    };
}

/// The files of every version, in order (the same names for each engine).
macro_rules! schema {
    ($dir:literal) => {
        migrations!($dir:
            "0001_init",
            "0002_operators",
            "0003_recertification",
            "0004_mailbox_profiles",
            "0005_web_sessions",
            "0006_tracs_checks",
            "0007_shared_throttle",
            "0008_shared_bodies",
            "0009_mailbox_lock",
            "0010_audit_request_id",
            "0011_password_history_id",
            "0012_mailbox_use",
            "0013_profile_names",
            "0014_replies",
            "0015_certification_scope",
            "0016_same_content_by_sha",
            "0017_smart_lockout",
            "0018_profile_changes",
            "0019_organizations",
            "0020_compliance",
            "0021_notifications",
            "0022_two_factor",
            "0023_allowed_networks",
            "0024_sandbox",
            "0025_passkeys",
            "0026_notice_mails",
            "0027_ledger_notices",
            "0028_properties_by_mailbox",
            "0029_receipt_records",
            "0030_directory_marks",
            "0031_attempts_unmarked",
            "0032_same_content_by_digest",
            "0033_small_bodies_compressed",
        )
    };
}

type Files = &'static [(&'static str, &'static str)];

/// The same schema for each engine, version by version.
const SQLITE: Files = schema!("sqlite");
const POSTGRES: Files = schema!("postgres");
/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 33;

/// For each version that older binaries may keep running on, the oldest such binary's schema
/// version. A version not listed is compatible with its own binaries only. Version 10 adds
/// a nullable column (`audit_log.request_id`) that version 9 binaries leave empty; version 11
/// gives SQLite's `password_history` the `id` PostgreSQL's always had (equal to the rowid
/// older builds order by); version 12 adds `mailboxes.last_used_at`, which older builds do not
/// move (a mailbox used only through them meanwhile looks unused for that while, far shorter
/// than the inactivity period); version 13 adds the profile's first and last names beside
/// `contact_name`, which this build keeps writing as "first last" for older builds; version 14
/// adds `messages.in_reply_to`, which older builds neither write nor read (they list a reply
/// as an ordinary message); version 15 adds tables older builds do not know
/// (`cycle_certifications`, `certification_deadlines`) and nullable flag columns on property
/// assignments: an older build's certification still lands in `recertifications`, which this
/// build reads as covering that coordinator's properties; version 16 only reorders an index's
/// columns. Version 17 is not listed: older builds would make H- and C-IDs as industry M-IDs
/// (`accounts.affiliation`) and count mailbox failures per mailbox, not per M-ID. Version 18
/// (`0018_profile_changes`) adds nullable columns version 17 builds neither write nor read
/// (their profile saves leave the last change as it was). Version 19 (`0019_organizations`) is
/// not listed: older builds would create properties without an owner and mailboxes without an
/// organization, and open a property's mailbox to M-IDs not affiliated with it (R6). Version
/// 20 (`0020_compliance`) is not listed: older builds would let the Help Desk restore M-IDs (R16's REAC-TAC) and certify
/// users without training (R20). Version 21 (`0021_notifications`) adds tables older builds do
/// not know (`subscriptions`, `notices`): an older node's arrivals are stored without notices,
/// nothing misread. Version 22 (`0022_two_factor`) is not listed: older builds
/// would sign an enrolled person in on the password alone, and take a session waiting for its
/// second factor for a signed-in one. Version 23 (`0023_allowed_networks`) is not listed: older
/// builds would ignore the address allow-lists.
/// Version 24 (`0024_sandbox`, issue 31) is not listed: older builds would read the sandbox's
/// mailboxes and vendors as kinds they do not know.
/// Version 25 (`0025_passkeys`) is not listed: older builds would sign a person whose only
/// second factor is a passkey in on the password alone.
/// Version 26 (`0026_notice_mails`) is not listed: an older build would mail a notice whose
/// mail was composed already as a new mail (another Message-ID), a duplicate nobody drops.
/// Version 27 (`0027_ledger_notices`, issue 31) is not listed: older builds would claim the
/// ledger's notices (kind `ledger_missing`) and mail them as arrivals, or hold them unsent.
/// Version 28 (`0028_properties_by_mailbox`) only adds an index. Version 29
/// (`0029_receipt_records`) adds `messages.audit_seq`, which older builds leave empty: the
/// proofs of their messages are found by reading the audit log, as they were. Version 30
/// (`0030_directory_marks`) adds a table older builds never read and triggers that mark their
/// writes to the directory as every build's. Version 31 (`0031_attempts_unmarked`) only
/// stops marking the counts of wrong passwords in a row, which no build decides from a
/// remembered context. Version 32 (`0032_same_content_by_digest`) only reorders an index's
/// columns. Version 33 (`0033_small_bodies_compressed`) only changes how PostgreSQL stores new
/// chunks of bodies, which every build reads alike.
const COMPATIBLE_BACK_TO: &[(i64, i64)] = &[
    (10, 9),
    (11, 9),
    (12, 9),
    (13, 9),
    (14, 9),
    (15, 9),
    (16, 9),
    (18, 17),
    (21, 20),
    (28, 27),
    (29, 27),
    (30, 27),
    (31, 27),
    (32, 27),
    (33, 27),
];

/// How the database's schema fits this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFit {
    /// This build's version.
    Current,
    /// Newer (nodes are being upgraded), and every newer step is compatible with this build.
    NewerCompatible { found: i64 },
    /// Newer, with a step this build would misread: this node must be upgraded.
    Incompatible { found: i64 },
    /// Older: not migrated yet (only before start-up has run the migrations).
    Older { found: i64 },
}

impl SchemaFit {
    /// Whether this build may serve on the schema.
    pub fn serves(self) -> bool {
        matches!(self, SchemaFit::Current | SchemaFit::NewerCompatible { .. })
    }
}

/// How the schema fits this build (`/readyz`, start-up).
pub async fn fit<'c, E>(conn: E) -> Result<SchemaFit, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    // One row: the version, and the newest version any step after this build's needs (each
    // step counts as its own version when it declares nothing).
    let (found, needs): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(MAX(version), 0),
                COALESCE(MAX(CASE WHEN version > $1 THEN COALESCE(compatible_back_to, version) END), 0)
           FROM schema_version",
    )
    .bind(SCHEMA_VERSION)
    .fetch_one(conn)
    .await?;
    Ok(match found.cmp(&SCHEMA_VERSION) {
        std::cmp::Ordering::Equal => SchemaFit::Current,
        std::cmp::Ordering::Less => SchemaFit::Older { found },
        std::cmp::Ordering::Greater if needs <= SCHEMA_VERSION => {
            SchemaFit::NewerCompatible { found }
        }
        std::cmp::Ordering::Greater => SchemaFit::Incompatible { found },
    })
}

/// One engine's embedded migrations, as a source for sqlx's migrator (which checksums each).
#[derive(Debug)]
struct Embedded(Engine);

impl Embedded {
    fn migrations(&self) -> Vec<Migration> {
        let files = match self.0 {
            Engine::Sqlite => SQLITE,
            Engine::Postgres => POSTGRES,
        };
        (1i64..)
            .zip(files)
            .map(|(version, &(file, sql))| {
                let name = file.split_once('_').map_or(file, |(_, name)| name);
                let description = Cow::Owned(name.replace('_', " "));
                // A file that must run outside a transaction says so on its first line (SQLite's
                // table rebuilds, which need the foreign keys off).
                let no_tx = sql.starts_with("-- no-transaction");
                let sql = Cow::Borrowed(sql);
                Migration::new(version, description, MigrationType::Simple, sql, no_tx)
            })
            .collect()
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

/// PostgreSQL's advisory lock for the whole run (sqlx's migrator takes one of its own inside).
const PG_LOCK: i64 = 7071001;

/// Brings the schema up to [`SCHEMA_VERSION`] on a connection of its own (closed afterwards, so
/// a lock can never stay behind on a pooled connection), holding the run's lock throughout.
///
/// `sqlite_file` is the SQLite database's file: its lock is a file beside it (`….migrating`),
/// shared by every process that opens that database, whatever its data directory.
pub async fn run(
    pool: &AnyPool,
    engine: Engine,
    sqlite_file: Option<&Path>,
) -> Result<(), StoreError> {
    let _file_lock = match sqlite_file {
        Some(db) => {
            let mut name = db.as_os_str().to_owned();
            name.push(".migrating");
            let path = std::path::PathBuf::from(name);
            let file = crate::ground::private::file_options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            let locked = tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await;
            Some(locked.map_err(std::io::Error::other)??)
        }
        None => None,
    };
    let mut conn = pool.acquire().await?.detach();
    if engine == Engine::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(PG_LOCK)
            .execute(&mut conn)
            .await?;
    }
    let outcome = run_locked(&mut conn, engine).await;
    use sqlx::Connection;
    let _ = conn.close().await;
    outcome
}

async fn run_locked(conn: &mut AnyConnection, engine: Engine) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at
            BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let mut migrator = Migrator::new(Embedded(engine))
        .await
        .map_err(|e| StoreError::Migrate(e.to_string()))?;
    adopt_hand_kept_history(conn, &migrator).await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    if current > SCHEMA_VERSION {
        // Before version 10 there is no compatible_back_to column, and nothing is compatible.
        let fit = if current >= 10 {
            fit(&mut *conn).await?
        } else {
            SchemaFit::Incompatible { found: current }
        };
        if !fit.serves() {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        tracing::warn!(
            found = current,
            this_build = SCHEMA_VERSION,
            "the schema is newer than this build's but compatible with it: serving until this node is upgraded"
        );
        // The newer build's migrations are unknown here; this build's must still be intact.
        migrator.set_ignore_missing(true);
    }
    outside_transactions(conn, &migrator).await?;
    migrator.run_direct(&mut *conn).await.map_err(|e| match e {
        MigrateError::VersionMismatch(version) => StoreError::MigrationChanged { version },
        e => StoreError::Migrate(e.to_string()),
    })?;
    record_versions(conn, current).await
}

/// Applies the migrations that must run outside a transaction (their first line says
/// `-- no-transaction`: SQLite's table rebuilds, which turn the foreign keys off), each after
/// the versions before it, and records them for sqlx's migrator, which would run every file in
/// a transaction of its own (sqlx's SQLite driver does not honour `no_tx`). The file holds its
/// own `BEGIN` and `COMMIT`.
async fn outside_transactions(
    conn: &mut AnyConnection,
    migrator: &Migrator,
) -> Result<(), StoreError> {
    let migrate = |e: MigrateError| StoreError::Migrate(e.to_string());
    let outside: Vec<&Migration> = migrator.iter().filter(|m| m.no_tx).collect();
    if outside.is_empty() {
        return Ok(());
    }
    conn.ensure_migrations_table().await.map_err(migrate)?;
    for m in outside {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
        if applied.is_some() {
            continue;
        }
        let mut before = Migrator {
            migrations: Cow::Owned(
                migrator
                    .iter()
                    .filter(|b| b.version < m.version)
                    .cloned()
                    .collect(),
            ),
            ..Migrator::DEFAULT
        };
        before.set_ignore_missing(true);
        before.run_direct(&mut *conn).await.map_err(migrate)?;
        let started = std::time::Instant::now();
        sqlx::Executor::execute(&mut *conn, &*m.sql).await?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, $2, TRUE, $3, $4)",
        )
        .bind(m.version)
        .bind(m.description.to_string())
        .bind(m.checksum.to_vec())
        .bind(started.elapsed().as_nanos() as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Databases made before the migrator kept their history in `schema_version` only; their
/// applied versions are recorded for sqlx's migrator, with the checksums of this build's files
/// (the files those databases were made with).
async fn adopt_hand_kept_history(
    conn: &mut AnyConnection,
    migrator: &Migrator,
) -> Result<(), StoreError> {
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_version ORDER BY 1")
        .fetch_all(&mut *conn)
        .await?;
    if applied.is_empty() {
        return Ok(());
    }
    conn.ensure_migrations_table()
        .await
        .map_err(|e| StoreError::Migrate(e.to_string()))?;
    let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await?;
    if known > 0 {
        return Ok(());
    }
    for m in migrator.iter().filter(|m| applied.contains(&m.version)) {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, $2, TRUE, $3, 0)",
        )
        .bind(m.version)
        .bind(m.description.to_string())
        .bind(m.checksum.to_vec())
        .execute(&mut *conn)
        .await?;
    }
    tracing::info!(
        versions = applied.len(),
        "recorded the schema's history for sqlx's migrator"
    );
    Ok(())
}

/// Records in `schema_version` every version of this build not yet there, with what older
/// builds may keep running on it.
async fn record_versions(conn: &mut AnyConnection, before: i64) -> Result<(), StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    for version in (before + 1)..=SCHEMA_VERSION {
        let back_to = COMPATIBLE_BACK_TO
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, b)| *b);
        // Before version 10 the table has no compatible_back_to column.
        let insert = if version >= 10 {
            "INSERT INTO schema_version (version, applied_at, compatible_back_to) VALUES ($1, $2, $3)"
        } else {
            "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)"
        };
        let mut q = sqlx::query(insert).bind(version).bind(now);
        if version >= 10 {
            q = q.bind(back_to);
        }
        q.execute(&mut *conn).await?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_up_to_the_current_one_has_a_migration_for_each_engine() {
        for files in [SQLITE, POSTGRES] {
            assert_eq!(files.len() as i64, SCHEMA_VERSION);
            // Version n is the n-th file, numbered from 0001 without a gap.
            let numbers: Vec<usize> = files
                .iter()
                .map(|(file, _)| file.get(..4).and_then(|n| n.parse().ok()).unwrap_or(0))
                .collect();
            assert_eq!(numbers, (1..=files.len()).collect::<Vec<_>>());
        }
    }
}
