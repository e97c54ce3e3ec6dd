//! Signed checkpoints of the audit chain's head, kept outside the database.
//!
//! The chain alone shows an edit, a removal or a reordering, but not an attacker who can write
//! the database and recomputes every hash after an edit, or cuts records off the end. So the
//! gateway signs the chain's head (sequence number and hash) with HMAC-SHA-256 under a key
//! that is not in the database, and appends it to a checkpoint file every
//! `audit.checkpoint_secs` and when it stops. [`verify`] checks every checkpoint's signature and
//! that the chain still holds the record it names, with the same hash: a recomputed chain
//! differs from the signed hashes, a cut tail lacks the signed record, and a forged checkpoint
//! fails its signature. Only records newer than the last checkpoint are unprotected, so the
//! interval bounds what could be changed unseen; the report gives the last checkpoint's age.
//!
//! The key is `audit.key` (hex, usually from `IMAX_AUDIT_KEY`) or the file `audit.key_file`
//! (default `<data_dir>/audit.key`, made with 32 random bytes and mode 0600 on first start).
//! Several nodes share one database and so one chain: give them the same key; each keeps its
//! own checkpoint file.

pub mod published;

use crate::clock::{from_epoch, rfc3339, to_epoch};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// The key the checkpoints are signed with. Its `Debug` never shows it.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

impl AuditKey {
    /// `hex` if given, else the key file, created with a fresh random key if missing.
    pub fn load(hex_key: &str, file: &Path) -> io::Result<AuditKey> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
        let text = if !hex_key.trim().is_empty() {
            hex_key.trim().to_string()
        } else if file.exists() {
            crate::ground::private::tighten(file)?;
            std::fs::read_to_string(file)?.trim().to_string()
        } else {
            let mut k = [0u8; 32];
            getrandom::getrandom(&mut k).map_err(io::Error::other)?;
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::ground::private::dir(dir)?;
            }
            let mut f = crate::ground::private::file_options()
                .write(true)
                .create_new(true)
                .open(file)?;
            f.write_all(hex::encode(k).as_bytes())?;
            f.sync_all()?;
            tracing::info!(file = %file.display(), "created the audit key");
            return Ok(AuditKey(k));
        };
        let bytes = hex::decode(&text).map_err(|_| bad("the audit key is not hex"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("the audit key must be 32 bytes (64 hex digits)"))?;
        Ok(AuditKey(key))
    }

    /// A key of its own for `purpose`, derived from this one (HMAC-SHA-256), so that one key
    /// kept outside the database serves more than the checkpoints without reuse.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn sign(&self, seq: i64, hash: &str, at: i64) -> String {
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(b"imax-audit-checkpoint-v1\0");
        mac.update(&seq.to_be_bytes());
        mac.update(hash.as_bytes());
        mac.update(&at.to_be_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Where a node keeps its key and checkpoints (from `[audit]`).
#[derive(Debug, Clone)]
pub struct Checkpoints {
    pub key: AuditKey,
    pub file: PathBuf,
    /// The checkpoints also signed with the receipt key, for receipts' inclusion proofs
    /// (`crate::receipt::proof`, module `published`).
    pub published: std::sync::Arc<published::Published>,
}

impl Checkpoints {
    pub fn from_config(c: &crate::config::Config) -> io::Result<Checkpoints> {
        let (key_file, file) = Checkpoints::paths(c);
        Ok(Checkpoints {
            key: AuditKey::load(&c.audit.key, &key_file)?,
            file,
            published: std::sync::Arc::new(published::Published::from_config(c)),
        })
    }

    /// The key's file and the checkpoints' file `[audit]` names (by default in the data
    /// directory); the key file is not used when `audit.key` is given inline.
    pub fn paths(c: &crate::config::Config) -> (PathBuf, PathBuf) {
        let or_default = |s: &str, name: &str| {
            if s.is_empty() {
                c.data_dir.join(name)
            } else {
                PathBuf::from(s)
            }
        };
        (
            or_default(&c.audit.key_file, "audit.key"),
            or_default(&c.audit.checkpoint_file, "audit-checkpoints"),
        )
    }

    /// Signs the chain's current head and appends it, unless the last checkpoint this node
    /// wrote already names it. Returns the head's sequence number.
    pub async fn export(
        &self,
        store: &crate::store::Store,
        now: OffsetDateTime,
        last: &mut i64,
    ) -> Result<i64, ExportError> {
        let head = store.audit_log().head().await?;
        let Some((seq, hash)) = head else {
            return Ok(0);
        };
        if seq != *last {
            self.write(seq, &hash, now).await?;
            *last = seq;
        }
        // Issue 31: the same head signed with the receipt key (catching up if it lags).
        self.published.publish(store, seq, now).await?;
        Ok(seq)
    }

    /// Appends the signed checkpoint of record `seq` to the file.
    async fn write(&self, seq: i64, hash: &str, now: OffsetDateTime) -> io::Result<()> {
        let at = to_epoch(now);
        let line = format!("{seq} {hash} {at} {}\n", self.key.sign(seq, hash, at));
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let mut f = crate::ground::private::file_options()
                .create(true)
                .append(true)
                .open(&file)?;
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Db(#[from] crate::store::StoreError),
    #[error("checkpoint file: {0}")]
    Io(#[from] io::Error),
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointVerdict {
    /// Every checkpoint holds; the newest names record `seq`, signed at `at`.
    Holds {
        checkpoints: usize,
        seq: i64,
        at: Option<OffsetDateTime>,
    },
    /// The first checkpoint that does not hold, and why.
    Broken { line: usize, reason: String },
}

/// [`verify`], and a file with no checkpoint at all is a finding once the chain's first record
/// is older than two checkpoint intervals (`audit.checkpoint_secs`) and a minute: a running
/// gateway would have signed one by then, so the file was deleted (or no gateway has run with
/// this configuration since), and nothing protects the chain from a recomputation (issue 25,
/// item 8). A file that is missing reads as a finding, never as "intact".
pub async fn verify_at(
    store: &crate::store::Store,
    cp: &Checkpoints,
    now: OffsetDateTime,
    interval_secs: u64,
) -> Result<CheckpointVerdict, ExportError> {
    let verdict = verify(store, cp).await?;
    if let CheckpointVerdict::Holds { checkpoints: 0, .. } = verdict {
        let grace = time::Duration::seconds(
            interval_secs.saturating_mul(2).min(i64::MAX as u64 / 2) as i64 + 60,
        );
        if let Some(first) = store.audit_log().first_at().await? {
            if now - first > grace {
                return Ok(CheckpointVerdict::Broken {
                    line: 0,
                    reason: format!(
                        "{} holds no signed checkpoint, though the chain's records go back to {}: the checkpoint file was deleted, or no gateway has run with this configuration since",
                        cp.file.display(),
                        rfc3339(first)
                    ),
                });
            }
        }
    }
    Ok(verdict)
}

/// Checks every checkpoint in the file against its signature and the chain.
pub async fn verify(
    store: &crate::store::Store,
    cp: &Checkpoints,
) -> Result<CheckpointVerdict, ExportError> {
    let text = match std::fs::read_to_string(&cp.file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    let mut newest = (0, None);
    let mut count = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        let broken = |reason: String| Ok(CheckpointVerdict::Broken { line: n, reason });
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [seq, hash, at, sig] = parts.as_slice() else {
            return broken("not a checkpoint line".into());
        };
        let (Ok(seq), Ok(at)) = (seq.parse::<i64>(), at.parse::<i64>()) else {
            return broken("not a checkpoint line".into());
        };
        let expected = cp.key.sign(seq, hash, at);
        if !crate::ground::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
            return broken(format!(
                "the checkpoint of record {seq} is not signed with this gateway's audit key"
            ));
        }
        let stored = store.audit_log().hash_at(seq).await?;
        match stored {
            None => {
                return broken(format!(
                    "record {seq}, signed at {}, is gone: the chain's tail was cut",
                    rfc3339(from_epoch(at))
                ))
            }
            Some(h) if h != *hash => {
                return broken(format!(
                    "record {seq} differs from the hash signed at {}: the chain was edited and recomputed",
                    rfc3339(from_epoch(at))
                ))
            }
            Some(_) => {}
        }
        count += 1;
        if seq >= newest.0 {
            newest = (seq, Some(from_epoch(at)));
        }
    }
    Ok(CheckpointVerdict::Holds {
        checkpoints: count,
        seq: newest.0,
        at: newest.1,
    })
}
