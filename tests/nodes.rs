//! Several gateway nodes on one database: any node serves any request (PostgreSQL), and a
//! second node on a SQLite database is refused (SQLite serves one node).

use crate::helpers::*;
use imax_gateway::client::Content;
use imax_gateway::store::Engine;

/// Bytes that are not a multiple of the body store's chunk size, different per `seed`.
fn payload(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn two_nodes_on_one_database_serve_any_request_and_survive_a_killed_node() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let store = t.admin.store.clone();
    let url = t.config.database_url();
    let b_dir = second_data_dir(t.dir.path());

    if store.engine == Engine::Sqlite {
        // SQLite serves one node: node B, with its own data directory, is refused at start.
        let _a = Node::spawn(t.dir.path(), &url);
        let _ = _a.client(&t.ca, SITE_USER).await;
        let out = Node::command(b_dir.path(), &url, 0)
            .output()
            .expect("run node B");
        assert!(
            !out.status.success(),
            "a second node on SQLite must not start"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("SQLite serves one node"), "{err}");
        return;
    }

    let mut a = Node::spawn(t.dir.path(), &url);
    let b = Node::spawn(b_dir.path(), &url);
    let mut on_a = a.client(&t.ca, SITE_USER).await;
    let mut user_on_b = b.client(&t.ca, SITE_USER).await;
    let mut ca_on_b = b.client(&t.ca, CA_USER).await;
    // Node B remembers the user's credentials after a first success.
    list_ids(&mut user_on_b, MAPLE, "sentToOthers").await;

    // A file sent through A is fetched through B, byte for byte (several database chunks).
    let file = payload(1, (3 << 20) + 12_345);
    let r = on_a
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "A.DAT",
            Content::Bytes(file.clone()),
            None,
        )
        .await
        .expect("send through A");
    assert_ok(&r);
    let id = r.get("messageId").expect("id").to_string();
    assert_eq!(r.get("sha256"), Some(sha256_hex(&file).as_str()));
    assert!(list_ids(&mut ca_on_b, PBCA, "receivedFromOthers")
        .await
        .contains(&id));
    assert_eq!(fetch_whole(&mut ca_on_b, PBCA, &id).await, file);

    // An M-ID locked through A (three failed sign-ins) is refused by B at once, remembered
    // credentials notwithstanding; unlocked, B serves it again at once.
    let mut wrong = a.client(&t.ca, (SITE_USER.0, "not-the-password")).await;
    for _ in 0..3 {
        let r = wrong
            .call(
                "ListMessages",
                &[
                    ("mailbox", MAPLE.0),
                    ("mailboxPassword", MAPLE.1),
                    ("folder", "sentToOthers"),
                ],
            )
            .await
            .expect("reply");
        assert_fault(&r, "AuthenticationFailed");
    }
    let r = user_on_b
        .call(
            "ListMessages",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("folder", "sentToOthers"),
            ],
        )
        .await
        .expect("reply");
    assert_fault(&r, "AccountLocked");
    t.admin
        .set_status(SITE_USER.0, imax_gateway::directory::AccountStatus::Active)
        .await
        .expect("unlock");
    list_ids(&mut user_on_b, MAPLE, "sentToOthers").await;

    // Node A killed in the middle of uploads: two stalled halfway with part of their bodies
    // already in the database, six racing the kill.
    let mut stalled = Vec::new();
    for n in 0..2 {
        let (upload, tx) = open_upload(&a.url, &t.ca, &format!("HALF{n}.DAT")).await;
        let half = base64_of(&payload(10 + n as u8, 1 << 20));
        tx.send(bytes::Bytes::from(half))
            .await
            .expect("half a body");
        stalled.push((upload, tx));
    }
    for _ in 0..100 {
        if store.bodies.uploads_in_progress().await.expect("uploads") >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(store.bodies.uploads_in_progress().await.expect("uploads") >= 2);
    // Racing uploads of different sizes; A is killed the moment the first receipt arrives.
    let (done_tx, mut first_done) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut racing = Vec::new();
    for n in 0..6u8 {
        let mut c = a.client(&t.ca, SITE_USER).await;
        let done = done_tx.clone();
        racing.push(tokio::spawn(async move {
            let data = payload(20 + n, (usize::from(n) + 1) << 20);
            let r = c
                .send_file(
                    MAPLE.0,
                    MAPLE.1,
                    None,
                    "RACE.DAT",
                    Content::Bytes(data.clone()),
                    None,
                )
                .await;
            let _ = done.send(());
            (data, r)
        }));
    }
    first_done.recv().await.expect("an upload ended");
    a.kill();
    let receipts = receipts_of(racing).await;
    eprintln!(
        "{} of 6 racing uploads got a receipt before the kill",
        receipts.len()
    );
    for (upload, tx) in stalled {
        drop(tx);
        assert!(
            upload.await.expect("join").is_err(),
            "a killed node sends no receipt"
        );
    }

    // Through B: every receipted message is there and whole; nothing partial is visible.
    let ids = list_ids(&mut ca_on_b, PBCA, "receivedFromOthers").await;
    for (rid, sha) in &receipts {
        assert!(
            ids.contains(rid),
            "a message whose receipt was sent is never lost"
        );
        let body = fetch_whole(&mut ca_on_b, PBCA, rid).await;
        assert_eq!(&sha256_hex(&body), sha);
    }
    for other in &ids {
        let body = fetch_whole(&mut ca_on_b, PBCA, other).await;
        assert!(body.len() == file.len() || body.len() % (1 << 20) == 0);
    }
    let check = store.check().await.expect("check");
    assert!(check.is_sound(), "{check:?}");
    assert_eq!(check.messages as usize, ids.len());
    // The dead node's partial uploads stay listed until they are an hour old, then any node
    // sweeps them.
    assert!(store.bodies.uploads_in_progress().await.expect("uploads") >= 2);
    age_uploads(&store).await;
    assert!(store.sweep_abandoned_uploads().await.expect("sweep") >= 2);
    assert_eq!(
        store.bodies.uploads_in_progress().await.expect("uploads"),
        0
    );
    assert_eq!(stored_bodies(&store).await, ids.len());
    assert!(store.check().await.expect("check").is_sound());
    // B served throughout and still does.
    list_ids(&mut user_on_b, MAPLE, "sentToOthers").await;
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
