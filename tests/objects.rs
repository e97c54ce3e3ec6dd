//! Bodies in an S3-compatible bucket (issue 29, item 1), against a real SeaweedFS: the one
//! `scripts/test` starts (`scripts/private-s3.sh`) and names in `IMAX_TEST_S3`, on the
//! PostgreSQL pass. Each test's bodies live under a prefix of its own (`test_bodies`). Without
//! `IMAX_TEST_S3` and `IMAX_TEST_POSTGRES` these tests say so and pass.

use crate::helpers::*;
use futures_util::StreamExt;
use imax_gateway::client::Content;
use imax_gateway::config::Config;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A gateway with its bodies in the test bucket, or `None` (and a note) when there is none.
async fn s3_app(tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    if std::env::var("IMAX_TEST_S3").is_err() || std::env::var("IMAX_TEST_POSTGRES").is_err() {
        eprintln!("skipped: bodies in S3 are tested with IMAX_TEST_S3 and IMAX_TEST_POSTGRES");
        return None;
    }
    let t = TestApp::start_at(wall_clock_now(), tweak).await;
    assert!(
        t.config.bodies.url.starts_with("s3://"),
        "bodies in the bucket"
    );
    Some(t)
}

/// The test's bucket as anyone with its keys sees it, and the prefix of its bodies.
fn bucket(t: &TestApp) -> (AmazonS3, String) {
    let rest = t.config.bodies.url.strip_prefix("s3://").expect("s3 url");
    let (name, prefix) = rest.split_once('/').expect("a prefix per test");
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(name)
        .with_endpoint(&t.config.bodies.s3_endpoint)
        .with_allow_http(true)
        .build()
        .expect("bucket client");
    (s3, format!("{prefix}/bodies"))
}

/// Names of the objects under the test's prefix.
async fn objects(t: &TestApp) -> Vec<String> {
    let (s3, prefix) = bucket(t);
    let listing: Vec<_> = s3.list(Some(&Path::from(prefix))).collect().await;
    listing
        .into_iter()
        .map(|m| m.expect("listing").location.to_string())
        .collect()
}

/// Objects once the cleanup a refusal starts has had up to five seconds to finish.
async fn settled_objects(t: &TestApp) -> Vec<String> {
    let mut left = objects(t).await;
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = objects(t).await;
    }
    left
}

async fn body_key(t: &TestApp, message_id: &str) -> String {
    sqlx::query_scalar("SELECT body_key FROM messages WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(&t.db)
        .await
        .expect("key")
}

async fn send(client: &mut imax_gateway::client::S2sClient, name: &str, file: &[u8]) -> String {
    let r = client
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            name,
            Content::Bytes(file.to_vec()),
            None,
        )
        .await
        .expect("send");
    assert_ok(&r);
    assert_eq!(r.get("sha256"), Some(sha256_hex(file).as_str()));
    r.get("messageId").expect("id").to_string()
}

#[tokio::test]
async fn a_file_sent_with_bodies_in_s3_is_fetched_whole() {
    let Some(t) = s3_app(|_| {}).await else {
        return;
    };
    let mut c = t.client(SITE_USER).await;
    let mut ca = t.client(CA_USER).await;
    // In the database (small), one PUT (under a chunk), then multipart uploads whose parts
    // stream: three parts, the last cut short (its streamed request is dropped and its bytes
    // sent again); two parts ending on a part's edge; one part shorter than a part.
    let sizes = [
        (1u32, 1000usize),
        (2, 100_000),
        (3, (12 << 20) + 12_345),
        (4, 10 << 20),
        (5, (1 << 20) + 1),
    ];
    for (n, len) in sizes {
        let file = payload(n, len);
        let id = send(&mut c, &format!("S3-{n}.DAT"), &file).await;
        let got = fetch_whole(&mut ca, PBCA, &id).await;
        assert_eq!(sha256_hex(&got), sha256_hex(&file));
        assert_eq!(got, file, "message {id} of {len} bytes");
    }
    // Bodies that end inside their first part went in one PUT; the larger ones as multipart.
    let (status, _, page) = https_request(&t, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(status, 200);
    let objects_by = |how: &str| {
        let name = format!("imax_s3_objects_total{{how=\"{how}\"}}");
        page.lines()
            .find_map(|l| l.strip_prefix(name.as_str()))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(objects_by("whole").as_deref(), Some("2"), "{page}");
    assert_eq!(objects_by("multipart").as_deref(), Some("2"), "{page}");
    let stored = objects(&t).await;
    assert_eq!(
        stored.len(),
        4,
        "the four larger bodies are objects: {stored:?}"
    );
    // Object names are the gateway's own keys, never the client's file name.
    assert!(stored.iter().all(|o| !o.contains("S3-")), "{stored:?}");
    let check = t.admin.store().check().await.expect("check");
    assert!(check.is_sound(), "{check:?}");
    assert_eq!(check.messages, 5);
    // R26: past the retention period the purge takes the objects with the rows.
    t.clock.advance(time::Duration::days(397));
    assert_eq!(
        t.admin
            .purge(imax_gateway::admin::Purge::Remove)
            .await
            .expect("purge")
            .messages,
        5
    );
    assert_eq!(objects(&t).await, Vec::<String>::new());
    assert!(t.admin.store().check().await.expect("check").is_sound());
}

#[tokio::test]
async fn a_refused_or_abandoned_upload_leaves_no_object_after_the_sweep() {
    let Some(t) = s3_app(|c| c.limits.max_file_bytes = 8 << 20).await else {
        return;
    };
    let mut c = t.client(SITE_USER).await;
    // Refused midway, after the first part reached the bucket; and refused at the end.
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "BIG.DAT",
            Content::Bytes(payload(4, 9 << 20)),
            None,
        )
        .await
        .expect("reply");
    assert_fault(&r, "FileTooLarge");
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "BAD.DAT",
            Content::Bytes(payload(5, 6 << 20)),
            Some(&"0".repeat(64)),
        )
        .await
        .expect("reply");
    assert_fault(&r, "ChecksumMismatch");
    let store = t.admin.store();
    assert_eq!(settled_uploads(store).await, 0);
    assert_eq!(settled_objects(&t).await, Vec::<String>::new());

    // A body stored whole whose row never committed (its node died between the two): listed
    // as an upload, so no sweep takes it while young, and swept once old.
    let mut staged = store.bodies.stage(u64::MAX).expect("stage");
    for part in payload(6, 6 << 20).chunks(64 * 1024) {
        staged.write(part).await.expect("write");
    }
    let sealed = staged.seal().await.expect("seal");
    assert_eq!(objects(&t).await.len(), 1);
    assert_eq!(
        store.bodies.uploads_in_progress().await.expect("uploads"),
        1
    );
    assert_eq!(store.sweep_abandoned_uploads().await.expect("sweep"), 0);
    assert_eq!(objects(&t).await.len(), 1, "a young upload is left alone");
    age_uploads(&t.db).await;
    assert_eq!(store.sweep_abandoned_uploads().await.expect("sweep"), 1);
    assert_eq!(objects(&t).await, Vec::<String>::new());
    assert_eq!(
        store.bodies.uploads_in_progress().await.expect("uploads"),
        0
    );
    assert!(store.bodies.open(&sealed.key, sealed.size).await.is_err());
    assert!(t.admin.store().check().await.expect("check").is_sound());
}

#[tokio::test]
async fn admin_check_finds_an_object_altered_in_the_bucket() {
    let Some(mut t) = s3_app(|_| {}).await else {
        return;
    };
    let mut c = t.client(SITE_USER).await;
    let (altered, cut) = (payload(7, 1 << 20), payload(8, 300_000));
    let altered_id = send(&mut c, "ALTERED.DAT", &altered).await;
    let cut_id = send(&mut c, "CUT.DAT", &cut).await;
    t.stop().await;
    let imax = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_imax"))
            .args(["admin", "check"])
            .env("IMAX_DATA_DIR", &t.config.data_dir)
            .env("IMAX_DATABASE_URL", t.config.database_url())
            .env("IMAX_BODIES_URL", &t.config.bodies.url)
            .env("IMAX_BODIES_S3_ENDPOINT", &t.config.bodies.s3_endpoint)
            .output()
            .expect("imax");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = imax();
    assert!(ok && text.contains("store sound"), "{text}");

    // One object's bytes changed (same size), another's cut short, behind the gateway's back.
    let (s3, prefix) = bucket(&t);
    let mut changed = altered.clone();
    changed[123_456] ^= 1;
    let key = body_key(&t, &altered_id).await;
    s3.put(
        &Path::from(format!("{prefix}/{key}")),
        PutPayload::from(changed),
    )
    .await
    .expect("alter");
    let key = body_key(&t, &cut_id).await;
    s3.put(
        &Path::from(format!("{prefix}/{key}")),
        PutPayload::from(cut[..1000].to_vec()),
    )
    .await
    .expect("cut");
    let (ok, text) = imax();
    assert!(!ok, "{text}");
    assert!(
        text.contains(&altered_id) && text.contains(&cut_id),
        "{text}"
    );
    let report = t.admin.store().check().await.expect("check");
    let bad: Vec<_> = report.bad_rows.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(bad.len(), 2, "{report:?}");
    assert!(
        bad.contains(&altered_id) && bad.contains(&cut_id),
        "{report:?}"
    );
}

#[tokio::test]
async fn two_nodes_on_one_database_and_one_bucket_serve_each_others_messages() {
    let Some(mut t) = s3_app(|_| {}).await else {
        return;
    };
    t.stop().await;
    let url = t.config.database_url();
    let b_dir = second_data_dir(t.dir.path());
    let a = Node::spawn(t.dir.path(), &url).await;
    let b = Node::spawn(b_dir.path(), &url).await;
    let (mut user_on_a, mut user_on_b) = (
        a.client(&t.ca, SITE_USER).await,
        b.client(&t.ca, SITE_USER).await,
    );
    let (mut ca_on_a, mut ca_on_b) = (
        a.client(&t.ca, CA_USER).await,
        b.client(&t.ca, CA_USER).await,
    );
    let through_a = payload(9, (6 << 20) + 7);
    let through_b = payload(10, 200_000);
    let id_a = send(&mut user_on_a, "VIA-A.DAT", &through_a).await;
    let id_b = send(&mut user_on_b, "VIA-B.DAT", &through_b).await;
    assert_eq!(fetch_whole(&mut ca_on_b, PBCA, &id_a).await, through_a);
    assert_eq!(fetch_whole(&mut ca_on_a, PBCA, &id_b).await, through_b);
    assert_eq!(objects(&t).await.len(), 2);
}

/// A 20 MiB upload streams to the bucket: the node's memory does not grow by the file's size
/// (it holds the copy of the 5 MiB part under way).
#[tokio::test]
async fn a_20_mib_upload_to_the_bucket_streams() {
    let Some(mut t) = s3_app(|_| {}).await else {
        return;
    };
    t.stop().await;
    let node = Node::spawn(t.dir.path(), &t.config.database_url()).await;
    let mut c = node.client(&t.ca, SITE_USER).await;
    let _ = send(&mut c, "WARM.DAT", &payload(11, 6 << 20)).await;
    let before = node.status_kib("VmHWM:");
    let file = payload(12, 20 << 20);
    let id = send(&mut c, "BIG.DAT", &file).await;
    let peak = node.status_kib("VmHWM:");
    println!(
        "20 MiB upload to the bucket: peak RSS {} MiB before, {} MiB after (growth {} KiB)",
        before / 1024,
        peak / 1024,
        peak.saturating_sub(before)
    );
    assert!(
        peak.saturating_sub(before) < 20 * 1024,
        "the node's peak memory grew by the body's size: {before} -> {peak} KiB"
    );
    let mut ca = node.client(&t.ca, CA_USER).await;
    assert_eq!(
        sha256_hex(&fetch_whole(&mut ca, PBCA, &id).await),
        sha256_hex(&file)
    );
}

/// Forwards 127.0.0.1 connections to the S3 endpoint `to`, cutting the first request for part
/// 2 of a multipart upload once 64 KiB of it have passed: a network fault between the node and
/// the bucket early in a part (the bucket itself stays real), while most of the part is still
/// to be fed. Returns the proxy's endpoint.
async fn cutting_proxy(to: &str) -> String {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = to.trim_start_matches("http://").to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let cut = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (target, cut) = (target.clone(), cut.clone());
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut server_read, mut server_write) = server.split();
                let (mut client_read, mut client_write) = client.split();
                let upstream = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut seen: Vec<u8> = Vec::new();
                    let mut counting: Option<usize> = None;
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if counting.is_none() && !cut.load(Ordering::SeqCst) {
                            // Only the start of a request carries its line: keep a short tail.
                            seen.extend_from_slice(&buf[..n.min(4096)]);
                            let has = |what: &[u8]| seen.windows(what.len()).any(|w| w == what);
                            if has(b"PUT ") && has(b"partNumber=2&") {
                                counting = Some(0);
                            }
                            seen.drain(..seen.len().saturating_sub(512));
                        }
                        if let Some(sent) = counting.as_mut() {
                            *sent += n;
                            if *sent > 64 << 10 && !cut.swap(true, Ordering::SeqCst) {
                                return; // dropping both halves cuts the connection
                            }
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                tokio::select! {
                    _ = upstream => {}
                    _ = downstream => {}
                }
            });
        }
    });
    endpoint
}

/// A part whose stream to the bucket breaks midway is gathered and sent whole from the node's
/// copy: the file arrives intact, the fault is counted, and nothing was lost.
#[tokio::test]
async fn a_part_whose_stream_breaks_is_sent_whole_and_the_file_arrives_intact() {
    // Without IMAX_TEST_S3 the proxy points nowhere and `s3_app` skips the test.
    let proxy = cutting_proxy(&std::env::var("IMAX_TEST_S3").unwrap_or_default()).await;
    let Some(t) = s3_app(|c| {
        c.bodies = test_bodies(&c.database_url);
        c.bodies.s3_endpoint = proxy;
    })
    .await
    else {
        return;
    };
    let mut c = t.client(SITE_USER).await;
    // Parts 1 and 2 full, part 3 short: part 2 streams, breaks early, goes whole.
    let file = payload(21, (12 << 20) + 777);
    let id = send(&mut c, "CUT.DAT", &file).await;
    let mut ca = t.client(CA_USER).await;
    assert_eq!(fetch_whole(&mut ca, PBCA, &id).await, file);
    let (status, _, page) = https_request(&t, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(status, 200);
    assert!(
        page.lines().any(|l| l == "imax_s3_parts_gathered_total 1"),
        "the broken part is counted: {page}"
    );
    assert!(t.admin.store().check().await.expect("check").is_sound());
}
