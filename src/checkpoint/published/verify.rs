//! `imax audit verify`'s walk of the checkpoints signed with the receipt key (issue 31 review):
//! the HMAC checkpoints hold the chain's head to the audit key; these hold receipts' proofs to
//! the receipt key, and a proof is only as good as the checkpoint it ends in. So every
//! published checkpoint is checked against the records it covers: its signature by a key of
//! this gateway's, that it starts where the previous one ended (the first at record 1: a node's
//! first publication covers the chain from its start), that the records `first..=seq` are all
//! there, its head's hash, and the Merkle root of their hashes. A checkpoint signed over
//! records that are not the chain's (a forged or edited line, even one re-signed by whoever
//! holds the receipt key) and a chain edited under it are both found, at their line.

use super::{bytes_of, Published};
use crate::checkpoint::ExportError;
use crate::receipt::proof::root_and_path;
use crate::receipt::SignedCheckpoint;
use crate::store::Store;
use std::io;

/// What [`Published::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishedVerdict {
    /// Every checkpoint holds; the newest covers up to record `seq` (0: none yet).
    Holds { checkpoints: usize, seq: i64 },
    /// The first line that does not hold (1-based), and why.
    Broken { line: usize, reason: String },
}

impl Published {
    /// Checks every checkpoint in this node's file against its signature and the chain.
    pub async fn verify(&self, store: &Store) -> Result<PublishedVerdict, ExportError> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        let (mut count, mut previous) = (0, 0);
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let broken = |reason: String| PublishedVerdict::Broken {
                line: i + 1,
                reason,
            };
            let Ok(c) = serde_json::from_str::<SignedCheckpoint>(line) else {
                return Ok(broken("not a receipt checkpoint line".into()));
            };
            if let Some(why) = self.against_chain(store, &c, previous).await? {
                return Ok(broken(why));
            }
            (count, previous) = (count + 1, c.seq);
        }
        Ok(PublishedVerdict::Holds {
            checkpoints: count,
            seq: previous,
        })
    }

    /// Why checkpoint `c`, which follows one ending at record `previous`, does not hold.
    async fn against_chain(
        &self,
        store: &Store,
        c: &SignedCheckpoint,
        previous: i64,
    ) -> Result<Option<String>, ExportError> {
        let span = format!("the receipt checkpoint of records {} to {}", c.first, c.seq);
        let keys = self.keys.existing()?;
        let Some(key) = keys.iter().find(|k| k.public().id().as_str() == c.key_id) else {
            return Ok(Some(format!(
                "{span} names key {}, which is not among this gateway's receipt keys",
                c.key_id
            )));
        };
        if let Err(e) = c.verify_signature(key.public()) {
            return Ok(Some(format!("{span}: {}", e.0)));
        }
        if c.first != previous + 1 || c.seq < c.first {
            return Ok(Some(format!(
                "{span} does not start after the previous one (record {previous}): a checkpoint is missing or out of place"
            )));
        }
        let hashes = store.audit_log().hashes_between(c.first, c.seq).await?;
        if hashes.len() as i64 != c.seq - c.first + 1 {
            return Ok(Some(format!(
                "{span}: {} of its records are gone from the chain",
                c.seq - c.first + 1 - hashes.len() as i64
            )));
        }
        if hashes.last() != Some(&c.hash) {
            return Ok(Some(format!(
                "{span}: record {} differs from the head's hash it signs",
                c.seq
            )));
        }
        let (root, _) = root_and_path(&bytes_of(&hashes)?, 0);
        if hex::encode(root) != c.root {
            return Ok(Some(format!(
                "{span}: the Merkle root of the chain's records differs from the signed root (the checkpoint or the records were changed)"
            )));
        }
        Ok(None)
    }
}
