//! `GET /.well-known/imax-receipt-keys`: every public key receipts were signed with, the
//! current one marked, so that anyone can check a receipt without an account (issue 31;
//! the format: docs/receipts.md).

use super::Web;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Where the keys are published.
pub const PATH: &str = "/.well-known/imax-receipt-keys";

pub fn routes() -> Router<Web> {
    Router::new().route(PATH, get(keys))
}

async fn keys(State(web): State<Web>) -> Response {
    let keys = match web.gw.receipt_keys().all() {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "the receipt keys cannot be read");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let last = keys.len().saturating_sub(1);
    let list: Vec<serde_json::Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            serde_json::json!({
                "key_id": k.public().id().as_str(),
                "algorithm": "Ed25519",
                "current": i == last,
                "created": k.created.map(crate::receipt::receipt_time),
                "public_key_pem": k.public().to_pem(),
            })
        })
        .collect();
    let body = serde_json::json!({ "format": crate::receipt::FORMAT, "keys": list });
    let mut r = (StatusCode::OK, format!("{body:#}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
