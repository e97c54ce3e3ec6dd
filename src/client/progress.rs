//! How far a file has gone, told to whoever shows it (`imax client` draws a progress bar on a
//! terminal from it; the library draws nothing itself, so tests and the benchmark stay silent).

use bytes::Bytes;
use http_body_util::BodyExt;
use std::sync::Arc;

/// Which way the bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A file's bytes read and sent (`SendFile`), counted before encoding.
    Upload,
    /// The answer's bytes received (`GetMessage`), counted as they arrive.
    Download,
}

/// Told of a transfer as it happens.
pub trait Progress: Send + Sync {
    /// The transfer's whole size, once known (a file's length, an answer's Content-Length).
    fn expect(&self, direction: Direction, total: u64);
    /// `bytes` more have moved.
    fn advance(&self, direction: Direction, bytes: u64);
}

/// A shared progress listener, as a client holds it.
pub type ProgressSink = Arc<dyn Progress>;

/// Collects a response body, telling `sink` of each piece as it arrives.
pub(super) async fn collect_told(
    mut body: hyper::body::Incoming,
    sink: &ProgressSink,
) -> Result<Bytes, hyper::Error> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            sink.advance(Direction::Download, data.len() as u64);
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}
