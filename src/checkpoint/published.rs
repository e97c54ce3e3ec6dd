//! Checkpoints signed with the receipt key (issue 31): the HMAC checkpoints above can be
//! checked only with the audit key, which a Contract Administrator or a reviewer does not
//! hold; so each checkpoint is also signed with the receipt key (Ed25519, its public key
//! published), over the chain's head and the Merkle root of the records since the previous one
//! (`receipt::proof`). They go to `<data_dir>/receipt-checkpoints`, one JSON object a line;
//! a receipt's inclusion proof is read from there (one line, found through an index kept in
//! memory, `index`) and from the chain.

mod index;
mod verify;

pub use verify::PublishedVerdict;

use crate::receipt::proof::{root_and_path, Step};
use crate::receipt::{ReceiptKeys, SignedCheckpoint};
use crate::store::{Store, StoreError};
use std::io::{self, Write};
use std::path::PathBuf;
use time::OffsetDateTime;

/// Records one published checkpoint covers at most.
pub const MAX_RECORDS: i64 = 100_000;

/// The published checkpoints' file and the key that signs them.
#[derive(Debug)]
pub struct Published {
    keys: ReceiptKeys,
    file: PathBuf,
    /// One publication at a time (each starts where the file's last checkpoint ends).
    publishing: tokio::sync::Mutex<()>,
    /// Where each checkpoint's line is: read whole once, then only what was appended.
    index: std::sync::Mutex<index::Index>,
}

/// A record's hashes, as bytes.
fn bytes_of(hashes: &[String]) -> Result<Vec<[u8; 32]>, io::Error> {
    hashes
        .iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a record hash"))
        })
        .collect()
}

impl Published {
    pub fn from_config(c: &crate::config::Config) -> Published {
        Published {
            keys: ReceiptKeys::from_config(c),
            file: c.data_dir.join("receipt-checkpoints"),
            publishing: tokio::sync::Mutex::new(()),
            index: std::sync::Mutex::new(index::Index::default()),
        }
    }

    /// The index, brought up to the file's end (reading only what was appended since).
    fn index(&self) -> io::Result<std::sync::MutexGuard<'_, index::Index>> {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        index.refresh(&self.file)?;
        Ok(index)
    }

    /// Signs the records after the last published checkpoint up to the head `seq` (at most
    /// [`MAX_RECORDS`] of them: a chain older than its first publication is caught up over
    /// several checkpoints, in bounded memory).
    pub async fn publish(
        &self,
        store: &Store,
        seq: i64,
        now: OffsetDateTime,
    ) -> Result<(), super::ExportError> {
        let _turn = self.publishing.lock().await;
        let covered = self.index()?.last_seq();
        if seq <= covered {
            return Ok(());
        }
        let upto = seq.min(covered + MAX_RECORDS);
        let hashes = store.audit_log().hashes_between(covered + 1, upto).await?;
        let Some(head) = hashes.last() else {
            return Ok(());
        };
        let key = self.keys.current()?;
        let c = SignedCheckpoint::sign(&key, covered + 1, &bytes_of(&hashes)?, head, now);
        let (file, line) = (self.file.clone(), c.to_line());
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let mut f = crate::ground::private::file_options()
                .create(true)
                .append(true)
                .open(&file)?;
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })
        .await
        .map_err(io::Error::other)??;
        Ok(())
    }

    /// The published checkpoint that covers record `seq` and the path of its hash to that
    /// checkpoint's root; `None` until one does.
    pub async fn covering(
        &self,
        store: &Store,
        seq: i64,
    ) -> Result<Option<(SignedCheckpoint, Vec<Step>)>, ProofError> {
        let found = self.index()?.covering(&self.file, seq)?;
        let Some(c) = found else {
            return Ok(None);
        };
        let hashes = store.audit_log().hashes_between(c.first, c.seq).await?;
        let (root, path) = root_and_path(&bytes_of(&hashes)?, (seq - c.first) as usize);
        if hex::encode(root) != c.root {
            return Err(ProofError::Changed(c.seq));
        }
        Ok(Some((c, path)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("{0}")]
    Db(#[from] StoreError),
    #[error("published checkpoints: {0}")]
    Io(#[from] io::Error),
    #[error("the audit records up to {0} no longer match their signed checkpoint")]
    Changed(i64),
}
