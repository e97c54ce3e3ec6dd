//! Embedded, versioned schema migrations.
//!
//! Nodes are upgraded one at a time, so for a while older binaries run on the schema the first
//! upgraded node migrated to. Each migration therefore says which older binaries may keep
//! running on it ([`COMPATIBLE_BACK_TO`]: a new nullable column or table is harmless to them; a
//! changed meaning is not), recorded in `schema_version.compatible_back_to`. A gateway starts,
//! and says it is ready, on its own schema or a newer one every step of which is compatible
//! with it; on any other it refuses, so an old binary never writes rows a newer schema would
//! misread.

use super::StoreError;
use sqlx::AnyPool;

/// Each engine's migrations, by file name; version `n` is the `n`-th file.
macro_rules! migrations {
    ($dir:literal: $($file:literal),+ $(,)?) => {
        &[$(include_str!(concat!("../../migrations/", $dir, "/", $file))),+]
    };
}

/// The files of every version, in order (the same names for each engine).
macro_rules! schema {
    ($dir:literal) => {
        migrations!($dir:
            "0001_init.sql",
            "0002_operators.sql",
            "0003_recertification.sql",
            "0004_mailbox_profiles.sql",
            "0005_web_sessions.sql",
            "0006_tracs_checks.sql",
            "0007_shared_throttle.sql",
            "0008_shared_bodies.sql",
            "0009_mailbox_lock.sql",
            "0010_audit_request_id.sql",
            "0011_password_history_id.sql",
        )
    };
}

/// The same schema for each engine, version by version.
const SQLITE: &[&str] = schema!("sqlite");
const POSTGRES: &[&str] = schema!("postgres");

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 11;

/// For each version that older binaries may keep running on, the oldest such binary's schema
/// version. A version not listed is compatible with its own binaries only. Version 10 adds
/// a nullable column (`audit_log.request_id`) that version 9 binaries leave empty; version 11
/// gives SQLite's `password_history` the `id` PostgreSQL's always had (equal to the rowid
/// older builds order by).
const COMPATIBLE_BACK_TO: &[(i64, i64)] = &[(10, 9), (11, 9)];

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

/// Brings the schema up to [`SCHEMA_VERSION`]. Any number of nodes may start at once on a
/// fresh database: the lock is taken before any table is touched (PostgreSQL: an advisory
/// lock held by the migrating transaction; SQLite: `BEGIN IMMEDIATE`), so one node migrates
/// and the others wait, then find the work done.
pub async fn run(pool: &AnyPool, engine: super::Engine) -> Result<(), StoreError> {
    let mut tx = super::begin_write(pool).await?;
    if engine == super::Engine::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7071001)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at
            BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await?;
    if current > SCHEMA_VERSION {
        // Before version 10 there is no compatible_back_to column, and nothing is compatible.
        let fit = if current >= 10 {
            fit(&mut *tx).await?
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
        tx.commit().await?;
        return Ok(());
    }
    let migrations = match engine {
        super::Engine::Sqlite => SQLITE,
        super::Engine::Postgres => POSTGRES,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let numbered = (1i64..).zip(migrations.iter());
    for (version, sql) in numbered.filter(|(v, _)| *v > current) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let Some((_, back_to)) = COMPATIBLE_BACK_TO.iter().find(|(v, _)| *v == version) {
            sqlx::query("UPDATE schema_version SET compatible_back_to = $1 WHERE version = $2")
                .bind(back_to)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tracing::info!(version, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_up_to_the_current_one_has_a_migration_for_each_engine() {
        for migrations in [SQLITE, POSTGRES] {
            assert_eq!(migrations.len() as i64, SCHEMA_VERSION);
        }
    }
}
