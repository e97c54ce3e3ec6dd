//! A multipart upload whose parts stream to the bucket as the body arrives (issue 29).
//!
//! `object_store`'s own multipart writer fills a whole part (5 MiB) in memory, then sends it
//! while the next fills: the bucket waits for each part to fill and the gateway for each part
//! to be taken, and an upload holds two parts or more. Here each part is one `UploadPart`
//! request, presigned by `object_store` (so credentials and signing stay its business), whose
//! body is fed chunk by chunk as the client's bytes come in: the bucket receives while the
//! gateway does, and the bytes of a part are in memory once, as the copy kept until the part is
//! full.
//!
//! Why keep that copy: S3 wants every part but the last at least 5 MiB, and each part's length
//! up front. A part is streamed as a full one; if the body ends inside it, that request is cut
//! off (so it can never complete) and the copy goes as the last part, with its real length.
//! On average half a part is sent twice; none when the body ends on a part's edge.
//!
//! The first part is gathered whole before anything is sent: a body that ends inside it (most
//! files over 64 KiB) is one `PutObject`, never a multipart upload of one part sent twice.
//! Once it fills, the multipart upload begins and that part streams from memory before the
//! second streams from the client, so an upload holds one part at most.

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{MultipartId, ObjectStoreExt, PutPayload};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long the bucket may take to accept a chunk of a part, or to answer once a part's last
/// byte is sent, before the upload fails (as `object_store`'s own request timeout).
const BUCKET_WAIT: Duration = Duration::from_secs(30);

/// How long a part's presigned request stays valid: it is sent at once, so this only needs to
/// cover clocks that differ a little.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// Chunks queued for a part's request beyond the one being sent.
const QUEUED_CHUNKS: usize = 2;

/// A multipart upload under way.
pub(super) struct StreamedUpload {
    bucket: Arc<AmazonS3>,
    http: reqwest::Client,
    path: Path,
    part_size: usize,
    /// Parts whose last byte is sent and whose answer may wait, at most this many at once.
    in_flight: usize,
    /// The first part, gathered whole (shared, not copied) until it fills.
    first: Vec<Bytes>,
    first_len: usize,
    /// The multipart upload, begun when the first part filled.
    id: Option<MultipartId>,
    /// Parts the bucket confirmed, in order.
    done: Vec<PartId>,
    /// Parts whose last byte is sent, awaiting the bucket's answer, oldest first.
    answering: VecDeque<JoinHandle<io::Result<PartId>>>,
    current: Option<Streaming>,
}

/// The part being streamed.
struct Streaming {
    feed: mpsc::Sender<Bytes>,
    /// The part's bytes so far, kept (shared, not copied) until the part is full.
    copy: Vec<Bytes>,
    len: usize,
    answer: JoinHandle<io::Result<PartId>>,
}

impl Streaming {
    /// The error of a part's request that stopped taking bytes.
    async fn failure(self) -> io::Error {
        drop(self.feed);
        match tokio::time::timeout(BUCKET_WAIT, self.answer).await {
            Ok(Ok(Err(e))) => e,
            Ok(Ok(Ok(_))) => io::Error::other("the bucket answered a part before its end"),
            Ok(Err(e)) => io::Error::other(e),
            Err(_) => timed_out("answer"),
        }
    }
}

fn s3(e: object_store::Error) -> io::Error {
    super::objects::s3(e)
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the bucket did not {what} within {} s",
            BUCKET_WAIT.as_secs()
        ),
    )
}

/// How a body reached the bucket (`imax_s3_objects_total{how}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stored {
    /// One `PutObject`: the body ended inside its first part.
    Whole,
    Multipart,
}

impl Stored {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Stored::Whole => "whole",
            Stored::Multipart => "multipart",
        }
    }
}

impl StreamedUpload {
    /// An upload of `path`; nothing is sent until the first part fills or the body ends.
    pub(super) fn new(
        bucket: Arc<AmazonS3>,
        http: reqwest::Client,
        path: Path,
        part_size: usize,
        in_flight: usize,
    ) -> StreamedUpload {
        StreamedUpload {
            bucket,
            http,
            path,
            part_size,
            in_flight,
            first: Vec::new(),
            first_len: 0,
            id: None,
            done: Vec::new(),
            answering: VecDeque::new(),
            current: None,
        }
    }

    /// The 0-based index of the next part to start.
    fn next_index(&self) -> usize {
        self.done.len() + self.answering.len()
    }

    /// Adds bytes to the upload: to the first part while it gathers, then to the part under way
    /// (starting one if needed), closing each part that fills.
    pub(super) async fn write(&mut self, mut bytes: Bytes) -> io::Result<()> {
        while !bytes.is_empty() {
            let Some(id) = self.id.clone() else {
                let piece = bytes.split_to((self.part_size - self.first_len).min(bytes.len()));
                self.first_len += piece.len();
                self.first.push(piece);
                if self.first_len == self.part_size {
                    // The body is larger than a part: the multipart upload begins, and the
                    // first part streams from memory like any other (its chunks freed as the
                    // bucket takes them), so an upload never holds more than a part.
                    let id = self.bucket.create_multipart(&self.path).await.map_err(s3)?;
                    self.id = Some(id.clone());
                    for piece in std::mem::take(&mut self.first) {
                        self.stream(&id, piece).await?;
                    }
                }
                continue;
            };
            let room = self.part_size - self.current.as_ref().map_or(0, |part| part.len);
            let piece = bytes.split_to(room.min(bytes.len()));
            self.stream(&id, piece).await?;
        }
        Ok(())
    }

    /// Feeds `piece` (which does not cross a part's end) to the part under way, closing the part
    /// when it is full.
    async fn stream(&mut self, id: &MultipartId, piece: Bytes) -> io::Result<()> {
        let mut part = match self.current.take() {
            Some(part) => part,
            None => self.start_part(id).await?,
        };
        part.len += piece.len();
        part.copy.push(piece.clone());
        match tokio::time::timeout(BUCKET_WAIT, part.feed.send(piece)).await {
            Err(_) => {
                part.answer.abort();
                return Err(timed_out("take a part's bytes"));
            }
            // The request ended early: its answer says why.
            Ok(Err(_)) => return Err(part.failure().await),
            Ok(Ok(())) => {}
        }
        if part.len < self.part_size {
            self.current = Some(part);
            return Ok(());
        }
        // Full: its request ends with the last byte; the next part starts at once.
        drop(part.feed);
        self.answering.push_back(part.answer);
        while self.answering.len() > self.in_flight {
            self.answered().await?;
        }
        Ok(())
    }

    /// Waits for the oldest part awaiting its answer.
    async fn answered(&mut self) -> io::Result<()> {
        let Some(oldest) = self.answering.pop_front() else {
            return Ok(());
        };
        match tokio::time::timeout(BUCKET_WAIT, oldest).await {
            Ok(Ok(part)) => self.done.push(part?),
            Ok(Err(e)) => return Err(io::Error::other(e)),
            Err(_) => return Err(timed_out("answer")),
        }
        Ok(())
    }

    /// Presigns the next part's `UploadPart` and sends it, its body fed by [`write`](Self::write).
    async fn start_part(&self, id: &MultipartId) -> io::Result<Streaming> {
        let number = (self.next_index() + 1).to_string();
        let options =
            SignedUrlOptions::new().with_query([("partNumber", number.as_str()), ("uploadId", id)]);
        let url = self
            .bucket
            .signed_url_opts(reqwest::Method::PUT, &self.path, SIGNED_FOR, &options)
            .await
            .map_err(s3)?;
        let (feed, queue) = mpsc::channel::<Bytes>(QUEUED_CHUNKS);
        let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(queue, |mut q| async {
            q.recv().await.map(|b| (Ok::<_, io::Error>(b), q))
        }));
        let request = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, self.part_size)
            .body(body);
        let answer = tokio::spawn(async move {
            let response = request.send().await.map_err(io::Error::other)?;
            let status = response.status();
            if !status.is_success() {
                return Err(io::Error::other(format!(
                    "the bucket refused a part: {status}"
                )));
            }
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| io::Error::other("the bucket's answer to a part has no ETag"))?;
            Ok(PartId {
                content_id: etag.to_string(),
            })
        });
        Ok(Streaming {
            feed,
            copy: Vec::new(),
            len: 0,
            answer,
        })
    }

    /// Sends the last part and completes the upload: the object appears whole, at once.
    pub(super) async fn finish(mut self) -> io::Result<Stored> {
        let Some(id) = self.id.clone() else {
            let whole = PutPayload::from_iter(std::mem::take(&mut self.first));
            self.bucket.put(&self.path, whole).await.map_err(s3)?;
            return Ok(Stored::Whole);
        };
        if let Some(part) = self.current.take() {
            // The body ended inside this part: its request is cut off (it announced a full
            // part, so it cannot complete) and its bytes go again as the last part.
            drop(part.feed);
            part.answer.abort();
            let last = PutPayload::from_iter(part.copy);
            let id = self
                .bucket
                .put_part(&self.path, &id, self.next_index(), last)
                .await
                .map_err(s3)?;
            while !self.answering.is_empty() {
                self.answered().await?;
            }
            self.done.push(id);
        }
        while !self.answering.is_empty() {
            self.answered().await?;
        }
        let parts = std::mem::take(&mut self.done);
        self.bucket
            .complete_multipart(&self.path, &id, parts)
            .await
            .map_err(s3)?;
        Ok(Stored::Multipart)
    }

    /// Gives the upload up: requests under way are cut off and the bucket frees the parts.
    pub(super) async fn abort(mut self) {
        if let Some(part) = self.current.take() {
            part.answer.abort();
        }
        for answer in self.answering.drain(..) {
            answer.abort();
        }
        if let Some(id) = &self.id {
            let _ = self.bucket.abort_multipart(&self.path, id).await;
        }
    }
}
