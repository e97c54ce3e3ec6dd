//! Remembered credentials, so that argon2 (~25 ms) is not paid on every request.
//!
//! A verified password is remembered as HMAC-SHA-256 under a per-process random key, never in
//! plain text, together with the principal's `auth_epoch`. An entry counts only while the epoch
//! stored in the database still matches: any password or state change bumps the epoch, so the
//! entry is forgotten at once (and on every node, since each request reads the current epoch).

use crate::clock::SharedClock;
use crate::ground::constant_time_eq;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

type HmacSha256 = Hmac<Sha256>;

/// At most this many principals are remembered; beyond it, expired entries are swept and, if
/// still full, the cache is cleared (a cold cache costs only argon2 time).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
struct Entry {
    tag: [u8; 32],
    epoch: i64,
    expires: OffsetDateTime,
}

#[derive(Debug)]
pub struct CredentialCache {
    key: [u8; 32],
    ttl: Duration,
    clock: SharedClock,
    entries: Mutex<HashMap<String, Entry>>,
}

impl CredentialCache {
    pub fn new(ttl_secs: i64, clock: SharedClock) -> Self {
        let mut key = [0u8; 32];
        // Without randomness, fall back to an all-zero key only if the OS refuses: entries
        // are still keyed per principal and epoch; nothing leaks in plain text.
        let _ = getrandom::getrandom(&mut key);
        Self {
            key,
            ttl: Duration::seconds(ttl_secs),
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn tag(&self, principal: &str, password: &str) -> [u8; 32] {
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        mac.update(principal.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// True when this exact password was verified for `principal` at this `epoch` recently.
    pub fn check(&self, principal: &str, password: &str, epoch: i64) -> bool {
        if self.ttl <= Duration::ZERO {
            return false;
        }
        let tag = self.tag(principal, password);
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(principal) {
            Some(e) => e.epoch == epoch && e.expires > now && constant_time_eq(&e.tag, &tag),
            None => false,
        }
    }

    pub fn remember(&self, principal: &str, password: &str, epoch: i64) {
        if self.ttl <= Duration::ZERO {
            return;
        }
        let tag = self.tag(principal, password);
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            principal.to_string(),
            Entry {
                tag,
                epoch,
                expires: now + self.ttl,
            },
        );
    }

    pub fn forget(&self, principal: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(principal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn remembers_until_epoch_changes_or_ttl_passes() {
        let clock = Arc::new(ManualClock::starting_now());
        let c = CredentialCache::new(300, clock.clone());
        c.remember("M1", "pw", 7);
        assert!(c.check("M1", "pw", 7));
        assert!(!c.check("M1", "pw2", 7));
        assert!(!c.check("M1", "pw", 8), "epoch bump forgets");
        clock.advance(Duration::seconds(301));
        assert!(!c.check("M1", "pw", 7), "ttl forgets");
        c.remember("M1", "pw", 7);
        c.forget("M1");
        assert!(!c.check("M1", "pw", 7));
    }
}
