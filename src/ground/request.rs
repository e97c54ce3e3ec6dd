//! Which request is being served: its id and its span, for every floor above (the core records
//! who and what into the span; the committer runs a batch in its requests' spans).

use std::future::Future;
use tracing::Instrument;

/// Every request's id: in its extensions, its log line, the `X-Request-Id` response header and
/// SOAP faults, so that a vendor's support call can be matched to the log and audit.
/// Written `<node>-<n>`: a random 32-bit prefix drawn once per process (so ids from several
/// nodes, or from before a restart, do not collide) and a counter, both in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    node: u32,
    n: u64,
}

impl RequestId {
    /// The next id of this process.
    pub fn next() -> RequestId {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::OnceLock;
        static NODE: OnceLock<u32> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let node = *NODE.get_or_init(|| {
            let mut b = [0u8; 4];
            let _ = getrandom::getrandom(&mut b);
            u32::from_be_bytes(b)
        });
        RequestId {
            node,
            n: COUNTER.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}-{:x}", self.node, self.n)
    }
}

tokio::task_local! {
    /// The span of the request a task serves (set by the server for each request).
    pub(crate) static REQUEST_SPAN: tracing::Span;
}

/// The span of the request being served, whose fields (who, which mailbox, which operation,
/// what outcome) its one `answered` log line carries. The core's operations run in spans of
/// their own (`#[instrument]`), so [`tracing::Span::current`] is not it; outside a request
/// (the command line, the hourly jobs) this is the current span.
pub fn request_span() -> tracing::Span {
    REQUEST_SPAN
        .try_with(|s| s.clone())
        .unwrap_or_else(|_| tracing::Span::current())
}

/// Runs `f` (a task spawned for the request) as part of the current request: in its own
/// span and with [`request_span`] still the request's.
pub fn within_request<F: Future>(f: F) -> impl Future<Output = F::Output> {
    REQUEST_SPAN.scope(request_span(), f.instrument(tracing::Span::current()))
}
