//! Address allow-lists (issue 30, item 5), through the real server: an organization or a
//! mailbox lists the networks its vendor software connects from, and system-to-system calls
//! for its M-IDs or mailboxes from anywhere else are refused exactly as a wrong password is
//! (R14's answer, not counted against the person), audited with the real reason. The tests'
//! clients come from 127.0.0.1; 10.9.0.0/16 is a network no client of theirs is in.

use crate::compliance_binary::imax;
use crate::helpers::*;
use crate::web_forms::{open_mailbox, session_cookie};
use imax_gateway::client::Reply;
use imax_gateway::directory::AccountStatus;

const BUREAU_MAILBOX: (&str, &str) = ("TRACM30001", "Bureau-Mailbox-2026");

/// The audit details of refused calls by `mid` that name the allow-list.
async fn refusals_for_address(t: &TestApp, mid: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = $1 AND outcome = 'AuthenticationFailed'
            AND detail LIKE '%allow-list%' ORDER BY seq",
    )
    .bind(mid)
    .fetch_all(&t.db)
    .await
    .expect("audit")
}

/// `imax admin mailbox allow-networks --imax-id TRACM30001 ARGS…` through the real binary
/// (the acceptance command, with `--network 10.9.0.0/16`); whether it succeeded, and its output.
async fn allow_networks(t: &TestApp, args: &[&str]) -> (bool, String) {
    let mut all = vec![
        "admin",
        "mailbox",
        "allow-networks",
        "--imax-id",
        BUREAU_MAILBOX.0,
    ];
    all.extend_from_slice(args);
    imax(t, &all, &[], "").await
}

/// The Bureau's listing of its mailbox, by the system-to-system door.
async fn list_bureau(t: &TestApp) -> Reply {
    t.list(BUREAU_USER, BUREAU_MAILBOX, "receivedFromOthers")
        .await
}

#[tokio::test]
async fn a_mailbox_allow_list_refuses_other_addresses_as_a_wrong_password_set_by_the_real_binary() {
    let t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    assert_ok(&list_bureau(&t).await);
    // The acceptance command.
    let (ok, out) = allow_networks(&t, &["--network", "10.9.0.0/16"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("only from 10.9.0.0/16"), "{out}");
    // More refusals than the M-ID's failed sign-in limit (3): none counts against it.
    for _ in 0..5 {
        assert_as_wrong_password(&list_bureau(&t).await);
    }
    assert_as_wrong_password(
        &t.send(BUREAU_USER, BUREAU_MAILBOX, Some(PBCA.0), b"x")
            .await,
    );
    let details = refusals_for_address(&t, BUREAU_USER.0).await;
    assert_eq!(details.len(), 6, "{details:?}");
    assert!(
        details[0]
            .contains("127.0.0.1 is outside the allow-list of mailbox TRACM30001 (10.9.0.0/16)"),
        "{details:?}"
    );
    assert_eq!(
        account_status(t.admin.store(), BUREAU_USER.0).await,
        AccountStatus::Active
    );
    // Other mailboxes of the same person are not restricted by this one's list.
    assert_ok(&t.list(SITE_USER, MAPLE, "receivedFromOthers").await);
    // The browser door is not restricted: a person signs in from wherever they are.
    let cookie = session_cookie(&t, BUREAU_USER).await;
    open_mailbox(&t, &cookie, BUREAU_MAILBOX).await;
    // With the loopback network listed, the same client is let in, the right password once.
    let (ok, out) = allow_networks(
        &t,
        &["--network", "10.9.0.0/16", "--network", "127.0.0.0/8"],
    )
    .await;
    assert!(ok, "{out}");
    assert_ok(&list_bureau(&t).await);
    // --clear ends the list; a bad network is refused and changes nothing.
    let (ok, out) = allow_networks(&t, &["--network", "10.9.0.0/33"]).await;
    assert!(!ok && out.contains("InvalidInput"), "{out}");
    let (ok, out) = allow_networks(&t, &["--clear"]).await;
    assert!(ok && out.contains("from any address"), "{out}");
    let changes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'SetAllowedNetworks' AND outcome = 'ok'",
    )
    .fetch_one(&t.db)
    .await
    .expect("audit");
    assert_eq!(changes, 3);
}

#[tokio::test]
async fn an_organization_allow_list_covers_its_people_and_its_mailboxes() {
    let t = TestApp::start().await;
    t.admin
        .set_organization_networks("CCS", &["10.9.0.0/16".into()])
        .await
        .expect("set");
    // CCS's M-ID, at CCS's mailbox, and at a mailbox of another organization it may open.
    assert_as_wrong_password(&list_bureau(&t).await);
    // A call that names no mailbox: the M-ID's own password.
    let mut c = t.client(BUREAU_USER).await;
    let r = c
        .call("ChangePassword", &[("newPassword", "A-Fresh-Passw0rd-77")])
        .await
        .expect("reply");
    assert_as_wrong_password(&r);
    // Another organization's people are not restricted by CCS's list.
    assert_ok(&t.list(SITE_USER, MAPLE, "receivedFromOthers").await);
    let details = refusals_for_address(&t, BUREAU_USER.0).await;
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(
        details.iter().all(|d| d.contains("organization CCS")),
        "{details:?}"
    );
    // Listed, the loopback network is let in.
    t.admin
        .set_organization_networks("CCS", &["10.9.0.0/16".into(), "127.0.0.0/8".into()])
        .await
        .expect("set");
    assert_ok(&list_bureau(&t).await);
    // A client at another loopback address outside a narrower list is refused.
    t.admin
        .set_organization_networks("CCS", &["127.0.0.1/32".into()])
        .await
        .expect("set");
    let mut c = t.client_from([127, 0, 0, 2], BUREAU_USER).await;
    assert_as_wrong_password(&list_reply(&mut c, BUREAU_MAILBOX, "receivedFromOthers").await);
    assert_ok(&list_bureau(&t).await);
}
