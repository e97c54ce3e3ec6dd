//! The inclusion proof of a receipt: its message's audit record is in a checkpoint of the
//! audit chain signed with the receipt key (issue 31, item 3).
//!
//! At each audit checkpoint the gateway also signs, with the receipt key, the chain's head
//! (sequence number, hash, time) and the Merkle root (RFC 6962 style: leaves and nodes hashed
//! apart) of the hashes of the records since its previous such checkpoint. A proof is the
//! message's own audit record (its fields, so that its hash can be recomputed with the
//! chain's rule, `audit::record_hash`), the path of sibling hashes from it to the root, and the
//! signed checkpoint. Other people's records are not disclosed: only their hashes are.

use super::key::PublicKey;
use super::receipt_time;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The proof format this gateway writes.
pub const PROOF_FORMAT: &str = "imax-receipt-proof-v1";
/// The first field of a signed checkpoint's bytes.
pub const CHECKPOINT_FORMAT: &str = "imax-checkpoint-v1";

fn leaf(record_hash: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(record_hash)
        .finalize()
        .into()
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// One step up the tree: the sibling's hash and which side it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// `left` or `right`.
    pub side: String,
    pub hash: String,
}

/// The root of `hashes` (records' hashes, in order) and the path of `index` to it. A level's
/// unpaired last node goes up as it is.
pub fn root_and_path(hashes: &[[u8; 32]], index: usize) -> ([u8; 32], Vec<Step>) {
    let mut level: Vec<[u8; 32]> = hashes.iter().map(|h| leaf(h)).collect();
    let (mut i, mut path) = (index, Vec::new());
    if level.is_empty() {
        return ([0u8; 32], path);
    }
    while level.len() > 1 {
        let sibling = if i % 2 == 1 { Some(i - 1) } else { Some(i + 1) };
        if let Some(s) = sibling.filter(|s| *s < level.len()) {
            let side = if s < i { "left" } else { "right" };
            path.push(Step {
                side: side.into(),
                hash: hex::encode(level[s]),
            });
        }
        level = level
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    node(&p[0], &p[1])
                } else {
                    p[0]
                }
            })
            .collect();
        i /= 2;
    }
    (level[0], path)
}

/// What a signed checkpoint states: the records `first..=seq` (their Merkle `root`), the
/// chain's head `seq` with its `hash`, at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    pub first: i64,
    pub seq: i64,
    pub hash: String,
    pub root: String,
    /// RFC 3339, UTC, whole seconds.
    pub at: String,
    pub key_id: String,
    pub signature: String,
}

impl SignedCheckpoint {
    /// The signed bytes: as a receipt's, each value length-prefixed (4 bytes, big-endian):
    /// `imax-checkpoint-v1`, first, seq (decimal), hash, root, at, key id.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        super::canonical_of(&[
            CHECKPOINT_FORMAT,
            &self.first.to_string(),
            &self.seq.to_string(),
            &self.hash,
            &self.root,
            &self.at,
            &self.key_id,
        ])
    }

    /// Signs the records `first..=seq` whose hashes are `hashes`.
    pub fn sign(
        key: &super::SigningKey,
        first: i64,
        hashes: &[[u8; 32]],
        head_hash: &str,
        at: time::OffsetDateTime,
    ) -> SignedCheckpoint {
        let (root, _) = root_and_path(hashes, 0);
        let mut c = SignedCheckpoint {
            first,
            seq: first + hashes.len() as i64 - 1,
            hash: head_hash.to_string(),
            root: hex::encode(root),
            at: receipt_time(at),
            key_id: key.public().id().to_string(),
            signature: String::new(),
        };
        c.signature = key.sign_bytes(&c.canonical_bytes());
        c
    }

    /// Checks the signature by `key` (which must be the key `key_id` names).
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), ProofInvalid> {
        if self.key_id != key.id().as_str() {
            return Err(ProofInvalid(
                "the checkpoint was signed by another key".into(),
            ));
        }
        let sig = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|e| ProofInvalid(e.to_string()))?;
        key.verify(&self.canonical_bytes(), &sig)
            .map_err(|_| ProofInvalid("the checkpoint's signature does not match".into()))
    }

    /// One line of the published checkpoints' file.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default() + "\n"
    }
}

/// The message's audit record, as the chain hashes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenRecord {
    pub seq: i64,
    pub prev_hash: String,
    /// Unix seconds, as the chain hashes them.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub door: String,
    pub mailbox: Option<String>,
    pub message_id: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub request_id: Option<String>,
}

/// A receipt's inclusion proof (JSON: GET /mailbox/message/{id}/proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub format: String,
    pub record: ProvenRecord,
    pub path: Vec<Step>,
    pub checkpoint: SignedCheckpoint,
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the proof does not hold: {0}")]
pub struct ProofInvalid(pub String);

impl Proof {
    /// Checks that the record is the receipt's (`SendFile`, `ok`, its message, its time, from
    /// its mailbox), that its hash (`record_hash`, the chain's rule) leads by the path to the
    /// checkpoint's root, and the checkpoint's signature by `key`.
    pub fn verify(
        &self,
        receipt: &super::SignedReceipt,
        record_hash: &str,
        key: &PublicKey,
    ) -> Result<(), ProofInvalid> {
        let no = |why: &str| Err(ProofInvalid(why.to_string()));
        let r = &self.record;
        if self.format != PROOF_FORMAT {
            return no("unknown proof format");
        }
        if r.message_id.as_deref() != Some(receipt.message_id.as_str())
            || r.action != "SendFile"
            || r.outcome != "ok"
            || r.mailbox.as_deref() != Some(receipt.from_mailbox.as_str())
            || receipt_time(crate::clock::from_epoch(r.at)) != receipt.received_at
        {
            return no("the audit record is not this receipt's stored file");
        }
        let c = &self.checkpoint;
        if !(c.first..=c.seq).contains(&r.seq) {
            return no("the record is outside the checkpoint's records");
        }
        let mut h = leaf(&hex::decode(record_hash).map_err(|e| ProofInvalid(e.to_string()))?);
        for step in &self.path {
            let s: [u8; 32] = hex::decode(&step.hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| ProofInvalid("a path hash is not 32 bytes of hex".into()))?;
            h = match step.side.as_str() {
                "left" => node(&s, &h),
                "right" => node(&h, &s),
                _ => return no("a path step is neither left nor right"),
            };
        }
        if hex::encode(h) != c.root {
            return no("the record's path does not lead to the checkpoint's root");
        }
        c.verify_signature(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_of_trees_of_every_size_up_to_9_proves_to_the_root() {
        for n in 1..=9usize {
            let hashes: Vec<[u8; 32]> = (0..n).map(|i| Sha256::digest([i as u8]).into()).collect();
            let (root, _) = root_and_path(&hashes, 0);
            for (i, h) in hashes.iter().enumerate() {
                let (r, path) = root_and_path(&hashes, i);
                assert_eq!(r, root);
                let mut x = leaf(h);
                for s in &path {
                    let sib: [u8; 32] = hex::decode(&s.hash).unwrap().try_into().unwrap();
                    x = if s.side == "left" {
                        node(&sib, &x)
                    } else {
                        node(&x, &sib)
                    };
                }
                assert_eq!(x, root, "leaf {i} of {n}");
            }
        }
    }
}
