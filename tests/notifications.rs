//! Arrival notices (issue 30, item 1) through the real server and a real SMTP relay (aiosmtpd,
//! `resets::smtp_server`): a person subscribes to a mailbox they may open (R6), is mailed one
//! digest of its arrivals, and the sender's subscribers are reminded of what was not retrieved
//! or, for TRACS files, not answered. The windows pass on the gateway's clock, never by
//! sleeping; only the sender's short poll is waited on.

use crate::helpers::*;
use crate::resets::{mails, smtp_server, SmtpServer};
use imax_gateway::config::Config;
use imax_gateway::error::Code;
use imax_gateway::store::notices::Subscription;
use imax_gateway::tracs::FileKind;
use std::time::Duration;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A real SMTP relay and a gateway mailing through it (the fields drop in this order: the
/// gateway, the relay, then its folder).
pub(crate) struct Mailing {
    pub(crate) t: TestApp,
    pub(crate) relay: SmtpServer,
    _dir: tempfile::TempDir,
}

/// A relay, and a gateway mailing through it whose sender looks at the queue every 50 ms,
/// with `tweak` applied to its settings after those.
pub(crate) async fn mailing(tweak: impl FnOnce(&mut Config)) -> Mailing {
    let dir = tempfile::tempdir().expect("dir");
    let relay = smtp_server(dir.path()).await;
    let configure = relay.configure();
    let t = TestApp::start_with(|c| {
        configure(c);
        c.notifications.poll_ms = 50;
        tweak(c);
    })
    .await;
    Mailing {
        t,
        relay,
        _dir: dir,
    }
}

/// Subscribes the PBCA's coordinator (CA_USER) to the PBCA's mailbox.
async fn subscribe_ca(t: &TestApp) {
    t.admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::On)
        .await
        .expect("subscribed");
}

/// A count the test asks of the database.
async fn count(t: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&t.db)
        .await
        .expect("count")
}

fn minutes(t: &TestApp, n: i64) {
    t.clock.advance(time::Duration::minutes(n));
}

/// Notices not settled yet.
pub(crate) async fn pending(t: &TestApp) -> i64 {
    count(
        t,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM notices WHERE done_at IS NULL",
    )
    .await
}

pub(crate) async fn all_settled(t: &TestApp) {
    wait_until("every notice settled", WAIT, || async {
        pending(t).await == 0
    })
    .await;
}

/// The relay's mails, their text as a person reads it (quoted-printable undone, should the
/// mail have needed it).
pub(crate) fn read_mails(relay: &SmtpServer) -> Vec<String> {
    mails(&relay.maildir)
        .into_iter()
        .map(|m| {
            if !m.contains("quoted-printable") {
                return m;
            }
            m.replace("=\n", "")
                .replace("=0A", "\n")
                .replace("=3D", "=")
        })
        .collect()
}

pub(crate) async fn mails_arrived(relay: &SmtpServer, n: usize) -> Vec<String> {
    wait_until(&format!("{n} mails"), WAIT, || async {
        mails(&relay.maildir).len() >= n
    })
    .await;
    read_mails(relay)
}

/// Sends `content` from Maple Court to the PBCA; its message id.
pub(crate) async fn send_to_pbca(t: &TestApp, content: &[u8]) -> String {
    let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), content).await;
    assert_ok(&r);
    r.get("messageId").expect("id").to_string()
}

/// Two arrivals within the digest's 15 minutes are one mail naming both (id, sender mailbox,
/// file name, size, time, link), never their content; nothing is mailed before the window
/// ends; the metric counts the mail.
#[tokio::test]
async fn two_arrivals_are_one_digest_naming_both_and_never_their_content() {
    let Mailing { t, relay, _dir } = mailing(|_| {}).await;
    let changed = t
        .admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::On)
        .await
        .expect("subscribed");
    assert!(changed);
    let first = send_to_pbca(&t, b"CONFIDENTIAL-TENANT-LINE-ONE\r\n").await;
    minutes(&t, 5);
    let second = send_to_pbca(&t, b"CONFIDENTIAL-TENANT-LINE-TWO\r\n").await;
    // Two notices wait in the database; none is due yet, so nothing is mailed.
    assert_eq!(pending(&t).await, 2);
    tokio::time::sleep(Duration::from_millis(300)).await; // several polls of the sender
    assert!(
        mails(&relay.maildir).is_empty(),
        "mailed before the digest's window"
    );

    minutes(&t, 10);
    let got = mails_arrived(&relay, 1).await;
    all_settled(&t).await;
    assert_eq!(
        mails(&relay.maildir).len(),
        1,
        "one digest, not one mail per file"
    );
    let mail = &got[0];
    assert!(mail.contains("casey@baystate-pbca.example"), "{mail}");
    assert!(mail.contains("iMAX: 2 new messages"), "{mail}");
    for id in [&first, &second] {
        assert!(mail.contains(&format!("Message {id}")), "{mail}");
        let link = format!(
            "  https://localhost:{}/mailbox/message/{id}\n",
            t.app().addr.port()
        );
        assert!(mail.contains(&link), "{mail}");
    }
    assert!(mail.contains("From mailbox: TRACM10001"), "{mail}");
    assert!(mail.contains("File name:    TENANT.DAT"), "{mail}");
    assert!(mail.contains("Size:         30 bytes"), "{mail}");
    assert!(
        mail.contains("Received:     2026-03-02T09:00:00Z"),
        "{mail}"
    );
    assert!(
        !mail.contains("CONFIDENTIAL"),
        "content must never be mailed: {mail}"
    );
    let (_, metrics) = crate::ops::get(&t, "/metrics", &[]).await;
    let sent = crate::ops::sample(
        &metrics,
        "imax_notifications_sent_total",
        &["kind=\"arrival\""],
    );
    assert_eq!(sent, 1.0, "{metrics}");
    assert!(
        metrics.contains("imax_notifications_queue_depth"),
        "{metrics}"
    );
}

/// With `digest_minutes = 0`, each arrival is its own mail, at once.
#[tokio::test]
async fn without_a_digest_each_arrival_is_its_own_mail() {
    let Mailing { t, relay, _dir } = mailing(|c| c.notifications.digest_minutes = 0).await;
    subscribe_ca(&t).await;
    send_to_pbca(&t, b"one\r\n").await;
    send_to_pbca(&t, b"two\r\n").await;
    let got = mails_arrived(&relay, 2).await;
    all_settled(&t).await;
    assert_eq!(mails(&relay.maildir).len(), 2);
    assert!(got.iter().all(|m| m.contains("iMAX: 1 new message")));
}

/// The sender's subscribers hear of a message not retrieved after `not_retrieved_minutes`
/// (only of those still unretrieved), and of a TRACS file without a reply after
/// `not_answered_days`.
#[tokio::test]
async fn the_senders_subscribers_hear_of_what_was_not_retrieved_or_answered() {
    let Mailing { t, relay, _dir } = mailing(|_| {}).await;
    t.admin
        .subscribe(SITE_USER.0, MAPLE.0, Subscription::On)
        .await
        .expect("subscribed");
    let fetched = send_to_pbca(&t, b"fetched\r\n").await;
    let voucher = tracs_file_from(FileKind::Voucher, MAPLE.0, MAPLE.0, 2);
    let sent = t.send(SITE_USER, MAPLE, None, &voucher).await;
    assert_ok(&sent);
    let tracs = sent.get("messageId").expect("id").to_string();
    let to = (sent.get("toMailbox").expect("to").to_string(), sent.clone());
    let recipient = if to.0 == PBCA.0 {
        (CA_USER, PBCA)
    } else {
        (HUD_STAFF, HUD)
    };
    assert_ok(&t.get(recipient.0, recipient.1, &fetched).await);

    // A day later: nothing is due.
    t.days(1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails(&relay.maildir).is_empty());
    // After 2,880 minutes (and the 2 days of not_answered_days): both reminders.
    t.days(1);
    let got = mails_arrived(&relay, 2).await;
    all_settled(&t).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    let unretrieved = got
        .iter()
        .find(|m| m.contains("sent and not retrieved"))
        .expect("the not-retrieved reminder");
    assert!(
        unretrieved.contains("sam@maplecourt.example"),
        "{unretrieved}"
    );
    assert!(
        unretrieved.contains(&format!("Message {tracs}")),
        "{unretrieved}"
    );
    assert!(
        !unretrieved.contains(&fetched),
        "a retrieved message is no reminder"
    );
    let unanswered = got
        .iter()
        .find(|m| m.contains("no reply to 1 TRACS file"))
        .expect("the not-answered reminder");
    assert!(
        unanswered.contains(&format!("Message {tracs}")),
        "{unanswered}"
    );
    assert!(
        !unanswered.contains(&fetched),
        "a tenant file is no TRACS file"
    );
}

/// Only a mailbox that opens to the person (R6) can be subscribed to; an ended subscription
/// (and one never made) owes nothing.
#[tokio::test]
async fn strangers_cannot_subscribe_and_the_unsubscribed_get_nothing() {
    let Mailing { t, relay, _dir } = mailing(|_| {}).await;
    // R6: the CA's staff may not hear of Maple Court's mailbox, nor of HUD's.
    let refused = t
        .admin
        .subscribe(CA_USER.0, MAPLE.0, Subscription::On)
        .await
        .expect_err("not affiliated");
    assert_eq!(refused.code, Code::NotAffiliated);
    let refused = t
        .admin
        .subscribe(CA_USER.0, HUD.0, Subscription::On)
        .await
        .expect_err("HUD's mailbox");
    assert_eq!(refused.code, Code::HudMailboxOnly);
    subscribe_ca(&t).await;
    assert!(t
        .admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::Off)
        .await
        .expect("ended"));
    send_to_pbca(&t, b"nobody hears\r\n").await;
    let owed = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM notices").await;
    assert_eq!(owed, 0, "no subscriber, no notice");
    // Notices written before a subscription ends are withdrawn with it.
    t.admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::On)
        .await
        .expect("subscribed again");
    send_to_pbca(&t, b"ended before its digest\r\n").await;
    assert_eq!(pending(&t).await, 1);
    t.admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::Off)
        .await
        .expect("ended again");
    t.days(3);
    all_settled(&t).await;
    let withdrawn = count(
        &t,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM notices WHERE outcome = 'withdrawn'",
    )
    .await;
    assert_eq!(withdrawn, 1);
    assert!(mails(&relay.maildir).is_empty());
}

/// The Notifications page lists the mailboxes that open to the person and subscribes with a
/// CSRF-checked form; a mailbox that does not open to them is refused, and audited.
#[tokio::test]
async fn the_notifications_page_subscribes_to_mailboxes_that_open() {
    use crate::web_forms::{csrf_of, request, session_cookie};
    let Mailing { t, relay, _dir } = mailing(|_| {}).await;
    let cookie = session_cookie(&t, CA_USER).await;
    let (status, _, page) = request(&t, "GET", "/notifications", &cookie, "", vec![]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Subscribe to TRACM20001"), "{page}");
    assert!(
        !page.contains("TRACM10001"),
        "Maple Court's mailbox does not open to the CA"
    );
    let token = csrf_of(&page);
    let form =
        |mailbox: &str| format!("csrf={token}&mailbox={mailbox}&change=subscribe").into_bytes();
    let urlencoded = "application/x-www-form-urlencoded";
    let (status, _, _) = request(
        &t,
        "POST",
        "/notifications",
        &cookie,
        urlencoded,
        form(PBCA.0),
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, page) = request(&t, "GET", "/notifications", &cookie, "", vec![]).await;
    assert!(page.contains("Unsubscribe from TRACM20001"), "{page}");
    let (status, _, page) = request(
        &t,
        "POST",
        "/notifications",
        &cookie,
        urlencoded,
        form(MAPLE.0),
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("(NotAffiliated)"), "{page}");
    let refusals = count(
        &t,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log
          WHERE action = 'Subscribe' AND outcome = 'NotAffiliated' AND mailbox = 'TRACM10001'",
    )
    .await;
    assert_eq!(refusals, 1);
    send_to_pbca(&t, b"web subscriber\r\n").await;
    minutes(&t, 15);
    let got = mails_arrived(&relay, 1).await;
    assert!(got[0].contains("casey@baystate-pbca.example"));
}

/// Notices wait in the database: a relay that is down costs a retry after the backoff, a
/// restart loses nothing, and the digest goes out once.
#[tokio::test]
async fn the_queue_survives_a_down_relay_and_a_restart() {
    let closed = free_port();
    let Mailing { mut t, relay, _dir } =
        mailing(|c| c.smtp.relay = format!("127.0.0.1:{closed}")).await; // nobody listens
    subscribe_ca(&t).await;
    let first = send_to_pbca(&t, b"before the restart\r\n").await;
    minutes(&t, 15);
    wait_until("a failed attempt", WAIT, || async {
        count(
            &t,
            "SELECT CAST(COALESCE(MAX(attempts), 0) AS BIGINT) FROM notices",
        )
        .await
            == 1
    })
    .await;
    let (_, metrics) = crate::ops::get(&t, "/metrics", &[]).await;
    let failed = crate::ops::sample(
        &metrics,
        "imax_notifications_failed_total",
        &["kind=\"arrival\""],
    );
    assert_eq!(failed, 1.0, "{metrics}");
    assert_eq!(pending(&t).await, 1, "still owed");

    // The gateway restarts, now with the relay up; the retry waits for its backoff (60 s).
    t.config.smtp.relay = format!("127.0.0.1:{}", relay.port);
    t.restart().await;
    let second = send_to_pbca(&t, b"after the restart\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        mails(&relay.maildir).is_empty(),
        "retried before its backoff"
    );
    minutes(&t, 1);
    let got = mails_arrived(&relay, 1).await;
    // The first went out as composed before its failed try: alone, the second (which arrived
    // later) waiting for the next digest.
    wait_until("the first settled", WAIT, || async {
        pending(&t).await == 1
    })
    .await;
    let all = got.join("\n");
    assert!(all.contains(&first) && !all.contains(&second), "{all}");
    minutes(&t, 15);
    wait_until("the second's mail", WAIT, || async {
        read_mails(&relay).join("\n").contains(&second)
    })
    .await;
    all_settled(&t).await;
    let all = read_mails(&relay).join("\n");
    assert_eq!(all.matches(&format!("Message {first}")).count(), 1, "{all}");
    assert_eq!(
        all.matches(&format!("Message {second}")).count(),
        1,
        "{all}"
    );
}

/// The acceptance command through the real binary.
#[tokio::test]
async fn acceptance_command_subscribes_and_removes() {
    let Mailing {
        t,
        relay: _relay,
        _dir,
    } = mailing(|_| {}).await;
    let args = [
        "admin",
        "account",
        "subscribe",
        "--mid",
        "M20001",
        "--mailbox",
        "TRACM20001",
    ];
    let (ok, out) = crate::compliance_binary::imax(&t, &args, &[], "").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("M20001 is now subscribed to TRACM20001"),
        "{out}"
    );
    let mut removed = args.to_vec();
    removed.push("--remove");
    let (ok, out) = crate::compliance_binary::imax(&t, &removed, &[], "").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("M20001 is no longer subscribed to TRACM20001"),
        "{out}"
    );
    let mut stranger = args;
    stranger[6] = "TRACM10001";
    let (ok, out) = crate::compliance_binary::imax(&t, &stranger, &[], "").await;
    assert!(!ok, "{out}");
    assert!(out.contains("NotAffiliated"), "{out}");
}
