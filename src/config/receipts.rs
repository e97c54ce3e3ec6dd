//! `[receipts]`: the key that signs SendFile receipts (`crate::receipt`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Receipts {
    /// The Ed25519 seed in hex (64 digits), usually from `IMAX_RECEIPTS_KEY`; empty: `key_file`.
    /// One key only: rotating it is the operator's (the old public key must stay published).
    pub key: String,
    /// The key file (every key made, the current one last); empty: `<data_dir>/receipt-keys`,
    /// made on first start with mode 0600 and added to by `imax admin receipt-key --rotate`.
    pub key_file: String,
}
