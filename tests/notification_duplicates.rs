//! Arrival notices (issue 30, item 1): "a crash does not lose or double them". A sender that
//! dies after the relay took a mail but before it settled the notices sends again once the
//! lease runs out (at least once); each mail is composed and recorded before its first try,
//! so the second copy is the very same mail (Message-ID, Date, recipient, subject and text)
//! that mail software drops, and notices that arrived meanwhile go into the next mail. The
//! settling is made to fail with a trigger in the real database (the node "dies" between the
//! relay's acceptance and the settling); real server, real aiosmtpd relay, both engines.

use crate::helpers::*;
use crate::notifications::{
    mailing, mails_arrived, pending, read_mails, send_to_pbca, Mailing, WAIT,
};
use crate::resets::{mails, smtp_server};
use imax_gateway::store::notices::Subscription;
use std::time::Duration;

/// What makes two copies one mail: Message-ID, Date, To, Subject (headers as read, folded
/// lines joined) and the text.
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    message_id: String,
    date: String,
    to: String,
    subject: String,
    body: String,
}

fn identity(mail: &str) -> Identity {
    let (head, body) = mail.split_once("\n\n").expect("headers and text");
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in {mail}"))
    };
    Identity {
        message_id: header("Message-ID"),
        date: header("Date"),
        to: header("To"),
        subject: header("Subject"),
        body: body.to_string(),
    }
}

/// Makes settling a notice as sent fail, as a node that dies right after the relay took its
/// mail would leave it (`on`), or lets it succeed again.
async fn settling_fails(db: &sqlx::AnyPool, url: &str, on: bool) {
    let sqlite = url.starts_with("sqlite");
    let statements: &[&str] = match (sqlite, on) {
        (true, true) => &[
            "CREATE TRIGGER dies_before_settling BEFORE UPDATE OF done_at ON notices
              WHEN NEW.outcome = 'sent'
              BEGIN SELECT RAISE(ABORT, 'the node died before settling'); END",
        ],
        (true, false) => &["DROP TRIGGER dies_before_settling"],
        (false, true) => &[
            "CREATE FUNCTION dies_before_settling() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'the node died before settling'; END $$",
            "CREATE TRIGGER dies_before_settling BEFORE UPDATE ON notices FOR EACH ROW
               WHEN (NEW.outcome = 'sent') EXECUTE FUNCTION dies_before_settling()",
        ],
        (false, false) => &["DROP TRIGGER dies_before_settling ON notices"],
    };
    for s in statements {
        sqlx::query(s).execute(db).await.expect(s);
    }
}

/// Notices of `message` (its id) and the mail each was composed into.
async fn mail_of(t: &TestApp, message: &str) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT n.mail_id FROM notices n JOIN messages m ON m.id = n.message_id
          WHERE m.message_id = $1",
    )
    .bind(message)
    .fetch_one(&t.db)
    .await
    .expect("a notice")
}

/// The digest the relay took but the node did not settle is sent again after the lease, as
/// the very same mail; a file that arrived meanwhile is not added to it but goes into the
/// next digest, with a Message-ID of its own.
#[tokio::test]
async fn a_digest_sent_again_after_a_crash_is_the_same_mail() {
    let Mailing { t, relay, .. } = &mailing(|_| {}).await;
    let url = t.config.database_url();
    t.admin
        .subscribe(CA_USER.0, PBCA.0, Subscription::On)
        .await
        .expect("subscribed");
    let first = send_to_pbca(t, b"first\r\n").await;
    t.clock.advance(time::Duration::minutes(5));
    let second = send_to_pbca(t, b"second\r\n").await;
    settling_fails(&t.db, &url, true).await;
    t.clock.advance(time::Duration::minutes(10));
    let got = mails_arrived(relay, 1).await;
    // Composed and recorded before it went: both notices are that mail's.
    let mail_id = mail_of(t, &first).await.expect("composed");
    assert_eq!(mail_of(t, &second).await, Some(mail_id));
    assert_eq!(pending(t).await, 2, "not settled: the node died");

    // A file arrives meanwhile; the sender's lease on the digest still holds.
    let third = send_to_pbca(t, b"third\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mails(&relay.maildir).len(),
        1,
        "nothing sent within the lease"
    );
    settling_fails(&t.db, &url, false).await;
    let lease = i64::try_from(t.config.notifications.lease_secs).expect("lease");
    t.clock.advance(time::Duration::seconds(lease + 1));
    let again = mails_arrived(relay, 2).await;
    wait_until("the digest settled", WAIT, || async {
        pending(t).await == 1
    })
    .await;
    let (one, two) = (identity(&got[0]), identity(&again[0]));
    assert_eq!(one, identity(&again[1]), "{got:#?} {again:#?}");
    assert_eq!(one, two);
    assert!(one.message_id.starts_with("<imax-notice."), "{one:?}");
    assert!(one.body.contains(&format!("Message {first}")), "{one:?}");
    assert!(one.body.contains(&format!("Message {second}")), "{one:?}");
    assert!(
        !one.body.contains(&third),
        "a later file is not added: {one:?}"
    );
    assert_eq!(mail_of(t, &third).await, None, "left for the next digest");

    // The third's own digest, 15 minutes after it arrived: another mail.
    t.clock.advance(time::Duration::minutes(15));
    let all = mails_arrived(relay, 3).await;
    wait_until("every notice settled", WAIT, || async {
        pending(t).await == 0
    })
    .await;
    let next = all
        .iter()
        .map(|m| identity(m))
        .find(|m| m.message_id != one.message_id)
        .expect("the next digest");
    assert!(next.body.contains(&format!("Message {third}")), "{next:?}");
    assert!(!next.body.contains(&first), "{next:?}");
    assert_eq!(read_mails(relay).len(), 3);
}

/// Two nodes on one database (real binaries): node A's relay took a mail, and A was killed
/// before settling; once A's lease has run out, node B sends the same mail (the same
/// Message-ID and text), and settles it.
#[tokio::test]
async fn after_a_node_is_killed_the_next_sends_the_same_mail() {
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
    let env = [
        ("IMAX_SMTP_RELAY", format!("127.0.0.1:{}", relay.port)),
        ("IMAX_SMTP_CA_FILE", ca_file),
        ("IMAX_NOTIFICATIONS_DIGEST_MINUTES", "0".into()),
        ("IMAX_NOTIFICATIONS_POLL_MS", "50".into()),
        ("IMAX_NOTIFICATIONS_LEASE_SECS", "6".into()),
        ("IMAX_SMTP_TIMEOUT_SECS", "5".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settling_fails(&t.db, &url, true).await;
    let mut a = Node::spawn_with(t.dir.path(), &url, &env).await;
    let mut c = imax_gateway::client::S2sClient::connect(&a.url, &t.ca, SITE_USER.0, SITE_USER.1)
        .await
        .expect("connects");
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "TENANT.DAT",
            imax_gateway::client::Content::Bytes(b"killed\r\n".to_vec()),
            None,
        )
        .await
        .expect("reply");
    assert_ok(&r);
    let id = r.get("messageId").expect("id").to_string();
    let got = mails_arrived(&relay, 1).await;
    a.kill();
    settling_fails(&t.db, &url, false).await;
    assert_eq!(pending(&t).await, 1, "A died before settling");

    let b_dir = second_data_dir(t.dir.path());
    let _b = Node::spawn_with(b_dir.path(), &url, &env).await;
    let again = mails_arrived(&relay, 2).await;
    wait_until("settled by B", WAIT, || async { pending(&t).await == 0 }).await;
    let (one, two) = (identity(&got[0]), identity(&again[0]));
    assert_eq!(one, two);
    assert_eq!(one, identity(&again[1]));
    assert!(one.body.contains(&format!("Message {id}")), "{one:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails(&relay.maildir).len(), 2, "sent twice, not more");
}
