//! Embedded, versioned schema migrations.
//!
//! A gateway refuses to start against a schema newer than it knows, so an old binary can never
//! write rows a newer schema would misread.

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
        )
    };
}

/// The same schema for each engine, version by version.
const SQLITE: &[&str] = schema!("sqlite");
const POSTGRES: &[&str] = schema!("postgres");

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 10;

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
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
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
        tracing::info!(version, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// The schema version the database is at (0 before the first migration).
pub async fn current(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(pool)
        .await
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
