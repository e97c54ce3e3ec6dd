//! Signed receipts: what a sender keeps to prove, to a Contract Administrator or a reviewer who
//! does not trust the gateway's operator, that a file was received whole at a given time
//! (issue 31, item 3).
//!
//! A receipt states the message id, the receive time (RFC 3339, UTC, whole seconds), the
//! sending and receiving mailboxes, the file's name, size and SHA-256, and the id of the key
//! that signed it; the signature is Ed25519 over [`Statement::canonical_bytes`], a byte string
//! documented in `docs/receipts.md` so that a vendor can check it in any language. The public
//! keys are served at `/.well-known/imax-receipt-keys` and printed by `imax admin receipt-key`;
//! rotating the key keeps the old public keys listed, so that old receipts stay verifiable
//! ([`key`]).

pub mod key;
pub mod proof;

pub use key::{KeyId, PublicKey, ReceiptKeys, SigningKey};
pub use proof::{Proof, ProofInvalid, ProvenRecord, SignedCheckpoint};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The receipt format this gateway writes; the first field of the signed bytes.
pub const FORMAT: &str = "imax-receipt-v1";

/// What a receipt states, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub message_id: String,
    pub received_at: OffsetDateTime,
    pub from_mailbox: String,
    pub to_mailbox: String,
    pub file_name: String,
    pub size_bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// A signed receipt, as JSON (`imax client … send --receipt FILE`, the browser's download).
/// Fields beyond these are ignored by [`SignedReceipt::verify`]: they are not signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    pub format: String,
    pub message_id: String,
    /// RFC 3339, UTC, whole seconds: `2027-03-01T14:05:09Z`.
    pub received_at: String,
    pub from_mailbox: String,
    pub to_mailbox: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub key_id: String,
    /// Ed25519 over the canonical bytes, base64 (standard alphabet, padded).
    pub signature: String,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("not a receipt: {0}")]
    NotAReceipt(String),
    #[error("the receipt's format is {0:?}, not {FORMAT}")]
    Format(String),
    #[error("the receipt was signed by key {receipt}, not by the key given ({given})")]
    OtherKey { receipt: String, given: String },
    #[error("the signature does not match the receipt: it was changed, or not signed by this key")]
    Signature,
}

/// A receive time as receipts state it: RFC 3339 in UTC, whole seconds.
pub fn receipt_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The bytes a receipt's signature covers: each field in this order, as a 4-byte big-endian
/// length followed by its UTF-8 bytes (so no field can run into the next).
fn canonical(fields: [&str; 9]) -> Vec<u8> {
    canonical_of(&fields)
}

/// [`canonical`] of any number of fields (a signed checkpoint's too).
fn canonical_of(fields: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

impl Statement {
    /// The canonical bytes of this statement signed by `key_id`: format, message id, receive
    /// time, from mailbox, to mailbox, file name, size (decimal), SHA-256 (lowercase hex), key
    /// id (`docs/receipts.md`).
    pub fn canonical_bytes(&self, key_id: &str) -> Vec<u8> {
        canonical([
            FORMAT,
            &self.message_id,
            &receipt_time(self.received_at),
            &self.from_mailbox,
            &self.to_mailbox,
            &self.file_name,
            &self.size_bytes.to_string(),
            &self.sha256.to_ascii_lowercase(),
            key_id,
        ])
    }
}

impl SignedReceipt {
    /// The canonical bytes of the receipt as it reads (the signature checks these).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical([
            &self.format,
            &self.message_id,
            &self.received_at,
            &self.from_mailbox,
            &self.to_mailbox,
            &self.file_name,
            &self.size_bytes.to_string(),
            &self.sha256,
            &self.key_id,
        ])
    }

    /// The receipt as a file keeps it (indented JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The receipt on one line, as the SendFile response carries it.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<SignedReceipt, Invalid> {
        serde_json::from_str(text).map_err(|e| Invalid::NotAReceipt(e.to_string()))
    }

    /// Checks the receipt against `key`: its format, that it names this key, and the
    /// signature over its canonical bytes. Any changed field fails the signature.
    pub fn verify(&self, key: &PublicKey) -> Result<(), Invalid> {
        if self.format != FORMAT {
            return Err(Invalid::Format(self.format.clone()));
        }
        let given = key.id();
        if self.key_id != given.as_str() {
            return Err(Invalid::OtherKey {
                receipt: self.key_id.clone(),
                given: given.to_string(),
            });
        }
        use base64::Engine;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .map_err(|_| Invalid::Signature)?;
        key.verify(&self.canonical_bytes(), &sig)
            .map_err(|_| Invalid::Signature)
    }
}

#[cfg(test)]
mod tests;
