//! The authorization matrix, generated from two tables, so that a gap shows as a missing or
//! wrong cell rather than a missing test:
//!
//! * the doors: the state of the person's M-ID × the door × the operation → allowed or the
//!   exact refusal code (R5, R8, R13–R17, R20, R21), through the real system-to-system door
//!   and through the core as the browser door calls it;
//! * administration: who acts × on whom × what → done or refused with the exact code and the rule it breaks
//!   (R3, R5, R14, R16, R22), through the library the coordinator's and Help Desk's pages call
//!   and through the real `imax admin --as` binary.

use crate::helpers::*;
use imax_gateway::access::{Door, Operation};
use imax_gateway::admin::{Admin, AdminOp, AdminResult, Purge, Who, RULES};
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountStatus, LockReason, Right};
use imax_gateway::error::Code;
use imax_gateway::gateway::{Caller, Credentials};

/// States the person's M-ID can be in.
#[derive(Debug, Clone, Copy)]
enum State {
    Active,
    Locked,
    Terminated,
    PasswordExpired,
    RulesNotAccepted,
    NoImaxRole,
    NotInWorkingGroup,
    NotRecertified,
}

/// Puts SITE_USER (M10002) in `state`, as the directory and time would.
async fn put_in(t: &TestApp, state: State) {
    let pool = &t.db;
    let now = imax_gateway::clock::to_epoch(imax_gateway::clock::Clock::now(&*t.clock));
    let sql = |q: &'static str| sqlx::query(q).bind(SITE_USER.0).bind(now).execute(pool);
    match state {
        State::Active => {}
        State::Locked => t
            .admin
            .set_status(
                SITE_USER.0,
                AccountStatus::Locked(LockReason::Administrative),
            )
            .await
            .expect("lock"),
        State::Terminated => t
            .admin
            .set_status(SITE_USER.0, AccountStatus::Terminated)
            .await
            .expect("terminate"),
        State::PasswordExpired => {
            sql("UPDATE accounts SET password_changed_at = $2 - 91 * 86400 WHERE mid = $1")
                .await
                .expect("expire");
        }
        State::RulesNotAccepted => {
            sql("UPDATE accounts SET rob_accepted_at = NULL WHERE mid = $1 AND $2 > 0")
                .await
                .expect("rules");
        }
        State::NoImaxRole => t
            .admin
            .revoke(SITE_USER.0, Right::Imax)
            .await
            .expect("revoke"),
        State::NotInWorkingGroup => {
            // Out of the working group, and the iMAX role granted just now (R8's delay).
            sql("DELETE FROM working_group WHERE account_id = (SELECT id FROM accounts WHERE mid = $1) AND $2 > 0")
                .await
                .expect("group");
            sql("UPDATE account_rights SET granted_at = $2 WHERE right_name = 'imax' AND account_id = (SELECT id FROM accounts WHERE mid = $1)")
                .await
                .expect("granted");
        }
        State::NotRecertified => {
            // A user since before last year's deadline, in use, without that cycle (R17).
            sql("UPDATE accounts SET created_at = $2 - 365 * 86400, last_activity_at = $2, last_signin_at = $2 WHERE mid = $1")
                .await
                .expect("older");
            sql("DELETE FROM recertifications WHERE user_id = (SELECT id FROM accounts WHERE mid = $1) AND $2 > 0")
                .await
                .expect("uncertified");
        }
    }
}

const OK: &str = "ok";
const NO: &str = "AuthenticationFailed";
/// ChangePassword with a new password that breaks the rules: `PasswordRejected` means the
/// operation was allowed through to the password rules.
const CHANGE_ALLOWED: &str = "PasswordRejected";

/// state → system-to-system [SendFile, ListMessages, ChangePassword], browser [SignIn, OpenImax]
const DOORS: [(State, [&str; 3], [&str; 2]); 8] = [
    (State::Active, [OK, OK, CHANGE_ALLOWED], [OK, OK]),
    // R14: a locked or terminated M-ID answers as a wrong password, whatever the operation.
    (State::Locked, [NO, NO, NO], [NO, NO]),
    (State::Terminated, [NO, NO, NO], [NO, NO]),
    // R15: only the password change; the browser signs in to reach it.
    (
        State::PasswordExpired,
        ["PasswordExpired", "PasswordExpired", CHANGE_ALLOWED],
        [OK, "PasswordExpired"],
    ),
    // R21
    (
        State::RulesNotAccepted,
        [
            "RulesOfBehaviorNotAccepted",
            "RulesOfBehaviorNotAccepted",
            CHANGE_ALLOWED,
        ],
        [OK, "RulesOfBehaviorNotAccepted"],
    ),
    // R5, R6
    (
        State::NoImaxRole,
        ["NoImaxRole", "NoImaxRole", CHANGE_ALLOWED],
        [OK, "NoImaxRole"],
    ),
    // R8: the working group gates the system-to-system door only.
    (
        State::NotInWorkingGroup,
        ["NotInWorkingGroup", "NotInWorkingGroup", CHANGE_ALLOWED],
        [OK, OK],
    ),
    // R17
    (
        State::NotRecertified,
        ["NotRecertified", "NotRecertified", CHANGE_ALLOWED],
        [OK, "NotRecertified"],
    ),
];

fn outcome(r: &imax_gateway::client::Reply) -> String {
    r.fault
        .as_ref()
        .map(|f| f.code.clone())
        .unwrap_or_else(|| OK.into())
}

#[tokio::test]
async fn the_doors_matrix_state_door_and_operation() {
    let mut failures = Vec::new();
    for (state, s2s, browser) in DOORS {
        let t = TestApp::start_with(|c| c.throttle.max_failures = 1000).await;
        put_in(&t, state).await;
        let mut got = Vec::new();
        got.push(outcome(&t.send(SITE_USER, MAPLE, None, b"x").await));
        got.push(outcome(&t.list(SITE_USER, MAPLE, "sentToOthers").await));
        let mut c = t.client(SITE_USER).await;
        let change = c
            .call("ChangePassword", &[("newPassword", "short")])
            .await
            .expect("reply");
        got.push(outcome(&change));
        // The browser door's steps, through the same core it calls.
        let gw = &t.app().gateway;
        let caller = Caller {
            addr: Some("127.0.0.1".parse().expect("ip")),
            door: Door::Browser,
            request: None,
        };
        let creds = Credentials {
            principal: SITE_USER.0.into(),
            password: Secret::new(SITE_USER.1),
        };
        let code = |r: Result<(), imax_gateway::error::Refusal>| match r {
            Ok(()) => OK.to_string(),
            Err(r) => r.code.as_str().to_string(),
        };
        got.push(code(gw.sign_in(caller, &creds).await.map(|_| ())));
        got.push(code(
            gw.authorize(caller, &creds, Operation::OpenImax)
                .await
                .map(|_| ()),
        ));
        let want: Vec<&str> = s2s.iter().chain(browser.iter()).copied().collect();
        if got != want {
            failures.push(format!("{state:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What an administration cell expects: done, or refused with this code and this rule (or
/// reason) in its sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Done,
    Refused(Code, &'static str),
}
use Expect::{Done, Refused};

/// (setting, actor, operation, target, expected). The setting is done by the operator first.
type AdminCell = (
    Option<(&'static str, &'static str)>,
    &'static str,
    &'static str,
    &'static str,
    Expect,
);

const HELP_DESK: &str = "H10001";
/// Made REAC-TAC staff by the cells that act as REAC-TAC (R16).
const REAC_TAC: &str = "H10009";
const OTHER_COORDINATOR: &str = "M20001";

const ADMIN: [AdminCell; 14] = [
    (None, "operator", "lock", SITE_USER.0, Done),
    (None, HELP_DESK, "lock", SITE_USER.0, Done),
    (None, HELP_DESK, "terminate", SITE_USER.0, Done),
    // R14: the Help Desk locks and unlocks coordinators.
    (None, HELP_DESK, "lock", COORDINATOR.0, Done),
    // R3, R14: a coordinator manages its own users.
    (None, COORDINATOR.0, "lock", SITE_USER.0, Done),
    // R5: with the iMAX Coordinator action it gives and removes the iMAX role.
    (None, COORDINATOR.0, "revoke-imax", SITE_USER.0, Done),
    // R16: only the Help Desk terminates.
    (
        None,
        COORDINATOR.0,
        "terminate",
        SITE_USER.0,
        Refused(Code::NotPermitted, "R16"),
    ),
    // R14: coordinators are the Help Desk's, and Help Desk staff are HUD's.
    (
        None,
        COORDINATOR.0,
        "lock",
        OTHER_COORDINATOR,
        Refused(Code::NotPermitted, "R14"),
    ),
    (
        None,
        COORDINATOR.0,
        "lock",
        HELP_DESK,
        Refused(Code::NotPermitted, "Help Desk staff"),
    ),
    // R3: not its user (no shared property).
    (
        None,
        OTHER_COORDINATOR,
        "lock",
        SITE_USER.0,
        Refused(Code::NotPermitted, "R3"),
    ),
    (
        None,
        OTHER_COORDINATOR,
        "revoke-imax",
        SITE_USER.0,
        Refused(Code::NotPermitted, "R3"),
    ),
    // A user administers nobody.
    (
        None,
        SITE_USER.0,
        "lock",
        NEW_HIRE.0,
        Refused(Code::NotPermitted, "coordinator"),
    ),
    // R14: a lock the Help Desk set is the Help Desk's to lift.
    (
        Some((HELP_DESK, "lock")),
        COORDINATOR.0,
        "unlock",
        SITE_USER.0,
        Refused(Code::NotPermitted, "R14"),
    ),
    // The actor's own state: a locked coordinator acts on nobody.
    (
        Some((HELP_DESK, "lock-coordinator")),
        COORDINATOR.0,
        "lock",
        SITE_USER.0,
        Refused(Code::NotPermitted, "locked"),
    ),
];

async fn act(admin: &Admin, op: &str, target: &str) -> AdminResult<()> {
    match op {
        "lock" => {
            admin
                .set_status(target, AccountStatus::Locked(LockReason::Administrative))
                .await
        }
        "unlock" => admin.set_status(target, AccountStatus::Active).await,
        "terminate" => admin.set_status(target, AccountStatus::Terminated).await,
        "revoke-imax" => admin.revoke(target, Right::Imax).await,
        other => panic!("no operation {other}"),
    }
}

fn cli_args(op: &str, target: &str) -> Vec<String> {
    let args: &[&str] = match op {
        "lock" => &["account", "lock", "--mid"],
        "unlock" => &["account", "unlock", "--mid"],
        "terminate" => &["account", "terminate", "--mid"],
        "revoke-imax" => &["account", "revoke", "--right", "imax", "--mid"],
        other => panic!("no operation {other}"),
    };
    args.iter()
        .map(|s| s.to_string())
        .chain([target.to_string()])
        .collect()
}

async fn given(t: &TestApp, setting: Option<(&str, &str)>) {
    match setting {
        None => {}
        Some((who, "lock")) => {
            let a = t.admin.acting_as(who).await.expect("actor");
            act(&a, "lock", SITE_USER.0).await.expect("given");
        }
        Some((who, "lock-coordinator")) => {
            let a = t.admin.acting_as(who).await.expect("actor");
            act(&a, "lock", COORDINATOR.0).await.expect("given");
        }
        Some(other) => panic!("no setting {other:?}"),
    }
}

fn judged(r: Result<(), String>, want: Expect) -> Option<String> {
    match (r, want) {
        (Ok(()), Done) => None,
        // A refusal reads `Code: sentence`, from the library and from `imax admin` alike.
        (Err(e), Refused(code, rule)) if e.contains(&format!("{code}: ")) && e.contains(rule) => {
            None
        }
        (r, want) => Some(format!("want {want:?}, got {r:?}")),
    }
}

#[tokio::test]
async fn the_administration_matrix_actor_target_and_operation() {
    let mut failures = Vec::new();
    for (setting, actor, op, target, want) in ADMIN {
        // Through the library the pages call.
        let t = TestApp::start_at(wall_clock_now(), |_| {}).await;
        given(&t, setting).await;
        let got = match actor {
            "operator" => act(&t.admin, op, target).await,
            who => match t.admin.acting_as(who).await {
                Ok(a) => act(&a, op, target).await,
                Err(e) => Err(e),
            },
        };
        if let Some(f) = judged(got.map_err(|e| e.to_string()), want) {
            failures.push(format!("library: {actor} {op} {target}: {f}"));
        }
        // Through `imax admin --as`, on a fresh directory.
        let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
        given(&t, setting).await;
        t.stop().await;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_imax"));
        cmd.arg("admin");
        if actor != "operator" {
            cmd.args(["--as", actor]);
        }
        let out = cmd
            .args(cli_args(op, target))
            .env("IMAX_DATA_DIR", &t.config.data_dir)
            .env("IMAX_DATABASE_URL", t.config.database_url())
            .output()
            .expect("imax admin");
        let got = if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        };
        if let Some(f) = judged(got, want) {
            failures.push(format!("imax admin: {actor} {op} {target}: {f}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Who acts in the table-driven matrix, and how the test itself reads each rule (a second
/// statement of `Who`, so the table and the operations are checked against each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acting {
    Operator,
    HelpDesk,
    /// The coordinator of the person acted on (it manages SITE_USER).
    TheirCoordinator,
    /// A coordinator sharing no property with the person acted on.
    OtherCoordinator,
    /// A user, who administers nobody.
    User,
    /// HUD's supervisor who certifies HUD_STAFF (internal recertification).
    Certifier,
    /// REAC-TAC staff (R16), made by the operator.
    ReacTac,
    System,
}

fn expected_allowed(op: AdminOp, who: Who, acting: Acting) -> bool {
    use Acting::*;
    // The other coordinator's BPRs do not cover Maple Court, where the calls create or take
    // a user (R3, R19) or read its contract's ledger (issue 31), and the person acted on is
    // not its user (R3, R14, R22).
    let about_maple_court = matches!(
        op,
        AdminOp::CreateUser | AdminOp::AssignStaff | AdminOp::Demote | AdminOp::ReadLedger
    );
    let coordinator = match acting {
        TheirCoordinator => true,
        OtherCoordinator => !op.on_a_person() && !about_maple_court,
        _ => false,
    };
    match who {
        Who::Operator => acting == Operator,
        Who::OperatorOrSystem => matches!(acting, Operator | System),
        Who::Hud => matches!(acting, Operator | HelpDesk),
        Who::HudOrCoordinator => matches!(acting, Operator | HelpDesk) || coordinator,
        Who::HudOrTheUsersCoordinator => {
            matches!(acting, Operator | HelpDesk | System) || coordinator
        }
        Who::TheUsersCoordinator | Who::Coordinator => coordinator,
        Who::Certifier => acting == Certifier,
        Who::ReacTac => matches!(acting, Operator | ReacTac),
    }
}

/// One call of each operation, with values valid enough that only the rule can refuse it
/// with `NotPermitted` (other refusals, such as a missing profile, are not the rule's).
async fn perform(t: &TestApp, admin: &Admin, op: AdminOp) -> AdminResult<()> {
    use imax_gateway::admin::{NewPerson, ResetRequest};
    use imax_gateway::directory::{AccountKind, MailboxKind};
    let person = |mid: &str, kind: AccountKind, property: &str| NewPerson {
        mid: mid.into(),
        kind,
        full_name: "New Person".into(),
        email: "new@example.org".into(),
        organization: "Org".into(),
        password: Secret::new("A-Fresh-Passw0rd-7"),
        temporary: true,
        properties: vec![property.into()],
        affiliation: None,
    };
    let user = SITE_USER.0;
    match op {
        AdminOp::CreateMailbox => {
            let pw = Secret::new("Mailbox-Pass-77");
            let kind = MailboxKind::parse("property").expect("kind");
            admin
                .create_mailbox("TRACM30077", kind, "New", "n@example.org", &pw)
                .await
        }
        AdminOp::SetMailboxPassword => {
            let pw = Secret::new("Mailbox-Pass-78");
            admin.set_mailbox_password(MAPLE.0, &pw).await
        }
        AdminOp::SetMailboxSender => admin.set_mailbox_sender(MAPLE.0, RIVERSIDE.0, true).await,
        AdminOp::SetAcceptsAttachments => admin.set_accepts_attachments(MAPLE.0, true).await,
        AdminOp::SetAllowedNetworks => admin
            .set_mailbox_networks(MAPLE.0, &["10.9.0.0/16".into()])
            .await
            .map(drop),
        AdminOp::SetMailboxProfile => {
            let p = crate::resets::profile();
            admin.set_mailbox_profile(MAPLE.0, &p).await
        }
        AdminOp::ResetMailboxPassword => {
            let req = ResetRequest {
                name: "Pat Manager".into(),
                title: "Property Manager".into(),
                organization: "Org".into(),
                firm_name: "Firm".into(),
                firm_address: "12 Maple Court, Springfield, MA 01101".into(),
                email: "pat@maplecourt.example".into(),
                pin: Secret::new("4711"),
                channel: imax_gateway::admin::ResetChannel::new(Some("2026-01-05"), "HD-1"),
            };
            admin.reset_mailbox_password(MAPLE.0, &req).await.map(drop)
        }
        AdminOp::MailboxState => admin.mailbox_state(MAPLE.0).await.map(drop),
        AdminOp::InactiveMailboxes => admin.inactive_mailboxes().await.map(drop),
        AdminOp::CreateProperty => admin.create_property("800100077", "New", None).await,
        AdminOp::ChangeOwnership => admin
            .change_ownership("800100001", RIVERSIDE.0)
            .await
            .map(drop),
        AdminOp::CreateContract => {
            admin
                .create_contract("MA020077077", "800100001", "TRACS")
                .await
        }
        AdminOp::AddBusinessPartner => admin.add_business_partner(COORDINATOR.0, "800100002").await,
        AdminOp::PostBroadcast => admin.post_broadcast("Title", "Body").await.map(drop),
        AdminOp::Search => admin.search("M1").await.map(drop),
        AdminOp::CreateOrganization => {
            let kind = imax_gateway::directory::OrganizationKind::Owner;
            admin.create_organization("NEWCO", kind, "New", None).await
        }
        AdminOp::SandboxReport => {
            let kind = imax_gateway::directory::OrganizationKind::Vendor;
            let made = admin
                .create_organization("VENDCO", kind, "Vendor", None)
                .await;
            made.and(admin.sandbox_report("VENDCO").await.map(drop))
        }
        AdminOp::ReadLedger => admin.ledger("MA020001001", "2026-03").await.map(drop),
        AdminOp::FindPerson => admin.find_account(user).await.map(drop),
        AdminOp::CreateCoordinator => {
            let p = person("M10777", AccountKind::Coordinator, "800100002");
            admin.create_account(&p).await
        }
        AdminOp::CreateUser => {
            let p = person("M10778", AccountKind::User, "800100001");
            admin.create_account(&p).await
        }
        AdminOp::Promote => admin.promote(NEW_HIRE.0, &["800100001".into()]).await,
        AdminOp::Demote => {
            // A second coordinator of Maple Court, who left.
            let p = person("M10778", AccountKind::Coordinator, "800100001");
            t.admin
                .create_account(&p)
                .await
                .expect("given: a coordinator");
            admin.demote("M10778").await
        }
        AdminOp::AddHelpDesk => admin.add_help_desk(NEW_HIRE.0).await,
        AdminOp::SetReacTac => admin.set_reac_tac(NEW_HIRE.0, true).await,
        AdminOp::Admit => admin.admit(user).await,
        AdminOp::AcceptRulesOfBehavior => admin.accept_rules_of_behavior(user).await,
        AdminOp::GrantImaxRole => admin.grant(user, Right::Imax).await,
        AdminOp::RevokeImaxRole => admin.revoke(user, Right::Imax).await,
        // A coordinator neither acting nor acted on (its own roles are its own step).
        AdminOp::GrantOtherRight => admin.grant(BUREAU_USER.0, Right::Tcc).await,
        AdminOp::RevokeOtherRight => admin.revoke(user, Right::Tcc).await,
        AdminOp::GrantOwnRight => admin.grant_own(Right::Tcr).await,
        AdminOp::RevokeOwnRight => admin.revoke_own(Right::Tcr).await,
        AdminOp::SetPassword => {
            let pw = Secret::new("A-Fresh-Passw0rd-8");
            admin.set_password(user, &pw, true).await
        }
        AdminOp::Lock => {
            let locked = AccountStatus::Locked(LockReason::Administrative);
            admin.set_status(user, locked).await
        }
        AdminOp::Unlock => admin.set_status(user, AccountStatus::Active).await,
        AdminOp::Terminate => admin.set_status(user, AccountStatus::Terminated).await,
        AdminOp::Restore => {
            t.admin
                .set_status(user, AccountStatus::Terminated)
                .await
                .expect("given: terminated");
            admin.set_status(user, AccountStatus::Active).await
        }
        AdminOp::AssignProperty => admin.assign_property(user, "800100003", true).await,
        AdminOp::ViewPerson => admin.view_person(user).await.map(drop),
        AdminOp::FlagRight => admin.flag_right(user, Right::Imax, true).await,
        AdminOp::AssignStaff => admin.assign_staff(user).await,
        AdminOp::Recertify => {
            crate::compliance::trained(t, user).await;
            admin.recertify(user).await.map(drop)
        }
        AdminOp::RecordTraining => admin.record_training(user, "2026-01-05", "CAC-1").await,
        AdminOp::LastLoginReport => admin.last_login_report().await.map(drop),
        AdminOp::ImportRecertification => admin.record_imported_recertification(user).await,
        AdminOp::ApplyDeadlines => admin.apply_deadlines().await.map(drop),
        AdminOp::PurgeHistory => admin.purge(Purge::DryRun).await.map(drop),
        AdminOp::WatchLedgers => admin.watch_ledgers().await.map(drop),
        AdminOp::DesignateCertifier => admin.designate_certifier(HUD_STAFF.0, true).await,
        AdminOp::TakeOnStaff => admin.take_on_staff(HUD_STAFF.0).await,
        AdminOp::FlagStaffRight => admin.flag_staff_right(HUD_STAFF.0, Right::Imax, true).await,
        AdminOp::RecertifyStaff => admin.recertify_staff(HUD_STAFF.0).await.map(drop),
        AdminOp::SearchAudit => admin.audit_search(&Default::default(), 10).await.map(drop),
        AdminOp::Subscribe => {
            use imax_gateway::store::notices::Subscription;
            admin
                .subscribe(user, MAPLE.0, Subscription::On)
                .await
                .map(drop)
        }
        AdminOp::RotateReceiptKey => admin.rotate_receipt_key().await.map(drop),
    }
}

/// One cell of the table-driven matrix, on a directory of its own.
async fn cell(op: AdminOp, who: Who, acting: Acting) -> Option<String> {
    let t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    let admin = match acting {
        Acting::Operator => Ok(t.admin.clone()),
        Acting::System => Ok(t.admin.as_system()),
        Acting::HelpDesk => t.admin.acting_as(HELP_DESK).await,
        Acting::TheirCoordinator => t.admin.acting_as(COORDINATOR.0).await,
        Acting::OtherCoordinator => t.admin.acting_as(OTHER_COORDINATOR).await,
        Acting::User => t.admin.acting_as(SITE_USER.0).await,
        Acting::Certifier => t.admin.acting_as(SUPERVISOR.0).await,
        Acting::ReacTac => {
            let staff = crate::access_rules::person(REAC_TAC, Secret::new("Reac-Tac-Pass-01"));
            t.admin.create_account(&staff).await.expect("created");
            t.admin
                .set_reac_tac(REAC_TAC, true)
                .await
                .expect("REAC-TAC");
            t.admin.acting_as(REAC_TAC).await
        }
    };
    let outcome = match admin {
        Ok(admin) => perform(&t, &admin, op).await,
        Err(e) => Err(e),
    };
    let refused = matches!(&outcome, Err(e) if e.code == Code::NotPermitted);
    let want = expected_allowed(op, who, acting);
    (refused == want).then(|| {
        format!(
            "{op:?} ({who:?}) by {acting:?}: {} but got {outcome:?}",
            if want { "allowed" } else { "NotPermitted" }
        )
    })
}

/// Every row of the permission table (`imax_gateway::admin::RULES`), for every kind of actor:
/// each operation refuses with `NotPermitted` exactly those its rule excludes.
#[tokio::test]
async fn every_rule_of_the_permission_table_holds_for_every_kind_of_actor() {
    use futures_util::stream::{self, StreamExt};
    let actors = [
        Acting::Operator,
        Acting::HelpDesk,
        Acting::TheirCoordinator,
        Acting::OtherCoordinator,
        Acting::User,
        Acting::Certifier,
        Acting::ReacTac,
        Acting::System,
    ];
    let cells: Vec<(AdminOp, Who, Acting)> = RULES
        .iter()
        .flat_map(|&(op, who)| actors.iter().map(move |&a| (op, who, a)))
        .collect();
    let count = cells.len();
    let failures: Vec<String> = stream::iter(cells)
        .map(|(op, who, acting)| cell(op, who, acting))
        .buffer_unordered(8)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    assert!(count >= RULES.len() * 7);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
