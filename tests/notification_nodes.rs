//! Arrival notices (issue 30, item 1) across nodes: two senders' leases never share a notice,
//! and a node killed with notices it could not mail loses none; on PostgreSQL, two nodes
//! share the queue and mail each notice once (real binaries, a real aiosmtpd relay).

use crate::helpers::*;
use crate::notifications::{all_settled, mails_arrived, read_mails, send_to_pbca, WAIT};
use crate::resets::{mails, smtp_server};
use imax_gateway::store::notices::Subscription;

/// Two senders (two nodes' leases) claiming at once never share a notice, and together take
/// every due one.
#[tokio::test]
async fn two_senders_never_claim_the_same_notice() {
    use imax_gateway::store::notices::Windows;
    let t = TestApp::start().await;
    t.admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::On)
        .await
        .expect("subscribed");
    for i in 0..20 {
        send_to_pbca(&t, format!("file {i}\r\n").as_bytes()).await;
    }
    let store = t.admin.store();
    let now = imax_gateway::clock::Clock::now(&*t.clock) + time::Duration::hours(1);
    let w = Windows {
        arrival: 0,
        not_retrieved: 0,
        not_answered: 0,
        digest: false,
    };
    let until = now + time::Duration::minutes(5);
    let notices = store.notices();
    let (a, b) = tokio::join!(
        notices.claim("node-a", now, w, until, 15),
        notices.claim("node-b", now, w, until, 15)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    let ids = |c: &[imax_gateway::store::notices::Claimed]| {
        c.iter()
            .map(|c| c.id)
            .collect::<std::collections::BTreeSet<i64>>()
    };
    let (a, b) = (ids(&a), ids(&b));
    assert!(a.is_disjoint(&b), "{a:?} {b:?}");
    assert_eq!(a.len() + b.len(), 20, "{a:?} {b:?}");
    // A third finds nothing while the leases hold.
    let c = store.notices().claim("node-c", now, w, until, 15).await;
    assert!(c.expect("c").is_empty());
}

/// A node killed with a notice it could not mail (the relay was down) loses nothing: the next
/// node mails it once. On PostgreSQL two nodes then share the queue, each notice mailed once.
#[tokio::test]
async fn a_killed_node_loses_no_notice_and_nodes_share_the_queue() {
    use imax_gateway::client::Content;
    let dir = tempfile::tempdir().expect("dir");
    let relay = smtp_server(dir.path()).await;
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::On)
        .await
        .expect("subscribed");
    t.stop().await;
    let url = t.config.database_url();
    let ca_file = relay.ca.clone().expect("relay CA").display().to_string();
    let down = format!("127.0.0.1:{}", free_port());
    let up = format!("127.0.0.1:{}", relay.port);
    let env = |relay: &str| {
        vec![
            ("IMAX_SMTP_RELAY", relay.to_string()),
            ("IMAX_SMTP_CA_FILE", ca_file.clone()),
            ("IMAX_NOTIFICATIONS_DIGEST_MINUTES", "0".into()),
            ("IMAX_NOTIFICATIONS_POLL_MS", "50".into()),
            ("IMAX_NOTIFICATIONS_RETRY_SECS", "1".into()),
            ("IMAX_NOTIFICATIONS_LEASE_SECS", "6".into()),
            ("IMAX_SMTP_TIMEOUT_SECS", "5".into()),
        ]
    };
    let spawn = |dir: std::path::PathBuf, relay: String| {
        let url = url.clone();
        let env = env(&relay);
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Node::spawn_with(&dir, &url, &env).await
        }
    };
    let send = |node: &Node, n: usize| {
        let (ca, node_url) = (t.ca.clone(), node.url.clone());
        async move {
            let mut c =
                imax_gateway::client::S2sClient::connect(&node_url, &ca, SITE_USER.0, SITE_USER.1)
                    .await
                    .expect("connects");
            c.resend = true;
            let mut ids = Vec::new();
            for i in 0..n {
                let r = c
                    .send_file(
                        MAPLE.0,
                        MAPLE.1,
                        Some(PBCA.0),
                        "TENANT.DAT",
                        Content::Bytes(format!("node file {i}\r\n").into_bytes()),
                        None,
                    )
                    .await
                    .expect("reply");
                assert_ok(&r);
                ids.push(r.get("messageId").expect("id").to_string());
            }
            ids
        }
    };
    let mut a = spawn(t.dir.path().to_path_buf(), down).await;
    let mut ids = send(&a, 1).await;
    wait_until("a failed attempt", WAIT, || async {
        let n: i64 =
            sqlx::query_scalar("SELECT CAST(COALESCE(MAX(attempts), 0) AS BIGINT) FROM notices")
                .fetch_one(&t.db)
                .await
                .expect("attempts");
        n >= 1
    })
    .await;
    a.kill();
    assert!(mails(&relay.maildir).is_empty());

    let b = spawn(t.dir.path().to_path_buf(), up.clone()).await;
    let c_dir = second_data_dir(t.dir.path());
    let postgres = !url.starts_with("sqlite");
    let c = if postgres {
        Some(spawn(c_dir.path().to_path_buf(), up).await)
    } else {
        None
    };
    ids.extend(send(&b, 10).await);
    if let Some(c) = &c {
        ids.extend(send(c, 10).await);
    }
    let got = mails_arrived(&relay, ids.len()).await;
    all_settled(&t).await;
    let all = read_mails(&relay).join("\n");
    assert_eq!(read_mails(&relay).len(), ids.len(), "{got:#?}");
    for id in &ids {
        assert_eq!(
            all.matches(&format!("Message {id}")).count(),
            1,
            "{id} in {all}"
        );
    }
}
