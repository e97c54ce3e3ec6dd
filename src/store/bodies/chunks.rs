//! Bodies in the database (the store beside PostgreSQL): every gateway node sharing the
//! database reads every body, and a `pg_dump` holds messages and bodies together.
//!
//! An upload is written as it arrives, one [`CHUNK`](super::CHUNK) per statement (a few at
//! once, see [`WRITES_IN_FLIGHT`](super::WRITES_IN_FLIGHT)), so memory stays bounded whatever
//! the file's size. While it has no message row it is listed in `body_uploads`; each chunk's
//! statement first locks that entry (renewing its age when it is over a minute old) and writes
//! nothing if the entry is gone. The transaction that commits the message row deletes the
//! entry (see the committer), so an entry is exactly "a body that is not (yet) a message".
//! A body of at most [`INLINE`](super::INLINE) bytes that never filled a chunk skips all this:
//! the message row's transaction writes it, so row and body commit together.
//!
//! Any node may have uploads in flight, so nobody can sweep "everything without a row" at
//! start-up. Instead leftovers are swept by age: an entry untouched for [`STALE_SECS`] belongs to
//! a node that stopped (an upload in progress renews its entry at least every minute while
//! chunks arrive, and a client idle for more than `limits.body_idle_timeout_secs` is cut off).
//! Ages are measured with the database's clock, the one clock every node shares. The sweep skips entries another
//! transaction holds (`SKIP LOCKED`), so a chunk being written is never swept from under it and
//! two nodes sweeping at once do not collide.

use crate::store::reconnect::{insert_once_more, once_more};
use sqlx::AnyPool;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// An upload entry untouched this long is a leftover.
pub const STALE_SECS: i64 = 3600;

/// An upload in progress renews its entry's age at most this often.
const TOUCH_SECS: i64 = 60;

/// The database's clock, in epoch seconds: the same for every node.
const DB_NOW: &str = "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)";

#[derive(Debug, Clone)]
pub struct ChunkBodies {
    pool: AnyPool,
    /// Writes an upload's chunks. On PostgreSQL its sessions commit without waiting for the
    /// disk (`synchronous_commit = off`): a chunk need not be durable on its own, because the
    /// message row's transaction, which commits synchronously, is later in the one write-ahead
    /// log and its flush takes every earlier record with it. So a large upload waits for one
    /// flush (its row's, shared with a batch) instead of one per chunk, and nothing a receipt
    /// was given for can be lost: no receipt before that flush, and a body whose row never
    /// commits is a leftover the sweep removes whatever a crash kept of it.
    ///
    /// Downloads read their chunks through the same few sessions: a session keeps buffers of
    /// the largest message it carried, so the fewer sessions carry whole chunks, the flatter
    /// the gateway's memory (16 downloads of 100 MiB at once: peak growth 90 -> 68 MiB).
    uploads: AnyPool,
}

fn db(e: sqlx::Error) -> io::Error {
    io::Error::other(e)
}

/// Every statement of an upload touches exactly its `body_uploads` entry; none means a sweep
/// took the upload as abandoned.
fn touched(rows_affected: u64) -> io::Result<()> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(io::Error::other(
            "the upload was swept as abandoned before it was sealed",
        ))
    }
}

impl ChunkBodies {
    pub fn new(pool: AnyPool) -> ChunkBodies {
        ChunkBodies {
            uploads: pool.clone(),
            pool,
        }
    }

    /// Writes uploads' chunks through `uploads` (see the field).
    pub fn with_upload_pool(mut self, uploads: AnyPool) -> ChunkBodies {
        self.uploads = uploads;
        self
    }

    /// Ends the upload sessions (the store is closing; no upload is under way).
    pub async fn close_uploads(&self) {
        self.uploads.close().await;
    }

    /// Writes chunk `seq` of an upload; the first one also lists the upload.
    ///
    /// A later chunk holds its upload's entry in `KEY SHARE` mode rather than updating it, so
    /// that several chunks of one upload are written at once (an update would queue them on
    /// the entry's row lock) while the sweep, which deletes with `FOR UPDATE SKIP LOCKED`,
    /// still passes over it. The entry's age is renewed (an update, which the sweep passes
    /// over too) once it is older than [`TOUCH_SECS`], far inside [`STALE_SECS`].
    pub(super) async fn put(&self, key: &str, seq: i64, bytes: &[u8]) -> io::Result<()> {
        let sql = if seq == 0 {
            format!(
                "WITH u AS (INSERT INTO body_uploads (body_key, touched_at) VALUES ($1, {DB_NOW})
                            RETURNING body_key)
                 INSERT INTO body_chunks (body_key, seq, data) SELECT body_key, $2, $3 FROM u"
            )
        } else {
            // `t` renews an old entry; only when it did not does `k` lock the entry (one
            // statement never both updates and locks the same row).
            format!(
                "WITH t AS (UPDATE body_uploads SET touched_at = {DB_NOW}
                             WHERE body_key = $1 AND touched_at < {DB_NOW} - {TOUCH_SECS}
                            RETURNING body_key),
                      k AS (SELECT body_key FROM body_uploads
                             WHERE body_key = $1 AND NOT EXISTS (SELECT 1 FROM t) FOR KEY SHARE)
                 INSERT INTO body_chunks (body_key, seq, data)
                 SELECT body_key, $2, $3 FROM t UNION ALL SELECT body_key, $2, $3 FROM k"
            )
        };
        // The chunk's key is this upload's alone: a second run that finds it knows the first
        // one landed (`reconnect`).
        touched(
            insert_once_more("chunk", || async {
                sqlx::query(&sql)
                    .bind(key)
                    .bind(seq)
                    .bind(bytes)
                    .execute(&self.uploads)
                    .await
                    .map(|done| done.rows_affected())
            })
            .await
            .map_err(db)?,
        )
    }

    /// Writes the last chunk (if any bytes remain) after `written` chunks. When this returns
    /// the whole body is stored, and durable at the latest when its row's transaction is.
    pub(super) async fn finish(&self, key: &str, written: i64, rest: &[u8]) -> io::Result<()> {
        if !rest.is_empty() {
            return self.put(key, written, rest).await;
        }
        let sql = if written == 0 {
            format!("INSERT INTO body_uploads (body_key, touched_at) VALUES ($1, {DB_NOW})")
        } else {
            format!("UPDATE body_uploads SET touched_at = {DB_NOW} WHERE body_key = $1")
        };
        // An insert of this upload's own key, or an update setting the database's clock:
        // either may run twice (`reconnect`).
        touched(
            insert_once_more("chunk", || async {
                sqlx::query(&sql)
                    .bind(key)
                    .execute(&self.uploads)
                    .await
                    .map(|done| done.rows_affected())
            })
            .await
            .map_err(db)?,
        )
    }

    /// Renews an upload's entry when it is over [`TOUCH_SECS`] old (bodies in a bucket, whose
    /// bytes do not pass through here); fails if the entry is gone, swept as abandoned. (A sweep
    /// that commits while this waits for the entry may go unseen: sealing checks once more.)
    pub(super) async fn renew(&self, key: &str) -> io::Result<()> {
        let sql = format!(
            "WITH t AS (UPDATE body_uploads SET touched_at = {DB_NOW}
                         WHERE body_key = $1 AND touched_at < {DB_NOW} - {TOUCH_SECS}
                        RETURNING body_key)
             SELECT COUNT(*) FROM body_uploads WHERE body_key = $1"
        );
        // Setting the database's clock may run twice (`reconnect`).
        touched(
            insert_once_more("renew", || async {
                sqlx::query_scalar(&sql)
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await
                    .map(|n: i64| n.max(0) as u64)
            })
            .await
            .map_err(db)?,
        )
    }

    pub(super) fn open(&self, key: &str, size: u64) -> ChunkReader {
        ChunkReader {
            pool: self.uploads.clone(),
            key: key.to_string(),
            expected: size,
            read: 0,
            next_seq: 0,
            current: bytes::Bytes::new(),
            first: None,
            pending: None,
            done: false,
        }
    }

    /// Opens a body kept whole in one chunk of at most [`INLINE`](super::INLINE) bytes (beside
    /// SQLite): `None` if there is none, so the caller looks for a file. The chunk fetched here
    /// is the reader's first, so the body costs one statement.
    pub(super) async fn open_small(&self, key: &str, size: u64) -> io::Result<Option<ChunkReader>> {
        if size > super::INLINE as u64 {
            return Ok(None);
        }
        let first: Option<Vec<u8>> = once_more("read", || {
            sqlx::query_scalar("SELECT data FROM body_chunks WHERE body_key = $1 AND seq = 0")
                .bind(key)
                .fetch_optional(&self.pool)
        })
        .await
        .map_err(db)?;
        Ok(first.map(|data| {
            let mut reader = self.open(key, size);
            reader.first = Some(data);
            reader
        }))
    }

    /// Removes a body and its upload entry, if any.
    pub async fn remove(&self, key: &str) -> io::Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for sql in [
            "DELETE FROM body_uploads WHERE body_key = $1",
            "DELETE FROM body_chunks WHERE body_key = $1",
        ] {
            sqlx::query(sql)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// Removes uploads untouched for `older_than_secs`, in batches; returns how many.
    pub async fn sweep(&self, older_than_secs: i64) -> io::Result<u64> {
        self.sweep_with(older_than_secs, |_| Box::pin(async { Ok(()) }))
            .await
    }

    /// [`ChunkBodies::sweep`], calling `also` with each batch's keys while their entries are
    /// still held: if it fails, the entries stay for the next sweep (objects, `objects`).
    pub(super) async fn sweep_with(
        &self,
        older_than_secs: i64,
        also: impl Fn(Vec<String>) -> futures_util::future::BoxFuture<'static, io::Result<()>>,
    ) -> io::Result<u64> {
        let mut removed = 0;
        loop {
            let mut tx = self.pool.begin().await.map_err(db)?;
            let keys: Vec<String> = sqlx::query_scalar(&format!(
                "DELETE FROM body_uploads WHERE body_key IN (
                     SELECT body_key FROM body_uploads WHERE touched_at < {DB_NOW} - $1
                      LIMIT 100 FOR UPDATE SKIP LOCKED)
                 RETURNING body_key"
            ))
            .bind(older_than_secs)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for key in &keys {
                sqlx::query("DELETE FROM body_chunks WHERE body_key = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            also(keys.clone()).await?;
            tx.commit().await.map_err(db)?;
            removed += keys.len() as u64;
            if keys.len() < 100 {
                return Ok(removed);
            }
        }
    }

    /// Keys of stored bodies that are not uploads in progress.
    pub(super) async fn keys(&self) -> io::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT c.body_key FROM body_chunks c
              WHERE c.seq = 0
                AND NOT EXISTS (SELECT 1 FROM body_uploads u WHERE u.body_key = c.body_key)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    /// Keys of the uploads in progress.
    pub(super) async fn upload_keys(&self) -> io::Result<Vec<String>> {
        sqlx::query_scalar("SELECT body_key FROM body_uploads")
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    pub(super) async fn uploads(&self) -> io::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM body_uploads")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n.max(0) as u64)
    }
}

/// A chunk being fetched by its own task, so that it arrives while the previous one is sent.
type Fetch = tokio::task::JoinHandle<Result<Option<Vec<u8>>, sqlx::Error>>;

/// Streams a body chunk by chunk, fetching the next chunk while the current one is read (two
/// chunks in memory), and fails rather than end early or late if the chunks do not add up to
/// the row's size.
pub struct ChunkReader {
    pool: AnyPool,
    key: String,
    expected: u64,
    read: u64,
    next_seq: i64,
    current: bytes::Bytes,
    /// Chunk 0, when it was fetched before the reader was made.
    first: Option<Vec<u8>>,
    pending: Option<Fetch>,
    done: bool,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader")
            .field("key", &self.key)
            .field("read", &self.read)
            .field("expected", &self.expected)
            .finish()
    }
}

impl ChunkReader {
    fn fetch(&self) -> Fetch {
        let (pool, key, seq) = (self.pool.clone(), self.key.clone(), self.next_seq);
        tokio::spawn(async move {
            once_more("read", || {
                sqlx::query_scalar("SELECT data FROM body_chunks WHERE body_key = $1 AND seq = $2")
                    .bind(key.as_str())
                    .bind(seq)
                    .fetch_optional(&pool)
            })
            .await
        })
    }
}

impl Drop for ChunkReader {
    /// A download abandoned halfway stops its read-ahead.
    fn drop(&mut self) {
        if let Some(fetch) = self.pending.take() {
            fetch.abort();
        }
    }
}

impl AsyncRead for ChunkReader {
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
            if this.done {
                return Poll::Ready(Ok(()));
            }
            if this.read >= this.expected {
                // Everything the row promised has arrived; a further chunk would be a fault.
                this.done = true;
                continue;
            }
            let got = match this.first.take() {
                Some(first) => Ok(Some(first)),
                None => {
                    let fetch = match this.pending.as_mut() {
                        Some(f) => f,
                        None => this.pending.insert(this.fetch()),
                    };
                    let got = match Pin::new(fetch).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => r.map_err(io::Error::other)?,
                    };
                    this.pending = None;
                    got
                }
            };
            match got {
                Ok(Some(data)) => {
                    this.next_seq += 1;
                    this.read += data.len() as u64;
                    if this.read > this.expected {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "body {} is longer than the {} bytes its row records",
                                this.key, this.expected
                            ),
                        )));
                    }
                    if this.read < this.expected {
                        // Read ahead: the next chunk comes while this one is sent.
                        this.pending = Some(this.fetch());
                    }
                    this.current = bytes::Bytes::from(data);
                }
                Ok(None) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "body {} has {} of the {} bytes its row records",
                            this.key, this.read, this.expected
                        ),
                    )))
                }
                Err(e) => return Poll::Ready(Err(db(e))),
            }
        }
    }
}
