//! The TLS accept loop, the limits every connection lives under, and graceful shutdown.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so tests bind port 0 and
//! run the real server in-process. The gateway faces the open internet, so everything a
//! stranger can do before signing in is bounded here, whatever the application does:
//!
//! * **how many**: connections per client (IPv4 address or IPv6 prefix) and in all; at the
//!   global cap the longest-idle connection is closed for the newcomer ([`conns`]), and after
//!   the idle ones those whose responses all wait on their client, so neither idle nor
//!   stalled crowds stop the accept loop;
//! * **how long**: the TLS handshake and the first request head within the header timeout of
//!   the accept; a later HTTP/1.1 head within the header timeout of its first byte; an idle
//!   connection for the keep-alive timeout; request bodies at a minimum pace ([`body`]); a
//!   response waiting on a client that does not read, or keeps its HTTP/2 window closed, for
//!   the send timeout ([`io`], [`stall`]: the connection closed, or the HTTP/2 stream reset);
//!   HTTP/2 keep-alive pings;
//! * **how much**: request heads and HTTP/2 header lists, and concurrent HTTP/2 streams.
//!
//! HTTP/1.1 or HTTP/2 is chosen by ALPN during the handshake, so no bytes are read before the
//! deadlines run. On shutdown the loop stops accepting, asks every connection to finish its
//! requests in flight (HTTP/2: GOAWAY), and waits up to the grace period.

pub mod body;
pub mod conns;
mod io;
pub mod proxy;
mod stall;

use crate::ground::RequestId;
use axum::Router;
use body::{Answer, BodyPace, PacedBody};
use conns::{ConnLimits, Expiry, Registry};
use hyper_util::rt::{TokioIo, TokioTimer};
use stall::StreamExec;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::Instrument;

pub use conns::ConnStats;

/// The client's address, put into every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Settings of the accept loop (from `[limits]`, `[tls]`, `[throttle]` and `[shutdown]`).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub handshake_timeout: Duration,
    pub conns: ConnLimits,
    pub body: BodyPace,
    pub send_timeout: Duration,
    pub max_header_bytes: usize,
    pub h2_max_concurrent_streams: u32,
    pub h2_keepalive_interval: Duration,
    pub h2_keepalive_timeout: Duration,
    pub grace: Duration,
    /// Balancers whose connections begin with a PROXY header (`balancer.proxy_protocol_from`).
    pub proxies: proxy::TrustedProxies,
}

impl ServeOptions {
    pub fn from_config(c: &crate::config::Config) -> ServeOptions {
        let l = &c.limits;
        ServeOptions {
            handshake_timeout: Duration::from_secs(c.tls.handshake_timeout_secs),
            conns: ConnLimits {
                max_connections: l.max_connections,
                max_per_client: l.max_connections_per_client,
                ipv6_prefix_len: c.throttle.ipv6_prefix_len,
                header_timeout: Duration::from_secs(l.header_read_timeout_secs),
                keepalive_timeout: Duration::from_secs(l.keepalive_timeout_secs),
                send_timeout: Duration::from_secs(l.send_timeout_secs),
                stall_shed: Duration::from_secs(l.send_stall_secs),
            },
            body: BodyPace {
                idle: Duration::from_secs(l.body_idle_timeout_secs),
                min_rate: l.body_min_rate_bytes_per_sec,
                grace: Duration::from_secs(l.body_rate_grace_secs),
            },
            send_timeout: Duration::from_secs(l.send_timeout_secs),
            max_header_bytes: l.max_header_bytes,
            h2_max_concurrent_streams: l.h2_max_concurrent_streams,
            h2_keepalive_interval: Duration::from_secs(l.h2_keepalive_interval_secs),
            h2_keepalive_timeout: Duration::from_secs(l.h2_keepalive_timeout_secs),
            grace: Duration::from_secs(c.shutdown.grace_secs),
            // Checked when the configuration was loaded.
            proxies: proxy::TrustedProxies::parse(&c.balancer.proxy_protocol_from)
                .unwrap_or_default(),
        }
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    options: ServeOptions,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let (stop_tx, stop_rx) = watch::channel(false);
    let options = Arc::new(options);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let task = Connection {
            acceptor: acceptor.clone(),
            app: app.clone(),
            options: options.clone(),
            registry: registry.clone(),
            stop: stop_rx.clone(),
            peer,
        };
        if options.proxies.trusts(peer.ip()) {
            // The balancer's connections are admitted as the client its PROXY header names.
            tokio::spawn(task.run_behind_balancer(tcp));
            continue;
        }
        let registered = match registry.admit(peer.ip()) {
            Ok(r) => r,
            Err(why) => {
                tracing::debug!(%peer, ?why, "connection refused by the connection limits");
                continue;
            }
        };
        tokio::spawn(task.run(tcp, registered));
    }
    drop(listener);
    tracing::info!("stopped accepting; letting requests in flight finish");
    let _ = stop_tx.send(true);
    let drained = async {
        while registry
            .stats
            .open
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(options.grace, drained).await.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
}

/// One connection's task.
struct Connection {
    acceptor: TlsAcceptor,
    app: Router,
    options: Arc<ServeOptions>,
    registry: Arc<Registry>,
    stop: watch::Receiver<bool>,
    peer: SocketAddr,
}

impl Connection {
    /// A connection from a trusted balancer: read its PROXY header within the header timeout,
    /// then serve it as a connection from the client the header names.
    async fn run_behind_balancer(mut self, mut tcp: tokio::net::TcpStream) {
        let read = tokio::time::timeout(
            self.options.conns.header_timeout,
            proxy::read_header(&mut tcp),
        );
        let named = tokio::select! {
            r = read => r,
            _ = self.stop.changed() => return,
        };
        match named {
            Ok(Ok(client)) => {
                if let Some(client) = client {
                    self.peer = client;
                }
            }
            Ok(Err(why)) => {
                tracing::debug!(balancer = %self.peer, ?why, "PROXY header refused");
                self.count(|s| &s.proxy_header_refused);
                return;
            }
            Err(_) => {
                tracing::debug!(balancer = %self.peer, "no PROXY header in time");
                self.count(|s| &s.proxy_header_refused);
                return;
            }
        }
        match self.registry.admit(self.peer.ip()) {
            Ok(registered) => self.run(tcp, registered).await,
            Err(why) => {
                tracing::debug!(peer = %self.peer, ?why, "connection refused by the connection limits");
            }
        }
    }

    async fn run(mut self, tcp: tokio::net::TcpStream, registered: conns::Registered) {
        let conn = registered.conn.clone();
        let peer = self.peer;
        // The handshake counts towards the first request head's deadline.
        let limit = self
            .options
            .handshake_timeout
            .min(self.options.conns.header_timeout);
        let tls = tokio::select! {
            r = tokio::time::timeout(limit, self.acceptor.accept(tcp)) => match r {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    self.count_handshake_failure();
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    self.count_handshake_failure();
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
            _ = conn.wake.notified() => return, // shed while shaking hands
            _ = self.stop.changed() => return,
        };
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        if !h2 {
            conn.track_heads();
        }
        let io = TokioIo::new(io::WatchedIo::new(
            tls,
            conn.clone(),
            self.registry.clone(),
            self.options.send_timeout,
        ));
        let service = {
            let app = self.app.clone();
            let conn = conn.clone();
            let pace = self.options.body;
            let registry = self.registry.clone();
            let flush_wait = self.options.send_timeout;
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let inflight = conn.request_started();
                let started = std::time::Instant::now();
                let door = door_of(req.uri().path());
                let id = RequestId::next();
                // The request's span: the core records who and what into it, and its one log
                // line carries them (never a password, PIN or cookie).
                let span = tracing::info_span!(
                    "request",
                    id = %id,
                    door,
                    method = %req.method(),
                    path = %req.uri().path(),
                    peer = %peer.ip(),
                    mid = tracing::field::Empty,
                    mailbox = tracing::field::Empty,
                    operation = tracing::field::Empty,
                    outcome = tracing::field::Empty,
                );
                let (mut parts, body) = req.into_parts();
                parts.extensions.insert(ClientAddr(peer));
                parts.extensions.insert(id);
                let body = axum::body::Body::new(PacedBody::new(body, pace, registry.clone()));
                let call = crate::ground::request::REQUEST_SPAN.scope(
                    span.clone(),
                    app.clone().oneshot(hyper::Request::from_parts(parts, body)),
                );
                async move {
                    let mut response = call.await?;
                    let status = response.status().as_u16();
                    let seconds = started.elapsed().as_secs_f64();
                    metrics::counter!("imax_http_responses_total", "door" => door, "status" => status_class(status)).increment(1);
                    metrics::histogram!("imax_http_response_seconds", "door" => door).record(seconds);
                    if let Ok(v) = axum::http::HeaderValue::from_str(&id.to_string()) {
                        response.headers_mut().insert("x-request-id", v);
                    }
                    tracing::info!(target: "imax::request", status, ms = (seconds * 1000.0).round() as u64, "answered");
                    // HTTP/1.1 stops asking for a body at its Content-Length (see Answer).
                    let length = if h2 {
                        None
                    } else {
                        response
                            .headers()
                            .get(hyper::header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                    };
                    Ok::<_, std::convert::Infallible>(response.map(|b| {
                        axum::body::Body::new(Answer::new(b, inflight, length, flush_wait))
                    }))
                }
                .instrument(span)
            })
        };
        let o = &self.options;
        let mut http = if h2 {
            let exec = StreamExec::new(o.send_timeout, self.registry.clone());
            let mut b = hyper::server::conn::http2::Builder::new(exec);
            b.timer(TokioTimer::new())
                .max_concurrent_streams(o.h2_max_concurrent_streams)
                .max_header_list_size(o.max_header_bytes as u32)
                .keep_alive_interval(o.h2_keepalive_interval)
                .keep_alive_timeout(o.h2_keepalive_timeout);
            Http::H2(Box::pin(b.serve_connection(io, service)))
        } else {
            let mut b = hyper::server::conn::http1::Builder::new();
            // Our watchdog enforces the head deadlines; hyper's own timer (which starts when
            // it waits for a head, idle or not) is only a backstop.
            b.timer(TokioTimer::new())
                .header_read_timeout(o.conns.header_timeout + o.conns.keepalive_timeout)
                .max_buf_size(o.max_header_bytes.max(8192) * 2)
                .max_header_size(o.max_header_bytes)
                .keep_alive(true);
            Http::H1(Box::pin(b.serve_connection(io, service)))
        };
        let limits = self.registry.limits().clone();
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            let deadline = if closing.is_some() {
                None
            } else {
                conn.deadline(&limits)
            };
            let sleep_until = closing
                .or(deadline.map(|(at, _)| at))
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                r = &mut http => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = conn.wake.notified() => continue,
                _ = self.stop.changed(), if closing.is_none() => {
                    http.graceful_shutdown();
                    closing = Some(tokio::time::Instant::now() + self.options.grace);
                }
                _ = tokio::time::sleep_until(sleep_until) => {
                    if closing.is_some() {
                        return; // graceful close took too long: drop the connection
                    }
                    // Recompute: a request may have begun since the deadline was taken.
                    if let Some((at, why)) = conn.deadline(&limits) {
                        if at <= tokio::time::Instant::now() && why != Expiry::Recheck {
                            self.registry.count_expiry(why);
                            tracing::debug!(%peer, ?why, "closing the connection");
                            // A head that never completed, a response its client does not
                            // take, or a connection shed while all its responses wait on the
                            // client: nothing to be polite to, closed at once.
                            if why == Expiry::Header
                                || why == Expiry::Stalled
                                || (why == Expiry::Shed && conn.stalled_since().is_some())
                            {
                                return;
                            }
                            http.graceful_shutdown();
                            closing = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                        }
                    }
                }
            }
        }
    }

    fn count_handshake_failure(&self) {
        self.count(|s| &s.handshake_failed);
    }

    fn count(&self, stat: impl Fn(&ConnStats) -> &std::sync::atomic::AtomicU64) {
        stat(&self.registry.stats).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

type Io = TokioIo<io::WatchedIo<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>>;

/// The HTTP/1.1 or HTTP/2 connection ALPN chose.
enum Http<S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
{
    H1(Pin<Box<hyper::server::conn::http1::Connection<Io, S>>>),
    H2(Pin<Box<hyper::server::conn::http2::Connection<Io, S, StreamExec>>>),
}

impl<S> Http<S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = axum::body::Body>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(&mut self) {
        match self {
            Http::H1(c) => c.as_mut().graceful_shutdown(),
            Http::H2(c) => c.as_mut().graceful_shutdown(),
        }
    }
}

impl<S> Future for Http<S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = axum::body::Body>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = hyper::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Http::H1(c) => c.as_mut().poll(cx),
            Http::H2(c) => c.as_mut().poll(cx),
        }
    }
}

/// The door a path belongs to, for metrics.
fn door_of(path: &str) -> &'static str {
    if path.starts_with("/s2s") || path.ends_with(".xsd") {
        "s2s"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "ops"
    } else {
        "web"
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested");
}
