//! The body store: message contents as files, named by random keys (never by anything a client
//! sent), sharded into 256 directories.
//!
//! Life of a body: [`BodyStore::stage`] gives a [`StagedBody`] that hashes and counts bytes as
//! they arrive, keeping small bodies in memory and spilling larger ones to `staging/`; then
//! [`StagedBody::seal`] writes what remains, fsyncs the file, renames it into `bodies/xx/` and
//! fsyncs that directory, all in one trip to the blocking pool. Only then may a row name it.

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Bodies up to this size are kept in memory until sealed (one blocking call per message).
const MEMORY_LIMIT: usize = 256 * 1024;
const CLEAN_MARK: &str = "clean-shutdown";

#[derive(Debug, Clone)]
pub struct BodyStore {
    root: PathBuf,
}

/// Why staging refused more bytes.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A body being received.
#[derive(Debug)]
pub struct StagedBody {
    store: BodyStore,
    key: String,
    hasher: Sha256,
    size: u64,
    limit: u64,
    memory: Vec<u8>,
    spill: Option<tokio::fs::File>,
    sealed: bool,
}

impl Drop for StagedBody {
    /// A body dropped before it was sealed (the client went away) leaves no staging file.
    fn drop(&mut self) {
        if !self.sealed {
            let _ = fs::remove_file(self.store.staging_path(&self.key));
        }
    }
}

/// A body that is durable in its final place.
#[derive(Debug, Clone)]
pub struct SealedBody {
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

fn random_key() -> io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(io::Error::other)?;
    Ok(hex::encode(b))
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl BodyStore {
    pub fn open(root: &Path) -> io::Result<BodyStore> {
        fs::create_dir_all(root.join("staging"))?;
        fs::create_dir_all(root.join("bodies"))?;
        Ok(BodyStore {
            root: root.to_path_buf(),
        })
    }

    fn staging_path(&self, key: &str) -> PathBuf {
        self.root.join("staging").join(format!("{key}.part"))
    }

    /// Where a body lives. Keys are 32 lower-case hex digits generated here.
    pub fn path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("00");
        self.root.join("bodies").join(shard).join(key)
    }

    pub fn stage(&self, limit: u64) -> io::Result<StagedBody> {
        Ok(StagedBody {
            store: self.clone(),
            key: random_key()?,
            hasher: Sha256::new(),
            size: 0,
            limit,
            memory: Vec::new(),
            spill: None,
            sealed: false,
        })
    }

    pub async fn open_body(&self, key: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(key)).await
    }

    /// Removes a sealed body (its row was never committed, or it is being purged).
    pub fn remove(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn clear_staging(&self) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(self.root.join("staging"))? {
            fs::remove_file(entry?.path())?;
            n += 1;
        }
        Ok(n)
    }

    /// Every body key present on disk.
    pub fn all_keys(&self) -> io::Result<Vec<String>> {
        let mut keys = Vec::new();
        for shard in fs::read_dir(self.root.join("bodies"))? {
            let shard = shard?;
            if shard.file_type()?.is_dir() {
                for f in fs::read_dir(shard.path())? {
                    if let Some(name) = f?.file_name().to_str() {
                        keys.push(name.to_string());
                    }
                }
            }
        }
        Ok(keys)
    }

    pub fn mark_clean(&self) -> io::Result<()> {
        File::create(self.root.join(CLEAN_MARK))?.sync_all()
    }

    /// True if the previous run stopped cleanly; removes the mark for this run.
    pub fn take_clean_mark(&self) -> io::Result<bool> {
        match fs::remove_file(self.root.join(CLEAN_MARK)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl StagedBody {
    /// Adds bytes, refusing once the limit would be passed.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        let new_size = self.size + chunk.len() as u64;
        if new_size > self.limit {
            return Err(StageError::TooLarge { limit: self.limit });
        }
        self.size = new_size;
        self.hasher.update(chunk);
        self.memory.extend_from_slice(chunk);
        if self.memory.len() >= MEMORY_LIMIT {
            use tokio::io::AsyncWriteExt;
            if self.spill.is_none() {
                let path = self.store.staging_path(&self.key);
                self.spill = Some(tokio::fs::File::create(path).await?);
            }
            if let Some(f) = self.spill.as_mut() {
                f.write_all(&self.memory).await?;
            }
            self.memory.clear();
        }
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
        self.sealed = true;
        let sha256 = self.sha256_hex();
        let spill = match self.spill.take() {
            Some(f) => Some(f.into_std().await),
            None => None,
        };
        let memory = std::mem::take(&mut self.memory);
        let store = self.store.clone();
        let key = self.key.clone();
        let size = self.size;
        let k = key.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let key = k;
            let staging = store.staging_path(&key);
            let mut file = match spill {
                Some(f) => f,
                None => OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&staging)?,
            };
            file.write_all(&memory)?;
            file.sync_all()?;
            drop(file);
            let dest = store.path(&key);
            let shard = dest.parent().unwrap_or(&store.root).to_path_buf();
            if !shard.exists() {
                fs::create_dir_all(&shard)?;
                sync_dir(&store.root.join("bodies"))?;
            }
            fs::rename(&staging, &dest)?;
            sync_dir(&shard)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(SealedBody { key, sha256, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_and_spilled_bodies_seal_with_their_hash() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BodyStore::open(dir.path()).expect("open");
        for size in [0usize, 10, MEMORY_LIMIT * 3 + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut staged = store.stage(u64::MAX).expect("stage");
            for chunk in data.chunks(7000) {
                staged.write(chunk).await.expect("write");
            }
            let sealed = staged.seal().await.expect("seal");
            assert_eq!(sealed.sha256, hex::encode(Sha256::digest(&data)));
            assert_eq!(fs::read(store.path(&sealed.key)).expect("read"), data);
        }
        assert_eq!(store.clear_staging().expect("clear"), 0);
    }

    #[tokio::test]
    async fn limit_is_enforced_and_discard_cleans_up() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BodyStore::open(dir.path()).expect("open");
        let mut staged = store.stage(MEMORY_LIMIT as u64 + 10).expect("stage");
        staged.write(&vec![0u8; MEMORY_LIMIT]).await.expect("fits");
        assert!(matches!(
            staged.write(&[0u8; 11]).await,
            Err(StageError::TooLarge { .. })
        ));
        drop(staged);
        assert_eq!(
            fs::read_dir(dir.path().join("staging"))
                .expect("dir")
                .count(),
            0
        );
    }
}
