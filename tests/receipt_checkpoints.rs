//! The checkpoints signed with the receipt key (issue 31, item 3; the review's leftovers):
//! a receipt's inclusion proof is found among many checkpoints by reading one line of the
//! node's `receipt-checkpoints` file, and `imax audit verify` (and `imax admin check`) hold
//! every such checkpoint to the audit records it covers, so a tampered one is reported.

use crate::helpers::*;
use crate::receipts::{imax, proof_now, verify_proof};
use imax_gateway::checkpoint::published::Published;
use imax_gateway::client::Content;
use imax_gateway::clock::Clock;
use imax_gateway::receipt::{ReceiptKeys, SignedCheckpoint, SignedReceipt};
use imax_gateway::store::notices::Subscription;
use std::time::Duration;

/// Sends a file by the SOAP door; its signed receipt.
async fn send_for_receipt(t: &TestApp, n: u32) -> SignedReceipt {
    let mut c = t.client(SITE_USER).await;
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "PLAN.PDF",
            Content::Bytes(payload(n, 2000)),
            None,
        )
        .await
        .expect("reply");
    assert_ok(&r);
    SignedReceipt::from_json(r.get("signedReceipt").expect("a signed receipt")).expect("JSON")
}

/// The chain's head record.
async fn head(t: &TestApp) -> i64 {
    let head = t.admin.store().audit_log().head().await.expect("head");
    head.expect("records").0
}

/// Publishes checkpoints of `step` records each (the last may have fewer) after the node's
/// last one, up to the chain's head, as a node whose schedule ran that often would.
async fn publish_every(t: &TestApp, published: &Published, step: i64) {
    let upto = head(t).await;
    let text = std::fs::read_to_string(checkpoints_file(t)).unwrap_or_default();
    let mut seq = text.lines().last().map_or(0, |l| {
        let c: SignedCheckpoint = serde_json::from_str(l).expect("a checkpoint");
        c.seq
    });
    while seq < upto {
        seq = (seq + step).min(upto);
        published
            .publish(t.admin.store(), seq, t.clock.now())
            .await
            .expect("publish");
    }
}

fn checkpoints_file(t: &TestApp) -> std::path::PathBuf {
    t.config.data_dir.join("receipt-checkpoints")
}

/// Over a thousand checkpoints in the node's file, the message's proof comes from the one
/// that covers its record (not the first, not the last) and verifies with the published key.
#[tokio::test]
async fn r31_a_proof_is_found_among_many_checkpoints_and_verifies() {
    // The node's own schedule signs once as it starts, then not again during the test.
    let t = TestApp::start_with(|c| c.audit.checkpoint_secs = 3_600).await;
    // That first checkpoint is awaited: signed late (a loaded machine), it would cover some
    // of the records below, and fewer would be left to checkpoint one by one.
    wait_until(
        "the node's first checkpoint",
        Duration::from_secs(20),
        || async {
            std::fs::read_to_string(checkpoints_file(&t)).is_ok_and(|f| f.lines().count() >= 1)
        },
    )
    .await;
    // Records to checkpoint: each subscription change is one.
    for i in 0..1_000 {
        let change = [Subscription::On, Subscription::Off][i % 2];
        t.admin
            .subscribe(CA_USER.0, PBCA.0, change)
            .await
            .expect("subscription");
    }
    let receipt = send_for_receipt(&t, 1).await;
    send_for_receipt(&t, 2).await;
    let published = Published::from_config(&t.config);
    publish_every(&t, &published, 1).await;
    let lines = std::fs::read_to_string(checkpoints_file(&t)).expect("file");
    assert!(lines.lines().count() > 1_000, "{}", lines.len());

    let (status, proof) = proof_now(&t, &receipt.message_id).await;
    assert_eq!(status, 200, "{proof}");
    let json: serde_json::Value = serde_json::from_str(&proof).expect("JSON");
    let seq = json["record"]["seq"].as_i64().expect("seq");
    assert_eq!(json["checkpoint"]["first"].as_i64(), Some(seq));
    assert_eq!(json["checkpoint"]["seq"].as_i64(), Some(seq));
    assert!(seq > 1_000 && seq < head(&t).await, "{seq}");

    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("TENANT.DAT.receipt"), receipt.to_json()).expect("receipt");
    std::fs::write(dir.path().join("TENANT.DAT.proof"), &proof).expect("proof");
    let (ok, pem, err) = imax(&t, &["admin", "receipt-key"], &[]).await;
    assert!(ok, "{err}");
    std::fs::write(dir.path().join("key.pub"), pem).expect("key");
    let (ok, said) = verify_proof(&t, dir.path(), "TENANT.DAT.proof").await;
    assert!(ok && said.contains("proof valid"), "{said}");
}

/// Replaces line `n` (1-based) of the receipt checkpoints' file.
fn replace_line(t: &TestApp, n: usize, with: Option<String>) {
    let file = checkpoints_file(t);
    let text = std::fs::read_to_string(&file).expect("file");
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            if i + 1 == n {
                with.clone()
            } else {
                Some(l.to_string())
            }
        })
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
}

/// A receipt checkpoint whose Merkle root is not the root of the records it covers is found by
/// `imax audit verify` and `imax admin check`, even re-signed with the gateway's own receipt
/// key (an operator forging a proof); so are an edited line and a missing one. The HMAC
/// checkpoints, which sign only the head, hold throughout.
#[tokio::test]
async fn r31_audit_verify_finds_a_tampered_receipt_checkpoint() {
    let mut t = TestApp::start_with(|c| c.audit.checkpoint_secs = 3_600).await;
    // The node signs once as it starts; three files later, checkpoints of two records each.
    wait_until(
        "the first checkpoint",
        std::time::Duration::from_secs(20),
        || async { checkpoints_file(&t).exists() },
    )
    .await;
    for n in 0..3 {
        send_for_receipt(&t, n).await;
    }
    let published = Published::from_config(&t.config);
    publish_every(&t, &published, 2).await;
    t.stop().await;
    let (ok, said) = imax_offline(&t, &["audit", "verify"]);
    assert!(ok, "{said}");
    assert!(
        said.contains("receipt checkpoints match the records they cover"),
        "{said}"
    );
    let original = std::fs::read_to_string(checkpoints_file(&t)).expect("file");
    let second: SignedCheckpoint =
        serde_json::from_str(original.lines().nth(1).expect("two checkpoints")).expect("JSON");

    // Re-signed with the receipt key over hashes that are not the chain's.
    let store = t.admin.store().audit_log();
    let mut hashes: Vec<[u8; 32]> = store
        .hashes_between(second.first, second.seq)
        .await
        .expect("hashes")
        .iter()
        .map(|h| hex::decode(h).expect("hex").try_into().expect("32"))
        .collect();
    hashes[1][0] ^= 1;
    let key = ReceiptKeys::from_config(&t.config).current().expect("key");
    let at = t.clock.now();
    let forged = SignedCheckpoint::sign(&key, second.first, &hashes, &second.hash, at);
    replace_line(&t, 2, Some(forged.to_line().trim_end().to_string()));
    let (ok, said) = imax_offline(&t, &["audit", "verify"]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("receipt checkpoints altered: receipt-checkpoints line 2"),
        "{said}"
    );
    assert!(said.contains("Merkle root"), "{said}");
    let (ok, said) = imax_offline(&t, &["admin", "check"]);
    assert!(!ok && said.contains("Merkle root"), "{said}");

    // Edited without the key: its signature fails.
    let mut edited = second.clone();
    edited.root = "0".repeat(64);
    std::fs::write(checkpoints_file(&t), &original).expect("restore");
    replace_line(&t, 2, Some(serde_json::to_string(&edited).expect("JSON")));
    let (ok, said) = imax_offline(&t, &["audit", "verify"]);
    assert!(!ok && said.contains("signature does not match"), "{said}");

    // A checkpoint removed: the next one does not follow the one before.
    std::fs::write(checkpoints_file(&t), &original).expect("restore");
    replace_line(&t, 2, None);
    let (ok, said) = imax_offline(&t, &["audit", "verify"]);
    assert!(
        !ok && said.contains("does not start after the previous one"),
        "{said}"
    );

    std::fs::write(checkpoints_file(&t), &original).expect("restore");
    assert!(imax_offline(&t, &["audit", "verify"]).0);
}
