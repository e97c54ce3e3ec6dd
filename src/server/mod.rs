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
mod connection;
pub mod conns;
mod io;
mod progress;
pub mod proxy;
mod request;
mod stall;
mod stats;

use axum::Router;
use body::BodyPace;
use conns::{ConnLimits, Registry};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

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
        let task = connection::Connection {
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
