//! Where one response body stands, shared by the body, its connection and (HTTP/2) its
//! stream's task: how stalled responses are found (see [`super::conns`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Where one response body stands: being produced by the gateway, or waiting for the client
/// to take the chunk it last produced (since when). Shared by the body, its connection and,
/// over HTTP/2, the stream's task that resets it when the wait is too long.
#[derive(Debug)]
pub struct Progress {
    epoch: Instant,
    /// Milliseconds since `epoch` (+1) when the wait began; 0 while the gateway produces.
    waiting_since_ms: AtomicU64,
}

impl Progress {
    pub(super) fn new(epoch: Instant) -> Progress {
        let p = Progress {
            epoch,
            waiting_since_ms: AtomicU64::new(0),
        };
        // A new response waits on the transport until its body is first asked for.
        p.wait();
        p
    }
    /// The body handed a chunk over (or its head was sent): now it waits on the client.
    pub fn wait(&self) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        self.waiting_since_ms.store(now, Ordering::Release);
    }
    /// The transport asked for the next chunk: the gateway works on it.
    pub fn produce(&self) {
        self.waiting_since_ms.store(0, Ordering::Release);
    }
    pub(super) fn since_ms(&self) -> Option<u64> {
        match self.waiting_since_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(ms),
        }
    }
    /// Since when the response has waited on its client, if it does.
    pub fn waiting_since(&self) -> Option<Instant> {
        self.since_ms()
            .map(|ms| self.epoch + Duration::from_millis(ms - 1))
    }
}
