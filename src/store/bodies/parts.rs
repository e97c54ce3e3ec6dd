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
//! Some parts are gathered whole instead, then sent through `object_store` (with its retries)
//! before the next part starts, so an upload holds one part at most:
//! - the first: a body that ends inside it (most files over 64 KiB) is one `PutObject`, never a
//!   multipart upload of one part sent twice;
//! - a part whose stream broke: a fault of the network or the bucket, or a client slower than
//!   the bucket's patience (AWS ends a request that sends nothing for about 20 s, and a client may
//!   pause for `limits.body_idle_timeout_secs`). The bytes are in the copy, so nothing is lost;
//!   the part goes whole once full (`imax_s3_parts_gathered_total` counts these).
//!
//! A part's copy is dropped when its last byte is handed on, not when the bucket confirms it:
//! keeping it until then held a second part through the bucket's answer (+4.5 MiB of peak
//! memory per upload, over issue 29's 16 MiB per 100 MiB). So a part that fails after its last
//! byte (a reset at its very end, a refusal in the answer) fails the upload with an error and
//! no receipt; the client sends the file again.

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

/// How long the bucket may take to accept a chunk of a streamed part before the part is
/// gathered instead, or to answer once a part's last byte is sent before the upload fails (as
/// `object_store`'s own request timeout).
const BUCKET_WAIT: Duration = Duration::from_secs(30);

/// How long a part's presigned request stays valid: it is sent at once, so this only needs to
/// cover clocks that differ a little.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// Chunks queued for a part's request beyond the one being sent.
const QUEUED_CHUNKS: usize = 2;

type Answer = JoinHandle<io::Result<PartId>>;

/// A multipart upload under way.
pub(super) struct StreamedUpload {
    bucket: Arc<AmazonS3>,
    http: reqwest::Client,
    path: Path,
    part_size: usize,
    /// Parts whose last byte is sent and whose answer may wait, at most this many at once.
    in_flight: usize,
    /// The multipart upload, begun when the first part filled.
    id: Option<MultipartId>,
    /// Parts the bucket confirmed, in order.
    done: Vec<PartId>,
    /// Parts whose last byte is sent, awaiting the bucket's answer, oldest first.
    answering: VecDeque<Answer>,
    current: Option<Part>,
}

/// The part under way.
#[derive(Default)]
struct Part {
    /// The part's bytes so far, kept (shared, not copied) until the part is full.
    copy: Vec<Bytes>,
    len: usize,
    /// Its request, fed as bytes arrive; `None` while the part is gathered whole.
    stream: Option<Stream>,
}

struct Stream {
    feed: mpsc::Sender<Bytes>,
    answer: Answer,
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

fn s3(e: object_store::Error) -> io::Error {
    super::objects::s3(e)
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
            id: None,
            done: Vec::new(),
            answering: VecDeque::new(),
            current: None,
        }
    }

    /// The 0-based index of the part under way (or the next one).
    fn index(&self) -> usize {
        self.done.len() + self.answering.len()
    }

    /// Adds bytes to the part under way (starting one if needed), sending each part that fills.
    pub(super) async fn write(&mut self, mut bytes: Bytes) -> io::Result<()> {
        while !bytes.is_empty() {
            let mut part = match (self.current.take(), &self.id) {
                (Some(part), _) => part,
                (None, None) => Part::default(),
                (None, Some(id)) => Part {
                    stream: Some(self.start_stream(id).await?),
                    ..Part::default()
                },
            };
            let piece = bytes.split_to((self.part_size - part.len).min(bytes.len()));
            part.len += piece.len();
            part.copy.push(piece.clone());
            if let Some(stream) = &part.stream {
                let fed = tokio::time::timeout(BUCKET_WAIT, stream.feed.send(piece)).await;
                if !matches!(fed, Ok(Ok(()))) {
                    part.gather().await;
                }
            }
            if part.len < self.part_size {
                self.current = Some(part);
            } else {
                self.full(part).await?;
            }
        }
        Ok(())
    }

    /// Sends a full part on: a streamed one's request ends with its last byte, and its answer
    /// may wait; a gathered one is sent whole, and waited for (the first begins the upload).
    async fn full(&mut self, part: Part) -> io::Result<()> {
        match part.stream {
            Some(stream) => {
                drop(stream.feed);
                self.answering.push_back(stream.answer);
                while self.answering.len() > self.in_flight {
                    self.answered().await?;
                }
            }
            None => {
                let id = match &self.id {
                    Some(id) => id.clone(),
                    None => {
                        let id = self.bucket.create_multipart(&self.path).await.map_err(s3)?;
                        self.id.insert(id).clone()
                    }
                };
                self.send_whole(&id, part.copy);
                while !self.answering.is_empty() {
                    self.answered().await?;
                }
            }
        }
        Ok(())
    }

    /// Sends a gathered part through `object_store` (which retries it), as the next part.
    fn send_whole(&mut self, id: &MultipartId, copy: Vec<Bytes>) {
        let (bucket, path, id) = (self.bucket.clone(), self.path.clone(), id.clone());
        let index = self.index();
        let payload = PutPayload::from_iter(copy);
        self.answering.push_back(tokio::spawn(async move {
            bucket
                .put_part(&path, &id, index, payload)
                .await
                .map_err(s3)
        }));
    }

    /// Waits for the oldest part awaiting its answer.
    async fn answered(&mut self) -> io::Result<()> {
        let Some(mut oldest) = self.answering.pop_front() else {
            return Ok(());
        };
        match tokio::time::timeout(BUCKET_WAIT, &mut oldest).await {
            Ok(Ok(part)) => self.done.push(part?),
            Ok(Err(e)) => return Err(io::Error::other(e)),
            Err(_) => {
                // Not left running: the upload is given up.
                oldest.abort();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the bucket did not answer within {} s",
                        BUCKET_WAIT.as_secs()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Presigns the part's `UploadPart` and sends it, its body fed by [`write`](Self::write).
    async fn start_stream(&self, id: &MultipartId) -> io::Result<Stream> {
        let number = (self.index() + 1).to_string();
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
            // Without the URL: its query is the presigned signature, a credential.
            let response = request
                .send()
                .await
                .map_err(|e| io::Error::other(e.without_url()))?;
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
        Ok(Stream { feed, answer })
    }

    /// Sends the last part and completes the upload: the object appears whole, at once.
    pub(super) async fn finish(mut self) -> io::Result<Stored> {
        let last = self.current.take().unwrap_or_default();
        let Some(id) = self.id.clone() else {
            let whole = PutPayload::from_iter(last.copy);
            self.bucket.put(&self.path, whole).await.map_err(s3)?;
            return Ok(Stored::Whole);
        };
        if last.len > 0 {
            // The body ended inside this part: its request is cut off (it announced a full
            // part, so it cannot complete) and its bytes go as the last part.
            if let Some(stream) = last.stream {
                stream.answer.abort();
            }
            self.send_whole(&id, last.copy);
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
        if let Some(stream) = self.current.take().and_then(|part| part.stream) {
            stream.answer.abort();
        }
        for answer in self.answering.drain(..) {
            answer.abort();
        }
        if let Some(id) = &self.id {
            let _ = self.bucket.abort_multipart(&self.path, id).await;
        }
    }
}

impl Part {
    /// The part's stream broke (or the bucket stopped taking bytes): the rest of the part is
    /// gathered and sent whole, from the copy, once full.
    async fn gather(&mut self) {
        if let Some(stream) = self.stream.take() {
            drop(stream.feed);
            let mut answer = stream.answer;
            let why = match tokio::time::timeout(Duration::from_secs(1), &mut answer).await {
                Ok(Ok(Err(e))) => e.to_string(),
                Ok(_) => "the bucket answered before the part's end".to_string(),
                Err(_) => {
                    answer.abort();
                    "the bucket took no bytes for a while".to_string()
                }
            };
            tracing::warn!(error = %why, "a part's stream to the bucket broke; the part is sent whole");
            metrics::counter!("imax_s3_parts_gathered_total").increment(1);
        }
    }
}
