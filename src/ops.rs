//! What operators and balancers ask of a node, on the gateway's own listener:
//!
//! * `GET /healthz`: the process answers (200 `ok`), also while it drains.
//! * `GET /readyz`: whether to send it traffic: the database answers a query within 2 s (asked
//!   at most once a second, however many ask: [`READY_MAX_AGE`]), the
//!   schema is the one this build writes, the data directory's filesystem is above the
//!   free-space floor, and the node is not draining (after SIGTERM it says 503 at once, and
//!   keeps serving for `shutdown.drain_delay_secs` so the balancer can notice). The answer
//!   names the checks and their verdicts, never an error's text (logged instead).
//! * `GET /metrics`: Prometheus text, from the well-kept `metrics` facade and its Prometheus
//!   exporter. Loopback clients only, or anyone presenting `Authorization: Bearer
//!   <ops.metrics_token>` when a token is set (then everyone must).

use crate::gateway::Gateway;
use crate::server::conns::Registry;
use crate::server::ClientAddr;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The process's metrics recorder (one per process: the `metrics` facade is global).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            match PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|b| b.install_recorder())
            {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are not recorded");
                    None
                }
            }
        })
        .as_ref()
}

/// The ops endpoints' state.
#[derive(Debug, Clone)]
pub struct Ops {
    pub gw: Gateway,
    pub connections: Arc<Registry>,
    /// Set when shutdown begins: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
}

pub fn routes(ops: Ops) -> Router<Gateway> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .with_state(ops)
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn healthz() -> Response {
    text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
}

/// One readiness check's verdict.
fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "failing"
    }
}

/// How long `/readyz` reuses its database check's answer: anyone who reaches the listener may
/// ask, so many requests cost at most one query per this interval (issue 25, item 8), and a
/// balancer polling every few seconds still sees a fresh answer.
const READY_MAX_AGE: Duration = Duration::from_secs(1);

async fn readyz(State(ops): State<Ops>) -> Response {
    let store = ops.gw.store();
    let database = tokio::time::timeout(
        Duration::from_secs(2),
        store.schema_fit_cached(READY_MAX_AGE),
    )
    .await;
    let (database_ok, schema_ok) = match database {
        Ok(Some(fit)) => (true, fit.serves()),
        Ok(None) => (false, false),
        Err(_) => {
            tracing::warn!("readiness: the database did not answer within 2 s");
            (false, false)
        }
    };
    let storage_ok = match store.bodies.check_space() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: storage");
            false
        }
    };
    let draining = ops.draining.load(Ordering::Acquire);
    let ready = database_ok && schema_ok && storage_ok && !draining;
    metrics::gauge!("imax_ready").set(if ready { 1.0 } else { 0.0 });
    let body = format!(
        "{{\"ready\":{ready},\"checks\":{{\"database\":\"{}\",\"schema\":\"{}\",\"storage\":\"{}\",\"draining\":{draining}}}}}\n",
        verdict(database_ok),
        verdict(schema_ok),
        verdict(storage_ok),
    );
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, "application/json", body)
}

async fn metrics_page(
    State(ops): State<Ops>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    headers: HeaderMap,
) -> Response {
    let token = &ops.gw.config().ops.metrics_token;
    let allowed = if token.is_empty() {
        peer.ip().is_loopback()
            || matches!(peer.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
    } else {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| crate::ground::constant_time_eq(t.as_bytes(), token.as_bytes()))
    };
    if !allowed {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "text/plain; charset=utf-8",
            "metrics need the bearer token (ops.metrics_token), or a loopback client when none is set\n".into(),
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let Some(handle) = recorder() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "metrics are not recorded in this process\n".into(),
        );
    };
    observe(&ops).await;
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        handle.render(),
    )
}

/// Brings the metrics that are kept as counters elsewhere up to date before a scrape.
async fn observe(ops: &Ops) {
    let c = &ops.connections.stats;
    let set = |name: &'static str, v: u64| metrics::counter!(name).absolute(v);
    set("imax_connections_accepted_total", c.get("accepted"));
    metrics::gauge!("imax_connections_open").set(c.get("open") as f64);
    metrics::gauge!("imax_requests_in_flight").set(ops.connections.requests_in_flight() as f64);
    for (reason, stat) in [
        ("refused_per_client", "refused_per_client"),
        ("refused_full", "refused_full"),
        ("shed_idle", "shed_idle"),
        ("handshake_failed", "handshake_failed"),
        ("header_timeout", "header_timeouts"),
        ("idle", "idle_closed"),
        ("send_timeout", "send_timeouts"),
        ("proxy_header", "proxy_header_refused"),
    ] {
        metrics::counter!("imax_connections_closed_total", "reason" => reason)
            .absolute(c.get(stat));
    }
    set("imax_request_bodies_too_slow_total", c.get("body_timeouts"));
    let h = &ops.gw.hasher().stats;
    set(
        "imax_password_hashes_total",
        h.computed.load(Ordering::Relaxed),
    );
    set(
        "imax_password_hashes_refused_total",
        h.refused_busy.load(Ordering::Relaxed),
    );
    metrics::counter!("imax_password_hash_wait_microseconds_total")
        .absolute(h.waited_us.load(Ordering::Relaxed));
    let (open, idle) = ops.gw.store().pool_sessions();
    metrics::gauge!("imax_database_sessions_open").set(open as f64);
    metrics::gauge!("imax_database_sessions_busy").set(open.saturating_sub(idle) as f64);
    if let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_secs(2), ops.gw.store().audit_log().records()).await
    {
        metrics::gauge!("imax_audit_chain_records").set(n as f64);
    }
}
