//! The request body as this door reads it: piece by piece, counting what is taken before the
//! credentials are checked, and, when a request is refused, draining what is left so the
//! client reads its Fault instead of a reset connection (issue 25, item 2).

use crate::config::Limits;
use crate::error::{Code, Refusal};
use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures_util::StreamExt;

/// How long a refused request's remaining body is read before the connection is given up.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the request's credentials were accepted and its content was being received when
/// it was refused: it decides how much of the rest is drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Before (or while) the credentials were checked.
    Stranger,
    /// The content was being received for an open mailbox.
    Receiving,
}

/// A request body being read.
pub(super) struct RequestBody {
    stream: BodyDataStream,
    /// The body ended or failed: nothing is left to drain.
    over: bool,
    pub pre: PreCredential,
    /// How much of a refused request's rest is drained, by [`Stage`].
    drain_stranger: u64,
    drain_receiving: u64,
    /// The rest of a refused body did not end within the drain's bounds: the connection is
    /// not reused (HTTP/1.1's `Connection: close`).
    pub cut: bool,
}

impl RequestBody {
    pub fn new(body: Body, limits: &Limits) -> RequestBody {
        RequestBody {
            stream: body.into_data_stream(),
            over: false,
            pre: PreCredential::new(),
            drain_stranger: drain_limit(limits, Stage::Stranger),
            drain_receiving: drain_limit(limits, Stage::Receiving),
            cut: false,
        }
    }

    /// The next piece of the body (`None` at its end); the framing counts what it takes of it
    /// in [`RequestBody::pre`]. The server paces every request body (a stall or a dribble ends it with
    /// `BodyTooSlow`).
    pub async fn next(&mut self) -> Result<Option<Bytes>, Refusal> {
        match self.stream.next().await {
            None => {
                self.over = true;
                Ok(None)
            }
            Some(Err(e)) => {
                self.over = true;
                Err(body_refusal(&e))
            }
            Some(Ok(chunk)) => Ok(Some(chunk)),
        }
    }

    /// Reads and discards what is left of a refused request, bounded in bytes and time. When
    /// the body did not end within those bounds, [`RequestBody::cut`] is set, so a client
    /// does not send its next request on a connection about to close.
    pub async fn drain(&mut self, stage: Stage) {
        self.pre.close();
        if self.over {
            return;
        }
        let limit = match stage {
            Stage::Stranger => self.drain_stranger,
            Stage::Receiving => self.drain_receiving,
        };
        let stream = &mut self.stream;
        let discard = async {
            let mut seen = 0u64;
            loop {
                match stream.next().await {
                    None => return true,
                    Some(Err(_)) => return false,
                    Some(Ok(chunk)) => {
                        seen += chunk.len() as u64;
                        if seen > limit {
                            return false;
                        }
                    }
                }
            }
        };
        let whole = tokio::time::timeout(DRAIN_TIME, discard)
            .await
            .unwrap_or(false);
        if !whole {
            self.cut = true;
        }
    }
}

/// Why a request body could not be read to its end.
fn body_refusal(e: &axum::Error) -> Refusal {
    match crate::server::body::BodyTooSlow::find(e) {
        Some(slow) if slow.stalled => Refusal::with_detail(
            Code::MalformedRequest,
            "The request body stopped arriving before it was complete.",
        ),
        Some(_) => Refusal::with_detail(
            Code::MalformedRequest,
            "The request body arrived too slowly (below limits.body_min_rate_bytes_per_sec); it was not stored.",
        ),
        None => Refusal::with_detail(
            Code::MalformedRequest,
            "The request body could not be read to its end.",
        ),
    }
}

/// How much of a refused request's rest is read (and discarded, unparsed) before the
/// connection is closed: after the credentials were accepted, about a whole file (a client
/// that meant well reads its Fault and keeps its connection); before, sixteen times the
/// envelope cap (1 MiB by default), so a modest request refused before sign-in still leaves
/// the connection usable while a stranger's costs at most that, within [`DRAIN_TIME`]
/// (issue 25, item 2).
fn drain_limit(limits: &Limits, stage: Stage) -> u64 {
    match stage {
        Stage::Receiving => limits.max_file_bytes.saturating_mul(3) / 2 + (1 << 20),
        Stage::Stranger => (limits.max_envelope_bytes as u64).saturating_mul(16),
    }
}

/// The bytes taken from a request body before its credentials were checked (or the request
/// ended or was refused), recorded once as `imax_s2s_precredential_bytes`: what a stranger
/// can make the gateway read, bounded by `limits.max_envelope_bytes` and one read buffer.
pub(super) struct PreCredential {
    pub bytes: u64,
    open: bool,
}

impl PreCredential {
    fn new() -> Self {
        PreCredential {
            bytes: 0,
            open: true,
        }
    }

    /// Counts bytes taken while the credentials are still unchecked.
    pub fn take(&mut self, n: usize) {
        if self.open {
            self.bytes += n as u64;
        }
    }

    /// The credentials are being checked now: nothing after counts.
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.open, false) {
            metrics::histogram!("imax_s2s_precredential_bytes").record(self.bytes as f64);
        }
    }

    pub fn checked(&self) -> bool {
        !self.open
    }
}

impl Drop for PreCredential {
    fn drop(&mut self) {
        self.close();
    }
}
