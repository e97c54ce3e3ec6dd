//! Every open connection, what it is doing, and who opened it.
//!
//! The registry is what keeps strangers from holding the gateway: it caps connections per
//! client (an IPv4 address or an IPv6 prefix) and in all, and at the global cap it closes the
//! connection that has been idle longest (no request in flight) rather than turning the new
//! client away, so a crowd of idle or half-open connections can never lock everyone out.
//! Each connection's watchdog asks [`Conn::deadline`] when it must be closed: a first request
//! head must be complete within the header timeout of the accept, an HTTP/1.1 head that has
//! begun within the header timeout of its first byte, and an idle connection is closed after
//! the keep-alive timeout.
//!
//! A response that waits on its client is no work of the gateway's: each response body's
//! [`Progress`] says since when it has waited for the client to take its last chunk (an
//! HTTP/1.1 client that does not read, an HTTP/2 client that keeps its window closed). A
//! connection whose every response has waited `stall_shed` counts as idle when the gateway is
//! full (after the truly idle ones), so a crowd of stalled responses can never lock anyone out;
//! and no response waits longer than the send timeout (HTTP/1.1: the watchdog closes the
//! connection; HTTP/2: the stream is reset, see [`super::stall`]).

pub use super::progress::Progress;
pub use super::stats::ConnStats;
use crate::ground::ClientKey;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// The limits the registry and the watchdogs apply.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub max_per_client: usize,
    pub ipv6_prefix_len: u8,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    /// Longest wait of a response on its client (`limits.send_timeout_secs`).
    pub send_timeout: Duration,
    /// A connection whose responses have all waited this long on the client is sheddable
    /// (`limits.send_stall_secs`).
    pub stall_shed: Duration,
}

/// What a connection's flushes say, for a response that must know its last bytes went out.
const CLOSED: u64 = u64::MAX;

/// One open connection, shared by its task, its IO and its requests.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    client: ClientKey,
    /// Milliseconds since the registry's epoch, so that they fit in atomics.
    accepted_ms: u64,
    epoch: Instant,
    inflight: AtomicU32,
    requests: AtomicU64,
    idle_since_ms: AtomicU64,
    /// When bytes of a new HTTP/1.1 request head began to arrive on an idle connection (0: not).
    head_started_ms: AtomicU64,
    /// HTTP/1.1 only: HTTP/2 reads PING answers and settings while idle, which are no head.
    track_heads: AtomicBool,
    shed: AtomicBool,
    /// The responses being sent (one per HTTP/2 stream; at most one over HTTP/1.1).
    answers: Mutex<Vec<Arc<Progress>>>,
    /// Counts the connection's successful flushes; [`CLOSED`] once it is gone.
    flushes: watch::Sender<u64>,
    /// Wakes the watchdog to recompute its deadline.
    pub(crate) wake: Notify,
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Header,
    Idle,
    Shed,
    /// HTTP/1.1: the response waited on a client that does not read for the send timeout.
    Stalled,
    /// Nothing to close: look again then (a response in flight may begin to wait).
    Recheck,
}

impl Conn {
    fn now_ms(&self) -> u64 {
        // +1 so that 0 can mean "not set".
        self.epoch.elapsed().as_millis() as u64 + 1
    }
    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms.saturating_sub(1))
    }
    pub fn client(&self) -> ClientKey {
        self.client
    }

    /// From now on the connection speaks HTTP/1.1 (request heads can be told from bytes).
    pub fn track_heads(&self) {
        self.track_heads.store(true, Ordering::Relaxed);
    }

    /// Bytes arrived from the client (called by the connection's IO).
    pub fn on_read(&self) {
        if self.track_heads.load(Ordering::Relaxed)
            && self.inflight.load(Ordering::Acquire) == 0
            && self.requests.load(Ordering::Relaxed) > 0
            && self.head_started_ms.load(Ordering::Relaxed) == 0
        {
            self.head_started_ms.store(self.now_ms(), Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    /// A request head is complete and goes to the application; the guard ends it.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started_ms.store(0, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn request_finished(&self) {
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since_ms.store(self.now_ms(), Ordering::Relaxed);
            self.head_started_ms.store(0, Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    fn is_idle(&self) -> bool {
        self.inflight.load(Ordering::Acquire) == 0
    }

    fn answers(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Progress>>> {
        self.answers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A response begins: its body's progress, waiting on the transport until first asked.
    pub fn answer_started(&self) -> Arc<Progress> {
        let p = Arc::new(Progress::new(self.epoch));
        self.answers().push(p.clone());
        p
    }

    pub fn answer_finished(&self, p: &Arc<Progress>) {
        self.answers().retain(|a| !Arc::ptr_eq(a, p));
    }

    /// Since when every request in flight has been waiting on the client (all of them have
    /// their answer, and each waits for the client to take a chunk): the connection does no
    /// work of the gateway's, and counts as idle when room is needed.
    pub fn stalled_since(&self) -> Option<Instant> {
        self.stalled_since_ms().map(|ms| self.at(ms))
    }

    fn stalled_since_ms(&self) -> Option<u64> {
        let inflight = self.inflight.load(Ordering::Acquire) as usize;
        if inflight == 0 {
            return None;
        }
        let answers = self.answers();
        if answers.len() < inflight {
            return None; // a request is still being worked on
        }
        answers
            .iter()
            .try_fold(0, |latest, p| p.since_ms().map(|s| s.max(latest)))
    }

    /// The connection's bytes reached the socket (a successful flush).
    pub fn on_flushed(&self) {
        self.flushes.send_modify(|n| {
            if *n != CLOSED {
                *n += 1;
            }
        });
    }

    /// Completes with `true` at the connection's next successful flush, `false` when it
    /// closes first (or after `limit`).
    pub fn next_flush(&self, limit: Duration) -> impl std::future::Future<Output = bool> {
        let mut rx = self.flushes.subscribe();
        async move {
            let flushed = async {
                if *rx.borrow_and_update() == CLOSED {
                    return false;
                }
                match rx.changed().await {
                    Ok(()) => *rx.borrow() != CLOSED,
                    Err(_) => false,
                }
            };
            tokio::time::timeout(limit, flushed).await.unwrap_or(false)
        }
    }

    /// When the watchdog must close this connection, and why; `None` while a request is in
    /// flight (its body and response have limits of their own).
    pub fn deadline(&self, limits: &ConnLimits) -> Option<(Instant, Expiry)> {
        if self.shed.load(Ordering::Acquire) {
            return Some((Instant::now(), Expiry::Shed));
        }
        if !self.is_idle() {
            // HTTP/1.1 (one response at a time): close when the response has waited on the
            // client for the send timeout. HTTP/2 resets such streams one by one instead.
            if !self.track_heads.load(Ordering::Relaxed) {
                return None;
            }
            let oldest = self.answers().iter().filter_map(|p| p.since_ms()).min();
            return Some(match oldest {
                Some(ms) => (self.at(ms) + limits.send_timeout, Expiry::Stalled),
                None => (Instant::now() + limits.send_timeout, Expiry::Recheck),
            });
        }
        if self.requests.load(Ordering::Relaxed) == 0 {
            return Some((
                self.at(self.accepted_ms) + limits.header_timeout,
                Expiry::Header,
            ));
        }
        let idle = (
            self.at(self.idle_since_ms.load(Ordering::Relaxed)) + limits.keepalive_timeout,
            Expiry::Idle,
        );
        match self.head_started_ms.load(Ordering::Relaxed) {
            0 => Some(idle),
            started => {
                let head = (self.at(started) + limits.header_timeout, Expiry::Header);
                Some(if head.0 < idle.0 { head } else { idle })
            }
        }
    }
}

/// A request in flight; dropping it (when the response has been sent, or the request was
/// abandoned) makes the connection idle again if it was the last.
#[derive(Debug)]
pub struct InFlight(Arc<Conn>);

impl InFlight {
    pub fn conn(&self) -> &Arc<Conn> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

#[derive(Debug, Default)]
struct Table {
    conns: HashMap<u64, Arc<Conn>>,
    per_client: HashMap<ClientKey, usize>,
    shedding: usize,
    next_id: u64,
}

/// The open connections.
#[derive(Debug)]
pub struct Registry {
    epoch: Instant,
    limits: ConnLimits,
    table: Mutex<Table>,
    pub stats: ConnStats,
}

/// Why a new connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    PerClient,
    Full,
}

impl Registry {
    pub fn new(limits: ConnLimits) -> Registry {
        Registry {
            epoch: Instant::now(),
            limits,
            table: Mutex::new(Table::default()),
            stats: ConnStats::default(),
        }
    }

    pub fn limits(&self) -> &ConnLimits {
        &self.limits
    }

    /// Requests being answered now, over every connection (a gauge for operators; tests wait
    /// on it instead of sleeping).
    pub fn requests_in_flight(&self) -> u64 {
        self.table()
            .conns
            .values()
            .map(|c| u64::from(c.inflight.load(Ordering::Acquire)))
            .sum()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a new connection from `addr`, closing the longest-idle one if the gateway is
    /// full; refuses it when its client has too many already, or every connection is busy.
    pub fn admit(self: &Arc<Self>, addr: IpAddr) -> Result<Registered, Refused> {
        let client = ClientKey::of(addr, self.limits.ipv6_prefix_len);
        let mut t = self.table();
        if t.per_client.get(&client).copied().unwrap_or(0) >= self.limits.max_per_client {
            ConnStats::bump(&self.stats.refused_per_client);
            return Err(Refused::PerClient);
        }
        if t.conns.len() - t.shedding >= self.limits.max_connections {
            // Idle connections go first (longest idle first), then those whose responses
            // have all waited on their client for `stall_shed` (longest stalled first);
            // never one the gateway is working for.
            let now_ms = self.epoch.elapsed().as_millis() as u64 + 1;
            let stall_ms = self.limits.stall_shed.as_millis() as u64;
            let victim = t
                .conns
                .values()
                .filter(|c| !c.shed.load(Ordering::Acquire))
                .filter_map(|c| {
                    if c.is_idle() {
                        let since = if c.requests.load(Ordering::Relaxed) == 0 {
                            c.accepted_ms
                        } else {
                            c.idle_since_ms.load(Ordering::Relaxed)
                        };
                        return Some(((false, since, c.id), c));
                    }
                    let since = c.stalled_since_ms()?;
                    (now_ms.saturating_sub(since) >= stall_ms).then_some(((true, since, c.id), c))
                })
                .min_by_key(|(key, _)| *key)
                .map(|((stalled, _, _), c)| (stalled, c.clone()));
            match victim {
                Some((stalled, v)) => {
                    v.shed.store(true, Ordering::Release);
                    v.wake.notify_one();
                    t.shedding += 1;
                    if stalled {
                        ConnStats::bump(&self.stats.shed_stalled);
                        metrics::counter!("imax_connections_shed_stalled_total").increment(1);
                    } else {
                        ConnStats::bump(&self.stats.shed_idle);
                    }
                }
                None => {
                    ConnStats::bump(&self.stats.refused_full);
                    return Err(Refused::Full);
                }
            }
        }
        t.next_id += 1;
        let id = t.next_id;
        let now_ms = self.epoch.elapsed().as_millis() as u64 + 1;
        let conn = Arc::new(Conn {
            id,
            client,
            accepted_ms: now_ms,
            epoch: self.epoch,
            inflight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(now_ms),
            head_started_ms: AtomicU64::new(0),
            track_heads: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            answers: Mutex::new(Vec::new()),
            flushes: watch::Sender::new(0),
            wake: Notify::new(),
        });
        t.conns.insert(id, conn.clone());
        *t.per_client.entry(client).or_insert(0) += 1;
        ConnStats::bump(&self.stats.accepted);
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        Ok(Registered {
            conn,
            registry: self.clone(),
        })
    }

    fn remove(&self, conn: &Conn) {
        let mut t = self.table();
        if t.conns.remove(&conn.id).is_some() {
            if conn.shed.load(Ordering::Acquire) {
                t.shedding = t.shedding.saturating_sub(1);
            }
            if let Some(n) = t.per_client.get_mut(&conn.client) {
                *n -= 1;
                if *n == 0 {
                    t.per_client.remove(&conn.client);
                }
            }
            self.stats.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_expiry(&self, why: Expiry) {
        match why {
            Expiry::Header => ConnStats::bump(&self.stats.header_timeouts),
            Expiry::Idle => ConnStats::bump(&self.stats.idle_closed),
            Expiry::Stalled => ConnStats::bump(&self.stats.send_timeouts),
            Expiry::Shed | Expiry::Recheck => {}
        }
    }
}

/// A connection's place in the registry, given up when dropped.
#[derive(Debug)]
pub struct Registered {
    pub conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conn.flushes.send_replace(CLOSED);
        self.registry.remove(&self.conn);
    }
}

#[cfg(test)]
mod tests;
