//! Throttling of failed authentications per client address.
//!
//! After `max_failures` failures from one address inside a window, every request from that
//! address is refused with `RateLimited` until the window has passed. This slows guessing
//! across many M-IDs, which the per-account lock (3 failures) cannot see.

use crate::clock::SharedClock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    clock: SharedClock,
    failures: Mutex<HashMap<IpAddr, (u32, OffsetDateTime)>>,
}

impl Throttle {
    pub fn new(max_failures: u32, window_secs: i64, clock: SharedClock) -> Self {
        Self {
            max_failures,
            window: Duration::seconds(window_secs),
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// True when requests from `addr` must be refused now.
    pub fn is_blocked(&self, addr: IpAddr) -> bool {
        let now = self.clock.now();
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        matches!(map.get(&addr), Some((n, start)) if *n >= self.max_failures && now - *start < self.window)
    }

    pub fn record_failure(&self, addr: IpAddr) {
        let now = self.clock.now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, (_, start)| now - *start < window);
        }
        let entry = map.entry(addr).or_insert((0, now));
        if now - entry.1 >= self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn blocks_after_max_failures_until_window_passes() {
        let clock = Arc::new(ManualClock::starting_now());
        let t = Throttle::new(3, 60, clock.clone());
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(!t.is_blocked(ip));
            t.record_failure(ip);
        }
        assert!(t.is_blocked(ip));
        assert!(!t.is_blocked([10, 0, 0, 2].into()));
        clock.advance(Duration::seconds(61));
        assert!(!t.is_blocked(ip));
    }
}
