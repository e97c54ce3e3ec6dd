//! One connection's task: the PROXY header of a trusted balancer, the TLS handshake, HTTP/1.1
//! or HTTP/2 as ALPN chose, and the watch over its deadlines until it ends.

use super::conns::{Conn, ConnStats, Expiry, Registered, Registry};
use super::io;
use super::proxy;
use super::request;
use super::stall::StreamExec;
use super::ServeOptions;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// One connection's task.
pub(super) struct Connection {
    pub acceptor: TlsAcceptor,
    pub app: Router,
    pub options: Arc<ServeOptions>,
    pub registry: Arc<Registry>,
    pub stop: watch::Receiver<bool>,
    pub peer: SocketAddr,
}

impl Connection {
    /// A connection from a trusted balancer: read its PROXY header within the header timeout,
    /// then serve it as a connection from the client the header names.
    pub async fn run_behind_balancer(mut self, mut tcp: tokio::net::TcpStream) {
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

    pub async fn run(mut self, tcp: tokio::net::TcpStream, registered: Registered) {
        let conn = registered.conn.clone();
        let peer = self.peer;
        let Some(tls) = self.handshake(tcp, &conn).await else {
            return;
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
            let requests = request::Requests {
                app: self.app.clone(),
                conn: conn.clone(),
                pace: self.options.body,
                registry: self.registry.clone(),
                flush_wait: self.options.send_timeout,
                peer,
                h2,
            };
            hyper::service::service_fn(move |req| requests.answer(req))
        };
        let o = &self.options;
        let http = if h2 {
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
        self.watch(http, &conn).await;
    }

    /// The TLS handshake, within the first request head's deadline; `None` if it failed, timed
    /// out, or the connection was shed or stopped meanwhile.
    async fn handshake(
        &mut self,
        tcp: tokio::net::TcpStream,
        conn: &Conn,
    ) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
        let peer = self.peer;
        // The handshake counts towards the first request head's deadline.
        let limit = self
            .options
            .handshake_timeout
            .min(self.options.conns.header_timeout);
        tokio::select! {
            r = tokio::time::timeout(limit, self.acceptor.accept(tcp)) => match r {
                Ok(Ok(s)) => Some(s),
                Ok(Err(e)) => {
                    self.count_handshake_failure();
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    self.count_handshake_failure();
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            },
            _ = conn.wake.notified() => None, // shed while shaking hands
            _ = self.stop.changed() => None,
        }
    }

    /// Serves the connection until it ends, closing it at its deadlines (head, keep-alive,
    /// send, shed) and on shutdown (gracefully, within the grace period).
    async fn watch<S>(&mut self, mut http: Http<S>, conn: &Conn)
    where
        S: hyper::service::HttpService<hyper::body::Incoming, ResBody = axum::body::Body>
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let peer = self.peer;
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
