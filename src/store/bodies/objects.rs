//! Bodies in an S3-compatible bucket (issue 29): beside PostgreSQL, so that the database keeps
//! rows and the bucket keeps bytes, and a 50 MiB upload is not also a 50 MiB insert. Every node
//! sharing the database and the bucket serves every message.
//!
//! An object is named `<prefix>bodies/<key>`, the key being the gateway's own random one (never
//! anything a client sent). An upload that fills a [`CHUNK`](super::CHUNK) is listed in the
//! database's `body_uploads` first (as on PostgreSQL chunks), then streamed to the bucket as a
//! multipart upload of [`Parts`] (`bodies.s3_part_mib`, 5 MiB), each part's request fed as the
//! bytes arrive ([`super::parts`]): memory per upload is one part whatever the file's size.
//! Completing the multipart upload is what makes the object exist, whole, at once: nothing
//! half-stored is ever visible under a body's name. Sealing then renews the upload's entry (failing if a sweep took it), and
//! the message row's transaction deletes the entry, so a receipt is sent only after the object
//! is durable in the bucket and its row committed.
//!
//! An entry left behind (the node stopped, or the row was refused and the removal failed) is
//! swept by age like a database body; the sweep deletes the object before the entry, inside
//! the transaction that holds the entry, so a crash halfway leaves the entry to be swept again.
//! A multipart upload cut off by a crash is never visible as an object; the bucket's own
//! lifecycle rule (`AbortIncompleteMultipartUpload`) frees its parts.
//!
//! Small bodies (at most [`INLINE`](super::INLINE) bytes) stay in the database, written by
//! their row's own transaction: one round trip, nothing to sweep.

use super::parts::StreamedUpload;
use super::ChunkBodies;
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

/// How often an upload under way renews its entry (by this node's clock; the entry is stale
/// after [`STALE_SECS`](super::chunks::STALE_SECS), an hour, by the database's).
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// How an upload is cut (`bodies.s3_part_mib`, `bodies.s3_parts_in_flight`): each part streams
/// to the bucket as its bytes arrive, and up to `in_flight` parts already sent may await the
/// bucket's answer while the next one streams. An upload holds one part in memory (the copy of
/// the part under way), whatever the file's size.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Bytes per part: S3's minimum (5 MiB) for every part but the last, or more.
    pub size: usize,
    pub in_flight: usize,
}

/// Where bodies live: a bucket, and the database for upload entries and small bodies.
#[derive(Debug, Clone)]
pub struct ObjectBodies {
    bucket: Arc<AmazonS3>,
    /// Sends the parts of multipart uploads (presigned by `bucket`), streamed.
    http: reqwest::Client,
    parts: Parts,
    /// `<prefix>/` or empty.
    prefix: String,
    db: ChunkBodies,
}

/// Counts bytes handed to the bucket, and an object completed (`multipart`, `whole`) or given
/// up (`aborted`).
fn sent(bytes: usize, object: Option<&'static str>) {
    metrics::counter!("imax_s3_bytes_sent_total").increment(bytes as u64);
    if let Some(how) = object {
        metrics::counter!("imax_s3_objects_total", "how" => how).increment(1);
    }
}

pub(super) fn s3(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}

impl ObjectBodies {
    /// The bucket of `url` (`s3://BUCKET` or `s3://BUCKET/PREFIX`) at `endpoint` (empty: AWS),
    /// with the standard `AWS_*` variables for credentials and region.
    pub fn connect(
        url: &str,
        endpoint: &str,
        parts: Parts,
        pool: sqlx::AnyPool,
    ) -> io::Result<ObjectBodies> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "bodies.url is not s3://…")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        // The S3 client's TLS (reqwest over rustls) uses the process's provider: the gateway's
        // own, ring. Installing it twice is harmless (the first stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The payload is not signed (`UNSIGNED-PAYLOAD`; the request and its headers still
        // are): signing hashes every byte with SHA-256 once more, which the gateway already
        // does for the body's row (and `imax admin check` compares with the object); TLS
        // carries the bytes' integrity on an `https://` endpoint, as on AWS.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_unsigned_payload(true);
        if !endpoint.is_empty() {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        Ok(ObjectBodies {
            bucket: Arc::new(builder.build().map_err(s3)?),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .map_err(io::Error::other)?,
            parts,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            db: ChunkBodies::new(pool),
        })
    }

    /// The database part: upload entries and small bodies.
    pub(super) fn db(&self) -> &ChunkBodies {
        &self.db
    }

    /// The object of body `key` (checked: only keys the gateway makes).
    pub fn path(&self, key: &str) -> io::Result<Path> {
        let key = super::checked_key(key)?;
        Ok(Path::from(format!("{}bodies/{key}", self.prefix)))
    }

    /// Lists the upload (so that a sweep finds it if its row never commits), then starts it.
    pub(super) async fn begin(&self, key: &str) -> io::Result<ObjectUpload> {
        self.db.finish(key, 0, &[]).await?;
        let parts = StreamedUpload::new(
            self.bucket.clone(),
            self.http.clone(),
            self.path(key)?,
            self.parts.size,
            self.parts.in_flight,
        );
        Ok(ObjectUpload {
            parts,
            renewed: Instant::now(),
        })
    }

    /// Adds a full chunk to the upload (the chunk itself, not a copy): it streams on to the
    /// bucket as part of the part under way. Meanwhile the upload's entry is renewed every
    /// [`RENEW_EVERY`], as a database chunk renews it (failing if a sweep took the upload as
    /// abandoned): a database round trip per chunk would stall the upload.
    pub(super) async fn send(
        &self,
        key: &str,
        upload: &mut ObjectUpload,
        chunk: Bytes,
    ) -> io::Result<()> {
        sent(chunk.len(), None);
        let parts = upload.parts.write(chunk);
        if upload.renewed.elapsed() < RENEW_EVERY {
            return parts.await;
        }
        tokio::try_join!(parts, self.db.renew(key))?;
        upload.renewed = Instant::now();
        Ok(())
    }

    /// Sends the rest and completes the upload: the whole object appears at once (one
    /// `PutObject` for a body that ended inside its first part).
    pub(super) async fn complete(&self, mut upload: ObjectUpload, rest: Vec<u8>) -> io::Result<()> {
        let len = rest.len();
        upload.parts.write(Bytes::from(rest)).await?;
        let how = upload.parts.finish().await?;
        sent(len, Some(how.as_str()));
        Ok(())
    }

    /// After the object is stored: renews the entry, failing if a sweep took it meanwhile.
    pub(super) async fn sealed(&self, key: &str) -> io::Result<()> {
        self.db.finish(key, 1, &[]).await
    }

    /// Deletes a body's object (if any), then its entry and any database copy.
    pub async fn remove(&self, key: &str) -> io::Result<()> {
        match self.bucket.delete(&self.path(key)?).await.map_err(s3) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.db.remove(key).await
    }

    /// Abandons an upload: the parts sent are freed, the entry and any object removed.
    pub(super) async fn discard(&self, key: &str, upload: Option<ObjectUpload>) {
        if let Some(upload) = upload {
            upload.parts.abort().await;
            sent(0, Some("aborted"));
        }
        if let Err(e) = self.remove(key).await {
            tracing::warn!(error = %e, "an abandoned upload is left to the sweep");
        }
    }

    /// Removes uploads untouched for `older_than_secs`: objects first, then their entries.
    pub async fn sweep(&self, older_than_secs: i64) -> io::Result<u64> {
        self.db
            .sweep_with(older_than_secs, |keys| {
                let store = self.clone();
                Box::pin(async move {
                    // Only keys the gateway makes can name an object.
                    for path in keys.iter().filter_map(|k| store.path(k).ok()) {
                        match store.bucket.delete(&path).await.map_err(s3) {
                            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                            _ => {}
                        }
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Keys of the bodies in the bucket and the database, except uploads in progress.
    pub(super) async fn keys(&self) -> io::Result<Vec<String>> {
        let uploads: std::collections::HashSet<String> =
            self.db.upload_keys().await?.into_iter().collect();
        let mut keys = self.db.keys().await?;
        let dir = Path::from(format!("{}bodies", self.prefix));
        let mut listing = self.bucket.list(Some(&dir));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(s3)?;
            if let Some(name) = meta.location.filename().filter(|n| super::is_key(n)) {
                if !uploads.contains(name) {
                    keys.push(name.to_string());
                }
            }
        }
        Ok(keys)
    }

    /// Opens a body of `size` bytes: from the database when small and there, else the bucket.
    pub(super) async fn open(&self, key: &str, size: u64) -> io::Result<super::BodyReader> {
        if let Some(reader) = self.db.open_small(key, size).await? {
            return Ok(super::BodyReader::Chunks(reader));
        }
        let got = self.bucket.get(&self.path(key)?).await.map_err(s3)?;
        Ok(super::BodyReader::Object(ObjectReader {
            key: key.to_string(),
            stream: got.into_stream(),
            current: Bytes::new(),
            expected: size,
            read: 0,
        }))
    }
}

/// A multipart upload under way.
pub struct ObjectUpload {
    parts: StreamedUpload,
    /// When the upload's entry was last listed or renewed, by this node's clock.
    renewed: Instant,
}

impl std::fmt::Debug for ObjectUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectUpload").finish_non_exhaustive()
    }
}

/// Streams an object, failing rather than end early or late if it does not hold the row's size.
pub struct ObjectReader {
    key: String,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
    expected: u64,
    read: u64,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("key", &self.key)
            .field("read", &self.read)
            .field("expected", &self.expected)
            .finish()
    }
}

impl AsyncRead for ObjectReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                buf.put_slice(&this.current.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match this.stream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(s3(e))),
                Poll::Ready(Some(Ok(bytes))) => {
                    this.read += bytes.len() as u64;
                    if this.read > this.expected {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "body {} is longer than the {} bytes its row records",
                                this.key, this.expected
                            ),
                        )));
                    }
                    this.current = bytes;
                }
                Poll::Ready(None) if this.read < this.expected => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "body {} has {} of the {} bytes its row records",
                            this.key, this.read, this.expected
                        ),
                    )))
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
            }
        }
    }
}
