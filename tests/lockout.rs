//! What a stranger can do to other people (issue 25): R14's lock for failed sign-ins is timed,
//! grows, and is counted apart for the addresses a person signs in from and strangers'
//! addresses; mailbox freezes count per (mailbox, M-ID) (R24); nobody's open session ends for
//! someone else's failures; HUD's authority follows the account, not its ID's letter; and a
//! stranger's flood of refusals cannot grow the audit log without bound.
//!
//! A stranger is played by a client bound to another loopback address (127.0.0.5): the
//! gateway on 127.0.0.1 sees it as another peer.

use crate::helpers::*;
use crate::web_forms::{csrf_of, open_mailbox, request, session_cookie};
use imax_gateway::access::{Door, Operation};
use imax_gateway::admin::NewPerson;
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountKind, AccountStatus, LockReason};
use imax_gateway::gateway::{Caller, Credentials};
use time::Duration;

const STRANGER: [u8; 4] = [127, 0, 0, 5];
const ANOTHER_STRANGER: [u8; 4] = [127, 0, 0, 6];
const HOME: [u8; 4] = [127, 0, 0, 1];

async fn column(t: &TestApp, column: &str, mid: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT CAST({column} AS BIGINT) FROM accounts WHERE mid = $1"
    ))
    .bind(mid)
    .fetch_one(&t.db)
    .await
    .expect("column")
}

#[tokio::test]
async fn r14_a_strangers_wrong_passwords_never_lock_the_person_out_where_they_sign_in() {
    let t = TestApp::start().await;
    // The person signs in from home; a stranger elsewhere guesses far beyond the limit.
    assert_ok(&t.send_from(HOME, SITE_USER, MAPLE, b"x").await);
    let epoch = column(&t, "auth_epoch", SITE_USER.0).await;
    for _ in 0..10 {
        assert_as_wrong_password(
            &t.send_from(STRANGER, (SITE_USER.0, "Wrong-Guess-1"), MAPLE, b"x")
                .await,
        );
    }
    // Strangers' addresses are locked out: even the right password is answered as a wrong one
    // there, and at any other address the person has not signed in from.
    assert_as_wrong_password(&t.send_from(STRANGER, SITE_USER, MAPLE, b"x").await);
    assert_as_wrong_password(&t.send_from(ANOTHER_STRANGER, SITE_USER, MAPLE, b"x").await);
    // At home the person goes on as if nothing happened: the M-ID itself is not locked.
    assert_ok(&t.send_from(HOME, SITE_USER, MAPLE, b"x").await);
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Active
    );
    assert_eq!(column(&t, "auth_epoch", SITE_USER.0).await, epoch);
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = $1 AND detail LIKE '%locked for addresses%'",
    )
    .bind(SITE_USER.0)
    .fetch_all(&t.db)
    .await
    .expect("audit");
    assert_eq!(details.len(), 1, "one lock, audited: {details:?}");
    assert!(
        details[0].contains("from a stranger address"),
        "{details:?}"
    );
    // The coordinator sees it in the User Last Login Report, and could lift it at once.
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let report = coordinator.last_login_report().await.expect("report");
    let line = report
        .iter()
        .find(|l| l.mid == SITE_USER.0)
        .expect("listed");
    assert_eq!(line.status, AccountStatus::Active);
    assert!(line.strangers_locked_until.is_some());
    // The strangers' lock runs out by itself (15 minutes the first time).
    t.clock.advance(Duration::minutes(16));
    assert_ok(&t.send_from(STRANGER, SITE_USER, MAPLE, b"x").await);
    // Having signed in there, the person's new address is familiar from now on.
    let familiar: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM account_clients c JOIN accounts a ON a.id = c.account_id
          WHERE a.mid = $1 AND c.client = '127.0.0.5'",
    )
    .bind(SITE_USER.0)
    .fetch_one(&t.db)
    .await
    .expect("familiar");
    assert_eq!(familiar, 1);
}

#[tokio::test]
async fn r14_failure_locks_are_timed_and_double_up_to_a_cap() {
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 1000;
        c.accounts.failed_signin_lock_minutes = 15;
        c.accounts.failed_signin_lock_max_minutes = 45;
    })
    .await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // Each lock in a row lasts twice the one before, up to the cap: 15, 30, 45, 45 minutes.
    for minutes in [15, 30, 45, 45] {
        for _ in 0..3 {
            assert_as_wrong_password(
                &t.send((SITE_USER.0, "Wrong-Guess-2"), MAPLE, None, b"x")
                    .await,
            );
        }
        assert_eq!(
            account_status(t.admin.store(), SITE_USER.0).await,
            AccountStatus::Locked(LockReason::FailedSignIns)
        );
        t.clock.advance(Duration::minutes(minutes - 1));
        assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
        t.clock.advance(Duration::minutes(1));
        // Over: the right password would pass now; the next wrong ones lock again, longer.
    }
    assert_eq!(column(&t, "failure_locks", SITE_USER.0).await, 4);
    // A right password starts the growth again: the next lock is 15 minutes again.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Active
    );
    for _ in 0..3 {
        t.send((SITE_USER.0, "Wrong-Guess-3"), MAPLE, None, b"x")
            .await;
    }
    t.clock.advance(Duration::minutes(15));
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // A coordinator still lifts a lock at once (R14).
    for _ in 0..3 {
        t.send((SITE_USER.0, "Wrong-Guess-4"), MAPLE, None, b"x")
            .await;
    }
    assert_as_wrong_password(&t.send(SITE_USER, MAPLE, None, b"x").await);
    t.admin
        .acting_as(COORDINATOR.0)
        .await
        .expect("coordinator")
        .set_status(SITE_USER.0, AccountStatus::Active)
        .await
        .expect("unlocked");
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn r14_the_help_desks_own_m_id_follows_the_same_rules() {
    let t = TestApp::start().await;
    let gw = &t.app().gateway;
    let at = |ip: [u8; 4]| Caller {
        addr: Some(std::net::IpAddr::from(ip)),
        door: Door::Browser,
        request: None,
    };
    let creds = |password: &str| Credentials {
        principal: "H10001".into(),
        password: Secret::new(password),
    };
    gw.authorize(at(HOME), &creds("Help-Desk-Pass-6"), Operation::SignIn)
        .await
        .expect("the Help Desk signs in at its desk");
    for _ in 0..10 {
        let r = gw
            .authorize(at(STRANGER), &creds("Wrong-Guess-5"), Operation::SignIn)
            .await
            .expect_err("wrong");
        assert_eq!(r.code.as_str(), "AuthenticationFailed");
    }
    gw.authorize(at(HOME), &creds("Help-Desk-Pass-6"), Operation::SignIn)
        .await
        .expect("still at its desk: a stranger did not lock the Help Desk out");
    // And its lock for failures at its own desk runs out by itself: no operator needed.
    for _ in 0..3 {
        gw.authorize(at(HOME), &creds("Wrong-Guess-6"), Operation::SignIn)
            .await
            .expect_err("wrong");
    }
    gw.authorize(at(HOME), &creds("Help-Desk-Pass-6"), Operation::SignIn)
        .await
        .expect_err("locked");
    t.clock.advance(Duration::minutes(15));
    gw.authorize(at(HOME), &creds("Help-Desk-Pass-6"), Operation::SignIn)
        .await
        .expect("the timed lock is over");
}

#[tokio::test]
async fn r24_wrong_mailbox_passwords_freeze_it_for_that_m_id_then_for_strangers_never_its_own_people(
) {
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 1000;
        // R24's freezes by strangers' wrong passwords, apart from R6's affiliation (which
        // refuses strangers even their right password: tests/portfolios.rs).
        c.accounts.affiliation_required = false;
    })
    .await;
    // Maple's own person opened it lately (familiar); the coordinator has not.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    let mailbox_epoch = || async {
        sqlx::query_scalar::<_, i64>("SELECT auth_epoch FROM mailboxes WHERE imax_id = $1")
            .bind(MAPLE.0)
            .fetch_one(&t.db)
            .await
            .expect("epoch")
    };
    let epoch = mailbox_epoch().await;
    let wrong = (MAPLE.0, "Not-Maple-Password-1");
    // Another organisation's signed-in person guesses Maple's password five times: frozen out
    // of Maple, alone.
    for _ in 0..5 {
        assert_fault(
            &t.send(CA_USER, wrong, None, b"x").await,
            "MailboxAuthenticationFailed",
        );
    }
    assert_fault(
        &t.send(CA_USER, MAPLE, None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    assert_ok(&t.send(COORDINATOR, MAPLE, None, b"x").await);
    // Two more M-IDs (mailbox_freeze_mids = 3) freeze it for everyone who has not opened it
    // lately...
    for who in [BUREAU_USER, HUD_STAFF] {
        for _ in 0..5 {
            t.send(who, wrong, None, b"x").await;
        }
    }
    let frozen: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE mailbox = $1 AND detail LIKE 'wrong password 5 of 5%' ORDER BY seq",
    )
    .bind(MAPLE.0)
    .fetch_all(&t.db)
    .await
    .expect("audit");
    assert_eq!(frozen.len(), 3, "{frozen:?}");
    assert!(frozen[0].contains("wrong password 5 of 5"), "{frozen:?}");
    assert!(frozen[2].contains("frozen for everyone"), "{frozen:?}");
    // ...but never for its own people: Maple's site manager, who opened it, goes on.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // The coordinator opened it above, so it too is familiar (one that never opened a mailbox
    // frozen for everyone is refused: the next test).
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let now = imax_gateway::clock::Clock::now(&*t.clock);
    let mine = coordinator.my_mailboxes().await.expect("mailboxes");
    let maple = mine.iter().find(|m| m.imax_id == MAPLE.0).expect("Maple");
    assert!(
        maple.frozen_at(now).is_some(),
        "the coordinator sees the freeze"
    );
    assert_ok(&t.send(COORDINATOR, MAPLE, None, b"x").await);
    // No session on the mailbox ended for others' failures.
    assert_eq!(mailbox_epoch().await, epoch);
    // Freezes end by themselves; the Help Desk's password reset ends them at once (R24).
    let fresh = Secret::new("Fresh-Maple-Password-9");
    t.admin
        .set_mailbox_password(MAPLE.0, &fresh)
        .await
        .expect("reset");
    assert_ok(&t.send(CA_USER, (MAPLE.0, fresh.expose()), None, b"x").await);
}

#[tokio::test]
async fn r24_a_mailbox_frozen_for_everyone_refuses_an_m_id_that_never_opened_it() {
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 1000;
        c.accounts.mailbox_freeze_mids = 2;
        // R24's freezes by strangers' wrong passwords, apart from R6's affiliation (which
        // refuses strangers even their right password: tests/portfolios.rs).
        c.accounts.affiliation_required = false;
    })
    .await;
    let wrong = (RIVERSIDE.0, "Not-River-Password-1");
    for who in [CA_USER, BUREAU_USER] {
        for _ in 0..5 {
            t.send(who, wrong, None, b"x").await;
        }
    }
    // SITE_USER never opened Riverside: the right password is answered as a wrong one.
    let f = assert_fault(
        &t.send(SITE_USER, RIVERSIDE, None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    assert_eq!(
        f.message,
        imax_gateway::error::Code::MailboxAuthenticationFailed.sentence()
    );
    // After the freeze (60 minutes) it opens.
    t.clock.advance(Duration::minutes(61));
    assert_ok(&t.send(SITE_USER, RIVERSIDE, None, b"x").await);
}

#[tokio::test]
async fn nobodys_open_browser_session_ends_for_someone_elses_failures() {
    let t = TestApp::start_with(|c| c.throttle.max_failures = 1000).await;
    let cookie = session_cookie(&t, SITE_USER).await;
    open_mailbox(&t, &cookie, MAPLE).await;
    // From the same address (familiar, so the M-ID itself locks) and for the mailbox.
    for _ in 0..3 {
        t.send((SITE_USER.0, "Wrong-Guess-7"), MAPLE, None, b"x")
            .await;
    }
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Locked(LockReason::FailedSignIns)
    );
    for who in [CA_USER, BUREAU_USER, HUD_STAFF] {
        for _ in 0..5 {
            t.send(who, (MAPLE.0, "Not-Maple-Password-2"), None, b"x")
                .await;
        }
    }
    let (status, _, page) = request(&t, "GET", "/mailbox", &cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "the open session goes on: {page}");
}

#[tokio::test]
async fn authority_follows_the_account_a_coordinator_mints_no_hud_ids() {
    let t = TestApp::start().await;
    let person = |mid: &str| NewPerson {
        mid: mid.into(),
        kind: AccountKind::User,
        full_name: "Mallory".into(),
        email: "mallory@example.org".into(),
        organization: "Maple".into(),
        password: Secret::new("Mallory-Pass-2026"),
        temporary: false,
        properties: vec!["800100001".into()],
        affiliation: None,
    };
    // The command line's door (`imax admin --as M10001 account create`).
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    for mid in ["H757779", "C757779"] {
        let e = coordinator
            .create_account(&person(mid))
            .await
            .expect_err("a coordinator makes industry M-IDs only");
        assert_eq!(e.code.as_str(), "NotPermitted", "{mid}: {e}");
    }
    // The browser's door: the coordinator's form.
    let cookie = session_cookie(&t, COORDINATOR).await;
    let (_, _, page) = request(&t, "GET", "/coordinator", &cookie, "", Vec::new()).await;
    let form = format!(
        "csrf={}&mid=C757780&full_name=Mallory&email=m%40example.org&organization=Maple&password=Mallory-Pass-2026&property=800100001",
        csrf_of(&page)
    );
    let (status, _, page) = request(
        &t,
        "POST",
        "/coordinator/users",
        &cookie,
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert!(status >= 400, "{status}");
    assert!(page.contains("industry M-IDs"), "{page}");
    let made: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts WHERE mid LIKE '%75778%' OR mid LIKE '%757779'",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(made, 0);

    // HUD's mailbox follows the affiliation HUD set, not the letter: an H-ID whose account is
    // industry's is refused at TRACMPROD's door before its password is looked at, through
    // both doors; HUD staff (H20001) is let in.
    assert_ok(&t.list(HUD_STAFF, HUD, "receivedFromOthers").await);
    sqlx::query(
        "UPDATE accounts SET affiliation = 'industry', auth_epoch = auth_epoch + 1 WHERE mid = $1",
    )
    .bind(HUD_STAFF.0)
    .execute(&t.db)
    .await
    .expect("demote");
    assert_fault(
        &t.list(HUD_STAFF, HUD, "receivedFromOthers").await,
        "HudMailboxOnly",
    );
    let cookie = session_cookie(&t, HUD_STAFF).await;
    let (_, _, home) = request(&t, "GET", "/home", &cookie, "", Vec::new()).await;
    let form = format!(
        "csrf={}&imax_id={}&mailbox_password={}",
        csrf_of(&home),
        HUD.0,
        HUD.1
    );
    let (status, _, page) = request(
        &t,
        "POST",
        "/mailbox/open",
        &cookie,
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert!(status >= 400, "{status}: {page}");
    // Guessing TRACMPROD's password from an industry account freezes nothing.
    for _ in 0..10 {
        t.list(
            (HUD_STAFF.0, HUD_STAFF.1),
            (HUD.0, "Not-Hud-Password-1"),
            "receivedFromOthers",
        )
        .await;
    }
    let freezes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mailbox_attempts x JOIN mailboxes m ON m.id = x.mailbox_id
          WHERE m.imax_id = $1 AND (x.failed > 0 OR x.frozen_until IS NOT NULL)",
    )
    .bind(HUD.0)
    .fetch_one(&t.db)
    .await
    .expect("attempts");
    assert_eq!(freezes, 0, "never reached TRACMPROD's password check");
}

#[tokio::test]
async fn a_strangers_flood_of_refusals_adds_a_bounded_number_of_audit_records() {
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 1_000_000;
        c.audit.failures_recorded_per_client = 5;
    })
    .await;
    let records = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM audit_log WHERE client_addr = '127.0.0.5'",
        )
        .fetch_one(&t.db)
        .await
        .expect("count")
    };
    for n in 0..40 {
        let mut client = t
            .client_from(STRANGER, (&format!("M8{n:04}"), "Any-Password-1"))
            .await;
        assert_as_wrong_password(&list_reply(&mut client, MAPLE, "sentToOthers").await);
    }
    assert_eq!(records().await, 5, "five records of its own per window");
    // The window's end writes one summary of the rest.
    let written = t
        .app()
        .gateway
        .record_refusal_summaries(true)
        .await
        .expect("summary");
    assert_eq!(written, 1);
    let summary: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE outcome = 'RefusalsSummarized' AND client_addr = '127.0.0.5'",
    )
    .fetch_one(&t.db)
    .await
    .expect("summary record");
    assert!(summary.starts_with("35 further refused"), "{summary}");
    // The chain still verifies with it.
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        imax_gateway::audit::Verdict::Intact { .. }
    ));
}
