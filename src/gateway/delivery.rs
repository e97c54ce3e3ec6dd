//! Handing a message's body to a client, whole or not at all.
//!
//! A [`Delivery`] is the body as a stream of chunks, read from the body store and checked as
//! it goes: fewer or more bytes than the row says, or a SHA-256 other than the row's, end the
//! stream with an error, and the failure is audited. The whole body is checked before its last
//! chunk is handed over, so the client's response breaks off short of its `Content-Length` (or
//! before its closing tags) and no client can take a damaged body for a whole one, whatever
//! the protocol. The stream's end (asked for once the last chunk was sent, on HTTP/1.1 too:
//! see [`crate::server::body::Answer`]) is where the recipient's first fetch counts as
//! retrieval, together with the activity (R13) and the audit record of the fetch. A client that
//! goes away midway leaves the message unretrieved, and that is audited too.

use super::Gateway;
use crate::audit::AuditEntry;
use crate::error::Code;
use crate::store::{BodyReader, Effect};
use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncReadExt;

/// Bytes per chunk: a multiple of 3, so that the system-to-system door base64-encodes each
/// chunk without padding until the last.
pub const CHUNK: usize = 48 * 1024;

/// What the end of a delivery commits.
pub(super) struct Completion {
    pub gw: Gateway,
    pub effects: Vec<Effect>,
    pub entry: AuditEntry,
}

impl Completion {
    /// The body was handed over whole: retrieval, activity and the audit record.
    async fn delivered(self) {
        if let Err(e) = self.gw.commit(self.effects, self.entry).await {
            tracing::warn!(error = %e.message(), "a delivered message could not be marked retrieved");
        }
    }

    /// The body was not handed over whole: audited, nothing marked.
    async fn failed(self, detail: String, code: Code) {
        let entry = self.entry.outcome(code).detail(detail);
        let _ = self.gw.commit(Vec::new(), entry).await;
    }
}

/// Commits the audit record of an unfinished delivery when the stream is dropped early.
struct Unfinished(Option<Completion>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(c.failed(
                    "not sent whole: the client went away; not marked retrieved".into(),
                    Code::Unavailable,
                ));
            }
        }
    }
}

enum Source {
    Stored {
        reader: Box<BodyReader>,
        size: u64,
        sha256: String,
        seen: u64,
        hash: Sha256,
        /// The whole body was read and matched its row.
        checked: bool,
    },
    Inline(Option<Vec<u8>>),
}

/// A message body on its way to a client (see the module docs).
pub struct Delivery {
    inner: Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>,
    len: u64,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("len", &self.len).finish()
    }
}

impl Delivery {
    pub(super) fn stored(
        reader: BodyReader,
        size: u64,
        sha256: String,
        completion: Completion,
    ) -> Delivery {
        Self::new(
            Source::Stored {
                reader: Box::new(reader),
                size,
                sha256,
                seen: 0,
                hash: Sha256::new(),
                checked: false,
            },
            size,
            completion,
        )
    }

    pub(super) fn inline(bytes: Vec<u8>, completion: Completion) -> Delivery {
        let len = bytes.len() as u64;
        Self::new(Source::Inline(Some(bytes)), len, completion)
    }

    fn new(source: Source, len: u64, completion: Completion) -> Delivery {
        let state = (source, Unfinished(Some(completion)));
        let inner = futures_util::stream::unfold(state, |(mut source, mut done)| async move {
            done.0.as_ref()?;
            match next_chunk(&mut source).await {
                Ok(Some(chunk)) => Some((Ok(chunk), (source, done))),
                Ok(None) => {
                    if let Some(c) = done.0.take() {
                        c.delivered().await;
                    }
                    None
                }
                Err(e) => {
                    if let Some(c) = done.0.take() {
                        tracing::error!(message = %c.entry.message_id.as_deref().unwrap_or(""), error = %e, "a message body does not match its row");
                        c.failed(e.to_string(), Code::Unavailable).await;
                    }
                    Some((Err(e), (source, done)))
                }
            }
        });
        Delivery {
            inner: Box::pin(inner),
            len,
        }
    }

    /// The body's length as its row gives it.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The next chunk (exactly [`CHUNK`] bytes but for the last), checked against the row: the
/// last one only once the body's size, end and SHA-256 all match it.
async fn next_chunk(source: &mut Source) -> io::Result<Option<Bytes>> {
    match source {
        Source::Inline(bytes) => Ok(bytes.take().filter(|b| !b.is_empty()).map(Bytes::from)),
        Source::Stored {
            reader,
            size,
            sha256,
            seen,
            hash,
            checked,
        } => {
            if *checked {
                return Ok(None);
            }
            let want = CHUNK.min(size.saturating_sub(*seen) as usize);
            let mut buf = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                match reader.read(&mut buf[filled..]).await? {
                    0 => break,
                    n => filled += n,
                }
            }
            *seen += filled as u64;
            if filled < want {
                return Err(mismatch(format!(
                    "the stored body has {seen} bytes, its row says {size}"
                )));
            }
            hash.update(&buf);
            if *seen == *size {
                // The last chunk: the body must end here and hash to the row's SHA-256.
                let mut probe = [0u8; 1];
                if reader.read(&mut probe).await? > 0 {
                    return Err(mismatch(format!(
                        "the stored body is longer than its row's {size} bytes"
                    )));
                }
                let got = hex::encode(std::mem::take(hash).finalize());
                if !crate::ground::constant_time_eq(got.as_bytes(), sha256.as_bytes()) {
                    return Err(mismatch(
                        "the stored body's SHA-256 differs from its row's".into(),
                    ));
                }
                *checked = true;
            }
            if filled == 0 {
                return Ok(None); // an empty body, checked
            }
            metrics::counter!("imax_sent_bytes_total").increment(filled as u64);
            Ok(Some(Bytes::from(buf)))
        }
    }
}

fn mismatch(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail)
}

impl Stream for Delivery {
    type Item = io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
