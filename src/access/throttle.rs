//! Throttling of failed authentications per client (an IPv4 address, or an IPv6 /64).
//!
//! After `max_failures` failures from one client inside a window, every request from it is
//! refused with `RateLimited` until the window has passed. This slows guessing across many
//! M-IDs and mailboxes, which the per-account and per-mailbox locks cannot see.
//!
//! An attempt is counted *before* its password is checked ([`Throttle::claim`]), in one
//! statement, so a burst of parallel guesses is counted whole: only the first `max_failures`
//! of a window are checked at all. A right password gives its count back
//! ([`Throttle::forgive`]). The counts live in the database (`auth_throttle`), so every
//! gateway node sharing it sees the same counts: a guesser cannot spread attempts over the
//! nodes of a load balancer.
//!
//! The same table counts attempts at principals that do not exist (`principal:` keys), so
//! that such an attempt writes to the database exactly as one at a real M-ID does: neither
//! the answer nor its timing tells which M-IDs and mailboxes exist.

use crate::clock::{to_epoch, SharedClock};
use crate::ground::ClientKey;
use crate::store::{Store, StoreError};
use std::net::IpAddr;
use time::Duration;

#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    ipv6_prefix_len: u8,
    clock: SharedClock,
    store: Store,
}

impl Throttle {
    pub fn new(cfg: &crate::config::Throttle, clock: SharedClock, store: Store) -> Self {
        Self {
            max_failures: cfg.max_failures,
            window: Duration::seconds(cfg.window_secs),
            ipv6_prefix_len: cfg.ipv6_prefix_len,
            clock,
            store,
        }
    }

    /// The key a client's attempts are counted under.
    pub fn client_key(&self, addr: IpAddr) -> String {
        ClientKey::of(addr, self.ipv6_prefix_len).to_string()
    }

    /// True when requests from `addr` must be refused now.
    pub async fn is_blocked(&self, addr: IpAddr) -> Result<bool, StoreError> {
        let row = self.store.throttle().get(&self.client_key(addr)).await?;
        Ok(self.blocks(row))
    }

    /// Whether a client's count (failures, start of their window), as read, refuses it now.
    pub fn blocks(&self, row: Option<(i64, i64)>) -> bool {
        let now = to_epoch(self.clock.now());
        matches!(row, Some((n, start))
            if n >= i64::from(self.max_failures) && now - start < self.window.whole_seconds())
    }

    /// Counts an attempt from `addr` before its password is checked; false when the client
    /// is over its limit and the attempt must be refused unchecked. A window that has passed
    /// starts again.
    pub async fn claim(&self, addr: IpAddr) -> Result<bool, StoreError> {
        let n = self.count(&self.client_key(addr)).await?;
        Ok(n <= i64::from(self.max_failures))
    }

    /// Counts an attempt at a principal that does not exist (see the module docs).
    pub async fn claim_unknown(&self, kind: &str, name: &str) -> Result<(), StoreError> {
        let name: String = name.chars().take(32).collect();
        self.count(&format!("principal:{kind}:{}", name.to_ascii_uppercase()))
            .await
            .map(|_| ())
    }

    async fn count(&self, key: &str) -> Result<i64, StoreError> {
        let now = to_epoch(self.clock.now());
        self.store
            .throttle()
            .count(key, now, self.window.whole_seconds())
            .await
    }

    /// Gives back an attempt that turned out right (it was no failure).
    pub async fn forgive(&self, addr: IpAddr) -> Result<(), StoreError> {
        self.store.throttle().forgive(&self.client_key(addr)).await
    }

    /// Forgets keys whose window has passed (housekeeping).
    pub async fn forget_old(&self) -> Result<u64, StoreError> {
        let cutoff = to_epoch(self.clock.now()) - self.window.whole_seconds();
        self.store.throttle().forget_before(cutoff).await
    }
}
