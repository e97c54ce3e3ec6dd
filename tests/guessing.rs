//! Guessing passwords, as an attacker would: no answer before a right password tells more
//! than a wrong one would (R14's locks included), parallel guesses are counted before any is
//! checked, mailbox passwords freeze the mailbox, the throttle counts networks, and a flood of
//! wrong passwords costs bounded memory and is answered quickly.

use crate::helpers::*;
use imax_gateway::client::{parse_reply, Reply};
use imax_gateway::directory::{AccountStatus, LockReason};
use imax_gateway::error::Code;
use imax_gateway::s2s::envelope::{SOAP_ENV, TNS, WSSE};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn hashes(t: &TestApp) -> u64 {
    t.app()
        .gateway
        .hasher()
        .stats
        .computed
        .load(Ordering::Relaxed)
}

/// Sends as `person` from `mailbox` and says how many argon2 computations it cost.
async fn costed_send(t: &TestApp, person: (&str, &str), mailbox: (&str, &str)) -> (Reply, u64) {
    let before = hashes(t);
    let r = t.send(person, mailbox, None, b"x").await;
    (r, hashes(t) - before)
}

#[tokio::test]
async fn before_a_right_password_every_refusal_reads_the_same_and_costs_the_same() {
    let t = TestApp::start_with(|c| c.throttle.max_failures = 1000).await;
    // The person signs in from here first, so that failures here lock the M-ID (R14).
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // An unknown M-ID, a wrong password, a malformed M-ID: one hash each, one answer.
    for who in [
        ("M99999", "Any-Password-1"),
        (SITE_USER.0, "Wrong-Password-1"),
        ("not an m-id", "x"),
    ] {
        let (r, cost) = costed_send(&t, who, MAPLE).await;
        assert_as_wrong_password(&r);
        assert_eq!(cost, 1, "{who:?}");
    }
    // Lock the M-ID (R14): now the right password gets the very same answer, at the same cost.
    for _ in 0..2 {
        assert_as_wrong_password(
            &t.send((SITE_USER.0, "Wrong-Password-2"), MAPLE, None, b"x")
                .await,
        );
    }
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Locked(LockReason::FailedSignIns)
    );
    for who in [SITE_USER, (SITE_USER.0, "Wrong-Password-3")] {
        let (r, cost) = costed_send(&t, who, MAPLE).await;
        assert_as_wrong_password(&r);
        assert_eq!(cost, 1);
    }
    // The audit log tells the operator what the answer did not.
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = $1 AND outcome = 'AuthenticationFailed' ORDER BY seq",
    )
    .bind(SITE_USER.0)
    .fetch_all(&t.db)
    .await
    .expect("audit");
    assert!(
        details.iter().any(|d| d.contains("M-ID locked")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("right password, M-ID locked")),
        "{details:?}"
    );

    // Mailboxes alike: unknown, wrong, closed or frozen all answer the same, one hash each
    // (the person's own password, checked once, is remembered).
    assert_ok(&t.list(CA_USER, PBCA, "receivedFromOthers").await);
    let wrong_box = |id: &'static str| (id, "Not-The-Password-1");
    for mb in [
        wrong_box("TRACM99999"),
        wrong_box(MAPLE.0),
        wrong_box("junk"),
    ] {
        let (r, cost) = costed_send(&t, CA_USER, mb).await;
        let f = assert_fault(&r, "MailboxAuthenticationFailed");
        assert_eq!(f.message, Code::MailboxAuthenticationFailed.sentence());
        assert_eq!(cost, 1, "{mb:?}");
    }
}

#[tokio::test]
async fn parallel_guesses_get_no_more_tries_than_sequential_ones() {
    // Hashes slow enough (the stored hashes are made with these parameters), one at a time, so
    // that guesses sent together are still waiting their turn at the M-ID (`access::turns`)
    // when the later ones arrive.
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 1000;
        c.argon2.memory_kib = 8 * 1024;
        c.argon2.iterations = 8;
        c.argon2.max_concurrent = 1;
        c.argon2.max_wait_ms = 60_000;
    })
    .await;
    let failure_locks = || async {
        sqlx::query_scalar::<_, i64>("SELECT failure_locks FROM accounts WHERE mid = $1")
            .bind(SITE_USER.0)
            .fetch_one(&t.db)
            .await
            .expect("count")
    };
    async fn guess(
        t: &TestApp,
        password: &str,
    ) -> tokio::task::JoinHandle<imax_gateway::client::Reply> {
        let mut client = t.client((SITE_USER.0, password)).await;
        tokio::spawn(async move { list_reply(&mut client, MAPLE, "sentToOthers").await })
    }
    // The person signs in from here first, so that these guesses count on the familiar side.
    assert_ok(&t.list(SITE_USER, MAPLE, "sentToOthers").await);
    let mut tries = Vec::new();
    for n in 0..5 {
        tries.push(guess(&t, &format!("Wrong-Guess-{n}")).await);
    }
    // They are counted in turn: the third locks the M-ID (however slow the machine: the bound
    // is generous, the loop ends as soon as it is)...
    for _ in 0..6000 {
        if failure_locks().await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and the right password, sent sixth, beyond the limit of three, is refused like the
    // others: sent together, the guesses had no more tries than one after the other.
    tries.push(guess(&t, SITE_USER.1).await);
    for task in tries {
        assert_as_wrong_password(&task.await.expect("join"));
    }
    assert_eq!(failure_locks().await, 1, "locked once, by the third");
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Locked(LockReason::FailedSignIns)
    );
    // After the coordinator unlocks it, the person signs in again.
    t.admin
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlock");
    assert_ok(&t.list(SITE_USER, MAPLE, "sentToOthers").await);
}

#[tokio::test]
async fn wrong_mailbox_passwords_freeze_the_mailbox_for_that_m_id() {
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 1000;
        // R24's freezes by strangers' wrong passwords, apart from R6's affiliation (which
        // refuses strangers even their right password: tests/portfolios.rs).
        c.accounts.affiliation_required = false;
    })
    .await;
    let wrong = (MAPLE.0, "Not-Maple-Password-1");
    for _ in 0..5 {
        assert_fault(
            &t.send(SITE_USER, wrong, None, b"x").await,
            "MailboxAuthenticationFailed",
        );
    }
    // Frozen for this M-ID: the right password is refused as a wrong one; others go on (R24;
    // several M-IDs frozen out at once freeze it for strangers: tests/lockout.rs).
    let f = assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    assert_eq!(f.message, Code::MailboxAuthenticationFailed.sentence());
    assert_ok(&t.send(CA_USER, MAPLE, None, b"x").await);
    let frozen: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE mailbox = $1 AND detail LIKE '%frozen for%' ORDER BY seq",
    )
    .bind(MAPLE.0)
    .fetch_all(&t.db)
    .await
    .expect("audit");
    assert!(frozen[0].contains("wrong password 5 of 5"), "{frozen:?}");
    assert!(frozen[0].contains(SITE_USER.0), "{frozen:?}");

    // The freeze ends by itself after accounts.mailbox_freeze_minutes (60), and the run of
    // failures starts again from nothing.
    t.clock.advance(time::Duration::minutes(61));
    for _ in 0..4 {
        t.send(SITE_USER, wrong, None, b"x").await;
    }
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // Frozen again, then the Help Desk resets the password (R24): the new one works at once.
    for _ in 0..5 {
        t.send(SITE_USER, wrong, None, b"x").await;
    }
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    let fresh = imax_gateway::directory::password::Secret::new("Fresh-Maple-Password-9");
    t.admin
        .set_mailbox_password(MAPLE.0, &fresh)
        .await
        .expect("reset");
    assert_ok(
        &t.send(SITE_USER, (MAPLE.0, fresh.expose()), None, b"x")
            .await,
    );
}

#[tokio::test]
async fn the_throttle_counts_parallel_attempts_before_checking_them() {
    let t = TestApp::start_with(|c| c.throttle.max_failures = 5).await;
    let before = hashes(&t);
    let mut tries = Vec::new();
    for n in 0..12 {
        // Different unknown M-IDs, so that no account lock is involved.
        let client = t.client((&format!("M9{n:04}"), "Any-Password-1")).await;
        tries.push(tokio::spawn(async move {
            let mut client = client;
            list_reply(&mut client, MAPLE, "sentToOthers").await
        }));
    }
    let mut codes = Vec::new();
    for task in tries {
        let r = task.await.expect("join");
        codes.push(r.fault.expect("refused").code);
    }
    let failed = codes
        .iter()
        .filter(|c| *c == "AuthenticationFailed")
        .count();
    let limited = codes.iter().filter(|c| *c == "RateLimited").count();
    assert_eq!((failed, limited), (5, 7), "{codes:?}");
    assert_eq!(
        hashes(&t) - before,
        5,
        "only the first five were checked at all"
    );
    // The client stays refused, even with a right password, until the window passes.
    let r = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert_fault(&r, "RateLimited");
}

/// A ListMessages envelope with these credentials.
fn list_envelope(mid: &str, password: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\"><soap:Header><wsse:Security xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken><wsse:Username>{mid}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><t:ListMessages><t:mailbox>{}</t:mailbox><t:mailboxPassword>{}</t:mailboxPassword><t:folder>sentToOthers</t:folder></t:ListMessages></soap:Body></soap:Envelope>",
        MAPLE.0, MAPLE.1
    )
}

type Sender = hyper::client::conn::http2::SendRequest<http_body_util::Full<bytes::Bytes>>;

async fn h2_sender(url: &str, ca: &std::path::Path) -> Sender {
    let port: u16 = url.rsplit(':').next().expect("port").parse().expect("port");
    let tls = tls_to(([127, 0, 0, 1], port).into(), ca, b"h2", None)
        .await
        .expect("tls");
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("h2");
    tokio::spawn(conn);
    sender
}

async fn h2_call(mut sender: Sender, url: String, body: String) -> Option<String> {
    use http_body_util::BodyExt;
    let req = hyper::Request::post(format!("{url}/s2s"))
        .header("content-type", "text/xml")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.ok()?.to_bytes();
    parse_reply(status, &bytes).ok()?.fault.map(|f| f.code)
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_costs_bounded_memory_and_is_answered_quickly() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    // The real binary with the production argon2 parameters (19 MiB, 2 passes) and a throttle
    // too lax to help: the hasher alone must hold the flood.
    let node = Node::spawn_with(
        t.dir.path(),
        &t.config.database_url,
        &[
            ("IMAX_ARGON2_MEMORY_KIB", "19456"),
            ("IMAX_ARGON2_ITERATIONS", "2"),
            ("IMAX_THROTTLE_MAX_FAILURES", "1000000"),
            ("IMAX_LIMITS_MAX_CONNECTIONS_PER_CLIENT", "1000"),
        ],
    )
    .await;
    let mut warm = node.client(&t.ca, SITE_USER).await;
    assert_ok(&list_reply(&mut warm, MAPLE, "sentToOthers").await);
    let rss_before = node.status_kib("VmRSS:");
    let cpu_before = node.cpu_secs();
    let started = Instant::now();

    // HTTP/2: 8 connections x 64 streams. HTTP/1.1: 64 connections x 2 calls each.
    let mut calls = Vec::new();
    for c in 0..8 {
        let sender = h2_sender(&node.url, &t.ca).await;
        for n in 0..64 {
            let body = list_envelope(SITE_USER.0, &format!("Guess-{c}-{n}"));
            calls.push(tokio::spawn(h2_call(
                sender.clone(),
                node.url.clone(),
                body,
            )));
        }
    }
    for c in 0..64 {
        let url = node.url.clone();
        let ca = t.ca.clone();
        calls.push(tokio::spawn(async move {
            let mut client = imax_gateway::client::S2sClient::connect(
                &url,
                &ca,
                &format!("M8{c:04}"),
                "Guess-1",
            )
            .await
            .ok()?;
            let mut last = None;
            for _ in 0..2 {
                last = list_reply(&mut client, MAPLE, "sentToOthers")
                    .await
                    .fault
                    .map(|f| f.code);
            }
            last
        }));
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for call in calls {
        let code = call
            .await
            .expect("join")
            .unwrap_or_else(|| "no answer".into());
        *codes.entry(code).or_default() += 1;
    }
    let took = started.elapsed();
    let peak = node.status_kib("VmHWM:");
    let cpu = node.cpu_secs() - cpu_before;
    println!(
        "flood: {codes:?} in {took:?}; RSS {} MiB before, peak {} MiB (growth {} MiB); CPU {cpu:.1} s",
        rss_before / 1024,
        peak / 1024,
        peak.saturating_sub(rss_before) / 1024
    );
    assert!(
        !codes.contains_key("no answer"),
        "every call was answered: {codes:?}"
    );
    assert!(
        codes
            .keys()
            .all(|c| c == "AuthenticationFailed" || c == "Unavailable"),
        "{codes:?}"
    );
    // Whether any call is refused early (`Unavailable`) depends on this machine's speed: a fast
    // one hashes as quickly as the calls arrive. That the hasher refuses instead of queueing
    // once full is `directory::password`'s `a_full_hasher_refuses_at_once_instead_of_queueing`;
    // here what must hold whatever the speed is the memory and the time.
    // One 19 MiB block per hashing worker (one per core), plus the connections' buffers.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    assert!(
        peak.saturating_sub(rss_before) < (cores * 19 + 64) * 1024,
        "memory grew by {} MiB",
        peak.saturating_sub(rss_before) / 1024
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // And the gateway still serves a right password at once.
    let mut after = node.client(&t.ca, CA_USER).await;
    assert_ok(&list_reply(&mut after, PBCA, "receivedFromOthers").await);
}

/// Vendor software opening many connections at once with the right password on a cold start:
/// every call succeeds. Attempts at one M-ID (and at one mailbox) take turns, so the first
/// right password is remembered and the rest pass on it, uncounted; parallel guesses are still
/// counted one by one (`parallel_guesses_get_no_more_tries_than_sequential_ones`).
#[tokio::test]
async fn a_cold_burst_of_right_passwords_all_succeed() {
    let t = TestApp::start().await;
    let calls: Vec<_> = (0..16u8)
        .map(|i| spawn_send(&t, "BURST.DAT", vec![i; 64]))
        .collect();
    for call in calls {
        assert_ok(&call.await.expect("call"));
    }
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        imax_gateway::directory::AccountStatus::Active
    );
}
