//! `imax receipt verify RECEIPT --key KEY`: checks a signed receipt offline, with nothing but
//! the receipt and a public key (issue 31; the format: docs/receipts.md).

use clap::Subcommand;
use imax_gateway::audit::AuditEntry;
use imax_gateway::receipt::{Proof, ProvenRecord, PublicKey, SignedReceipt};
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
        /// The receipt's inclusion proof (GET /mailbox/message/{id}/proof): also check that
        /// its audit record is in a checkpoint signed with the receipt key.
        #[arg(long)]
        proof: Option<PathBuf>,
    },
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn receipt_command(command: ReceiptCommand) -> Result<(), String> {
    let ReceiptCommand::Verify {
        receipt,
        key,
        proof,
    } = command;
    let text = read(&receipt)?;
    let r = SignedReceipt::from_json(&text).map_err(|e| format!("invalid: {e}"))?;
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
    // The proof given, or the one `imax client … receipt --fetch-proof` embedded.
    let proof = match proof {
        Some(path) => Some(read(&path)?),
        None => serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("proof").map(|p| p.to_string())),
    };
    if let Some(proof) = proof {
        let proof: Proof =
            serde_json::from_str(&proof).map_err(|e| format!("invalid: not a proof: {e}"))?;
        let signer = keys
            .iter()
            .find(|k| k.id().as_str() == proof.checkpoint.key_id)
            .or(keys.first())
            .ok_or("no key")?;
        proof
            .verify(&r, &record_hash(&proof.record), signer)
            .map_err(|e| format!("invalid: {e}"))?;
        println!(
            "proof valid: audit record {} is in the checkpoint of records {} to {} (head {}) signed at {}",
            proof.record.seq,
            proof.checkpoint.first,
            proof.checkpoint.seq,
            proof.checkpoint.hash,
            proof.checkpoint.at
        );
    }
    Ok(())
}

/// The proven record's hash by the chain's own rule.
fn record_hash(r: &ProvenRecord) -> String {
    let entry = AuditEntry {
        at: imax_gateway::clock::from_epoch(r.at),
        actor: r.actor.clone(),
        action: r.action.clone(),
        door: r.door.clone(),
        mailbox: r.mailbox.clone(),
        message_id: r.message_id.clone(),
        client_addr: r.client_addr.clone(),
        outcome: r.outcome.clone(),
        detail: r.detail.clone(),
        request_id: r.request_id.clone(),
    };
    imax_gateway::audit::record_hash(r.seq, &r.prev_hash, &entry)
}
