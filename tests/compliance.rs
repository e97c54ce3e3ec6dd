//! The compliance calendar through the real server, with the clock moved as a year goes by:
//! days in Washington (R17), the Rules of Behavior a year from each person's own acceptance
//! and their notice on every answer (R21).

use crate::access_rules::person;
use crate::helpers::*;
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::Right;
use time::macros::datetime;

const NOTICE: &str = "Rules of Behavior due on 2028-03-10: sign in on the web to accept";

/// Only the calendar moves people here: passwords, activity and mailboxes do not lapse.
async fn calendar_app() -> TestApp {
    TestApp::start_with(|c| {
        c.accounts.mailbox_inactive_days = 0;
        c.accounts.password_max_age_days = 5000;
        c.accounts.inactivity_lock_days = 5000;
        c.accounts.termination_days = 5000;
    })
    .await
}

/// A user of Maple Court with the iMAX role, in the working group.
async fn ready(t: &TestApp, mid: &str, pw: &str) {
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let mut p = person(mid, Secret::new(pw));
    p.properties = vec!["800100001".into()];
    coordinator.create_account(&p).await.expect("created");
    coordinator.grant(mid, Right::Imax).await.expect("granted");
    t.admin.admit(mid).await.expect("admitted");
}

#[tokio::test]
async fn r17_r21_a_year_in_washington_new_year_and_daylight_saving() {
    let t = calendar_app().await;
    // 10 March 2027, 10:00 in Washington: two users start and accept the rules (R21).
    t.clock.set(datetime!(2027-03-10 15:00 UTC));
    let (ann, bob) = (
        ("M40002", "Ann-Calendar-Pass-1"),
        ("M40003", "Bob-Calendar-Pass-1"),
    );
    for who in [ann, bob] {
        ready(&t, who.0, who.1).await;
        let f = assert_fault(
            &t.send(who, MAPLE, None, b"x").await,
            "RulesOfBehaviorNotAccepted",
        );
        assert!(f.message.contains("sign in"), "{}", f.message);
        t.admin
            .accept_rules_of_behavior(who.0)
            .await
            .expect("accepted");
        assert_ok(&t.send(who, MAPLE, None, b"x").await);
    }
    // The window: the coordinator certifies Ann, not Bob (R17).
    t.clock.set(datetime!(2027-10-05 14:00 UTC));
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    coordinator.recertify(ann.0).await.expect("recertified");

    // 19:30 on 31 December in Washington is New Year in UTC: the deadline has not passed, and
    // the Rules of Behavior are not due at New Year (R17, R21).
    t.clock.set(datetime!(2028-01-01 00:30 UTC));
    assert_ok(&t.send(ann, MAPLE, None, b"x").await);
    assert_ok(&t.send(bob, MAPLE, None, b"x").await);
    t.clock.set(datetime!(2028-01-01 04:59 UTC));
    assert_ok(&t.send(bob, MAPLE, None, b"x").await);
    // Midnight in Washington: the end of 31 December there.
    t.clock.set(datetime!(2028-01-01 05:00 UTC));
    assert_fault(&t.send(bob, MAPLE, None, b"x").await, "NotRecertified");
    let r = t.send(ann, MAPLE, None, b"x").await;
    assert_ok(&r);
    assert!(r.all("notice").is_empty(), "{r:?}");

    // R21: from 30 days before the person's own due day, every answer carries the notice.
    t.clock.set(datetime!(2028-02-08 12:00 UTC));
    assert!(t
        .send(ann, MAPLE, None, b"x")
        .await
        .all("notice")
        .is_empty());
    t.clock.set(datetime!(2028-02-09 12:00 UTC));
    let r = t.send(ann, MAPLE, None, b"x").await;
    assert_ok(&r);
    assert_eq!(r.all("notice"), vec![NOTICE]);
    let r = t.list(ann, MAPLE, "broadcasts").await;
    assert_eq!(r.all("notice"), vec![NOTICE], "{r:?}");
    // Valid through the end of the due day in Washington (EST: 05:00 UTC the next day).
    t.clock.set(datetime!(2028-03-11 04:59 UTC));
    assert_eq!(
        t.send(ann, MAPLE, None, b"x").await.all("notice"),
        vec![NOTICE]
    );
    t.clock.set(datetime!(2028-03-11 05:00 UTC));
    let f = assert_fault(
        &t.send(ann, MAPLE, None, b"x").await,
        "RulesOfBehaviorNotAccepted",
    );
    assert_ne!(f.status, 403, "403 reads as 'wait for the working group'");
    assert!(f.message.contains("sign in"), "{}", f.message);
    t.admin
        .accept_rules_of_behavior(ann.0)
        .await
        .expect("accepted");
    let r = t.send(ann, MAPLE, None, b"x").await;
    assert_ok(&r);
    assert!(r.all("notice").is_empty());

    // Accepted on 11 March 2028: due on 11 March 2029, the day daylight saving time begins,
    // so that day ends at 04:00 UTC, not 05:00.
    t.clock.set(datetime!(2028-10-02 14:00 UTC));
    coordinator.recertify(ann.0).await.expect("recertified");
    t.clock.set(datetime!(2029-03-12 03:59 UTC));
    let r = t.send(ann, MAPLE, None, b"x").await;
    assert_eq!(
        r.all("notice"),
        vec!["Rules of Behavior due on 2029-03-11: sign in on the web to accept"]
    );
    t.clock.set(datetime!(2029-03-12 04:00 UTC));
    assert_fault(
        &t.send(ann, MAPLE, None, b"x").await,
        "RulesOfBehaviorNotAccepted",
    );
}

/// R5, strict: a coordinator is in the working group only with the iMAX Coordinator action as
/// well as the iMAX role; without the action it is refused as outside it (403), and cannot give
/// the iMAX role.
#[tokio::test]
async fn r5_a_coordinator_without_the_action_is_out_of_the_working_group() {
    let t = TestApp::start().await;
    assert_ok(&t.send(COORDINATOR, MAPLE, None, b"x").await);
    t.admin
        .revoke(COORDINATOR.0, Right::ImaxCoordinator)
        .await
        .expect("action removed");
    let f = assert_fault(
        &t.send(COORDINATOR, MAPLE, None, b"x").await,
        "NotInWorkingGroup",
    );
    assert_eq!(f.status, 403);
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    assert!(coordinator.grant(NEW_HIRE.0, Right::Imax).await.is_err());
    t.admin
        .grant(COORDINATOR.0, Right::ImaxCoordinator)
        .await
        .expect("action back");
    assert_ok(&t.send(COORDINATOR, MAPLE, None, b"x").await);
}

/// R24: the Help Desk checks the firm's whole address (street lines, city, state, ZIP), after
/// normalising case, spaces and punctuation, never its street line or a prefix alone.
#[tokio::test]
async fn r24_the_whole_firm_address_must_match() {
    use crate::resets::{help_desk_with_profile, mails, request, smtp_server};
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    let help = help_desk_with_profile(&t).await;
    for partial in ["12 Maple Court", "12 Maple Court, Springfield, MA"] {
        let mut req = request();
        req.firm_address = partial.into();
        let refused = help.reset_mailbox_password(MAPLE.0, &req).await;
        assert!(refused.is_err(), "{partial}: {refused:?}");
    }
    assert!(mails(&smtp.maildir).is_empty());
    let mut req = request();
    req.firm_address = "12  MAPLE COURT springfield ma. 01101".into();
    let to = help
        .reset_mailbox_password(MAPLE.0, &req)
        .await
        .expect("the whole address, written differently");
    assert_eq!(to, "pat@maplecourt.example");
}
