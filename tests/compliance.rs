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
    trained(&t, ann.0).await;
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
    trained(&t, ann.0).await;
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

/// Records `mid`'s Security Awareness Training as completed today in Washington (Q24), as the
/// operator: what a certification needs first (R20).
pub async fn trained(t: &TestApp, mid: &str) {
    use imax_gateway::clock::Clock;
    let today = imax_gateway::calendar::iso_day(t.clock.now());
    t.admin
        .record_training(mid, &today, "CAC-TEST")
        .await
        .expect("training recorded");
}

/// R20 (seed Q24): a certification needs Security Awareness Training within the last 365 days,
/// refused otherwise with `TrainingRequired`; the coordinator's report shows, per user, the
/// Rules of Behavior's acceptance and due days, the training and this cycle's certification,
/// as ISO days in Washington (R21, Q39), in CSV as well.
#[tokio::test]
async fn r20_r21_training_before_certification_and_the_coordinators_report() {
    let t = calendar_app().await;
    t.clock.set(datetime!(2027-10-05 14:00 UTC));
    ready(&t, "M40078", "Trainee-Pass-0078").await;
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let refused = coordinator
        .recertify("M40078")
        .await
        .expect_err("untrained");
    assert_eq!(refused.code.as_str(), "TrainingRequired");
    assert!(
        refused.message().contains("no recorded training"),
        "{refused}"
    );
    // A training more than a year old does not count; one in the future is refused.
    coordinator
        .record_training("M40078", "2026-10-04", "CAC-2026-0001")
        .await
        .expect("recorded");
    let refused = coordinator.recertify("M40078").await.expect_err("too old");
    assert_eq!(refused.code.as_str(), "TrainingRequired");
    assert!(coordinator
        .record_training("M40078", "2027-10-06", "CAC-X")
        .await
        .is_err());
    // Another company's coordinator may not record it (R3).
    let other = t
        .admin
        .acting_as("M20001")
        .await
        .expect("Riverside's coordinator");
    let refused = other.record_training("M40078", "2027-10-01", "X").await;
    assert_eq!(
        refused.expect_err("not its user").code.as_str(),
        "NotPermitted"
    );
    coordinator
        .record_training("M40078", "2027-10-05", "CAC-2027-0042")
        .await
        .expect("recorded");
    coordinator
        .recertify("M40078")
        .await
        .expect("trained: certified");
    // Accepted at 22:30 on 9 March 2028 in Washington (03:30 UTC on the 10th): due on
    // 9 March 2029, a day in Washington.
    t.clock.set(datetime!(2028-03-10 03:30 UTC));
    t.admin
        .accept_rules_of_behavior("M40078")
        .await
        .expect("accepted");
    let report = coordinator.compliance_report().await.expect("report");
    let line = report.iter().find(|l| l.mid == "M40078").expect("listed");
    assert_eq!(line.rob_accepted.as_deref(), Some("2028-03-09"));
    assert_eq!(line.rob_due.as_deref(), Some("2029-03-09"));
    assert_eq!(line.training_completed.as_deref(), Some("2027-10-05"));
    assert_eq!(line.training_certificate.as_deref(), Some("CAC-2027-0042"));
    assert!(
        line.certified_this_cycle,
        "the 2027 cycle holds until 2028's window opens"
    );
    assert!(line.csv().starts_with("M40078,"), "{}", line.csv());
    assert!(line
        .csv()
        .contains(",2028-03-09,2029-03-09,2027-10-05,CAC-2027-0042,yes"));
}

/// R24: a reset request is on record (a letter with its date and reference, or an email with
/// its reference), written into the audit record; the Help Desk may not set a mailbox's
/// password directly, only the operator, audited as such.
#[tokio::test]
async fn r24_the_request_channel_is_recorded_and_the_help_desk_never_sets_directly() {
    use crate::resets::{help_desk_with_profile, request, smtp_server};
    use imax_gateway::admin::ResetChannel;
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    let help = help_desk_with_profile(&t).await;
    let mut req = request();
    req.channel = ResetChannel::new(Some("2026-03-01"), "");
    let refused = help.reset_mailbox_password(MAPLE.0, &req).await;
    assert!(refused
        .expect_err("no reference")
        .message()
        .contains("reference"));
    req.channel = ResetChannel::new(Some("2026-03-05"), "HD-1");
    assert!(
        help.reset_mailbox_password(MAPLE.0, &req).await.is_err(),
        "a future letter"
    );
    req.channel = ResetChannel::new(Some("2026-02-27"), "HD-2026-0042");
    help.reset_mailbox_password(MAPLE.0, &req)
        .await
        .expect("reset");
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'ResetMailboxPassword' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&t.db)
    .await
    .expect("audit");
    assert!(
        detail.contains(
            "channel=letter on company letterhead dated 2026-02-27, reference HD-2026-0042"
        ),
        "{detail}"
    );
    let refused = help
        .set_mailbox_password(MAPLE.0, &Secret::new("Direct-Set-Pass-1"))
        .await;
    assert_eq!(
        refused.expect_err("Help Desk").code.as_str(),
        "NotPermitted"
    );
    t.admin
        .set_mailbox_password(MAPLE.0, &Secret::new("Direct-Set-Pass-1"))
        .await
        .expect("the operator's direct set");
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'SetMailboxPassword' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&t.db)
    .await
    .expect("audit");
    assert!(detail.contains("set directly by the operator"), "{detail}");
}

/// R21 on the browser door: in the notice period every page carries the banner; the printable
/// record shows the accepted text with name, M-ID, dates and version, to the person and to the
/// coordinator who manages them, and not to another company's coordinator.
#[tokio::test]
async fn r21_the_banner_and_the_printable_record_in_the_browser() {
    use crate::web_forms::{request, session_cookie};
    let t = calendar_app().await;
    // SITE_USER accepted the rules when the demo directory was loaded (2026-03-02): due on
    // 2027-03-02; 29 days before, the pages say so.
    t.clock.set(datetime!(2027-02-01 15:00 UTC));
    let user = session_cookie(&t, SITE_USER).await;
    for path in ["/menu", "/rules", "/password"] {
        let (status, _, page) = request(&t, "GET", path, &user, "", Vec::new()).await;
        assert!(status < 400, "{path}: {status}");
        assert!(
            page.contains("Rules of Behavior due on 2027-03-02: sign in on the web to accept"),
            "{path}: {page}"
        );
    }
    let (status, _, page) = request(&t, "GET", "/rules/record", &user, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    for want in [
        SITE_USER.0,
        "2026-03-02",
        "2027-03-02",
        "gateway text",
        "I protect tenant information",
    ] {
        assert!(page.contains(want), "{want}: {page}");
    }
    let coordinator = session_cookie(&t, COORDINATOR).await;
    let path = format!("/coordinator/users/{}/rules", SITE_USER.0);
    let (status, _, page) = request(&t, "GET", &path, &coordinator, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("2027-03-02"), "{page}");
    // 31 days before: no banner.
    t.clock.set(datetime!(2027-01-30 15:00 UTC));
    let (_, _, page) = request(&t, "GET", "/menu", &user, "", Vec::new()).await;
    assert!(!page.contains("Rules of Behavior due on"), "{page}");
}

/// Q24, Q39: the coordinator's report page and its CSV download show what each user has due.
#[tokio::test]
async fn r20_r21_the_report_page_and_its_csv() {
    use crate::web_forms::{request, session_cookie};
    let t = calendar_app().await;
    t.admin
        .record_training(SITE_USER.0, "2026-02-20", "CAC-2026-0007")
        .await
        .expect("recorded");
    let coordinator = session_cookie(&t, COORDINATOR).await;
    let (status, _, page) = request(
        &t,
        "GET",
        "/coordinator/report",
        &coordinator,
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    for want in [SITE_USER.0, "2027-03-02", "2026-02-20", "CAC-2026-0007"] {
        assert!(page.contains(want), "{want}: {page}");
    }
    let (status, _, csv) = request(
        &t,
        "GET",
        "/coordinator/report.csv",
        &coordinator,
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(csv.starts_with("mid,name,last_activity"), "{csv}");
    assert!(
        csv.lines().any(|l| l.starts_with(SITE_USER.0)
            && l.contains(",2026-03-02,2027-03-02,2026-02-20,CAC-2026-0007,")),
        "{csv}"
    );
    // A user has no such report.
    let user = session_cookie(&t, SITE_USER).await;
    let (status, _, _) = request(&t, "GET", "/coordinator/report.csv", &user, "", Vec::new()).await;
    assert!(status >= 400);
}
