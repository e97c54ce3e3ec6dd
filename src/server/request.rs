//! One request on a connection: its identity and span, its paced body, the application's
//! answer, and what is counted and logged of it.

use super::body::{Answer, BodyPace, PacedBody};
use super::conns::{Conn, Registry};
use super::ClientAddr;
use crate::audit::Door;
use crate::ground::RequestId;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use tracing::Instrument;

/// What every request of one connection is answered with.
#[derive(Clone)]
pub(super) struct Requests {
    pub app: Router,
    pub conn: Arc<Conn>,
    pub pace: BodyPace,
    pub registry: Arc<Registry>,
    /// How long an answer waits for its client to take its last bytes (the send timeout).
    pub flush_wait: Duration,
    pub peer: SocketAddr,
    pub h2: bool,
}

impl Requests {
    /// Answers `req` through the application, in the request's span.
    pub fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> impl std::future::Future<
        Output = Result<hyper::Response<axum::body::Body>, std::convert::Infallible>,
    > + Send
           + 'static {
        let inflight = self.conn.request_started();
        let started = std::time::Instant::now();
        let door = door_of(req.uri().path()).as_str();
        let id = RequestId::next();
        // The request's span: the core records who and what into it, and its one log line
        // carries them (never a password, PIN or cookie).
        let span = tracing::info_span!(
            "request",
            id = %id,
            door,
            method = %req.method(),
            path = %req.uri().path(),
            peer = %self.peer.ip(),
            mid = tracing::field::Empty,
            mailbox = tracing::field::Empty,
            operation = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ClientAddr(self.peer));
        parts.extensions.insert(id);
        let body = axum::body::Body::new(PacedBody::new(body, self.pace, self.registry.clone()));
        let call = crate::ground::request::REQUEST_SPAN.scope(
            span.clone(),
            self.app
                .clone()
                .oneshot(hyper::Request::from_parts(parts, body)),
        );
        let (h2, flush_wait) = (self.h2, self.flush_wait);
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
    }
}

/// The door a path belongs to, for metrics.
fn door_of(path: &str) -> Door {
    if path.starts_with("/s2s") || path.ends_with(".xsd") {
        Door::SystemToSystem
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        Door::Operations
    } else {
        Door::Browser
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
