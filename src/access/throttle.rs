//! Throttling of failed authentications per client address.
//!
//! After `max_failures` failures from one address inside a window, every request from that
//! address is refused with `RateLimited` until the window has passed. This slows guessing
//! across many M-IDs, which the per-account lock (3 failures) cannot see.
//!
//! The counts live in the database (`auth_throttle`), so every gateway node sharing it sees
//! the same counts: a guesser cannot spread attempts over the nodes of a load balancer. A
//! failure is one UPSERT, so concurrent failures on several nodes never lose a count.

use crate::clock::{to_epoch, SharedClock};
use sqlx::AnyPool;
use std::net::IpAddr;
use time::Duration;

#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    clock: SharedClock,
    pool: AnyPool,
}

impl Throttle {
    pub fn new(max_failures: u32, window_secs: i64, clock: SharedClock, pool: AnyPool) -> Self {
        Self {
            max_failures,
            window: Duration::seconds(window_secs),
            clock,
            pool,
        }
    }

    /// True when requests from `addr` must be refused now.
    pub async fn is_blocked(&self, addr: IpAddr) -> Result<bool, sqlx::Error> {
        let now = to_epoch(self.clock.now());
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT failures, window_start FROM auth_throttle WHERE client_addr = $1",
        )
        .bind(addr.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(matches!(row, Some((n, start))
            if n >= i64::from(self.max_failures) && now - start < self.window.whole_seconds()))
    }

    /// Counts a failure from `addr`; a window that has passed starts again.
    pub async fn record_failure(&self, addr: IpAddr) -> Result<(), sqlx::Error> {
        let now = to_epoch(self.clock.now());
        sqlx::query(
            "INSERT INTO auth_throttle (client_addr, failures, window_start) VALUES ($1, 1, $2)
             ON CONFLICT (client_addr) DO UPDATE SET
               failures = CASE WHEN $2 - auth_throttle.window_start >= $3 THEN 1
                               ELSE auth_throttle.failures + 1 END,
               window_start = CASE WHEN $2 - auth_throttle.window_start >= $3 THEN $2
                                   ELSE auth_throttle.window_start END",
        )
        .bind(addr.to_string())
        .bind(now)
        .bind(self.window.whole_seconds())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets addresses whose window has passed (housekeeping).
    pub async fn forget_old(&self) -> Result<u64, sqlx::Error> {
        let cutoff = to_epoch(self.clock.now()) - self.window.whole_seconds();
        Ok(
            sqlx::query("DELETE FROM auth_throttle WHERE window_start < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
