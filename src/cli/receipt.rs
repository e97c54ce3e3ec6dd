//! `imax receipt verify RECEIPT --key KEY`: checks a signed receipt offline, with nothing but
//! the receipt and a public key (issue 31; the format: docs/receipts.md).

use clap::Subcommand;
use imax_gateway::receipt::{PublicKey, SignedReceipt};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt's signature: prints "valid" and exits 0, or says why not and exits 1.
    Verify {
        /// The receipt (JSON), as `imax client … send --receipt FILE` or the browser saved it.
        receipt: PathBuf,
        /// The public key (PEM, `imax admin receipt-key`), or a file of several PEM keys, or
        /// the JSON of GET /.well-known/imax-receipt-keys: the receipt's key id picks one.
        #[arg(long)]
        key: PathBuf,
    },
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn receipt_command(command: ReceiptCommand) -> Result<(), String> {
    let ReceiptCommand::Verify { receipt, key } = command;
    let r = SignedReceipt::from_json(&read(&receipt)?).map_err(|e| format!("invalid: {e}"))?;
    let keys = PublicKey::all_from_pem(&read(&key)?);
    // The key the receipt names, or the only key given (to say which key it is not).
    let chosen = keys
        .iter()
        .find(|k| k.id().as_str() == r.key_id)
        .or(keys.first())
        .ok_or_else(|| format!("{}: no Ed25519 public key (PEM) in it", key.display()))?;
    r.verify(chosen).map_err(|e| format!("invalid: {e}"))?;
    println!(
        "valid: {} ({} bytes, SHA-256 {}) received {} from {} for {}, message {}, signed by key {}",
        r.file_name,
        r.size_bytes,
        r.sha256,
        r.received_at,
        r.from_mailbox,
        r.to_mailbox,
        r.message_id,
        r.key_id
    );
    Ok(())
}
