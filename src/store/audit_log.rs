//! Reads of the audit chain that its checkpoints and the operators' endpoints need.

use sqlx::AnyPool;

/// The newest record's sequence number and hash.
pub async fn head(pool: &AnyPool) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(pool)
        .await
}

/// The hash of record `seq`, if it is there.
pub async fn hash_at(pool: &AnyPool, seq: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(seq)
        .fetch_optional(pool)
        .await
}

/// How many records the chain holds (its newest sequence number).
pub async fn records(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
        .fetch_one(pool)
        .await
}
