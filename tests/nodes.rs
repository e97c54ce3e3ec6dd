//! Several gateway nodes on one database: any node serves any request (PostgreSQL), and a
//! second node on a SQLite database is refused (SQLite serves one node).

use crate::helpers::*;
use imax_gateway::admin::Purge;
use imax_gateway::client::Content;
use imax_gateway::store::Engine;

#[tokio::test]
async fn two_nodes_on_one_database_serve_any_request_and_survive_a_killed_node() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let store = t.admin.store().clone();
    let url = t.config.database_url();
    let b_dir = second_data_dir(t.dir.path());

    if store.engine == Engine::Sqlite {
        // SQLite serves one node: node B, with its own data directory, is refused at start.
        let _a = Node::spawn(t.dir.path(), &url).await;
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

    let mut a = Node::spawn(t.dir.path(), &url).await;
    let b = Node::spawn(b_dir.path(), &url).await;
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
        let r = list_reply(&mut wrong, MAPLE, "sentToOthers").await;
        assert_fault(&r, "AuthenticationFailed");
    }
    let r = list_reply(&mut user_on_b, MAPLE, "sentToOthers").await;
    assert_as_wrong_password(&r);
    t.admin
        .set_status(SITE_USER.0, imax_gateway::directory::AccountStatus::Active)
        .await
        .expect("unlock");
    list_ids(&mut user_on_b, MAPLE, "sentToOthers").await;

    // A password changed through A: B refuses the old one at once (although it remembered it)
    // and takes the new one.
    const BUREAU_MAILBOX: (&str, &str) = ("TRACM30001", "Bureau-Mailbox-2026");
    let mut bureau_on_b = b.client(&t.ca, BUREAU_USER).await;
    list_ids(&mut bureau_on_b, BUREAU_MAILBOX, "sentToOthers").await;
    let changed = a
        .client(&t.ca, BUREAU_USER)
        .await
        .call("ChangePassword", &[("newPassword", "Changed-On-Node-A-77")])
        .await
        .expect("reply");
    assert_ok(&changed);
    let r = list_reply(&mut bureau_on_b, BUREAU_MAILBOX, "sentToOthers").await;
    assert_fault(&r, "AuthenticationFailed");
    let mut renewed = b
        .client(&t.ca, (BUREAU_USER.0, "Changed-On-Node-A-77"))
        .await;
    list_ids(&mut renewed, BUREAU_MAILBOX, "sentToOthers").await;

    // Node A killed in the middle of uploads: two stalled halfway with part of their bodies
    // already in the database, six racing the kill.
    let mut stalled = Vec::new();
    for n in 0..2 {
        let (upload, tx) = open_upload(&a.url, &t.ca, &format!("HALF{n}.DAT")).await;
        let half = base64_of(&payload(10 + n as u32, 1 << 20));
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
            let data = payload(20 + u32::from(n), (usize::from(n) + 1) << 20);
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
    age_uploads(&t.db).await;
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

/// A second node in this process: its own store (pool, committer), caches and clock, on the
/// same database. Used where the nodes must act at the same instant. On SQLite it shares the
/// data directory (and so the body files), as `imax admin` beside a serving gateway does: the
/// one way two processes share a SQLite store.
struct InProcessNode {
    gw: imax_gateway::gateway::Gateway,
    admin: imax_gateway::admin::Admin,
}

async fn in_process_node(
    t: &TestApp,
    clock: std::sync::Arc<imax_gateway::clock::ManualClock>,
) -> InProcessNode {
    let dir = match t.admin.store().engine {
        imax_gateway::store::Engine::Sqlite => t.dir.path().to_path_buf(),
        imax_gateway::store::Engine::Postgres => t.dir.path().join("node-b"),
    };
    let store = imax_gateway::store::Store::open(&t.config.database_url(), &dir)
        .await
        .and_then(|s| s.with_bodies(&t.config.bodies))
        .expect("second node's store");
    let clock: imax_gateway::clock::SharedClock = clock;
    InProcessNode {
        gw: imax_gateway::gateway::Gateway::new(
            store.clone(),
            clock.clone(),
            std::sync::Arc::new(t.config.clone()),
        ),
        admin: imax_gateway::admin::Admin::new(store, clock, t.config.clone()),
    }
}

/// Lists SITE_USER's Maple mailbox through `gw` (an operation that records activity, R13).
async fn use_imax(gw: &imax_gateway::gateway::Gateway) {
    use imax_gateway::access::{Door, Operation};
    use imax_gateway::directory::password::Secret;
    use imax_gateway::gateway::{Caller, Credentials};
    use imax_gateway::mailbox::{Folder, ListQuery, Order};
    let caller = Caller {
        addr: Some("127.0.0.1".parse().expect("ip")),
        door: Door::SystemToSystem,
        request: None,
    };
    let person = Credentials {
        principal: SITE_USER.0.into(),
        password: Secret::new(SITE_USER.1),
    };
    let auth = gw
        .authorize(caller, &person, Operation::ListMessages)
        .await
        .expect("authorized");
    let mailbox = Credentials {
        principal: MAPLE.0.into(),
        password: Secret::new(MAPLE.1),
    };
    let s = gw.open_mailbox(auth, &mailbox).await.expect("mailbox");
    let q = ListQuery {
        folder: Folder::SentToOthers,
        since: None,
        until: None,
        include_acknowledged: true,
        after: None,
        page_size: 10,
        order: Order::OldestFirst,
    };
    gw.list_messages(&s, &q).await.expect("list");
}

async fn account_row(t: &TestApp) -> (i64, String, i64, Option<i64>) {
    sqlx::query_as(
        "SELECT failed_signins, status, auth_epoch, last_activity_at FROM accounts WHERE mid = $1",
    )
    .bind(SITE_USER.0)
    .fetch_one(&t.db)
    .await
    .expect("account")
}

#[tokio::test]
async fn two_nodes_counting_failures_recording_activity_and_purging_at_once_lose_nothing() {
    use imax_gateway::access::{Door, Operation};
    use imax_gateway::directory::password::Secret;
    use imax_gateway::directory::AccountStatus;
    use imax_gateway::gateway::{Caller, Credentials};
    let t = TestApp::start_with(|c| {
        c.accounts.failed_signin_limit = 60;
        c.throttle.max_failures = 1_000_000;
        c.history.purge_batch = 4;
    })
    .await;
    let b_clock = std::sync::Arc::new(imax_gateway::clock::ManualClock::new(
        imax_gateway::clock::Clock::now(&*t.clock),
    ));
    let b = in_process_node(&t, b_clock.clone()).await;
    let a_gw = t.app().gateway.clone();

    // Failed sign-ins from an address the M-ID signs in from (R14: the familiar side): 25 on
    // each node at once count 50; ten more at once lock the M-ID exactly once.
    let caller = Caller {
        addr: Some("127.0.0.1".parse().expect("ip")),
        door: Door::SystemToSystem,
        request: None,
    };
    let right = Credentials {
        principal: SITE_USER.0.into(),
        password: Secret::new(SITE_USER.1),
    };
    a_gw.authorize(caller, &right, Operation::ListMessages)
        .await
        .expect("a first sign-in makes the address familiar");
    let (_, _, epoch_before, _) = account_row(&t).await;
    let wrong = Credentials {
        principal: SITE_USER.0.into(),
        password: Secret::new("not-the-password"),
    };
    let guess_at_once = |n: usize| {
        let mut tries = Vec::new();
        for i in 0..n {
            let gw = if i % 2 == 0 {
                a_gw.clone()
            } else {
                b.gw.clone()
            };
            let wrong = wrong.clone();
            tries.push(tokio::spawn(async move {
                gw.authorize(caller, &wrong, Operation::ListMessages)
                    .await
                    .expect_err("wrong password")
            }));
        }
        tries
    };
    for tries in [guess_at_once(50)] {
        for t in tries {
            let r = t.await.expect("join");
            assert_eq!(r.code.as_str(), "AuthenticationFailed");
        }
    }
    let (failures, status, _, _) = account_row(&t).await;
    assert_eq!(failures, 50, "no failure lost or counted twice");
    assert_eq!(status, "active");
    for t in guess_at_once(10) {
        let r = t.await.expect("join");
        assert_eq!(r.code.as_str(), "AuthenticationFailed");
    }
    let (_, status, epoch, _) = account_row(&t).await;
    assert_eq!(status, "locked");
    let locks: i64 = sqlx::query_scalar("SELECT failure_locks FROM accounts WHERE mid = $1")
        .bind(SITE_USER.0)
        .fetch_one(&t.db)
        .await
        .expect("locks");
    assert_eq!(locks, 1, "locked once");
    assert_eq!(
        epoch, epoch_before,
        "a lock for failures ends nobody's session"
    );

    // Activity (R13): node B's clock is two hours ahead. Whichever commit lands last, the
    // latest activity stays.
    t.admin
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlock");
    for round in 0..4 {
        t.clock.advance(time::Duration::hours(3));
        b_clock.advance(time::Duration::hours(3));
        let ahead = if round % 2 == 0 { &b_clock } else { &t.clock };
        ahead.advance(time::Duration::hours(2));
        let latest = imax_gateway::clock::Clock::now(&**ahead);
        tokio::join!(use_imax(&a_gw), use_imax(&b.gw));
        let (_, _, _, last) = account_row(&t).await;
        assert_eq!(
            last,
            Some(latest.unix_timestamp()),
            "round {round}: the later activity is kept"
        );
        let behind = if round % 2 == 0 { &t.clock } else { &b_clock };
        behind.advance(time::Duration::hours(2));
    }

    // Purging on both nodes at once: every old message goes exactly once, with its body.
    for n in 0..24 {
        assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(1 + n)).await);
    }
    let total = t.admin.store().check().await.expect("check").messages;
    assert!(total >= 24);
    let later = time::Duration::days(t.config.history.retention_days + 1);
    t.clock.advance(later);
    b_clock.advance(later);
    let (a_report, b_report) =
        tokio::join!(t.admin.purge(Purge::Remove), b.admin.purge(Purge::Remove));
    let removed = a_report.expect("purge A").messages + b_report.expect("purge B").messages;
    assert_eq!(removed, total, "each message purged exactly once");
    let check = t.admin.store().check().await.expect("check");
    assert_eq!(check.messages, 0);
    assert!(
        check.is_sound(),
        "one unbroken audit chain, no orphan body: {check:?}"
    );
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
}

/// A node that serves a caller from memory (`store::context::remembered`) sees a change made
/// on another node at once: a lock, an unlock, a new mailbox password, a right taken away. The
/// second node is another store in this process, with memories of its own.
#[tokio::test]
async fn a_change_on_one_node_holds_at_once_on_a_node_that_remembers_the_caller() {
    use imax_gateway::directory::password::Secret;
    use imax_gateway::directory::{AccountStatus, LockReason, Right};
    let t = TestApp::start().await;
    let b_clock = std::sync::Arc::new(imax_gateway::clock::ManualClock::new(
        imax_gateway::clock::Clock::now(&*t.clock),
    ));
    let b = in_process_node(&t, b_clock).await;
    // The first call records the M-ID's and the mailbox's use, the second reads the context
    // with those uses and keeps it, the third is served from memory.
    for n in 0..3 {
        assert_ok(
            &t.send(SITE_USER, MAPLE, None, format!("warm {n}").as_bytes())
                .await,
        );
    }
    let remembered = |page: &str| {
        crate::ops::sample(page, "imax_caller_contexts_total", &["read=\"remembered\""])
    };
    let (_, page) = crate::ops::get(&t, "/metrics", &[]).await;
    let before = remembered(&page);
    assert!(before >= 1.0, "a caller served from memory:\n{page}");

    b.admin
        .set_status(
            SITE_USER.0,
            AccountStatus::Locked(LockReason::Administrative),
        )
        .await
        .expect("locked on node B");
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"locked").await);
    b.admin
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlocked on node B");
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"unlocked").await);
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"remembered again").await);

    b.admin
        .set_mailbox_password(MAPLE.0, &Secret::new("New-Maple-Password-1"))
        .await
        .expect("set on node B");
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"old password").await,
        "MailboxAuthenticationFailed",
    );
    let maple = (MAPLE.0, "New-Maple-Password-1");
    assert_ok(&t.send(SITE_USER, maple, None, b"new password").await);
    assert_ok(&t.send(SITE_USER, maple, None, b"remembered again").await);

    b.admin
        .revoke(SITE_USER.0, Right::Imax)
        .await
        .expect("role taken away on node B");
    let refused = t.send(SITE_USER, maple, None, b"no role").await;
    assert!(
        refused.fault.is_some(),
        "refused without the iMAX role: {refused:?}"
    );
    let (_, page) = crate::ops::get(&t, "/metrics", &[]).await;
    assert!(
        remembered(&page) > before,
        "served from memory between changes:\n{page}"
    );
}
