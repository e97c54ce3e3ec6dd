//! The body store: message contents, named by random keys (never by anything a client sent).
//!
//! Three homes, chosen with the database engine and `bodies.url`:
//!
//! * [`files`] (SQLite, one node): files sharded into 256 directories under the data
//!   directory, fsynced and renamed into place; small bodies in the database;
//! * [`chunks`] (PostgreSQL, any number of nodes): chunks of about 256 KiB in the database
//!   itself, so every node reads every body and one backup holds everything;
//! * [`objects`] (PostgreSQL and `bodies.url = "s3://…"`, any number of nodes): objects in an
//!   S3-compatible bucket, streamed as multipart uploads; small bodies in the database.
//!
//! Life of a body is the same in both: [`BodyStore::stage`] gives a [`StagedBody`] that hashes
//! and counts bytes as they arrive, holding at most [`CHUNK`] bytes in memory before writing them
//! out; [`StagedBody::seal`] makes the whole body durable (or, for a small database body, hands
//! it to the row's own transaction). Only then may a message row name it, so a visible row
//! always has its whole body. A body whose row never commits (the client went
//! away, the process died) is removed: at once when possible, otherwise by the next sweep.

pub mod chunks;
pub mod files;
pub mod keys;
pub mod objects;
mod parts;

pub use chunks::ChunkBodies;
pub use files::FileBodies;
pub use keys::{checked_key, is_key, KEY_LEN};
use keys::{ordered_key, random_key};
pub use objects::{ObjectBodies, Parts};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes held in memory per upload before they are written out (and a database chunk's size).
pub const CHUNK: usize = 256 * 1024;

/// Bodies up to this size (that never filled a chunk) are written into the database by the
/// message row's own transaction, on either engine: one group commit for the row and its body,
/// and nothing to sweep if the process dies first.
pub const INLINE: usize = 64 * 1024;

/// Where message bodies live.
#[derive(Debug, Clone)]
pub enum BodyStore {
    Files(FileBodies),
    Chunks(ChunkBodies),
    Objects(ObjectBodies),
}

/// Why staging refused more bytes.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The free-space floor was reached (or the disk is full): the upload is refused.
    #[error("the storage is full")]
    StorageFull,
    #[error(transparent)]
    Io(io::Error),
}

impl From<io::Error> for StageError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::StorageFull {
            StageError::StorageFull
        } else {
            StageError::Io(e)
        }
    }
}

/// A body that is durable in its final place.
#[derive(Debug, Clone)]
pub struct SealedBody {
    pub key: String,
    pub sha256: String,
    pub size: u64,
    /// Listed as an upload in progress until the message row's transaction claims it
    /// (database bodies), so that a sweep can tell leftovers from messages.
    pub claim: bool,
    /// A small database body not yet written: the message row's transaction writes it.
    pub inline: Option<Vec<u8>>,
}

/// A body being received.
#[derive(Debug)]
pub struct StagedBody {
    key: String,
    hasher: Sha256,
    size: u64,
    limit: u64,
    memory: Vec<u8>,
    sink: Sink,
    sealed: bool,
}

#[derive(Debug)]
enum Sink {
    Files {
        store: FileBodies,
        spill: Option<tokio::fs::File>,
    },
    Chunks {
        store: ChunkBodies,
        /// Chunks handed to the database so far (the upload is listed once the first is).
        written: i64,
        /// Chunk writes still running while the next chunks arrive, oldest first: at most
        /// [`WRITES_IN_FLIGHT`], each on a session of its own, so the database writes while
        /// the gateway receives. Each hands its buffer back to be filled again.
        pending: Writes,
    },
    Objects {
        store: ObjectBodies,
        /// The multipart upload, begun when the first chunk filled.
        upload: Option<objects::ObjectUpload>,
        /// Whether anything was sent (the entry is listed): only then is there anything to
        /// remove.
        listed: bool,
    },
}

/// Chunk writes of one upload that may run at once. One at a time left the database and the
/// gateway each waiting for the other (a 50 MiB upload kept neither busy: 54 % of the bare
/// server); two, three and four measured alike (59–69 %), and each holds a chunk's buffer.
pub const WRITES_IN_FLIGHT: usize = 3;

type Writes = std::collections::VecDeque<tokio::task::JoinHandle<io::Result<Vec<u8>>>>;

/// Waits for the oldest chunk write in flight, if any; its buffer, to be filled again.
async fn wait_oldest(pending: &mut Writes) -> io::Result<Option<Vec<u8>>> {
    match pending.pop_front() {
        Some(write) => write.await.map_err(io::Error::other)?.map(Some),
        None => Ok(None),
    }
}

/// Waits for every chunk write in flight.
async fn wait_all(pending: &mut Writes) -> io::Result<()> {
    while wait_oldest(pending).await?.is_some() {}
    Ok(())
}

impl Drop for StagedBody {
    /// A body dropped before it was sealed (the client went away) leaves nothing behind.
    fn drop(&mut self) {
        if self.sealed {
            return;
        }
        match &mut self.sink {
            Sink::Files { store, .. } => store.discard_staging(&self.key),
            Sink::Chunks {
                store,
                written,
                pending,
            } if *written > 0 => {
                // Removal needs the database (after the write in flight, if any); if no
                // runtime is left, the sweep removes it.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let (store, key, mut pending) =
                        (store.clone(), self.key.clone(), std::mem::take(pending));
                    rt.spawn(async move {
                        let _ = wait_all(&mut pending).await;
                        store.remove(&key).await
                    });
                }
            }
            Sink::Chunks { .. } => {}
            // Also after a failed seal: the object may exist, its row never will.
            Sink::Objects {
                store,
                upload,
                listed: true,
            } => {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let (store, key, upload) = (store.clone(), self.key.clone(), upload.take());
                    rt.spawn(async move { store.discard(&key, upload).await });
                }
            }
            Sink::Objects { .. } => {}
        }
    }
}

impl BodyStore {
    /// Sets the free-space floor of a body store beside SQLite (PostgreSQL's disk is the
    /// database server's: there a full disk is told by the database's own error).
    pub fn with_min_free(self, bytes: u64) -> BodyStore {
        match self {
            BodyStore::Files(f) => BodyStore::Files(f.with_min_free(bytes)),
            other => other,
        }
    }

    /// Whether new bodies can be taken: above the free-space floor (beside SQLite; on
    /// PostgreSQL the database's disk is the database server's to watch).
    pub fn check_space(&self) -> io::Result<()> {
        match self {
            BodyStore::Files(f) => f.check_space(),
            BodyStore::Chunks(_) | BodyStore::Objects(_) => Ok(()),
        }
    }

    pub fn stage(&self, limit: u64) -> Result<StagedBody, StageError> {
        let sink = match self {
            BodyStore::Files(store) => {
                store.check_space()?;
                Sink::Files {
                    store: store.clone(),
                    spill: None,
                }
            }
            BodyStore::Chunks(store) => Sink::Chunks {
                store: store.clone(),
                written: 0,
                pending: Writes::new(),
            },
            BodyStore::Objects(store) => Sink::Objects {
                store: store.clone(),
                upload: None,
                listed: false,
            },
        };
        Ok(StagedBody {
            key: random_key()?,
            hasher: Sha256::new(),
            size: 0,
            limit,
            memory: Vec::new(),
            sink,
            sealed: false,
        })
    }

    /// Opens a stored body of `size` bytes (the row's size: a body found shorter or longer is
    /// an error, never a silently truncated download).
    pub async fn open(&self, key: &str, size: u64) -> io::Result<BodyReader> {
        let key = checked_key(key)?;
        Ok(match self {
            BodyStore::Files(s) => match s.small() {
                Some(db) => match db.open_small(key, size).await? {
                    Some(reader) => BodyReader::Chunks(reader),
                    None => BodyReader::File(s.open_body(key).await?),
                },
                None => BodyReader::File(s.open_body(key).await?),
            },
            BodyStore::Chunks(s) => BodyReader::Chunks(s.open(key, size)),
            BodyStore::Objects(s) => s.open(key, size).await?,
        })
    }

    /// Removes a body (its row was never committed, or it is being purged).
    pub async fn remove(&self, key: &str) -> io::Result<()> {
        let key = checked_key(key)?;
        match self {
            BodyStore::Files(s) => {
                s.remove(key)?;
                match s.small() {
                    Some(db) => db.remove(key).await,
                    None => Ok(()),
                }
            }
            BodyStore::Chunks(s) => s.remove(key).await,
            BodyStore::Objects(s) => s.remove(key).await,
        }
    }

    /// Removes what is left of a body whose row a purge deleted (R26): files and objects go
    /// after the commit (database chunks went with the row). One left behind by a crash is
    /// never shown, and `imax admin check` lists it.
    pub async fn remove_purged(&self, key: &str) -> io::Result<()> {
        match self {
            BodyStore::Files(s) => s.remove(checked_key(key)?),
            BodyStore::Chunks(_) => Ok(()),
            BodyStore::Objects(s) => s.remove(key).await,
        }
    }

    /// Every stored body's key, except uploads still in progress.
    pub async fn keys(&self) -> io::Result<Vec<String>> {
        match self {
            BodyStore::Files(s) => {
                let mut keys = s.all_keys()?;
                if let Some(db) = s.small() {
                    keys.extend(db.keys().await?);
                }
                Ok(keys)
            }
            BodyStore::Chunks(s) => s.keys().await,
            BodyStore::Objects(s) => s.keys().await,
        }
    }

    /// Uploads in progress (or left by a stopped process and not yet swept).
    pub async fn uploads_in_progress(&self) -> io::Result<u64> {
        match self {
            BodyStore::Files(s) => s.staging_count(),
            BodyStore::Chunks(s) => s.uploads().await,
            BodyStore::Objects(s) => s.db().uploads().await,
        }
    }

    /// Removes uploads abandoned by a stopped node (database or bucket bodies; by age, with
    /// the database's clock). Bodies beside SQLite are swept at start-up instead.
    pub async fn sweep_abandoned(&self, older_than_secs: i64) -> io::Result<u64> {
        match self {
            BodyStore::Files(_) => Ok(0),
            BodyStore::Chunks(s) => s.sweep(older_than_secs).await,
            BodyStore::Objects(s) => s.sweep(older_than_secs).await,
        }
    }
}

impl StagedBody {
    /// Adds bytes, refusing once the limit would be passed. Bytes are held in memory up to
    /// exactly [`CHUNK`], then written out: the buffer never grows past a chunk, whatever
    /// sizes the door hands over.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        let new_size = self.size + chunk.len() as u64;
        if new_size > self.limit {
            return Err(StageError::TooLarge { limit: self.limit });
        }
        self.size = new_size;
        self.hasher.update(chunk);
        let mut rest = chunk;
        while !rest.is_empty() {
            let take = (CHUNK - self.memory.len()).min(rest.len());
            let needed = self.memory.len() + take;
            if needed > self.memory.capacity() {
                // Doubling as a Vec would, but never past a chunk.
                let cap = (2 * self.memory.capacity()).clamp(needed, CHUNK);
                self.memory.reserve_exact(cap - self.memory.len());
            }
            self.memory.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.memory.len() == CHUNK {
                self.write_out().await?;
            }
        }
        Ok(())
    }

    /// Writes out a full chunk of memory to the store.
    async fn write_out(&mut self) -> Result<(), StageError> {
        match &mut self.sink {
            Sink::Files { store, spill } => {
                store.check_space()?;
                store.spill(&self.key, spill, &self.memory).await?;
            }
            Sink::Chunks {
                store,
                written,
                pending,
            } => {
                // Chunk 0 lists the upload: the later chunks' statements need to see
                // it, so they start once it is committed. Then up to WRITES_IN_FLIGHT
                // writes run while the next chunks arrive; their buffers take turns, so
                // an upload allocates them once, not a growing one per chunk.
                let spare = if *written == 1 || pending.len() >= WRITES_IN_FLIGHT {
                    wait_oldest(pending).await?
                } else {
                    None
                };
                let spare = spare.unwrap_or_else(|| Vec::with_capacity(CHUNK));
                let (store, key, seq) = (store.clone(), self.key.clone(), *written);
                let chunk = std::mem::replace(&mut self.memory, spare);
                pending.push_back(tokio::spawn(async move {
                    store.put(&key, seq, &chunk).await?;
                    Ok(chunk)
                }));
                *written += 1;
            }
            Sink::Objects {
                store,
                upload,
                listed,
            } => {
                *listed = true;
                let upload = match upload {
                    Some(u) => u,
                    None => upload.insert(store.begin(&self.key).await?),
                };
                // The chunk itself becomes part of the part (no copy); the next one gets
                // a buffer of its own, a whole chunk at once (the body is large).
                let full = std::mem::replace(&mut self.memory, Vec::with_capacity(CHUNK));
                store.send(&self.key, upload, Bytes::from(full)).await?;
            }
        }
        self.memory.clear();
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of what has arrived so far, in lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Makes the body durable in its final place.
    pub async fn seal(mut self) -> io::Result<SealedBody> {
        let sha256 = self.sha256_hex();
        let memory = std::mem::take(&mut self.memory);
        let (claim, inline) = match &mut self.sink {
            Sink::Files { store, spill: None }
                if store.small().is_some() && memory.len() <= INLINE =>
            {
                (false, Some(memory))
            }
            Sink::Files { store, spill } => {
                store.seal(&self.key, spill.take(), memory).await?;
                (false, None)
            }
            Sink::Chunks { written: 0, .. } if memory.len() <= INLINE => (false, Some(memory)),
            Sink::Chunks {
                store,
                written,
                pending,
            } => {
                wait_all(pending).await?;
                store.finish(&self.key, *written, &memory).await?;
                (true, None)
            }
            Sink::Objects { upload: None, .. } if memory.len() <= INLINE => (false, Some(memory)),
            Sink::Objects {
                store,
                upload,
                listed,
            } => {
                *listed = true;
                let upload = match upload.take() {
                    Some(u) => u,
                    None => store.begin(&self.key).await?,
                };
                store.complete(upload, memory).await?;
                store.sealed(&self.key).await?;
                (true, None)
            }
        };
        self.sealed = true;
        // Nothing was written under the staged key: a body kept in the database takes one that
        // adds it at the end of its table's index.
        let key = match inline {
            Some(_) => ordered_key()?,
            None => self.key.clone(),
        };
        Ok(SealedBody {
            key,
            sha256,
            size: self.size,
            claim,
            inline,
        })
    }
}

/// A stored body being read.
#[derive(Debug)]
pub enum BodyReader {
    File(tokio::fs::File),
    Chunks(chunks::ChunkReader),
    Object(objects::ObjectReader),
}

impl AsyncRead for BodyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BodyReader::File(f) => Pin::new(f).poll_read(cx, buf),
            BodyReader::Chunks(c) => Pin::new(c).poll_read(cx, buf),
            BodyReader::Object(o) => Pin::new(o).poll_read(cx, buf),
        }
    }
}
