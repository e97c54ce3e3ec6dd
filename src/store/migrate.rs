//! Embedded, versioned schema migrations.
//!
//! A gateway refuses to start against a schema newer than it knows, so an old binary can never
//! write rows a newer schema would misread.

use super::StoreError;
use sqlx::AnyPool;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_operators.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_recertification.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_mailbox_profiles.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_web_sessions.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_tracs_checks.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 6;

pub async fn run(pool: &AnyPool, engine: super::Engine) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    let mut tx = super::begin_write(pool).await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO schema_version (version, applied_at) VALUES ($1, strftime('%s','now'))",
        )
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tracing::info!(version, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_up_to_the_current_one_has_a_migration() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    }
}
