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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Whom connections are counted against: an IPv4 address, or an IPv6 address cut to a prefix
/// (one customer's network is a /64, so counting single IPv6 addresses would count nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(addr: IpAddr, ipv6_prefix_len: u8) -> ClientKey {
        match addr {
            IpAddr::V4(_) => ClientKey(addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6);
                    let len = u32::from(ipv6_prefix_len.min(128));
                    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                    ClientKey(IpAddr::V6((bits & mask).into()))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/prefix"),
        }
    }
}

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
}

impl ConnStats {
    fn bump(c: &AtomicU64) {
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

/// The limits the registry and the watchdogs apply.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub max_per_client: usize,
    pub ipv6_prefix_len: u8,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
}

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
    /// Wakes the watchdog to recompute its deadline.
    pub(crate) wake: Notify,
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Header,
    Idle,
    Shed,
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

    /// When the watchdog must close this connection, and why; `None` while a request is in
    /// flight (its body and response have limits of their own).
    pub fn deadline(&self, limits: &ConnLimits) -> Option<(Instant, Expiry)> {
        if self.shed.load(Ordering::Acquire) {
            return Some((Instant::now(), Expiry::Shed));
        }
        if !self.is_idle() {
            return None;
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
            let victim = t
                .conns
                .values()
                .filter(|c| c.is_idle() && !c.shed.load(Ordering::Acquire))
                .min_by_key(|c| {
                    let since = if c.requests.load(Ordering::Relaxed) == 0 {
                        c.accepted_ms
                    } else {
                        c.idle_since_ms.load(Ordering::Relaxed)
                    };
                    (since, c.id)
                })
                .cloned();
            match victim {
                Some(v) => {
                    v.shed.store(true, Ordering::Release);
                    v.wake.notify_one();
                    t.shedding += 1;
                    ConnStats::bump(&self.stats.shed_idle);
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
            Expiry::Shed => {}
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
        self.registry.remove(&self.conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_client: usize) -> ConnLimits {
        ConnLimits {
            max_connections: max,
            max_per_client: per_client,
            ipv6_prefix_len: 64,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(ClientKey::of(a, 64), ClientKey::of(b, 64));
        assert_ne!(ClientKey::of(a, 64), ClientKey::of(c, 64));
        assert_ne!(ClientKey::of(a, 128), ClientKey::of(b, 128));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(
            ClientKey::of(mapped, 64),
            ClientKey::of(IpAddr::from([192, 0, 2, 7]), 64)
        );
    }

    #[tokio::test]
    async fn per_client_cap_and_shedding_the_longest_idle() {
        let r = Arc::new(Registry::new(limits(3, 2)));
        let one = IpAddr::from([192, 0, 2, 1]);
        let a = r.admit(one).expect("first");
        let _b = r.admit(one).expect("second");
        assert_eq!(r.admit(one).err(), Some(Refused::PerClient));
        let busy = r.admit(IpAddr::from([192, 0, 2, 2])).expect("third");
        let _req = busy.conn.request_started();
        // Full: the oldest idle connection (a) is told to close, the newcomer is admitted.
        let d = r.admit(IpAddr::from([192, 0, 2, 3])).expect("fourth");
        assert_eq!(
            a.conn.deadline(r.limits()).map(|(_, why)| why),
            Some(Expiry::Shed)
        );
        drop(a);
        assert_eq!(r.stats.get("shed_idle"), 1);
        // Still full (b idle, busy in flight, d idle): b goes next, never the busy one.
        let _e = r.admit(IpAddr::from([192, 0, 2, 4])).expect("fifth");
        assert!(busy.conn.deadline(r.limits()).is_none());
        drop(d);
    }

    #[tokio::test]
    async fn deadlines_follow_the_connection_phase() {
        let r = Arc::new(Registry::new(limits(10, 10)));
        let c = r.admit(IpAddr::from([192, 0, 2, 1])).expect("admit");
        let (_, why) = c.conn.deadline(r.limits()).expect("deadline");
        assert_eq!(why, Expiry::Header, "a first head is due");
        c.conn.track_heads();
        let req = c.conn.request_started();
        assert!(c.conn.deadline(r.limits()).is_none(), "in flight");
        drop(req);
        let (idle_at, why) = c.conn.deadline(r.limits()).expect("deadline");
        assert_eq!(why, Expiry::Idle);
        c.conn.on_read();
        let (head_at, why) = c.conn.deadline(r.limits()).expect("deadline");
        assert_eq!(why, Expiry::Header, "a head has begun");
        assert!(head_at < idle_at);
    }
}
