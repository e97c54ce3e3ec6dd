//! Who may do what on the directory (R2–R5, R7, R14, R16, R19, R22), enforced by the core
//! whoever calls it, and the effect through the real server.

use crate::helpers::*;
use imax_gateway::admin::NewPerson;
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountKind, AccountStatus, LockReason, Right};
use imax_gateway::error::{Code, Refusal};

const HELP_DESK: &str = "H10001";
const MAPLE_PROPERTY: &str = "800100001";
const RIVERSIDE_PROPERTY: &str = "800100002";

fn user(mid: &str, properties: &[&str]) -> NewPerson {
    NewPerson {
        mid: mid.into(),
        kind: AccountKind::User,
        full_name: format!("Staff {mid}"),
        email: format!("{mid}@example.org"),
        organization: "Maple Court".into(),
        password: Secret::new("Staff-Password-01"),
        temporary: false,
        properties: properties.iter().map(|p| p.to_string()).collect(),
        affiliation: None,
    }
}

#[track_caller]
fn forbidden<T: std::fmt::Debug>(r: Result<T, Refusal>, rule: &str) {
    match r {
        Err(e) if matches!(e.code, Code::NotPermitted | Code::InvalidInput) => {
            let why = e.message();
            assert!(why.contains(rule), "{why} should cite {rule}")
        }
        other => panic!("expected a refusal citing {rule}, got {other:?}"),
    }
}

#[tokio::test]
async fn r3_coordinators_create_users_only_for_their_properties() {
    let t = TestApp::start().await;
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    coordinator
        .create_account(&user("M10010", &[MAPLE_PROPERTY]))
        .await
        .expect("created");
    forbidden(
        coordinator
            .create_account(&user("M10011", &[RIVERSIDE_PROPERTY]))
            .await,
        "R3",
    );
    forbidden(coordinator.create_account(&user("M10012", &[])).await, "R3");
    // R4: making a coordinator is HUD's.
    let mut c = user("M10013", &[MAPLE_PROPERTY]);
    c.kind = AccountKind::Coordinator;
    forbidden(coordinator.create_account(&c).await, "HUD");
    // R5: the coordinator holds the action and the role, so it may give the iMAX role...
    coordinator
        .grant("M10010", Right::Imax)
        .await
        .expect("granted");
    // ...but R7: not TCC/TCR to a user, and not the coordinator action (R4).
    forbidden(coordinator.grant("M10010", Right::Tcc).await, "R7");
    forbidden(
        coordinator.grant("M10010", Right::ImaxCoordinator).await,
        "R4",
    );
    // The new user works through the real server once in the working group and past ROB.
    let help = t.admin.acting_as(HELP_DESK).await.expect("help desk");
    help.admit("M10010").await.expect("admitted");
    help.accept_rules_of_behavior("M10010")
        .await
        .expect("accepted");
    assert_ok(
        &t.send(("M10010", "Staff-Password-01"), MAPLE, None, b"first file")
            .await,
    );
    // Another owner's coordinator does not manage Maple Court's users.
    let ca_coordinator = t.admin.acting_as(CA_USER.0).await.expect("coordinator");
    forbidden(ca_coordinator.grant("M10010", Right::Imax).await, "R3");
    forbidden(
        ca_coordinator
            .set_status("M10010", AccountStatus::Active)
            .await,
        "R3",
    );
    // A plain user may not administer anyone.
    forbidden(
        t.admin.acting_as(SITE_USER.0).await.map(|_| ()),
        "neither a coordinator",
    );
}

#[tokio::test]
async fn r5_a_coordinator_without_the_action_cannot_give_the_imax_role() {
    let t = TestApp::start().await;
    let mut c = user("M10020", &[MAPLE_PROPERTY]);
    c.kind = AccountKind::Coordinator;
    t.admin
        .create_account(&c)
        .await
        .expect("coordinator created");
    let newcomer = t.admin.acting_as("M10020").await.expect("acts");
    newcomer
        .create_account(&user("M10021", &[MAPLE_PROPERTY]))
        .await
        .expect("user");
    forbidden(newcomer.grant("M10021", Right::Imax).await, "R5");
    t.admin
        .grant("M10020", Right::ImaxCoordinator)
        .await
        .expect("action");
    forbidden(newcomer.grant("M10021", Right::Imax).await, "R5");
    t.admin.grant("M10020", Right::Imax).await.expect("role");
    newcomer
        .grant("M10021", Right::Imax)
        .await
        .expect("now allowed");
}

#[tokio::test]
async fn r2_users_need_a_coordinator_first_and_five_coordinators_at_most() {
    let t = TestApp::start().await;
    // Riverside Towers has no coordinator in the demo directory.
    forbidden(
        t.admin
            .create_account(&user("M10030", &[RIVERSIDE_PROPERTY]))
            .await,
        "R2",
    );
    for i in 0..5 {
        let mut c = user(&format!("M1004{i}"), &[RIVERSIDE_PROPERTY]);
        c.kind = AccountKind::Coordinator;
        t.admin.create_account(&c).await.expect("coordinator");
    }
    let mut sixth = user("M10049", &[RIVERSIDE_PROPERTY]);
    sixth.kind = AccountKind::Coordinator;
    forbidden(t.admin.create_account(&sixth).await, "R2");
    t.admin
        .create_account(&user("M10030", &[RIVERSIDE_PROPERTY]))
        .await
        .expect("now a user may come");
    // R4: promotion is HUD's, and counts against the five too.
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    forbidden(
        coordinator
            .promote(SITE_USER.0, &[MAPLE_PROPERTY.into()])
            .await,
        "HUD",
    );
    forbidden(
        t.admin
            .promote("M10030", &[RIVERSIDE_PROPERTY.into()])
            .await,
        "R2",
    );
    let help = t.admin.acting_as(HELP_DESK).await.expect("help desk");
    help.promote(SITE_USER.0, &[MAPLE_PROPERTY.into()])
        .await
        .expect("promoted");
    t.admin
        .grant(SITE_USER.0, Right::Tcc)
        .await
        .expect("TCC on a coordinator (R7)");
}

#[tokio::test]
async fn r14_coordinators_unlock_their_users_and_the_help_desk_unlocks_coordinators() {
    let t = TestApp::start().await;
    // From the address the person signs in from (R14: strangers' failures lock only them).
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    for _ in 0..3 {
        t.send((SITE_USER.0, "wrong-password"), MAPLE, None, b"x")
            .await;
    }
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let report = coordinator.last_login_report().await.expect("report");
    let line = report
        .iter()
        .find(|l| l.mid == SITE_USER.0)
        .expect("its user is listed");
    assert_eq!(
        line.status,
        AccountStatus::Locked(LockReason::FailedSignIns)
    );
    assert_eq!(
        line.days_until_lock, None,
        "a locked M-ID has nothing to count down"
    );
    coordinator
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlocked");
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    let report = coordinator.last_login_report().await.expect("report");
    let line = report
        .iter()
        .find(|l| l.mid == SITE_USER.0)
        .expect("listed");
    assert_eq!(line.days_until_lock, Some(90));
    assert!(
        report.iter().all(|l| l.mid != CA_USER.0),
        "only its own users"
    );

    // The coordinator itself gets locked (at the address it signs in from): it cannot act,
    // and no coordinator unlocks it.
    assert_ok(&t.send(COORDINATOR, MAPLE, None, b"x").await);
    for _ in 0..3 {
        t.send((COORDINATOR.0, "wrong-password"), MAPLE, None, b"x")
            .await;
    }
    forbidden(
        t.admin.acting_as(COORDINATOR.0).await.map(|_| ()),
        "unlocked",
    );
    let other = t.admin.acting_as(CA_USER.0).await.expect("coordinator");
    forbidden(
        other.set_status(COORDINATOR.0, AccountStatus::Active).await,
        "R14",
    );
    let help = t.admin.acting_as(HELP_DESK).await.expect("help desk");
    help.set_status(COORDINATOR.0, AccountStatus::Active)
        .await
        .expect("Help Desk unlocks");
    assert_ok(&t.send(COORDINATOR, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn r16_only_reac_tac_restores_a_terminated_m_id() {
    let t = TestApp::start().await;
    t.days(90);
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Terminated
    );
    // Terminations go to REAC-TAC, not to the Multifamily Help Desk (R16).
    let help = t.admin.acting_as(HELP_DESK).await.expect("help desk");
    forbidden(
        help.set_status(SITE_USER.0, AccountStatus::Active).await,
        "R16",
    );
    let staff = crate::access_rules::person("H10009", Secret::new("Reac-Tac-Pass-01"));
    t.admin.create_account(&staff).await.expect("created");
    t.admin
        .set_reac_tac("H10009", true)
        .await
        .expect("REAC-TAC");
    let reac_tac = t.admin.acting_as("H10009").await.expect("REAC-TAC");
    // The coordinator, too, went 90 days without signing in; REAC-TAC restores it first.
    assert_as_wrong_password(&t.send(COORDINATOR, MAPLE, None, b"x").await);
    reac_tac
        .set_status(COORDINATOR.0, AccountStatus::Active)
        .await
        .expect("restored");
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    forbidden(
        coordinator
            .set_status(SITE_USER.0, AccountStatus::Active)
            .await,
        "R16",
    );
    // REAC-TAC restores, and does nothing else of HUD's.
    reac_tac
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("restored");
    forbidden(
        reac_tac
            .set_status(SITE_USER.0, AccountStatus::Terminated)
            .await,
        "HUD's",
    );
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "PasswordExpired",
    );
    // The operator ends it.
    t.admin.set_reac_tac("H10009", false).await.expect("ended");
    assert!(t.admin.acting_as("H10009").await.is_err());
}

#[tokio::test]
async fn r19_r22_staff_assignment_and_property_assignments() {
    let t = TestApp::start().await;
    // A second coordinator for Maple Court assigns the existing user to itself (R19).
    let mut c = user("M10050", &[MAPLE_PROPERTY]);
    c.kind = AccountKind::Coordinator;
    t.admin.create_account(&c).await.expect("coordinator");
    let second = t.admin.acting_as("M10050").await.expect("acts");
    forbidden(second.revoke(SITE_USER.0, Right::Imax).await, "R3");
    // Its own TCR role first (R7), which the coordinator turns on for itself.
    forbidden(second.assign_staff(SITE_USER.0).await, "TCC or TCR");
    second.grant_own(Right::Tcr).await.expect("TCR on");
    second.assign_staff(SITE_USER.0).await.expect("assigned");
    assert!(second
        .last_login_report()
        .await
        .expect("report")
        .iter()
        .any(|l| l.mid == SITE_USER.0));
    // Not for a user with no property it has a BPR with.
    t.admin
        .create_account(&user("M10051", &[]))
        .await
        .expect("a user of no property");
    forbidden(second.assign_staff("M10051").await, "R19");
    // It may not assign outside its BPRs (R3).
    forbidden(
        second
            .assign_property(SITE_USER.0, RIVERSIDE_PROPERTY, true)
            .await,
        "R3",
    );
    // R22, a leaver: the coordinator removes the iMAX role (at once, through the server),
    // then the property assignment.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    second
        .revoke(SITE_USER.0, Right::Imax)
        .await
        .expect("revoked");
    assert_fault(&t.send(SITE_USER, MAPLE, None, b"x").await, "NoImaxRole");
    second
        .assign_property(SITE_USER.0, MAPLE_PROPERTY, false)
        .await
        .expect("removed");
    // With no property in common any more, its authority over the leaver has ended.
    forbidden(second.grant(SITE_USER.0, Right::Imax).await, "R22");
}

#[tokio::test]
async fn directory_changes_are_audited_with_actor_subject_before_and_after() {
    let t = TestApp::start().await;
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    coordinator
        .create_account(&user("M10060", &[MAPLE_PROPERTY]))
        .await
        .expect("created");
    coordinator
        .grant("M10060", Right::Imax)
        .await
        .expect("granted");
    coordinator
        .set_status("M10060", AccountStatus::Locked(LockReason::Administrative))
        .await
        .expect("locked");
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, detail FROM audit_log WHERE detail LIKE '%M10060%' ORDER BY seq",
    )
    .fetch_all(&t.db)
    .await
    .expect("rows");
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "CreateAccount",
            "AssignProperty",
            "AssignStaff",
            "Grant",
            "SetStatus"
        ]
    );
    assert!(rows.iter().all(|r| r.0 == COORDINATOR.0));
    assert!(
        rows[3].2.contains("before=false after=true"),
        "{}",
        rows[3].2
    );
    assert!(
        rows[4].2.contains("before=Active after=Locked"),
        "{}",
        rows[4].2
    );
}

/// A window that closes inside the year, and periods long enough to walk through it without
/// the 90-day rules (tested elsewhere) or a new year's Rules of Behavior getting in the way.
fn summer_window(c: &mut imax_gateway::config::Config) {
    c.accounts.recertification_opens = "06-01".into();
    c.accounts.recertification_deadline = "09-30".into();
    c.accounts.inactivity_lock_days = 400;
    c.accounts.termination_days = 400;
    c.accounts.password_max_age_days = 400;
}

async fn ready_user(t: &TestApp, mid: &str) {
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    coordinator
        .create_account(&user(mid, &[MAPLE_PROPERTY]))
        .await
        .expect("created");
    coordinator.grant(mid, Right::Imax).await.expect("granted");
    t.admin.admit(mid).await.expect("admitted");
    t.admin
        .accept_rules_of_behavior(mid)
        .await
        .expect("accepted");
}

#[tokio::test]
async fn r17_r18_after_the_deadline_uncertified_users_are_refused_and_flagged_rights_go() {
    use time::macros::datetime;
    let t = TestApp::start_with(summer_window).await;
    let staff = |mid| (mid, "Staff-Password-01");
    ready_user(&t, "M10080").await;
    ready_user(&t, "M10081").await;
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");

    // The window opens: the coordinator reviews, flags and recertifies (R18).
    t.clock.set(datetime!(2026-06-15 10:00 UTC));
    crate::compliance::trained(&t, "M10080").await;
    coordinator.recertify("M10080").await.expect("recertified");
    crate::compliance::trained(&t, "M10081").await;
    coordinator.recertify("M10081").await.expect("recertified");
    coordinator
        .flag_right("M10080", Right::Imax, true)
        .await
        .expect("flagged");
    forbidden(
        coordinator
            .flag_right(COORDINATOR.0, Right::Imax, true)
            .await,
        "R14",
    );
    forbidden(coordinator.recertify(CA_USER.0).await, "R17");
    // Before the deadline everyone still works, certified or not.
    for who in [SITE_USER, staff("M10080"), staff("M10081")] {
        assert_ok(&t.send(who, MAPLE, None, b"in the window").await);
    }

    // The deadline passes.
    t.clock.set(datetime!(2026-10-01 04:00 UTC)); // the end of 30 September in Washington (R17)
    let f = assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"late").await,
        "NotRecertified",
    );
    assert_eq!(f.status, 403);
    assert_fault(
        &t.send(staff("M10080"), MAPLE, None, b"x").await,
        "NoImaxRole",
    );
    assert_ok(&t.send(staff("M10081"), MAPLE, None, b"x").await);
    assert_ok(
        &t.send(
            COORDINATOR,
            MAPLE,
            None,
            b"coordinators are never recertified",
        )
        .await,
    );
    // The system's deadline job removes the flagged right from the directory, with a record;
    // run by two nodes at once (and by the server's own housekeeping, whose first round may
    // still be running), it removes and records it once.
    let (node_a, node_b) = (t.admin.as_system(), t.admin.as_system());
    let (a, b) = tokio::join!(node_a.apply_deadlines(), node_b.apply_deadlines());
    assert!(a.expect("applied") + b.expect("applied") <= 1);
    let records: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'RemoveFlaggedRight' AND detail LIKE '%M10080%'",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(records, 1, "removed and recorded once");
    assert!(t
        .admin
        .describe_account("M10080")
        .await
        .expect("shown")
        .contains("rights: none"));
    let by_system: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor = 'system' AND action = 'RemoveFlaggedRight'",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(by_system, 1);
    // A late recertification restores the user at once.
    crate::compliance::trained(&t, SITE_USER.0).await;
    coordinator
        .recertify(SITE_USER.0)
        .await
        .expect("recertified late");
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"back").await);
}

#[tokio::test]
async fn r20_a_user_created_in_the_window_is_certified_before_first_use() {
    let t = TestApp::start_with(summer_window).await;
    t.clock.set(time::macros::datetime!(2026-06-10 10:00 UTC));
    ready_user(&t, "M10090").await;
    let who = ("M10090", "Staff-Password-01");
    assert_fault(&t.send(who, MAPLE, None, b"x").await, "NotRecertified");
    // R19: only a coordinator with a BPR on the user's property certifies; one suffices.
    let ca_coordinator = t.admin.acting_as(CA_USER.0).await.expect("coordinator");
    forbidden(ca_coordinator.recertify("M10090").await, "R3");
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    crate::compliance::trained(&t, "M10090").await;
    coordinator.recertify("M10090").await.expect("recertified");
    assert_ok(&t.send(who, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn authority_is_current_and_help_desk_locks_are_the_help_desks() {
    let t = TestApp::start().await;
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let help = t.admin.acting_as(HELP_DESK).await.expect("help desk");
    let locked = AccountStatus::Locked(LockReason::Administrative);
    // M10002 works on Maple Court, where M10001 has its BPR: M10001 manages it (R3, R14).
    coordinator
        .set_status(SITE_USER.0, locked)
        .await
        .expect("a coordinator locks its user");
    coordinator
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("and unlocks it");
    // A lock the Help Desk set is the Help Desk's to lift.
    help.set_status(SITE_USER.0, locked)
        .await
        .expect("the Help Desk locks");
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Locked(LockReason::HelpDesk)
    );
    forbidden(
        coordinator
            .set_status(SITE_USER.0, AccountStatus::Active)
            .await,
        "R14",
    );
    help.set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("the Help Desk unlocks");

    // The user moves to Riverside, where M10001 has no BPR: its authority ends at once.
    t.admin
        .assign_property(SITE_USER.0, "800100002", true)
        .await
        .expect("assigned");
    t.admin
        .assign_property(SITE_USER.0, "800100001", false)
        .await
        .expect("unassigned");
    forbidden(coordinator.set_status(SITE_USER.0, locked).await, "R22");
    forbidden(coordinator.view_person(SITE_USER.0).await, "R22");
    forbidden(coordinator.grant(SITE_USER.0, Right::Imax).await, "R22");
    let report = coordinator.last_login_report().await.expect("report");
    assert!(
        report.iter().all(|l| l.mid != SITE_USER.0),
        "no longer its user"
    );

    // Help Desk staff are never a coordinator's, even on one of its properties.
    t.admin
        .assign_property(HELP_DESK, "800100001", true)
        .await
        .expect("assigned");
    forbidden(coordinator.assign_staff(HELP_DESK).await, "Help Desk staff");
    forbidden(
        coordinator.set_status(HELP_DESK, locked).await,
        "Help Desk staff",
    );
}

/// R7 (seed Q5, Q45): a coordinator turns its own TCC and TCR roles on, for itself only; TCC
/// opens unlocking its users, TCC or TCR staff assignment, review and recertification. The
/// iMAX Coordinator action comes before the iMAX role (R5). In the browser: "My roles".
#[tokio::test]
async fn r7_coordinators_turn_on_their_own_tcc_and_tcr_and_never_a_users() {
    let t = TestApp::start().await;
    let me = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let rights = || async {
        let mid = imax_gateway::directory::MId::parse(COORDINATOR.0).expect("mid");
        let a = t.admin.store().accounts().load(&mid).await.expect("load");
        a.expect("exists").rights
    };
    // Without TCC the coordinator cannot unlock its user; without TCC or TCR it cannot
    // recertify, flag or take staff.
    me.revoke_own(Right::Tcc).await.expect("turned off");
    assert!(!rights().await.tcc);
    me.set_status(
        SITE_USER.0,
        AccountStatus::Locked(LockReason::Administrative),
    )
    .await
    .expect("a coordinator still locks");
    forbidden(
        me.set_status(SITE_USER.0, AccountStatus::Active).await,
        "TCC",
    );
    forbidden(me.recertify(SITE_USER.0).await, "TCC or TCR");
    forbidden(
        me.flag_right(SITE_USER.0, Right::Imax, true).await,
        "TCC or TCR",
    );
    forbidden(me.assign_staff(NEW_HIRE.0).await, "TCC or TCR");
    // TCR opens the recertification steps, not unlocking.
    me.grant_own(Right::Tcr).await.expect("TCR on");
    crate::compliance::trained(&t, SITE_USER.0).await;
    me.recertify(SITE_USER.0).await.expect("recertified");
    forbidden(
        me.set_status(SITE_USER.0, AccountStatus::Active).await,
        "TCC",
    );
    // At the command line (`imax admin --as M10001 grant M10001 tcc`) it is the same step.
    me.grant(COORDINATOR.0, Right::Tcc).await.expect("TCC on");
    me.set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlocked");
    // Never for a user, and another coordinator's roles are HUD's to change.
    forbidden(me.grant(SITE_USER.0, Right::Tcc).await, "R7");
    let refused = me.grant(CA_USER.0, Right::Tcr).await.expect_err("HUD's");
    assert_eq!(refused.code, Code::NotPermitted);
    // Only a coordinator has roles of its own to turn on.
    let refused = t
        .admin
        .grant_own(Right::Tcc)
        .await
        .expect_err("not a coordinator");
    assert_eq!(refused.code, Code::NotPermitted);
    // The action before the role (R5).
    me.revoke_own(Right::Imax).await.expect("role off");
    me.revoke_own(Right::ImaxCoordinator)
        .await
        .expect("action off");
    forbidden(me.grant_own(Right::Imax).await, "R5");

    // The coordinator page's "My roles": both back on in one go (the action first), TCR off.
    let cookie = crate::web_forms::session_cookie(&t, COORDINATOR).await;
    let (_, _, page) =
        crate::web_forms::request(&t, "GET", "/coordinator", &cookie, "", Vec::new()).await;
    assert!(page.contains("My roles"), "{page}");
    let token = crate::web_forms::csrf_of(&page);
    let form = format!("csrf={token}&right=imax-coordinator&right=imax&right=tcc");
    let (status, _, _) = crate::web_forms::request(
        &t,
        "POST",
        "/coordinator/roles",
        &cookie,
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 303);
    let now = rights().await;
    assert!(
        now.imax_coordinator && now.imax && now.tcc && !now.tcr,
        "{now:?}"
    );
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor = $1 AND action IN ('GrantOwn', 'RevokeOwn')",
    )
    .bind(COORDINATOR.0)
    .fetch_one(&t.db)
    .await
    .expect("audit");
    assert!(audit >= 8, "each change audited: {audit}");
}

/// The properties of a person, by number, as the directory holds them.
async fn assignments(t: &TestApp, mid: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT p.property_number FROM property_assignments pa
           JOIN properties p ON p.id = pa.property_id
           JOIN accounts a ON a.id = pa.account_id
          WHERE a.mid = $1 ORDER BY 1",
    )
    .bind(mid)
    .fetch_all(&t.db)
    .await
    .expect("assignments")
}

/// R18, R19 (seed Q25, Q28): a coordinator certifies a user for the properties it has a BPR
/// with. A user working for two coordinators with different BPRs needs each one's
/// certification: at the deadline the assignments no certification covers lapse (the global
/// iMAX role stays while any certification covers the user), and so do assignments flagged
/// for removal in the review. The deadline is applied once; a later assignment stays.
#[tokio::test]
async fn r19_certification_is_scoped_by_bpr_and_uncovered_assignments_lapse_at_the_deadline() {
    use time::macros::datetime;
    const OAK_HILL_PROPERTY: &str = "800100003";
    let t = TestApp::start_with(|c| {
        summer_window(c);
        c.accounts.mailbox_inactive_days = 400;
    })
    .await;
    // Riverside Towers gets a coordinator of its own, who turns on its TCR role (R7).
    let mut c = user("M10060", &[RIVERSIDE_PROPERTY]);
    c.kind = AccountKind::Coordinator;
    t.admin.create_account(&c).await.expect("coordinator");
    let riverside = t.admin.acting_as("M10060").await.expect("acts");
    riverside.grant_own(Right::Tcr).await.expect("TCR");
    let maple = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    // M10090 works for both coordinators (and for Oak Hill, Maple's coordinator's too);
    // M10091 for both as well; M10092 for Maple Court only.
    for mid in ["M10090", "M10091", "M10092"] {
        ready_user(&t, mid).await;
    }
    for (mid, property) in [
        ("M10090", RIVERSIDE_PROPERTY),
        ("M10090", OAK_HILL_PROPERTY),
        ("M10091", RIVERSIDE_PROPERTY),
    ] {
        t.admin
            .assign_property(mid, property, true)
            .await
            .expect("assigned");
    }

    // The window opens. Maple's coordinator certifies two of its users; Riverside's takes both
    // that work for it as staff and certifies M10091 only. In the review, Maple's coordinator flags M10090's Oak Hill
    // assignment for removal (through its person page), and may not flag Riverside's.
    t.clock.set(datetime!(2026-06-15 10:00 UTC));
    for mid in ["M10090", "M10091"] {
        crate::compliance::trained(&t, mid).await;
        maple.recertify(mid).await.expect("certified by Maple's");
    }
    for mid in ["M10090", "M10091"] {
        riverside
            .assign_staff(mid)
            .await
            .expect("Riverside's staff");
    }
    riverside
        .recertify("M10091")
        .await
        .expect("certified by Riverside's");
    forbidden(
        maple
            .flag_assignment("M10090", RIVERSIDE_PROPERTY, true)
            .await,
        "R3",
    );
    let cookie = crate::web_forms::session_cookie(&t, COORDINATOR).await;
    let page_path = "/coordinator/users/M10090";
    let (_, _, page) =
        crate::web_forms::request(&t, "GET", page_path, &cookie, "", Vec::new()).await;
    let token = crate::web_forms::csrf_of(&page);
    let form = format!("csrf={token}&property={OAK_HILL_PROPERTY}&flag=yes");
    let (status, _, _) = crate::web_forms::request(
        &t,
        "POST",
        &format!("{page_path}/flag-property"),
        &cookie,
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, page) =
        crate::web_forms::request(&t, "GET", page_path, &cookie, "", Vec::new()).await;
    assert!(page.contains("(flagged for removal)"), "{page}");
    // Before the deadline nothing has changed.
    let system = t.admin.as_system();
    assert_eq!(system.apply_deadlines().await.expect("applied"), 0);
    assert_eq!(assignments(&t, "M10090").await.len(), 3);

    // The deadline passes.
    t.clock.set(datetime!(2026-10-01 04:00 UTC)); // the end of 30 September in Washington (R17)
    let other_node = t.admin.as_system();
    let (a, b) = tokio::join!(system.apply_deadlines(), other_node.apply_deadlines());
    let applied = (a.expect("applied"), b.expect("applied"));
    assert_eq!(applied.0 + applied.1, 2, "applied once");
    // M10090: Riverside lapsed (its coordinator did not certify it), Oak Hill went as
    // flagged; Maple Court stays, and so does the iMAX role: it still sends.
    assert_eq!(assignments(&t, "M10090").await, [MAPLE_PROPERTY]);
    assert_ok(
        &t.send(("M10090", "Staff-Password-01"), MAPLE, None, b"x")
            .await,
    );
    // M10091, certified by both, keeps both.
    assert_eq!(
        assignments(&t, "M10091").await,
        [MAPLE_PROPERTY, RIVERSIDE_PROPERTY]
    );
    // M10092, certified by nobody, is refused (R17) but keeps its assignment, so that its
    // coordinator can still certify it late.
    assert_eq!(assignments(&t, "M10092").await, [MAPLE_PROPERTY]);
    assert_fault(
        &t.send(("M10092", "Staff-Password-01"), MAPLE, None, b"x")
            .await,
        "NotRecertified",
    );
    crate::compliance::trained(&t, "M10092").await;
    maple.recertify("M10092").await.expect("late");
    // Riverside's coordinator no longer manages M10090 (R22).
    forbidden(riverside.recertify("M10090").await, "R22");
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'LapseUncertifiedAssignments'",
    )
    .fetch_one(&t.db)
    .await
    .expect("recorded once");
    assert!(
        detail.contains(&format!("M10090:{RIVERSIDE_PROPERTY}")),
        "{detail}"
    );
    // Applied once: an assignment made after the deadline stays through later runs.
    t.admin
        .assign_property("M10090", RIVERSIDE_PROPERTY, true)
        .await
        .expect("assigned again");
    assert_eq!(system.apply_deadlines().await.expect("applied"), 0);
    assert_eq!(
        assignments(&t, "M10090").await,
        [MAPLE_PROPERTY, RIVERSIDE_PROPERTY]
    );
}

/// R22 (seed Q47): a coordinator who leaves has its BPRs, assignments, staff and rights
/// removed and becomes a plain user, by the Help Desk or another coordinator of its
/// properties; never by itself or a stranger, and never leaving a property with users without
/// a coordinator (R2).
#[tokio::test]
async fn r22_a_coordinator_who_left_is_removed_by_the_help_desk_or_a_fellow_coordinator() {
    let t = TestApp::start().await;
    let mut c = user("M10070", &[MAPLE_PROPERTY, RIVERSIDE_PROPERTY]);
    c.kind = AccountKind::Coordinator;
    t.admin.create_account(&c).await.expect("coordinator");
    t.admin
        .grant("M10070", Right::ImaxCoordinator)
        .await
        .expect("action");
    let leaver = t.admin.acting_as("M10070").await.expect("acts");
    leaver
        .create_account(&user("M10071", &[RIVERSIDE_PROPERTY]))
        .await
        .expect("a Riverside user");
    let maple = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    // A stranger, itself: refused.
    let stranger = t.admin.acting_as(CA_USER.0).await.expect("acts");
    forbidden(stranger.demote("M10070").await, "R22");
    forbidden(maple.demote(COORDINATOR.0).await, "R22");
    // Riverside's users would be left without a coordinator.
    forbidden(maple.demote("M10070").await, "R2");
    let mut c = user("M10072", &[RIVERSIDE_PROPERTY]);
    c.kind = AccountKind::Coordinator;
    t.admin
        .create_account(&c)
        .await
        .expect("another coordinator");

    // Maple's coordinator sees its fellow on its page and removes it there.
    let cookie = crate::web_forms::session_cookie(&t, COORDINATOR).await;
    let (_, _, page) =
        crate::web_forms::request(&t, "GET", "/coordinator", &cookie, "", Vec::new()).await;
    assert!(page.contains("Other coordinators of your properties") && page.contains("M10070"));
    let token = crate::web_forms::csrf_of(&page);
    let (status, _, _) = crate::web_forms::request(
        &t,
        "POST",
        "/coordinator/demote",
        &cookie,
        "application/x-www-form-urlencoded",
        format!("csrf={token}&mid=M10070").into_bytes(),
    )
    .await;
    assert_eq!(status, 303);
    let described = t.admin.describe_account("M10070").await.expect("kept");
    assert!(described.contains("user"), "{described}");
    assert!(described.contains("rights: none"), "{described}");
    assert!(assignments(&t, "M10070").await.is_empty());
    let bprs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM business_partners b JOIN accounts a ON a.id = b.account_id
          WHERE a.mid = 'M10070'",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(bprs, 0);
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'Demote'")
        .fetch_one(&t.db)
        .await
        .expect("audited");
    assert!(
        detail.contains(&format!(
            "bprs_removed=[{MAPLE_PROPERTY},{RIVERSIDE_PROPERTY}]"
        )),
        "{detail}"
    );
    // It administers nobody now; Riverside's other coordinator takes its user on.
    assert!(t.admin.acting_as("M10070").await.is_err());
    let riverside = t.admin.acting_as("M10072").await.expect("acts");
    riverside.grant_own(Right::Tcr).await.expect("TCR");
    riverside.assign_staff("M10071").await.expect("staff");
    assert_eq!(
        riverside.view_person("M10071").await.expect("its user").mid,
        "M10071"
    );
    // Not twice.
    let again = t
        .admin
        .demote("M10070")
        .await
        .expect_err("not a coordinator");
    assert_eq!(again.code, Code::InvalidInput);
}

/// Internal user recertification (issue 16, item 4): HUD's own staff and contractors (H-IDs,
/// C-IDs) are recertified by their supervisor, OTC or COR in a window of their own (1 November
/// to 5 December by default), with the same three steps; uncertified staff lose access at that
/// deadline while industry users keep theirs until their own.
#[tokio::test]
async fn r17_hud_staff_are_recertified_by_their_supervisor_in_their_own_window() {
    use time::macros::datetime;
    let t = TestApp::start_with(|c| {
        c.accounts.inactivity_lock_days = 400;
        c.accounts.termination_days = 400;
        c.accounts.password_max_age_days = 400;
        c.accounts.mailbox_inactive_days = 400;
    })
    .await;
    // Two contractors with the iMAX role, made by HUD.
    for mid in ["C40001", "C40002"] {
        t.admin
            .create_account(&user(mid, &[]))
            .await
            .expect("created");
        t.admin.grant(mid, Right::Imax).await.expect("role");
        t.admin.admit(mid).await.expect("admitted");
        t.admin
            .accept_rules_of_behavior(mid)
            .await
            .expect("accepted");
    }
    let staff = |mid| (mid, "Staff-Password-01");
    let supervisor = t.admin.acting_as(SUPERVISOR.0).await.expect("a certifier");
    // Step 1: the supervisor takes its staff on; never an industry user, nor itself; and only
    // a designated certifier does this.
    for mid in ["C40001", "C40002"] {
        supervisor.take_on_staff(mid).await.expect("taken on");
    }
    forbidden(supervisor.take_on_staff(SITE_USER.0).await, "coordinators");
    let refused = supervisor
        .take_on_staff(SUPERVISOR.0)
        .await
        .expect_err("not itself");
    assert_eq!(refused.code, Code::NotPermitted);
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let refused = coordinator
        .take_on_staff("C40001")
        .await
        .expect_err("HUD's staff are not a coordinator's");
    assert_eq!(refused.code, Code::NotPermitted);
    assert!(
        t.admin.acting_as(HUD_STAFF.0).await.is_err(),
        "not designated"
    );
    for who in [HUD_STAFF, staff("C40001"), staff("C40002")] {
        assert_ok(&t.list(who, HUD, "receivedFromOthers").await);
    }

    // Their window opens (the industry's is open too, from 1 September).
    t.clock.set(datetime!(2026-11-15 10:00 UTC));
    // Steps 2 and 3: review (C40002 no longer needs iMAX) and recertify; C40001 is left out.
    supervisor
        .flag_staff_right("C40002", Right::Imax, true)
        .await
        .expect("flagged");
    for mid in [HUD_STAFF.0, "C40002"] {
        assert_eq!(
            supervisor.recertify_staff(mid).await.expect("recertified"),
            2026
        );
    }
    for who in [HUD_STAFF, staff("C40001"), staff("C40002")] {
        assert_ok(&t.list(who, HUD, "receivedFromOthers").await);
    }

    // Certified "through December 6" (R17): 23:59 on 6 December in Washington still works.
    t.clock.set(datetime!(2026-12-07 04:59 UTC));
    assert_ok(&t.list(staff("C40001"), HUD, "receivedFromOthers").await);
    // Their deadline passes at the end of 6 December in Washington: C40001 is refused, C40002
    // loses the flagged role; industry users, whose deadline is 31 December, are not touched.
    t.clock.set(datetime!(2026-12-07 05:00 UTC));
    assert_ok(&t.list(HUD_STAFF, HUD, "receivedFromOthers").await);
    assert_fault(
        &t.list(staff("C40001"), HUD, "receivedFromOthers").await,
        "NotRecertified",
    );
    assert_fault(
        &t.list(staff("C40002"), HUD, "receivedFromOthers").await,
        "NoImaxRole",
    );
    assert_ok(&t.list(SITE_USER, MAPLE, "sentToOthers").await);
    // Applied here, or already by the gateway's own housekeeping pass if that ran after the
    // clock moved: either way exactly once.
    t.admin
        .as_system()
        .apply_deadlines()
        .await
        .expect("applied");
    let removals: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'RemoveFlaggedRight' AND detail LIKE 'mid=C40002 %'",
    )
    .fetch_one(&t.db)
    .await
    .expect("audit");
    assert_eq!(removals, 1);
    assert!(t
        .admin
        .describe_account("C40002")
        .await
        .expect("shown")
        .contains("rights: none"));
    // A late recertification, on the supervisor's page, restores C40001 at once.
    let cookie = crate::web_forms::session_cookie(&t, SUPERVISOR).await;
    let (_, _, menu) = crate::web_forms::request(&t, "GET", "/menu", &cookie, "", Vec::new()).await;
    assert!(menu.contains("Staff recertification"), "{menu}");
    let (_, _, page) =
        crate::web_forms::request(&t, "GET", "/certifier", &cookie, "", Vec::new()).await;
    assert!(page.contains("C40001") && page.contains("C40002"), "{page}");
    let token = crate::web_forms::csrf_of(&page);
    let (status, _, _) = crate::web_forms::request(
        &t,
        "POST",
        "/certifier/recertify",
        &cookie,
        "application/x-www-form-urlencoded",
        format!("csrf={token}&mid=C40001").into_bytes(),
    )
    .await;
    assert_eq!(status, 303);
    assert_ok(&t.list(staff("C40001"), HUD, "receivedFromOthers").await);
    // An industry user is not HUD's staff: the page says why, and takes nobody on.
    let (status, _, page) = crate::web_forms::request(
        &t,
        "POST",
        "/certifier/take-on",
        &cookie,
        "application/x-www-form-urlencoded",
        format!("csrf={token}&mid={}", SITE_USER.0).into_bytes(),
    )
    .await;
    assert_ne!(status, 303);
    assert!(page.contains("is not HUD staff or a contractor"), "{page}");
    assert!(page.contains("C40001"), "the staff list is still shown");
    // The Help Desk designates another certifier on the person's page.
    let cookie = crate::web_forms::session_cookie(&t, ("H10001", "Help-Desk-Pass-6")).await;
    let path = format!("/helpdesk/people/{}", HUD_STAFF.0);
    let (_, _, page) = crate::web_forms::request(&t, "GET", &path, &cookie, "", Vec::new()).await;
    assert!(page.contains("Designate as a certifier"), "{page}");
    let token = crate::web_forms::csrf_of(&page);
    let (status, _, _) = crate::web_forms::request(
        &t,
        "POST",
        &format!("{path}/certifier"),
        &cookie,
        "application/x-www-form-urlencoded",
        format!("csrf={token}&on=yes").into_bytes(),
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        t.admin.acting_as(HUD_STAFF.0).await.is_ok(),
        "a certifier now"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor = $1 AND action IN ('TakeOnStaff', 'FlagStaffRight', 'RecertifyStaff')",
    )
    .bind(SUPERVISOR.0)
    .fetch_one(&t.db)
    .await
    .expect("count");
    // Taking on (the import's H20001 and two here), one flag, three recertifications.
    assert_eq!(audited, 7);
}
