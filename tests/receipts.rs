//! Receipts anyone can verify offline (issue 31, item 3): each SendFile receipt, by either
//! door, is signed with the gateway's Ed25519 receipt key; the public keys are served at
//! `/.well-known/imax-receipt-keys` and printed by `imax admin receipt-key`; `imax receipt
//! verify` says "valid" for the receipt as signed and fails for any change; a rotated key
//! keeps the old receipts verifiable with the old key from the published list.

use crate::helpers::*;
use crate::web_forms::{csrf_of, open_mailbox, request, session_cookie};
use imax_gateway::client::Content;
use imax_gateway::receipt::{Invalid, PublicKey, SignedReceipt};

/// The published keys: (key id, PEM, current).
async fn published_keys(t: &TestApp) -> Vec<(String, String, bool)> {
    let (status, headers, body) =
        https_request(t, "GET", "/.well-known/imax-receipt-keys", &[], Vec::new()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["format"], "imax-receipt-v1");
    json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            assert_eq!(k["algorithm"], "Ed25519");
            (
                k["key_id"].as_str().expect("id").to_string(),
                k["public_key_pem"].as_str().expect("pem").to_string(),
                k["current"].as_bool().expect("current"),
            )
        })
        .collect()
}

fn key_of(pem: &str) -> PublicKey {
    PublicKey::all_from_pem(pem).pop().expect("one key")
}

/// A SOAP SendFile's answer carries the signed receipt, stating what the answer states and
/// the file's own name; it verifies with the published key, and no field can be changed.
#[tokio::test]
async fn r31_a_soap_receipt_verifies_with_the_published_key_and_any_change_fails() {
    let t = TestApp::start().await;
    let file = payload(31, 4000);
    let mut c = t.client(SITE_USER).await;
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "PLAN.PDF",
            Content::Bytes(file.clone()),
            None,
        )
        .await
        .expect("reply");
    assert_ok(&r);
    let signed =
        SignedReceipt::from_json(r.get("signedReceipt").expect("a signed receipt")).expect("JSON");
    assert_eq!(signed.message_id, r.get("messageId").expect("id"));
    assert_eq!(signed.sha256, sha256_hex(&file));
    assert_eq!(signed.size_bytes, 4000);
    assert_eq!(signed.file_name, "PLAN.PDF");
    assert_eq!(
        (signed.from_mailbox.as_str(), signed.to_mailbox.as_str()),
        (MAPLE.0, PBCA.0)
    );
    assert_eq!(signed.received_at, "2026-03-02T09:00:00Z");

    let keys = published_keys(&t).await;
    assert_eq!(keys.len(), 1, "one key, made on first start");
    let (id, pem, current) = &keys[0];
    assert!(current);
    assert_eq!(&signed.key_id, id);
    let key = key_of(pem);
    assert_eq!(signed.verify(&key), Ok(()));
    let changes: [fn(&mut SignedReceipt); 7] = [
        |r| r.message_id = r.message_id.replace('-', "_"),
        |r| r.received_at = "2026-03-02T08:59:59Z".into(),
        |r| r.from_mailbox = RIVERSIDE.0.into(),
        |r| r.to_mailbox = TCA.0.into(),
        |r| r.file_name = "PLAN2.PDF".into(),
        |r| r.size_bytes = 3999,
        |r| r.sha256 = sha256_hex(b"another file"),
    ];
    for change in changes {
        let mut changed = signed.clone();
        change(&mut changed);
        assert_eq!(changed.verify(&key), Err(Invalid::Signature), "{changed:?}");
    }
}

/// The upload form's results offer the receipt of each stored file; it verifies like the
/// SOAP one, and only the sending mailbox gets it.
#[tokio::test]
async fn r31_the_browser_upload_offers_a_signed_receipt_for_the_sender_only() {
    let t = TestApp::start().await;
    let cookie = session_cookie(&t, SITE_USER).await;
    open_mailbox(&t, &cookie, MAPLE).await;
    let (_, _, form) = request(&t, "GET", "/mailbox/upload", &cookie, "", Vec::new()).await;
    let file = payload(7, 2000);
    let (content_type, body) = crate::pump::upload_form(&csrf_of(&form), PBCA.0, "SCAN.PDF", &file);
    let (status, _, page) =
        request(&t, "POST", "/mailbox/upload", &cookie, &content_type, body).await;
    assert_eq!(status, 200, "{page}");
    let link = page
        .split("href=\"")
        .filter_map(|p| p.split('"').next())
        .find(|h| h.ends_with("/receipt"))
        .expect("a receipt link on the results")
        .to_string();
    let (status, headers, json) =
        https_request(&t, "GET", &link, &[("cookie", cookie.as_str())], Vec::new()).await;
    assert_eq!(status, 200, "{json}");
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(disposition.contains("SCAN.PDF.receipt"), "{disposition}");
    let signed = SignedReceipt::from_json(&json).expect("receipt");
    assert_eq!(
        (signed.file_name.as_str(), signed.size_bytes),
        ("SCAN.PDF", 2000)
    );
    assert_eq!(signed.sha256, sha256_hex(&file));
    let keys = published_keys(&t).await;
    assert_eq!(signed.verify(&key_of(&keys[0].1)), Ok(()));

    // The recipient has the message, but the receipt is the sender's.
    let ca = session_cookie(&t, CA_USER).await;
    open_mailbox(&t, &ca, PBCA).await;
    let (status, _, page) =
        https_request(&t, "GET", &link, &[("cookie", ca.as_str())], Vec::new()).await;
    assert_ne!(status, 200);
    assert!(
        page.contains("UnknownMessage") || page.contains("no such message"),
        "{page}"
    );
}

/// Runs the real binary with the test's data directory and database: (success, stdout,
/// stderr).
pub(crate) async fn imax(
    t: &TestApp,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_imax"))
        .args(args)
        .env("IMAX_DATA_DIR", &t.config.data_dir)
        .env("IMAX_DATABASE_URL", t.config.database_url())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("imax");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// `imax client … send FILE --receipt FILE.receipt` as Maple Court's site manager.
async fn send_keeping_the_receipt(t: &TestApp, file: &std::path::Path, receipt: &std::path::Path) {
    let (ok, out, err) = imax(
        t,
        &[
            "client",
            "--url",
            &t.url,
            "--ca",
            t.ca.to_str().expect("path"),
            "--mid",
            SITE_USER.0,
            "--mailbox",
            MAPLE.0,
            "send",
            file.to_str().expect("path"),
            "--resend",
            "--receipt",
            receipt.to_str().expect("path"),
        ],
        &[
            ("TRACS_PASSWORD", SITE_USER.1),
            ("TRACS_MAILBOX_PASSWORD", MAPLE.1),
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(
        !out.contains("signedReceipt"),
        "printed once, into the file: {out}"
    );
}

/// `imax receipt verify RECEIPT --key KEY`: (success, what it said).
async fn verify(t: &TestApp, receipt: &std::path::Path, key: &std::path::Path) -> (bool, String) {
    let (ok, out, err) = imax(
        t,
        &[
            "receipt",
            "verify",
            receipt.to_str().expect("path"),
            "--key",
            key.to_str().expect("path"),
        ],
        &[],
    )
    .await;
    (ok, out + &err)
}

/// Issue 31's acceptance commands through the real binary, and a rotation: the old receipt
/// still verifies with the old key from the published list, the new one with the new key.
#[tokio::test]
async fn r31_acceptance_commands_verify_a_receipt_and_survive_a_key_rotation() {
    let t = TestApp::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let at = |name: &str| dir.path().join(name);
    let (ok, pem, err) = imax(&t, &["admin", "receipt-key"], &[]).await;
    assert!(ok, "{err}");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    std::fs::write(at("receipt-key.pub"), &pem).expect("write");

    std::fs::write(at("TENANT.DAT"), tenant_file(3)).expect("file");
    send_keeping_the_receipt(&t, &at("TENANT.DAT"), &at("TENANT.DAT.receipt")).await;
    let (ok, said) = verify(&t, &at("TENANT.DAT.receipt"), &at("receipt-key.pub")).await;
    assert!(ok, "{said}");
    assert!(said.starts_with("valid"), "{said}");

    // A changed receipt: exit non-zero, and why.
    let text = std::fs::read_to_string(at("TENANT.DAT.receipt")).expect("receipt");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    json["size_bytes"] = serde_json::json!(json["size_bytes"].as_u64().expect("size") + 1);
    std::fs::write(at("changed.receipt"), json.to_string()).expect("write");
    let (ok, said) = verify(&t, &at("changed.receipt"), &at("receipt-key.pub")).await;
    assert!(!ok && said.contains("invalid"), "{said}");

    // Rotation, while the gateway runs: a new current key, the old one still published.
    let (ok, new_pem, err) = imax(&t, &["admin", "receipt-key", "--rotate"], &[]).await;
    assert!(ok, "{err}");
    assert_ne!(new_pem, pem);
    std::fs::write(at("new-key.pub"), &new_pem).expect("write");
    let keys = published_keys(&t).await;
    let currents: Vec<_> = keys.iter().map(|k| (k.1.as_str(), k.2)).collect();
    assert_eq!(
        currents,
        vec![(pem.as_str(), false), (new_pem.as_str(), true)]
    );
    let (_, _, list) =
        https_request(&t, "GET", "/.well-known/imax-receipt-keys", &[], Vec::new()).await;
    std::fs::write(at("keys.json"), list).expect("write");
    let (ok, said) = verify(&t, &at("TENANT.DAT.receipt"), &at("keys.json")).await;
    assert!(ok, "the old receipt, with the published list: {said}");
    let (ok, said) = verify(&t, &at("TENANT.DAT.receipt"), &at("new-key.pub")).await;
    assert!(!ok && said.contains("signed by key"), "{said}");
    std::fs::write(at("VOUCHER.DAT"), tenant_file(4)).expect("file");
    send_keeping_the_receipt(&t, &at("VOUCHER.DAT"), &at("VOUCHER.DAT.receipt")).await;
    let (ok, said) = verify(&t, &at("VOUCHER.DAT.receipt"), &at("new-key.pub")).await;
    assert!(ok, "a new receipt is signed with the new key: {said}");
    let rotations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'RotateReceiptKey'")
            .fetch_one(&t.db)
            .await
            .expect("audit");
    assert_eq!(rotations, 1);
}

/// The proof of message `id` as its sender fetches it through the browser: (status, body).
pub(crate) async fn proof_now(t: &TestApp, id: &str) -> (u16, String) {
    let cookie = session_cookie(t, SITE_USER).await;
    open_mailbox(t, &cookie, MAPLE).await;
    let path = format!("/mailbox/message/{id}/proof");
    let (status, _, body) =
        https_request(t, "GET", &path, &[("cookie", cookie.as_str())], Vec::new()).await;
    (status, body)
}

/// `imax receipt verify RECEIPT --key KEY --proof PROOF`: (success, what it said).
pub(crate) async fn verify_proof(
    t: &TestApp,
    dir: &std::path::Path,
    proof: &str,
) -> (bool, String) {
    let path = |name: &str| dir.join(name).to_str().expect("path").to_string();
    let (ok, out, err) = imax(
        t,
        &[
            "receipt",
            "verify",
            &path("TENANT.DAT.receipt"),
            "--key",
            &path("key.pub"),
            "--proof",
            &path(proof),
        ],
        &[],
    )
    .await;
    (ok, out + &err)
}

/// The inclusion proof (issue 31): none before a checkpoint signed with the receipt key covers
/// the message; after the next one (the gateway writes one as it stops), the proof verifies
/// with the published key, and a changed proof does not.
#[tokio::test]
async fn r31_a_receipts_proof_verifies_after_the_next_checkpoint() {
    let mut t = TestApp::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let at = |name: &str| dir.path().join(name);
    std::fs::write(at("TENANT.DAT"), tenant_file(2)).expect("file");
    send_keeping_the_receipt(&t, &at("TENANT.DAT"), &at("TENANT.DAT.receipt")).await;
    let receipt = std::fs::read_to_string(at("TENANT.DAT.receipt")).expect("receipt");
    let id = SignedReceipt::from_json(&receipt)
        .expect("receipt")
        .message_id;
    let (status, page) = proof_now(&t, &id).await;
    assert_ne!(status, 200);
    assert!(
        page.contains("No signed checkpoint covers this message yet"),
        "{page}"
    );

    t.restart().await;
    let (status, proof) = proof_now(&t, &id).await;
    assert_eq!(status, 200, "{proof}");
    std::fs::write(at("TENANT.DAT.proof"), &proof).expect("write");
    let (ok, pem, err) = imax(&t, &["admin", "receipt-key"], &[]).await;
    assert!(ok, "{err}");
    std::fs::write(at("key.pub"), pem).expect("write");
    let (ok, said) = verify_proof(&t, dir.path(), "TENANT.DAT.proof").await;
    assert!(ok && said.contains("proof valid"), "{said}");

    let mut changed: serde_json::Value = serde_json::from_str(&proof).expect("JSON");
    changed["record"]["detail"] = serde_json::json!("another file");
    std::fs::write(at("changed.proof"), changed.to_string()).expect("write");
    let (ok, said) = verify_proof(&t, dir.path(), "changed.proof").await;
    assert!(
        !ok && said.contains("does not lead to the checkpoint's root"),
        "{said}"
    );
    let mut changed: serde_json::Value = serde_json::from_str(&proof).expect("JSON");
    let seq = changed["checkpoint"]["seq"].as_i64().expect("seq");
    changed["checkpoint"]["seq"] = serde_json::json!(seq + 1);
    std::fs::write(at("changed2.proof"), changed.to_string()).expect("write");
    let (ok, said) = verify_proof(&t, dir.path(), "changed2.proof").await;
    assert!(!ok && said.contains("signature does not match"), "{said}");

    // The SOAP door's GetReceipt, through `imax client … receipt --message ID --fetch-proof`:
    // the proof embedded in the receipt's file, checked by `imax receipt verify` alone.
    let fetched = at("fetched.receipt");
    let (ok, out, err) = imax(
        &t,
        &[
            "client",
            "--url",
            &t.url,
            "--ca",
            t.ca.to_str().expect("path"),
            "--mid",
            SITE_USER.0,
            "--mailbox",
            MAPLE.0,
            "receipt",
            "--message",
            &id,
            "--fetch-proof",
            "--out",
            fetched.to_str().expect("path"),
        ],
        &[
            ("TRACS_PASSWORD", SITE_USER.1),
            ("TRACS_MAILBOX_PASSWORD", MAPLE.1),
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = imax(
        &t,
        &[
            "receipt",
            "verify",
            fetched.to_str().expect("path"),
            "--key",
            at("key.pub").to_str().expect("path"),
        ],
        &[],
    )
    .await;
    assert!(ok && out.contains("proof valid"), "{out}{err}");
}

/// A proof's record is read by the sequence number its message's row notes (schema version
/// 29), the record of that message's successful SendFile; a message stored before, whose row
/// notes none, is found by searching the log, as it was. Both proofs name their own record.
#[tokio::test]
async fn r31_a_proof_reads_the_record_its_message_notes_and_older_rows_are_still_found() {
    let mut t = TestApp::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let at = |name: &str| dir.path().join(name);
    std::fs::write(at("TENANT.DAT"), tenant_file(2)).expect("file");
    let mut ids = Vec::new();
    for n in 0..2 {
        let receipt = at(&format!("{n}.receipt"));
        send_keeping_the_receipt(&t, &at("TENANT.DAT"), &receipt).await;
        let json = std::fs::read_to_string(&receipt).expect("receipt");
        ids.push(SignedReceipt::from_json(&json).expect("receipt").message_id);
    }
    let mut records = Vec::new();
    for id in &ids {
        let noted: Option<i64> =
            sqlx::query_scalar("SELECT audit_seq FROM messages WHERE message_id = $1")
                .bind(id)
                .fetch_one(&t.db)
                .await
                .expect("message");
        let record: i64 = sqlx::query_scalar(
            "SELECT seq FROM audit_log
              WHERE message_id = $1 AND action = 'SendFile' AND outcome = 'ok'",
        )
        .bind(id)
        .fetch_one(&t.db)
        .await
        .expect("record");
        assert_eq!(noted, Some(record), "{id}");
        records.push(record);
    }
    // The second message as an older build stored it.
    sqlx::query("UPDATE messages SET audit_seq = NULL WHERE message_id = $1")
        .bind(&ids[1])
        .execute(&t.db)
        .await
        .expect("update");
    t.restart().await;
    for (id, record) in ids.iter().zip(records) {
        let (status, proof) = proof_now(&t, id).await;
        assert_eq!(status, 200, "{proof}");
        let proof: serde_json::Value = serde_json::from_str(&proof).expect("JSON");
        assert_eq!(proof["record"]["seq"], record, "{proof}");
        assert_eq!(proof["record"]["message_id"], id.as_str(), "{proof}");
        assert_eq!(proof["record"]["action"], "SendFile", "{proof}");
    }
}
