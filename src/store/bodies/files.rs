//! Bodies beside SQLite: files sharded into 256 directories under `<data_dir>/messages/bodies`,
//! spilled to `staging/` while they arrive. Sealing writes what remains, fsyncs the file,
//! renames it into `bodies/xx/` and fsyncs that directory, all in one trip to the blocking pool.
//!
//! A small body (at most [`INLINE`](super::INLINE) bytes, the most common TRACS file) goes into
//! the database instead, written by its message row's own transaction: the group commit makes
//! it durable together with the row and the rows of other requests, one fsync for them all
//! instead of a file, two fsyncs and a rename each. SQLite reads and writes blobs of this size
//! faster than the filesystem does, and a row and its body can then never part. Bodies stored
//! as files by earlier versions are still read from their files.
//!
//! Only one gateway serves a data directory (its lock), so at start-up everything in `staging/`
//! is a leftover, and after an unclean stop so is every body without a row.

use super::ChunkBodies;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

const CLEAN_MARK: &str = "clean-shutdown";

/// How long a free-space check that passed is believed. Every staged body and every spilled
/// chunk asks; the filesystem's answer (`statvfs`) cost 1.2 % of the gateway's CPU under
/// SendFile load (`perf`, stop 38). In a tenth of a second a disk takes in far less than the
/// floor (256 MiB by default) keeps free. A check that failed is never believed: each upload
/// asks again, so uploads resume as soon as there is room.
const SPACE_BELIEVED: Duration = Duration::from_millis(100);

/// The clock [`FileBodies::check_space`] keeps its last passing check by.
static SINCE: LazyLock<Instant> = LazyLock::new(Instant::now);

#[derive(Debug, Clone)]
pub struct FileBodies {
    root: PathBuf,
    /// Free space (bytes) the filesystem keeps; 0: no floor.
    min_free: u64,
    /// The database that keeps small bodies (none: every body is a file).
    small: Option<ChunkBodies>,
    /// Until when (microseconds after [`SINCE`]) the last free-space check is believed: 0 when
    /// none passed or the last one failed. Shared by the clones.
    space_believed_until: Arc<AtomicU64>,
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl FileBodies {
    /// Refuses (`StorageFull`) when the filesystem's free space is below the floor, so that
    /// uploads stop before the database runs out of room.
    pub fn check_space(&self) -> io::Result<()> {
        if self.min_free == 0 {
            return Ok(());
        }
        let now = u64::try_from(SINCE.elapsed().as_micros()).unwrap_or(u64::MAX);
        if now < self.space_believed_until.load(Ordering::Relaxed) {
            return Ok(());
        }
        let st = rustix::fs::statvfs(&self.root)?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < self.min_free {
            self.space_believed_until.store(0, Ordering::Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("{free} bytes free, below the floor of {}", self.min_free),
            ));
        }
        let believed = u64::try_from(SPACE_BELIEVED.as_micros()).unwrap_or(u64::MAX);
        self.space_believed_until
            .store(now.saturating_add(believed), Ordering::Relaxed);
        Ok(())
    }

    /// Sets the free-space floor (bytes).
    pub fn with_min_free(mut self, bytes: u64) -> FileBodies {
        self.min_free = bytes;
        self.space_believed_until = Arc::new(AtomicU64::new(0));
        self
    }

    pub fn open(root: &Path) -> io::Result<FileBodies> {
        crate::ground::private::dir(root)?;
        crate::ground::private::dir(&root.join("staging"))?;
        crate::ground::private::dir(&root.join("bodies"))?;
        Ok(FileBodies {
            root: root.to_path_buf(),
            min_free: 0,
            small: None,
            space_believed_until: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Keeps small bodies in the database `pool` (its `body_chunks` table).
    pub fn with_database(mut self, pool: sqlx::AnyPool) -> FileBodies {
        self.small = Some(ChunkBodies::new(pool));
        self
    }

    /// The database that keeps small bodies, if any.
    pub(super) fn small(&self) -> Option<&ChunkBodies> {
        self.small.as_ref()
    }

    fn staging_path(&self, key: &str) -> io::Result<PathBuf> {
        let key = super::checked_key(key)?;
        Ok(self.root.join("staging").join(format!("{key}.part")))
    }

    /// Where a body lives. Keys are 32 lower-case hex digits generated here; any other key
    /// (read from a row someone else wrote) is refused, never joined to a path.
    pub fn path(&self, key: &str) -> io::Result<PathBuf> {
        let key = super::checked_key(key)?;
        Ok(self.root.join("bodies").join(&key[..2]).join(key))
    }

    pub async fn open_body(&self, key: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(key)?).await
    }

    /// Removes a sealed body (its row was never committed, or it is being purged).
    pub fn remove(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub(super) fn discard_staging(&self, key: &str) {
        if let Ok(path) = self.staging_path(key) {
            let _ = fs::remove_file(path);
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

    pub(super) fn staging_count(&self) -> io::Result<u64> {
        Ok(fs::read_dir(self.root.join("staging"))?.count() as u64)
    }

    /// Every body key present on disk.
    pub fn all_keys(&self) -> io::Result<Vec<String>> {
        let mut keys = Vec::new();
        for shard in fs::read_dir(self.root.join("bodies"))? {
            let shard = shard?;
            if shard.file_type()?.is_dir() {
                for f in fs::read_dir(shard.path())? {
                    // Only bodies: a file of another name is none of the store's.
                    if let Some(name) = f?.file_name().to_str().filter(|n| super::is_key(n)) {
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

    /// Appends `bytes` to the staging file, creating it on first use.
    pub(super) async fn spill(
        &self,
        key: &str,
        spill: &mut Option<tokio::fs::File>,
        bytes: &[u8],
    ) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        if spill.is_none() {
            *spill = Some(
                crate::ground::private::async_file_options()
                    .write(true)
                    .create_new(true)
                    .open(self.staging_path(key)?)
                    .await?,
            );
        }
        if let Some(f) = spill.as_mut() {
            f.write_all(bytes).await?;
        }
        Ok(())
    }

    /// Writes the rest, fsyncs, and moves the body into place.
    pub(super) async fn seal(
        &self,
        key: &str,
        spill: Option<tokio::fs::File>,
        memory: Vec<u8>,
    ) -> io::Result<()> {
        let spill = match spill {
            Some(f) => Some(f.into_std().await),
            None => None,
        };
        let store = self.clone();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let staging = store.staging_path(&key)?;
            let mut file = match spill {
                Some(f) => f,
                None => crate::ground::private::file_options()
                    .write(true)
                    .create_new(true)
                    .open(&staging)?,
            };
            file.write_all(&memory)?;
            file.sync_all()?;
            drop(file);
            let dest = store.path(&key)?;
            let shard = dest.parent().unwrap_or(&store.root).to_path_buf();
            if !shard.exists() {
                crate::ground::private::dir(&shard)?;
                sync_dir(&store.root.join("bodies"))?;
            }
            fs::rename(&staging, &dest)?;
            sync_dir(&shard)
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::bodies::{BodyStore, StageError, CHUNK};
    use sha2::{Digest, Sha256};

    #[tokio::test]
    async fn small_and_spilled_bodies_seal_with_their_hash() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = FileBodies::open(dir.path()).expect("open");
        let store = BodyStore::Files(files.clone());
        for size in [0usize, 10, CHUNK * 3 + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut staged = store.stage(u64::MAX).expect("stage");
            for chunk in data.chunks(7000) {
                staged.write(chunk).await.expect("write");
            }
            let sealed = staged.seal().await.expect("seal");
            assert_eq!(sealed.sha256, hex::encode(Sha256::digest(&data)));
            assert_eq!(
                fs::read(files.path(&sealed.key).expect("key")).expect("read"),
                data
            );
        }
        assert_eq!(files.clear_staging().expect("clear"), 0);
    }

    #[tokio::test]
    async fn limit_is_enforced_and_discard_cleans_up() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = FileBodies::open(dir.path()).expect("open");
        let store = BodyStore::Files(files.clone());
        let mut staged = store.stage(CHUNK as u64 + 10).expect("stage");
        staged.write(&vec![0u8; CHUNK]).await.expect("fits");
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

    #[test]
    fn a_passing_space_check_is_believed_briefly_and_a_failing_one_never() {
        let dir = tempfile::tempdir().expect("tmp");
        let roomy = FileBodies::open(dir.path()).expect("open").with_min_free(1);
        roomy.check_space().expect("room");
        // Believed: the floor is not asked again within SPACE_BELIEVED...
        let believed = roomy.space_believed_until.load(Ordering::Relaxed);
        roomy.check_space().expect("room");
        assert_eq!(roomy.space_believed_until.load(Ordering::Relaxed), believed);
        // ...and asked again after it.
        std::thread::sleep(SPACE_BELIEVED + Duration::from_millis(20));
        roomy.check_space().expect("room");
        assert!(roomy.space_believed_until.load(Ordering::Relaxed) > believed);
        // A floor no disk has: refused every time, never believed.
        let full = roomy.with_min_free(u64::MAX);
        for _ in 0..3 {
            let e = full.check_space().expect_err("full");
            assert_eq!(e.kind(), io::ErrorKind::StorageFull);
            assert_eq!(full.space_believed_until.load(Ordering::Relaxed), 0);
        }
    }
}
