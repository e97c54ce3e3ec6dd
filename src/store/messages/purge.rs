//! The history purge's rows (R26), the sandbox's sooner (issue 31).

use super::{Messages, StoreError};
use crate::clock::to_epoch;

/// What a purge removes (R26): messages received before `history`, and the sandbox's
/// (issue 31: both its mailboxes are sandboxes, so its recipient tells) before `sandbox`.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub history: time::OffsetDateTime,
    pub sandbox: time::OffsetDateTime,
}

/// The rows a purge takes, over `$1` (history cutoff) and `$2` (sandbox cutoff).
const PURGED: &str = "(received_at < $1 OR (received_at < $2 AND to_mailbox IN
    (SELECT id FROM mailboxes WHERE kind = 'sandbox')))";

impl Messages<'_> {
    /// Messages received before `cutoff`, and their bytes.
    pub async fn count_before(&self, cutoff: Cutoffs) -> Result<(u64, u64), StoreError> {
        let pool = self.pool;
        let (n, bytes): (i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM messages WHERE
            {PURGED}"
        ))
        .bind(to_epoch(cutoff.history))
        .bind(to_epoch(cutoff.sandbox))
        .fetch_one(pool)
        .await?;
        Ok((n.max(0) as u64, bytes.max(0) as u64))
    }
    /// Deletes up to `batch` of the oldest messages received before `cutoff`, in one transaction
    /// with `audit` (which records how many). Returns their body keys and sizes, for the caller
    /// to remove the bodies after the commit.
    pub async fn purge_before(
        &self,
        cutoff: Cutoffs,
        batch: u32,
        audit: crate::audit::AuditEntry,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let pool = self.pool;
        // On PostgreSQL several nodes may purge at once: each takes rows no other holds.
        let engine = crate::store::Engine::of_pool(pool);
        let lock = match engine {
            crate::store::Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::store::Engine::Sqlite => "",
        };
        let removed = self
            .writer
            .change(pool, async |tx| {
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
                    "SELECT id, body_key, size_bytes FROM messages WHERE {PURGED}
                  ORDER BY received_at, id LIMIT $3{lock}"
                ))
                .bind(to_epoch(cutoff.history))
                .bind(to_epoch(cutoff.sandbox))
                .bind(batch as i64)
                .fetch_all(&mut *tx)
                .await?;
                let mut removed = Vec::with_capacity(rows.len());
                for (id, key, size) in rows {
                    let n = sqlx::query("DELETE FROM messages WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 1 {
                        // Bodies in the database (all on PostgreSQL, small ones beside
                        // SQLite) go with their rows, in the same transaction.
                        sqlx::query("DELETE FROM body_chunks WHERE body_key = $1")
                            .bind(&key)
                            .execute(&mut *tx)
                            .await?;
                        removed.push((key, size));
                    }
                }
                // Nothing older: nothing changed, nothing recorded.
                if removed.is_empty() {
                    return Ok((removed, None));
                }
                let audit = audit.clone().detail(format!(
                    "removed {} messages received before {}",
                    removed.len(),
                    crate::clock::rfc3339(cutoff.history)
                ));
                Ok((removed, Some(audit)))
            })
            .await?;
        Ok(removed
            .into_iter()
            .map(|(key, size)| (key, size.max(0) as u64))
            .collect())
    }
}
