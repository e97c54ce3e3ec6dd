//! `[notifications]`: arrival notices and reminders mailed to a mailbox's subscribers (issue
//! 30), through the `[smtp]` relay.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    /// Minutes an arrival waits for others to share its mail: a subscriber gets one digest of
    /// everything that arrived meanwhile (one mail per file is noise); 0: one mail per arrival.
    pub digest_minutes: u64,
    /// Minutes after which the sender's subscribers are told that a message they sent was not
    /// retrieved yet; 0: never.
    pub not_retrieved_minutes: u64,
    /// Days after which the sender's subscribers are told that a TRACS file they sent got no
    /// reply (TRACS usually answers within a day or two); 0: never.
    pub not_answered_days: u64,
    /// Milliseconds between the sender's looks at the queue (a look is one indexed query).
    pub poll_ms: u64,
    /// Seconds a node holds the notices it claimed while it sends them; another node takes
    /// them over only after this (a node that died mid-send). Renewed before each mail, and
    /// more than `smtp.timeout_secs` (checked at load), so a mail ends before its lease.
    pub lease_secs: u64,
    /// The first retry after a failed send waits this many seconds, each further one twice
    /// the one before, up to an hour.
    pub retry_secs: u64,
    /// Failed sends of one notice before it is given up (counted as failed, logged).
    pub max_attempts: u32,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            digest_minutes: 15,
            not_retrieved_minutes: 2880,
            not_answered_days: 2,
            poll_ms: 5000,
            lease_secs: 300,
            retry_secs: 60,
            max_attempts: 10,
        }
    }
}

impl Notifications {
    /// The wait before retry `attempts` (1: the first): doubling from `retry_secs`, at most an
    /// hour.
    pub fn backoff_secs(&self, attempts: u32) -> u64 {
        let doubled = self
            .retry_secs
            .saturating_mul(1_u64 << attempts.saturating_sub(1).min(20));
        doubled.clamp(1, 3600)
    }

    /// Refuses values no gateway should run with.
    pub fn check(&self) -> Result<(), String> {
        if self.poll_ms == 0 || self.lease_secs == 0 || self.max_attempts == 0 {
            return Err(
                "notifications.poll_ms, lease_secs and max_attempts must be positive".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_to_an_hour() {
        let n = super::Notifications::default();
        assert_eq!(n.backoff_secs(1), 60);
        assert_eq!(n.backoff_secs(2), 120);
        assert_eq!(n.backoff_secs(30), 3600);
    }
}
