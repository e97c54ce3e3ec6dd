//! The checkpoints signed with the receipt key (issue 31, item 3; the review's leftovers):
//! a receipt's inclusion proof is found among many checkpoints by reading one line of the
//! node's `receipt-checkpoints` file.

use crate::helpers::*;
use crate::receipts::{imax, proof_now, verify_proof};
use imax_gateway::checkpoint::published::Published;
use imax_gateway::client::Content;
use imax_gateway::clock::Clock;
use imax_gateway::receipt::{SignedCheckpoint, SignedReceipt};
use imax_gateway::store::notices::Subscription;

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
