//! Downloads are checked end to end on every protocol: a browser's download over HTTP/1.1
//! (where a `Content-Length` body is never asked for its end by the transport) and over
//! HTTP/2 runs the same size and SHA-256 check, counts as retrieval only when the whole body
//! was sent, and breaks off short when the stored body does not match its row. Real curl, over
//! real TLS, with the browser session's cookie.

use crate::helpers::*;
use crate::web_forms::{open_mailbox, session_cookie};
use std::time::Duration;

/// What curl did: its exit code, the HTTP version it spoke and the bytes it saved.
struct Fetched {
    exit: Option<i32>,
    version: String,
    bytes: Vec<u8>,
}

/// Downloads `id` from the open mailbox of the browser session `cookie` with curl speaking
/// `proto` (`--http1.1` or `--http2`), plus `extra` arguments.
async fn curl_download(
    t: &TestApp,
    proto: &str,
    cookie: &str,
    id: &str,
    extra: &[&str],
) -> Fetched {
    let port = t.app().addr.port();
    let out = t.dir.path().join(format!("download-{id}{proto}"));
    let url = format!("https://localhost:{port}/mailbox/message/{id}/download");
    let output = tokio::process::Command::new("curl")
        .args([proto, "-s", "--cacert"])
        .arg(&t.ca)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["-H", &format!("Cookie: {cookie}")])
        .args(["-w", "%{http_version}", "-o"])
        .arg(&out)
        .args(extra)
        .arg(&url)
        .output()
        .await
        .expect("curl runs");
    Fetched {
        exit: output.status.code(),
        version: String::from_utf8_lossy(&output.stdout).to_string(),
        bytes: std::fs::read(&out).unwrap_or_default(),
    }
}

async fn retrieved_at(t: &TestApp, id: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT retrieved_at FROM messages WHERE message_id = $1")
        .bind(id)
        .fetch_one(&t.db)
        .await
        .expect("row")
}

/// The audit records of fetches of `id`: (outcome, detail).
async fn fetches(t: &TestApp, id: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT outcome, detail FROM audit_log WHERE message_id = $1 AND action = 'GetMessage' ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&t.db)
    .await
    .expect("audit")
}

async fn sent_to_ca(t: &TestApp, content: &[u8]) -> String {
    let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), content).await;
    assert_ok(&r);
    r.get("messageId").expect("id").to_string()
}

/// The CA's person downloads a file from the message page with curl over HTTP/1.1 and over
/// HTTP/2: the body arrives whole, the message becomes retrieved and the audit says the fetch
/// went well, on both protocols (before, over HTTP/1.1 it stayed "New", unchecked).
#[tokio::test]
async fn a_browser_download_is_checked_and_marked_retrieved_over_http1_and_http2() {
    let t = TestApp::start().await;
    // Several 48 KiB chunks, and a body that ends exactly on a chunk's boundary.
    let contents = [payload(7, 300_000), payload(8, 4 * 48 * 1024)];
    let cookie = session_cookie(&t, CA_USER).await;
    open_mailbox(&t, &cookie, PBCA).await;
    for (proto, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        for content in &contents {
            let id = sent_to_ca(&t, content).await;
            let got = curl_download(&t, proto, &cookie, &id, &[]).await;
            assert_eq!(got.exit, Some(0), "{proto}");
            assert_eq!(got.version, version);
            assert!(got.bytes == *content, "{proto}: the body arrives whole");
            wait_until(
                "the download to count as retrieval",
                Duration::from_secs(10),
                || async { retrieved_at(&t, &id).await.is_some() },
            )
            .await;
            let audited = fetches(&t, &id).await;
            assert_eq!(
                audited,
                vec![("ok".to_string(), String::new())],
                "{proto}: one fetch, sent whole"
            );
        }
    }
}

/// A download that stops half-way (curl gives up after a second at 200 KiB/s) is not marked
/// retrieved, on either protocol, and the audit says it was not sent whole.
#[tokio::test]
async fn a_download_that_stops_half_way_is_not_marked_retrieved() {
    let t = TestApp::start().await;
    // Far more than the sockets' buffers hold.
    let content = payload(9, 24 * 1024 * 1024);
    let cookie = session_cookie(&t, CA_USER).await;
    open_mailbox(&t, &cookie, PBCA).await;
    for proto in ["--http1.1", "--http2"] {
        let id = sent_to_ca(&t, &content).await;
        let got = curl_download(
            &t,
            proto,
            &cookie,
            &id,
            &["--limit-rate", "200K", "--max-time", "1"],
        )
        .await;
        assert_eq!(got.exit, Some(28), "{proto}: curl timed out");
        assert!(
            !got.bytes.is_empty() && got.bytes.len() < content.len(),
            "{proto}: half-way, {} bytes",
            got.bytes.len()
        );
        wait_until(
            "the unfinished download to be audited",
            Duration::from_secs(10),
            || async { !fetches(&t, &id).await.is_empty() },
        )
        .await;
        let audited = fetches(&t, &id).await;
        assert_eq!(audited.len(), 1, "{audited:?}");
        assert_ne!(audited[0].0, "ok", "{proto}: {audited:?}");
        assert!(audited[0].1.contains("not sent whole"), "{audited:?}");
        assert_eq!(retrieved_at(&t, &id).await, None, "{proto}: not retrieved");
    }
}

/// A stored body that no longer matches its row breaks off short of its `Content-Length` over
/// HTTP/1.1 too (the whole body is checked before its last chunk goes out), so curl reports a
/// partial file; the message is not retrieved and the mismatch is audited.
#[tokio::test]
async fn a_damaged_body_breaks_off_over_http1_and_http2() {
    let t = TestApp::start().await;
    let cookie = session_cookie(&t, CA_USER).await;
    open_mailbox(&t, &cookie, PBCA).await;
    for proto in ["--http1.1", "--http2"] {
        let content = payload(10, 20_000);
        let id = sent_to_ca(&t, &content).await;
        // Small bodies are rows of `body_chunks` on either engine.
        let key: String = sqlx::query_scalar("SELECT body_key FROM messages WHERE message_id = $1")
            .bind(&id)
            .fetch_one(&t.db)
            .await
            .expect("key");
        let mut bytes = content.clone();
        bytes[100] ^= 1;
        let changed =
            sqlx::query("UPDATE body_chunks SET data = $2 WHERE body_key = $1 AND seq = 0")
                .bind(&key)
                .bind(&bytes)
                .execute(&t.db)
                .await
                .expect("tamper");
        assert_eq!(changed.rows_affected(), 1);
        let got = curl_download(&t, proto, &cookie, &id, &[]).await;
        assert_ne!(got.exit, Some(0), "{proto}: the response broke off");
        assert!(got.bytes.len() < content.len(), "{proto}");
        wait_until(
            "the mismatch to be audited",
            Duration::from_secs(10),
            || async { !fetches(&t, &id).await.is_empty() },
        )
        .await;
        let audited = fetches(&t, &id).await;
        assert!(
            audited.iter().any(|(_, d)| d.contains("SHA-256")),
            "{proto}: {audited:?}"
        );
        assert_eq!(retrieved_at(&t, &id).await, None, "{proto}: not retrieved");
    }
}

/// The system-to-system GetMessage over HTTP/1.1 (a chunked answer, asked for its end) counts
/// as retrieval too, and is audited as sent whole.
#[tokio::test]
async fn a_soap_get_message_over_http1_is_marked_retrieved() {
    let t = TestApp::start().await;
    let content = payload(11, 300_000);
    let id = sent_to_ca(&t, &content).await;
    let mut ca = t.client(CA_USER).await;
    assert!(fetch_whole(&mut ca, PBCA, &id).await == content);
    wait_until("retrieval", Duration::from_secs(10), || async {
        retrieved_at(&t, &id).await.is_some()
    })
    .await;
    assert_eq!(
        fetches(&t, &id).await,
        vec![("ok".to_string(), String::new())]
    );
}
