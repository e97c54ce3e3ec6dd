//! How many refused password attempts reach the permanent audit log.
//!
//! Every refused attempt (a wrong password, an unknown M-ID or iMAX ID, a locked M-ID) used to
//! append its own audit record. The audit log is permanent and chained, so a stranger could
//! grow it without bound just by guessing. Now each client (an address, or an IPv6 prefix:
//! the throttle's key) has `audit.failures_recorded_per_client` records per window of
//! `audit.failure_window_secs`; its further refusals in the window are counted here, in
//! memory, and become one summary record when the window ends ("N further refused attempts
//! from … at M-IDs …"). At most `audit.failure_clients_tracked` clients are tracked at once:
//! refusals from clients beyond that count in one shared summary. What a stranger can add to
//! the log is thus bounded per client and window, and this ledger's memory is bounded in all.
//!
//! Events that matter one by one are recorded whatever the count: a lock or a freeze (each
//! bounded by the locked principal's timed lock), and refusals of a right password.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// At most this many principals named in one summary record.
const NAMES_PER_SUMMARY: usize = 10;

/// The key under which refusals from untracked clients are summed.
const OTHERS: &str = "(other clients)";

#[derive(Debug)]
pub struct FailureLedger {
    per_client: u32,
    window: Duration,
    max_clients: usize,
    state: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    started: Option<OffsetDateTime>,
    clients: HashMap<String, Tally>,
}

/// One client's refusals in the current window.
#[derive(Debug, Default)]
struct Tally {
    recorded: u32,
    summarized: u64,
    principals: BTreeSet<String>,
}

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Append its own audit record.
    Record,
    /// Counted for the window's summary: no record of its own.
    Summarized,
}

/// One client's refusals beyond its share, for one summary record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub client: String,
    pub refused: u64,
    pub principals: Vec<String>,
    pub window_start: OffsetDateTime,
}

impl FailureLedger {
    pub fn new(cfg: &crate::config::Audit) -> Self {
        let secs = i64::try_from(cfg.failure_window_secs.max(1)).unwrap_or(i64::MAX);
        FailureLedger {
            per_client: cfg.failures_recorded_per_client,
            window: Duration::seconds(secs),
            max_clients: cfg.failure_clients_tracked.max(1),
            state: Mutex::new(Window::default()),
        }
    }

    /// The window's length (how often [`FailureLedger::close_window`] should run).
    pub fn window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.window.whole_seconds().unsigned_abs())
    }

    /// Counts one refused attempt from `client` at `principal`: whether it gets its own record.
    pub fn admit(&self, client: &str, principal: &str, now: OffsetDateTime) -> Admission {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        w.started.get_or_insert(now);
        let known = w.clients.contains_key(client);
        let key = if known || w.clients.len() < self.max_clients {
            client
        } else {
            OTHERS
        };
        let tally = w.clients.entry(key.to_string()).or_default();
        if key != OTHERS && tally.recorded < self.per_client {
            tally.recorded += 1;
            return Admission::Record;
        }
        tally.summarized += 1;
        if tally.principals.len() < NAMES_PER_SUMMARY {
            // A client's own words: only a short run of letters and digits goes in the log.
            let name: String = principal
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(16)
                .collect();
            tally.principals.insert(name);
        }
        metrics::counter!("imax_audit_refusals_summarized_total").increment(1);
        Admission::Summarized
    }

    /// Ends the window if it is `window` old at `now` (or `force`, at shutdown): the summaries
    /// of clients that went beyond their share, and a fresh window.
    pub fn close_window(&self, now: OffsetDateTime, force: bool) -> Vec<Summary> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(started) = w.started else {
            return Vec::new();
        };
        if !force && now - started < self.window {
            return Vec::new();
        }
        let clients = std::mem::take(&mut w.clients);
        w.started = None;
        let mut out: Vec<Summary> = clients
            .into_iter()
            .filter(|(_, t)| t.summarized > 0)
            .map(|(client, t)| Summary {
                client,
                refused: t.summarized,
                principals: t.principals.into_iter().collect(),
                window_start: started,
            })
            .collect();
        out.sort_by(|a, b| a.client.cmp(&b.client));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(per_client: u32, max_clients: usize) -> FailureLedger {
        FailureLedger::new(&crate::config::Audit {
            failures_recorded_per_client: per_client,
            failure_window_secs: 60,
            failure_clients_tracked: max_clients,
            ..Default::default()
        })
    }

    #[test]
    fn each_client_has_its_share_then_one_summary_per_window() {
        let l = ledger(2, 10);
        let t = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(l.admit("a", "M1", t), Admission::Record);
        assert_eq!(l.admit("a", "M2", t), Admission::Record);
        for i in 0..100 {
            assert_eq!(l.admit("a", &format!("M{i}"), t), Admission::Summarized);
        }
        assert_eq!(l.admit("b", "M1", t), Admission::Record);
        assert!(l.close_window(t + Duration::seconds(59), false).is_empty());
        let s = l.close_window(t + Duration::seconds(60), false);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].client.as_str(), s[0].refused), ("a", 100));
        assert_eq!(s[0].principals.len(), NAMES_PER_SUMMARY);
        // A new window: a's share again.
        assert_eq!(l.admit("a", "M1", t), Admission::Record);
    }

    #[test]
    fn clients_beyond_the_tracked_number_share_one_summary() {
        let l = ledger(5, 3);
        let t = OffsetDateTime::UNIX_EPOCH;
        for c in 0..3 {
            assert_eq!(l.admit(&format!("10.0.0.{c}"), "M1", t), Admission::Record);
        }
        for c in 3..1000 {
            assert_eq!(
                l.admit(&format!("10.0.{}.{}", c / 256, c % 256), "M1", t),
                Admission::Summarized
            );
        }
        let s = l.close_window(t, true);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].client.as_str(), s[0].refused), (OTHERS, 997));
    }
}
