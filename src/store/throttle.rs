//! Counts of password attempts per key (a client's address or network, or a principal that
//! does not exist), in `auth_throttle`, shared by every node. Each count is one statement, so
//! concurrent attempts on several nodes are never lost. The policy (limits, keys) is
//! `access::Throttle`'s.

use super::StoreError;
use sqlx::AnyPool;

/// This part of the store (`Store::throttle()`).
#[derive(Clone, Copy)]
pub struct ThrottleCounts<'a> {
    pool: &'a AnyPool,
}

impl<'a> ThrottleCounts<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        ThrottleCounts { pool }
    }

    /// The count and the start of its window for `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_as(
            "SELECT failures, window_start FROM auth_throttle WHERE client_addr = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await?)
    }
    /// Counts one attempt at `now`, starting a new window when `window_secs` have passed since the
    /// last began; returns the count in the window.
    pub async fn count(&self, key: &str, now: i64, window_secs: i64) -> Result<i64, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_scalar(
            "INSERT INTO auth_throttle (client_addr, failures, window_start) VALUES ($1, 1, $2)
         ON CONFLICT (client_addr) DO UPDATE SET
           failures = CASE WHEN $2 - auth_throttle.window_start >= $3 THEN 1
                           ELSE auth_throttle.failures + 1 END,
           window_start = CASE WHEN $2 - auth_throttle.window_start >= $3 THEN $2
                               ELSE auth_throttle.window_start END
         RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(window_secs)
        .fetch_one(pool)
        .await?)
    }
    /// Gives one attempt back.
    pub async fn forgive(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool;
        sqlx::query(
            "UPDATE auth_throttle SET failures = failures - 1 WHERE client_addr = $1 AND failures >
            0",
        )
        .bind(key)
        .execute(pool)
        .await?;
        Ok(())
    }
    /// Forgets keys whose window began before `cutoff`.
    pub async fn forget_before(&self, cutoff: i64) -> Result<u64, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query("DELETE FROM auth_throttle WHERE window_start < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected(),
        )
    }
}
