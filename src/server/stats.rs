//! What the connection limits did, counted for operators (the metrics endpoint, logs, tests).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of what the connection limits did, for operators (and the metrics endpoint).
#[derive(Debug, Default)]
pub struct ConnStats {
    pub accepted: AtomicU64,
    pub open: AtomicU64,
    /// Refused at once: the client already had `max_connections_per_client`.
    pub refused_per_client: AtomicU64,
    /// Refused at once: `max_connections` busy connections and none idle to close.
    pub refused_full: AtomicU64,
    /// Idle connections closed to make room for a new client.
    pub shed_idle: AtomicU64,
    pub handshake_failed: AtomicU64,
    /// Closed: no complete request head in time (idle after accept, or a dribbled head).
    pub header_timeouts: AtomicU64,
    /// Closed: idle longer than the keep-alive timeout.
    pub idle_closed: AtomicU64,
    /// Request bodies refused for arriving too slowly or stalling.
    pub body_timeouts: AtomicU64,
    /// Connections dropped because the client did not read a response.
    pub send_timeouts: AtomicU64,
    /// Connections from a trusted balancer closed for a missing or malformed PROXY header.
    pub proxy_header_refused: AtomicU64,
    /// Connections whose every response waited on the client, closed for a new client.
    pub shed_stalled: AtomicU64,
    /// HTTP/2 responses reset because their client kept the window closed for the send timeout.
    pub stalled_streams: AtomicU64,
}

impl ConnStats {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    /// A snapshot, by name, for logs, tests and metrics.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("accepted", g(&self.accepted)),
            ("open", g(&self.open)),
            ("proxy_header_refused", g(&self.proxy_header_refused)),
            ("refused_per_client", g(&self.refused_per_client)),
            ("refused_full", g(&self.refused_full)),
            ("shed_idle", g(&self.shed_idle)),
            ("handshake_failed", g(&self.handshake_failed)),
            ("header_timeouts", g(&self.header_timeouts)),
            ("idle_closed", g(&self.idle_closed)),
            ("body_timeouts", g(&self.body_timeouts)),
            ("send_timeouts", g(&self.send_timeouts)),
            ("shed_stalled", g(&self.shed_stalled)),
            ("stalled_streams", g(&self.stalled_streams)),
        ]
    }
    pub fn get(&self, name: &str) -> u64 {
        self.snapshot()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or(0)
    }
}
