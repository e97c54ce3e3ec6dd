//! The ledger's notices (issue 31, item 2): when the TRACS round-trip ledger finds something
//! missing (the month's voucher after `ledger.voucher_due_day`, Washington time; a file with no
//! reply after `tracs.answer_expected_hours`), the subscribers of the mailbox that sent (or
//! should have sent) it get one mail through the notifications outbox (issue 30), through the
//! real server and a real SMTP relay (aiosmtpd). Time moves on the gateway's clock; the
//! gateway's own watch runs every second, and the tests also watch on their own to know a
//! watch has run before they say nothing more was mailed.

use crate::helpers::*;
use crate::notifications::{all_settled, mails_arrived, read_mails, WAIT};
use crate::resets::{mails, smtp_server, SmtpServer};
use imax_gateway::admin::Watched;
use imax_gateway::client::Content;
use imax_gateway::config::Config;
use imax_gateway::store::notices::Subscription;
use imax_gateway::tracs::FileKind;
use time::macros::datetime;

/// Maple Court's contract, administered by the PBCA.
const CONTRACT: &str = "MA020001001";

/// A gateway on 2 March 2027 mailing through `relay`, its own watch every second (0: none),
/// issue 30's reminders off (so that only the ledger's notices are mailed).
async fn gateway(relay: &SmtpServer, watch_secs: u64, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let configure = relay.configure();
    TestApp::start_at(datetime!(2027-03-02 14:00 UTC), |c| {
        configure(c);
        c.notifications.poll_ms = 50;
        c.notifications.not_retrieved_minutes = 0;
        c.notifications.not_answered_days = 0;
        c.ledger.watch_secs = watch_secs;
        tweak(c);
    })
    .await
}

/// Maple Court's site manager subscribes to its mailbox.
async fn subscribe(t: &TestApp) {
    t.admin
        .subscribe(SITE_USER.0, MAPLE.0, Subscription::On)
        .await
        .expect("subscribed");
}

/// Sends the TRACS `file` from Maple Court as its site manager; its message id and its first
/// line (its header, which no mail may carry).
async fn send(t: &TestApp, name: &str, file: Vec<u8>) -> (String, String) {
    let mut client = t.client(SITE_USER).await;
    let header = String::from_utf8_lossy(&file)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let r = client
        .send_file(MAPLE.0, MAPLE.1, None, name, Content::Bytes(file), None)
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(PBCA.0));
    (r.get("messageId").expect("id").to_string(), header)
}

fn voucher() -> Vec<u8> {
    tracs_file(FileKind::Voucher, MAPLE.0, 2)
}

/// One watch of the test's own, then every notice settled: what is mailed by now is all.
async fn watch(t: &TestApp) -> Watched {
    let w = t.admin.watch_ledgers().await.expect("watch");
    all_settled(t).await;
    w
}

/// The ledger's link for `month`.
fn link(t: &TestApp, month: &str) -> String {
    format!(
        "  https://localhost:{}/ledger?contract={CONTRACT}&month={month}\n",
        t.app().addr.port()
    )
}

/// Issue 31: a tenant file but no voucher; once 10 March has ended in Washington, February's
/// voucher is missing and the mailbox's subscriber gets exactly one mail naming it (contract,
/// month, due day, the ledger's link; no file content); later watches do not repeat it.
#[tokio::test]
async fn a_missing_voucher_is_mailed_once_to_the_mailboxs_subscribers() {
    let dir = tempfile::tempdir().expect("dir");
    let relay = smtp_server(dir.path()).await;
    let t = gateway(&relay, 1, |_| {}).await;
    // A tenant file with a format problem, answered at once (its TENER records).
    let mut tenant = tracs_file(FileKind::Tenant, MAPLE.0, 3);
    tenant.drain(400..410); // ten characters out of the first certification record
    let (tenant, header) = send(&t, "TENANT0302.DAT", tenant).await;
    // Subscribed since (its reply's arrival is no part of this test).
    subscribe(&t).await;
    // 10 March ends at 05:00 UTC (EST): a minute before, nothing is missing yet.
    t.clock.set(datetime!(2027-03-11 04:59 UTC));
    let w = watch(&t).await;
    assert_eq!((w.contracts, w.found), (1, 0));
    assert!(mails(&relay.maildir).is_empty());

    t.clock.set(datetime!(2027-03-11 05:01 UTC));
    // The gateway's own watch finds it.
    let got = mails_arrived(&relay, 1).await;
    all_settled(&t).await;
    let mail = &got[0];
    assert!(mail.contains("sam@maplecourt.example"), "{mail}");
    assert!(
        mail.contains("iMAX: 1 item missing from the TRACS ledger"),
        "{mail}"
    );
    assert!(
        mail.contains(&format!("Contract {CONTRACT}, month 2027-02")),
        "{mail}"
    );
    assert!(
        mail.contains("Missing:      the month's voucher (due 2027-03-10)"),
        "{mail}"
    );
    assert!(mail.contains("From mailbox: TRACM10001"), "{mail}");
    assert!(mail.contains("To mailbox:   TRACM20001"), "{mail}");
    assert!(mail.contains(&link(&t, "2027-02")), "{mail}");
    assert!(
        !mail.contains(&tenant),
        "the tenant file is not missing: {mail}"
    );
    assert!(!mail.contains(&header), "no file content: {mail}");

    // Watching again, by this node and another at once, and later, mails nothing more.
    let (a, b) = tokio::join!(t.admin.watch_ledgers(), t.admin.watch_ledgers());
    assert_eq!((a.expect("a").found, b.expect("b").found), (0, 0));
    t.clock.set(datetime!(2027-03-25 14:00 UTC));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // the gateway's watch
    assert_eq!(watch(&t).await.found, 0);
    assert_eq!(mails(&relay.maildir).len(), 1, "{:?}", read_mails(&relay));
    let (_, metrics) = crate::ops::get(&t, "/metrics", &[]).await;
    let sent = crate::ops::sample(
        &metrics,
        "imax_notifications_sent_total",
        &["kind=\"ledger_missing\""],
    );
    assert_eq!(sent, 1.0, "{metrics}");
    let found = crate::ops::sample(&metrics, "imax_ledger_missing_total", &["what=\"voucher\""]);
    assert_eq!(found, 1.0, "{metrics}");
}

/// A voucher sent in time (on 2 March, for February, due through 10 March) is not missing:
/// no mail, however far the clock moves within the month.
#[tokio::test]
async fn a_voucher_sent_in_time_is_not_mailed() {
    let dir = tempfile::tempdir().expect("dir");
    let relay = smtp_server(dir.path()).await;
    // No answer is expected (0 hours): only the voucher could be missing.
    let t = gateway(&relay, 1, |c| c.tracs.answer_expected_hours = 0).await;
    subscribe(&t).await;
    send(&t, "VOUCHER0302.DAT", voucher()).await;
    t.clock.set(datetime!(2027-03-11 05:01 UTC));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // the gateway's watch
    assert_eq!(watch(&t).await.found, 0);
    t.clock.set(datetime!(2027-03-30 14:00 UTC));
    assert_eq!(watch(&t).await.found, 0);
    assert!(mails(&relay.maildir).is_empty(), "{:?}", read_mails(&relay));
}

/// A file without a reply after `tracs.answer_expected_hours` (48): one mail naming the file
/// (its id, name and time, never its content), when two watches run at once (two nodes); a
/// later watch does not repeat it.
#[tokio::test]
async fn an_unanswered_file_is_mailed_once_after_the_expected_hours() {
    let dir = tempfile::tempdir().expect("dir");
    let relay = smtp_server(dir.path()).await;
    // The gateway's own watch off: the two watches below are the only ones.
    let t = gateway(&relay, 0, |_| {}).await;
    subscribe(&t).await;
    let (voucher, header) = send(&t, "VOUCHER0302.DAT", voucher()).await;
    t.clock.set(datetime!(2027-03-04 13:59 UTC));
    assert_eq!(watch(&t).await.found, 0, "within its 48 hours");
    t.clock.set(datetime!(2027-03-04 14:01 UTC));
    let (a, b) = tokio::join!(t.admin.watch_ledgers(), t.admin.watch_ledgers());
    assert_eq!(a.expect("a").found + b.expect("b").found, 1, "found once");
    let got = mails_arrived(&relay, 1).await;
    all_settled(&t).await;
    let mail = &got[0];
    assert!(
        mail.contains(&format!("Contract {CONTRACT}, month 2027-03")),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "Missing:      a reply to message {voucher} (VOUCHER0302.DAT, sent 2027-03-02T14:00:00Z)"
        )),
        "{mail}"
    );
    assert!(mail.contains(&link(&t, "2027-03")), "{mail}");
    assert!(!mail.contains(&header), "no file content: {mail}");
    t.clock.set(datetime!(2027-03-06 14:00 UTC));
    assert_eq!(watch(&t).await.found, 0);
    tokio::time::sleep(WAIT / 100).await;
    assert_eq!(mails(&relay.maildir).len(), 1, "{:?}", read_mails(&relay));
}
