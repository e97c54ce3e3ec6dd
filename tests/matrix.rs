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
use imax_gateway::admin::{Admin, AdminResult};
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
