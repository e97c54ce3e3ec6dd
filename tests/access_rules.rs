//! The access decision through the real server: R5/R6, R8, R13, R15, R16, failed sign-ins.

use crate::helpers::*;
use imax_gateway::admin::NewPerson;
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountKind, AccountStatus, LockReason, Right};

/// A user created by the operator, with no property assignment (R6: the iMAX role needs none).
pub fn person(mid: &str, password: Secret) -> NewPerson {
    NewPerson {
        mid: mid.into(),
        kind: AccountKind::User,
        full_name: format!("Person {mid}"),
        email: String::new(),
        organization: String::new(),
        password,
        temporary: false,
        properties: Vec::new(),
        affiliation: None,
    }
}

async fn change_password(t: &TestApp, who: (&str, &str), new: &str) -> imax_gateway::client::Reply {
    t.client(who)
        .await
        .call("ChangePassword", &[("newPassword", new)])
        .await
        .expect("reply")
}

#[tokio::test]
async fn r8_working_group_gates_system_to_system_only() {
    let t = TestApp::start().await;
    let f = assert_fault(
        &t.send(NEW_HIRE, MAPLE, None, b"x").await,
        "NotInWorkingGroup",
    );
    assert_eq!(f.status, 403);
    t.admin.admit(NEW_HIRE.0).await.expect("admitted");
    assert_ok(&t.send(NEW_HIRE, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn r8_the_system_admits_to_the_working_group_a_day_after_the_imax_role() {
    let t = TestApp::start().await;
    t.clock.advance(time::Duration::hours(23));
    assert_fault(
        &t.send(NEW_HIRE, MAPLE, None, b"x").await,
        "NotInWorkingGroup",
    );
    t.clock.advance(time::Duration::hours(1));
    assert_ok(&t.send(NEW_HIRE, MAPLE, None, b"x").await);
    // The delay is a setting.
    let t = TestApp::start_with(|c| c.accounts.working_group_delay_hours = 48).await;
    t.clock.advance(time::Duration::hours(24));
    assert_fault(
        &t.send(NEW_HIRE, MAPLE, None, b"x").await,
        "NotInWorkingGroup",
    );
    t.clock.advance(time::Duration::hours(24));
    assert_ok(&t.send(NEW_HIRE, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn r5_r6_no_imax_role_is_refused_and_the_role_needs_no_property() {
    let t = TestApp::start().await;
    let pw = Secret::new("No-Role-Pass-77");
    t.admin
        .create_account(&person("M40001", pw.clone()))
        .await
        .expect("created");
    t.admin.admit("M40001").await.expect("admitted");
    t.admin
        .accept_rules_of_behavior("M40001")
        .await
        .expect("accepted");
    let who = ("M40001", "No-Role-Pass-77");
    let f = assert_fault(&t.send(who, MAPLE, None, b"x").await, "NoImaxRole");
    assert_eq!(f.status, 403);
    // R6: the role is global; the mailbox opens to its own people only (issue 27), so the
    // role with the mailbox's password is refused until the M-ID works for the property.
    t.admin.grant("M40001", Right::Imax).await.expect("granted");
    assert_fault(&t.send(who, MAPLE, None, b"x").await, "NotAffiliated");
    t.admin
        .assign_property("M40001", "800100001", true)
        .await
        .expect("assigned");
    assert_ok(&t.send(who, MAPLE, None, b"x").await);
    // R7: TCC and TCR belong on coordinators only.
    assert!(t.admin.grant("M40001", Right::Tcc).await.is_err());
    assert!(t.admin.grant(COORDINATOR.0, Right::Tcr).await.is_ok());
}

#[tokio::test]
async fn r13_ninety_days_without_use_locks_and_use_keeps_the_account_open() {
    // Default settings: two clocks. Signing in is Secure Systems use (R16's clock); opening
    // iMAX or any mailbox operation is iMAX use (R13's). A person who signs in but leaves iMAX
    // unused for 90 days is locked out of iMAX, not terminated.
    use crate::web_forms::{request, session_cookie};
    let t = TestApp::start().await;
    // Day 60: use iMAX (activity) and change the password so R15 does not interfere.
    t.days(60);
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"day 60").await);
    assert_ok(&change_password(&t, SITE_USER, "Second-Password-60").await);
    let user = (SITE_USER.0, "Second-Password-60");
    // Day 140: 80 days since the last use, still open.
    t.days(80);
    assert_ok(&t.send(user, MAPLE, None, b"day 140").await);
    // Then only Secure Systems: a new password on day 180 (R15) and a sign-in every 40 days,
    // iMAX left alone.
    t.days(40);
    assert_ok(&change_password(&t, user, "Third-Password-180").await);
    let user = (SITE_USER.0, "Third-Password-180");
    for _ in 0..2 {
        let cookie = session_cookie(&t, user).await;
        let (status, _, menu) = request(&t, "GET", "/menu", &cookie, "", Vec::new()).await;
        assert_eq!(status, 200, "{menu}");
        t.days(20);
    }
    // Day 230: 90 days without iMAX use: locked out of iMAX (R13); the vendor software is told
    // as a wrong password would be, and a coordinator must unlock (R14).
    t.days(10);
    assert_as_wrong_password(&t.send(user, MAPLE, None, b"late").await);
    let a = t
        .admin
        .store()
        .accounts()
        .load(&imax_gateway::directory::MId::parse(user.0).expect("mid"))
        .await
        .expect("db")
        .expect("account");
    assert_eq!(
        a.status,
        AccountStatus::Locked(LockReason::Inactivity),
        "locked out of iMAX, not terminated"
    );
    // Secure Systems stays open: the person signs in and reads why iMAX is closed.
    let cookie = session_cookie(&t, user).await;
    let (_, _, menu) = request(&t, "GET", "/menu", &cookie, "", Vec::new()).await;
    assert!(menu.contains("locked out of iMAX"), "{menu}");
    let (_, _, home) = request(&t, "GET", "/home", &cookie, "", Vec::new()).await;
    assert!(home.contains("AccountLocked"), "{home}");
    assert!(!home.contains("Open mailbox"), "{home}");
    // Its coordinator unlocks it (R14), and iMAX is open again.
    t.admin
        .acting_as(COORDINATOR.0)
        .await
        .expect("coordinator")
        .set_status(user.0, AccountStatus::Active)
        .await
        .expect("unlocked");
    assert_ok(&t.send(user, MAPLE, None, b"after unlock").await);
}

#[tokio::test]
async fn r15_expired_password_allows_only_a_change() {
    let t = TestApp::start().await;
    t.days(89);
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"day 89").await);
    t.days(1);
    let f = assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"day 90").await,
        "PasswordExpired",
    );
    assert_eq!(f.status, 401);
    assert_fault(
        &t.list(SITE_USER, MAPLE, "sentToOthers").await,
        "PasswordExpired",
    );
    // The refusal sentence lists the rules.
    let weak = change_password(&t, SITE_USER, "short").await;
    let f = assert_fault(&weak, "PasswordRejected");
    assert!(f.message.contains("12 to 128 characters"), "{}", f.message);
    assert_fault(
        &change_password(&t, SITE_USER, "Has-M10002-Inside").await,
        "PasswordRejected",
    );
    assert_fault(
        &change_password(&t, SITE_USER, SITE_USER.1).await,
        "PasswordRejected",
    );
    assert_ok(&change_password(&t, SITE_USER, "Fresh-Password-90").await);
    // The old password is forgotten at once, even though it was remembered.
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"old").await,
        "AuthenticationFailed",
    );
    assert_ok(
        &t.send((SITE_USER.0, "Fresh-Password-90"), MAPLE, None, b"new")
            .await,
    );
    // And a recent password cannot come back.
    let back = t
        .client((SITE_USER.0, "Fresh-Password-90"))
        .await
        .call("ChangePassword", &[("newPassword", SITE_USER.1)])
        .await
        .expect("reply");
    assert_fault(&back, "PasswordRejected");
}

#[tokio::test]
async fn r16_ninety_days_without_sign_in_terminates() {
    let t = TestApp::start().await;
    t.days(90);
    // Refused as a wrong password would be; the directory records the termination.
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Terminated
    );
    // Even a password change is refused: only an administrator restores it.
    assert_as_wrong_password(&change_password(&t, SITE_USER, "Another-Password-1").await);
    t.admin
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("restored");
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "PasswordExpired",
    );
    assert_ok(&change_password(&t, SITE_USER, "Another-Password-1").await);
}

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_m_id() {
    let t = TestApp::start().await;
    // R14: wrong passwords from an address the M-ID signs in from lock the M-ID itself
    // (strangers' addresses lock only strangers out: tests/lockout.rs).
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    for _ in 0..3 {
        assert_fault(
            &t.send((SITE_USER.0, "wrong-password"), MAPLE, None, b"x")
                .await,
            "AuthenticationFailed",
        );
    }
    // The right password no longer helps, and the answer does not say it was right.
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Locked(LockReason::FailedSignIns)
    );
    t.admin
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlocked");
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // A success resets the count: two failures after it do not lock.
    for _ in 0..2 {
        assert_fault(
            &t.send((SITE_USER.0, "wrong-password"), MAPLE, None, b"x")
                .await,
            "AuthenticationFailed",
        );
    }
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn an_administrative_lock_takes_effect_at_once_despite_remembered_credentials() {
    let t = TestApp::start().await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"warm the cache").await);
    t.admin
        .set_status(
            SITE_USER.0,
            AccountStatus::Locked(LockReason::Administrative),
        )
        .await
        .expect("locked");
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // Same for a mailbox password change.
    t.admin
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlocked");
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    t.admin
        .set_mailbox_password(MAPLE.0, &Secret::new("New-Maple-Password"))
        .await
        .expect("set");
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    assert_ok(
        &t.send(SITE_USER, (MAPLE.0, "New-Maple-Password"), None, b"x")
            .await,
    );
}
