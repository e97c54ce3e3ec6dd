//! Portfolios as the industry has them (issue 27): organizations, Search for User, taking on
//! an existing M-ID, recertification per portfolio and mailboxes that open to their own
//! people, played on the seeds' own example (TRACS User Recertification Q&A, Q25, Q28, Q34):
//! ABC Service Bureau files for Alpha, Bravo and Charlie Management, and each company's
//! coordinator certifies ABC's three employees for its own properties.

use crate::helpers::*;
use imax_gateway::admin::{Admin, NewPerson};
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountKind, MailboxKind, OrganizationKind, Right};
use imax_gateway::error::Code;

const STAFF_PASSWORD: &str = "Abc-Staff-Password-1";

/// The company of one portfolio: (organization, name, property, mailbox, coordinator).
const COMPANIES: [(&str, &str, &str, &str, &str); 3] = [
    (
        "ALPHA",
        "Alpha Management Company",
        "810000001",
        "TRACM41001",
        "M41001",
    ),
    (
        "BRAVO",
        "Bravo Management Company",
        "820000001",
        "TRACM42001",
        "M42001",
    ),
    (
        "CHARLIE",
        "Charlie Management Company",
        "830000001",
        "TRACM43001",
        "M43001",
    ),
];
const ABC_MAILBOX: &str = "TRACM49001";
const ABC_COORDINATOR: &str = "M49001";
const ABC_STAFF: [&str; 3] = ["M49101", "M49102", "M49103"];

fn mailbox_password(imax_id: &str) -> String {
    format!("{imax_id}-Box-Pass")
}

fn person(mid: &str, kind: AccountKind, organization: &str, properties: &[&str]) -> NewPerson {
    NewPerson {
        mid: mid.into(),
        kind,
        full_name: format!("Person {mid}"),
        email: format!("{mid}@example.org"),
        organization: organization.into(),
        password: Secret::new(STAFF_PASSWORD),
        temporary: false,
        properties: properties.iter().map(|p| p.to_string()).collect(),
        affiliation: None,
    }
}

/// What HUD sets up: the four organizations, their mailboxes, the three companies' properties
/// (owned by their organization, from the mailbox's) and coordinators, and ABC's coordinator
/// with a BPR with ABC itself (R3).
async fn hud_sets_up(hud: &Admin) {
    use OrganizationKind::*;
    for (org, name, property, mailbox, coordinator) in COMPANIES {
        hud.create_organization(org, ManagementAgent, name, None)
            .await
            .expect("organization");
        let pw = Secret::new(mailbox_password(mailbox));
        hud.create_mailbox(mailbox, MailboxKind::Property, name, "", &pw)
            .await
            .expect("mailbox");
        hud.set_mailbox_organization(mailbox, org)
            .await
            .expect("its organization");
        hud.create_property(property, name, Some(mailbox))
            .await
            .expect("property");
        let c = person(coordinator, AccountKind::Coordinator, org, &[property]);
        hud.create_account(&c).await.expect("coordinator");
        ready(
            hud,
            coordinator,
            &[Right::ImaxCoordinator, Right::Imax, Right::Tcc],
        )
        .await;
    }
    hud.create_organization(
        "ABC",
        ServiceBureau,
        "ABC Service Bureau",
        Some("12-3456789"),
    )
    .await
    .expect("bureau");
    let pw = Secret::new(mailbox_password(ABC_MAILBOX));
    hud.create_mailbox(ABC_MAILBOX, MailboxKind::ServiceBureau, "ABC", "", &pw)
        .await
        .expect("bureau mailbox");
    hud.set_mailbox_organization(ABC_MAILBOX, "ABC")
        .await
        .expect("its organization");
    let c = person(ABC_COORDINATOR, AccountKind::Coordinator, "ABC", &[]);
    hud.create_account(&c).await.expect("ABC's coordinator");
    hud.add_organization_partner(ABC_COORDINATOR, "ABC")
        .await
        .expect("a BPR with the bureau");
    let rights = [Right::ImaxCoordinator, Right::Imax, Right::Tcc];
    ready(hud, ABC_COORDINATOR, &rights).await;
}

/// Rights, the working group (R8) and this year's Rules of Behavior (R21).
async fn ready(hud: &Admin, mid: &str, rights: &[Right]) {
    for r in rights {
        hud.grant(mid, *r).await.expect("right");
    }
    hud.admit(mid).await.expect("working group");
    hud.accept_rules_of_behavior(mid).await.expect("RoB");
}

fn staff(mid: &str) -> (&str, &str) {
    (mid, STAFF_PASSWORD)
}

/// Whether `mid` opens `mailbox` with its right password (SOAP door), or the refusal's code.
async fn opens(t: &TestApp, mid: &str, mailbox: &str) -> Result<(), String> {
    let pw = mailbox_password(mailbox);
    let r = t
        .list(staff(mid), (mailbox, &pw), "receivedFromOthers")
        .await;
    match r.fault {
        None => Ok(()),
        Some(f) => Err(f.code),
    }
}

/// The year of the seeds' example, played through the real server with the injected clock:
/// the setup of every organization (R2, R3), Search for User and taking on (R3, R20),
/// affiliation (R6), recertification per portfolio (R19, Q25, Q28) and its deadline.
#[tokio::test]
async fn the_abc_service_bureau_example_over_a_year() {
    // Late August, before the window opens; the 90-day rules are not what is tested here.
    let start = time::macros::datetime!(2026-08-25 09:00 UTC);
    let t = TestApp::start_at(start, |c| {
        c.accounts.inactivity_lock_days = 400;
        c.accounts.termination_days = 400;
        c.accounts.password_max_age_days = 400;
    })
    .await;
    let hud = &t.admin;
    hud_sets_up(hud).await;

    // R3: ABC's coordinator creates and manages ABC's own staff, like a property's.
    let abc = hud.acting_as(ABC_COORDINATOR).await.expect("ABC acts");
    for mid in ABC_STAFF.iter().chain(["M49104"].iter()) {
        let p = person(mid, AccountKind::User, "ABC", &[]);
        abc.create_account(&p).await.expect("ABC's employee");
        abc.grant(mid, Right::Imax)
            .await
            .expect("R5: the iMAX role");
        ready(hud, mid, &[]).await;
        // New-user step 1 (Q24): trained before anyone certifies them (R20).
        crate::compliance::trained(&t, mid).await;
    }
    // ABC's mailbox opens to its staff and coordinator, not to Alpha's coordinator (R6).
    assert_eq!(opens(&t, "M49101", ABC_MAILBOX).await, Ok(()));
    assert_eq!(opens(&t, ABC_COORDINATOR, ABC_MAILBOX).await, Ok(()));
    assert_eq!(
        opens(&t, "M41001", ABC_MAILBOX).await,
        Err("NotAffiliated".into())
    );

    // R3: Search for User, by the exact M-ID; four facts, whoever manages it.
    let alpha = hud.acting_as("M41001").await.expect("Alpha acts");
    let found = alpha.find_account("M49101").await.expect("found");
    assert_eq!(found.mid, "M49101");
    assert_eq!(found.organization, "ABC (ABC Service Bureau)");
    assert_eq!(found.state, "active");
    // An unknown M-ID and one a coordinator may not see (HUD's staff) answer alike.
    let unknown = alpha.find_account("M49999").await.expect_err("unknown");
    let hidden = alpha.find_account("H20001").await.expect_err("HUD's staff");
    assert_eq!(
        (unknown.code, hidden.code),
        (Code::NotFound, Code::NotFound)
    );
    // Creating a second M-ID for the person is refused (R1); taking it on is the way.
    let dup = person("M49101", AccountKind::User, "ALPHA", &["810000001"]);
    assert_eq!(
        alpha.create_account(&dup).await.expect_err("exists").code,
        Code::AlreadyExists
    );

    // Each company takes ABC's staff on for its own property; Charlie takes only M49101 and
    // M49102 for now, Bravo also takes on M49104.
    for (org, _, property, _, coordinator) in COMPANIES {
        let c = hud.acting_as(coordinator).await.expect("acts");
        for mid in ABC_STAFF {
            if org == "CHARLIE" && mid == "M49103" {
                continue;
            }
            c.assign_property(mid, property, true)
                .await
                .expect("taken on");
        }
        if org == "BRAVO" {
            c.assign_property("M49104", property, true)
                .await
                .expect("taken on");
        }
    }
    // Audited with both coordinators named.
    let took: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'TakeOn' AND actor = 'M43001' ORDER BY seq",
    )
    .fetch_all(&t.db)
    .await
    .expect("audit");
    assert_eq!(took.len(), 2, "{took:?}");
    assert!(
        took[0].contains("coordinator=M43001")
            && took[0].contains("other-coordinators=")
            && took[0].contains("M49001"),
        "{took:?}"
    );
    // The bureau's own coordinator keeps its staff; Alpha never sees Bravo's assignments.
    let assigned = abc.assigned_staff().await.expect("ABC's staff");
    assert_eq!(assigned.len(), 4);
    let alpha_staff: Vec<String> = alpha
        .assigned_staff()
        .await
        .expect("Alpha's staff")
        .into_iter()
        .map(|f| f.mid)
        .collect();
    assert_eq!(alpha_staff, ABC_STAFF);

    // R6: Charlie's mailbox opens to those Charlie took on, not to M49103, even with the
    // right TRACSMail password, whom the sentence sends to a coordinator.
    assert_eq!(opens(&t, "M49101", "TRACM43001").await, Ok(()));
    assert_eq!(
        opens(&t, "M49103", "TRACM43001").await,
        Err("NotAffiliated".into())
    );
    let pw = mailbox_password("TRACM43001");
    let r = t
        .list(staff("M49103"), ("TRACM43001", &pw), "receivedFromOthers")
        .await;
    let f = assert_fault(&r, "NotAffiliated");
    assert_eq!(f.status, 400);
    assert!(f.message.contains("coordinator"), "{}", f.message);

    // The window opens (R17). Q25: Alpha's second coordinator with the same BPRs certifies
    // M49101, which is enough for Alpha; Alpha's first certifies the other two.
    t.days(21); // 15 September
    let c2 = person("M41002", AccountKind::Coordinator, "ALPHA", &["810000001"]);
    hud.create_account(&c2)
        .await
        .expect("a second Alpha coordinator");
    ready(
        hud,
        "M41002",
        &[Right::ImaxCoordinator, Right::Imax, Right::Tcc],
    )
    .await;
    let alpha2 = hud.acting_as("M41002").await.expect("acts");
    alpha2.assign_staff("M49101").await.expect("R18: staff");
    alpha2.recertify("M49101").await.expect("certified");
    for mid in ["M49102", "M49103"] {
        alpha.recertify(mid).await.expect("certified for Alpha");
    }
    // Bravo certifies M49101 and M49102 only; Charlie M49101 only (its taking on in August,
    // before the window, does not count for this cycle); ABC its staff, except M49104.
    let bravo = hud.acting_as("M42001").await.expect("acts");
    for mid in ["M49101", "M49102"] {
        bravo.recertify(mid).await.expect("certified for Bravo");
    }
    for mid in ABC_STAFF {
        abc.recertify(mid).await.expect("certified for ABC");
    }
    let charlie = hud.acting_as("M43001").await.expect("acts");
    charlie
        .recertify("M49101")
        .await
        .expect("certified for Charlie");
    // R20 (Q34): Charlie takes M49103 on in October: certified at once, for this cycle.
    t.days(16); // 1 October
    charlie
        .assign_property("M49103", "830000001", true)
        .await
        .expect("taken on");
    assert_eq!(opens(&t, "M49103", "TRACM43001").await, Ok(()));

    // The deadline passes (R18, R19): assignments no certification covers lapse.
    t.days(93); // 2 January 2027
    t.admin.apply_deadlines().await.expect("deadlines");
    for mid in ABC_STAFF.iter().chain(["M49104"].iter()) {
        hud.accept_rules_of_behavior(mid)
            .await
            .expect("this year's RoB");
    }
    // M49101: certified by every company (Alpha through its second coordinator).
    for (_, _, _, mailbox, _) in COMPANIES {
        assert_eq!(opens(&t, "M49101", mailbox).await, Ok(()), "{mailbox}");
    }
    // M49102: Charlie did not certify, so Charlie's assignment lapsed; the rest stays.
    assert_eq!(opens(&t, "M49102", "TRACM41001").await, Ok(()));
    assert_eq!(opens(&t, "M49102", "TRACM42001").await, Ok(()));
    assert_eq!(
        opens(&t, "M49102", "TRACM43001").await,
        Err("NotAffiliated".into())
    );
    // M49103: Bravo did not certify; Charlie's taking on in October counts.
    assert_eq!(
        opens(&t, "M49103", "TRACM42001").await,
        Err("NotAffiliated".into())
    );
    assert_eq!(opens(&t, "M49103", "TRACM43001").await, Ok(()));
    // M49104: taken on in August, before the window opened (no excuse for this cycle), and
    // certified by nobody since: the global role is refused (R17, R19).
    assert_eq!(
        opens(&t, "M49104", "TRACM42001").await,
        Err("NotRecertified".into())
    );

    // Assigned Staff's Delete (R18): Bravo lets M49102 go; Alpha and ABC keep it.
    bravo.release_staff("M49102").await.expect("released");
    assert_eq!(
        opens(&t, "M49102", "TRACM42001").await,
        Err("NotAffiliated".into())
    );
    assert_eq!(opens(&t, "M49102", "TRACM41001").await, Ok(()));
    assert_eq!(opens(&t, "M49102", ABC_MAILBOX).await, Ok(()));
}

/// R19 (issue 27): at the deadline, a certified user's assignment to an organization none of
/// the cycle's certifications covers lapses as a property assignment does: ABC's employee
/// certified by Alpha only loses ABC, keeps Alpha, and the deadline's record names both kinds.
#[tokio::test]
async fn an_organization_assignment_no_certification_covers_lapses_at_the_deadline() {
    let start = time::macros::datetime!(2026-08-25 09:00 UTC);
    let t = TestApp::start_at(start, |c| {
        c.accounts.inactivity_lock_days = 400;
        c.accounts.termination_days = 400;
        c.accounts.password_max_age_days = 400;
    })
    .await;
    let hud = &t.admin;
    hud_sets_up(hud).await;
    let abc = hud.acting_as(ABC_COORDINATOR).await.expect("ABC acts");
    let mid = "M49105";
    abc.create_account(&person(mid, AccountKind::User, "ABC", &[]))
        .await
        .expect("ABC's employee");
    abc.grant(mid, Right::Imax).await.expect("the iMAX role");
    ready(hud, mid, &[]).await;
    crate::compliance::trained(&t, mid).await;
    let alpha = hud.acting_as("M41001").await.expect("Alpha acts");
    alpha
        .assign_property(mid, "810000001", true)
        .await
        .expect("taken on");
    assert_eq!(opens(&t, mid, ABC_MAILBOX).await, Ok(()));

    // The window opens: Alpha certifies, ABC does not; then the deadline passes.
    t.days(21);
    alpha.recertify(mid).await.expect("certified for Alpha");
    t.days(109); // 2 January 2027
    t.admin.apply_deadlines().await.expect("deadlines");
    hud.accept_rules_of_behavior(mid)
        .await
        .expect("this year's RoB");
    assert_eq!(
        opens(&t, mid, ABC_MAILBOX).await,
        Err("NotAffiliated".into())
    );
    assert_eq!(opens(&t, mid, "TRACM41001").await, Ok(()));
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'LapseUncertifiedAssignments'",
    )
    .fetch_one(&t.db)
    .await
    .expect("recorded once");
    assert!(detail.contains("M49105:organization ABC"), "{detail}");
}

/// R2: at most five coordinators per owner or agent, counted across all its properties
/// (before issue 27, per property: one owner with two properties could have ten).
#[tokio::test]
async fn r2_five_coordinators_per_organization_across_its_properties() {
    let t = TestApp::start().await;
    let hud = &t.admin;
    hud.create_organization("ALPHA", OrganizationKind::ManagementAgent, "Alpha", None)
        .await
        .expect("organization");
    for (number, mailbox) in [("810000001", "TRACM41001"), ("810000002", "TRACM41002")] {
        let pw = Secret::new(mailbox_password(mailbox));
        hud.create_mailbox(mailbox, MailboxKind::Property, "Alpha", "", &pw)
            .await
            .expect("mailbox");
        hud.create_property(number, "Alpha property", Some(mailbox))
            .await
            .expect("property");
        hud.set_property_owner(number, "ALPHA", None)
            .await
            .expect("owned by Alpha");
    }
    for i in 0..5 {
        let property = if i % 2 == 0 { "810000001" } else { "810000002" };
        let c = person(
            &format!("M4100{i}"),
            AccountKind::Coordinator,
            "ALPHA",
            &[property],
        );
        hud.create_account(&c).await.expect("coordinator");
    }
    let sixth = person("M41009", AccountKind::Coordinator, "ALPHA", &["810000002"]);
    let refused = hud.create_account(&sixth).await.expect_err("a sixth");
    assert_eq!(refused.code, Code::NotPermitted);
    assert!(refused.message().contains("R2"), "{}", refused.message());
    // A BPR added later counts too, with a property or with the organization.
    let other = person("M41009", AccountKind::Coordinator, "", &[]);
    hud.create_account(&other)
        .await
        .expect("a coordinator elsewhere");
    let r = hud.add_business_partner("M41009", "810000001").await;
    assert_eq!(r.expect_err("full").code, Code::NotPermitted);
    let r = hud.add_organization_partner("M41009", "ALPHA").await;
    assert_eq!(r.expect_err("full").code, Code::NotPermitted);
}

/// R6's setting: an installation that wants iMAX's exact behaviour turns affiliation off, and
/// the TRACSMail password alone opens the mailbox again.
#[tokio::test]
async fn r6_affiliation_can_be_turned_off() {
    for (required, want) in [(true, Some("NotAffiliated")), (false, None)] {
        let t = TestApp::start_with(|c| c.accounts.affiliation_required = required).await;
        // The Bay State PBCA's coordinator, with Maple Court's password.
        let r = t.list(CA_USER, MAPLE, "receivedFromOthers").await;
        assert_eq!(
            r.fault.map(|f| f.code).as_deref(),
            want,
            "required={required}"
        );
    }
}

/// `imax admin …` through the real binary on the test's directory (the gateway stopped).
fn imax(t: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_imax"))
        .arg("admin")
        .args(args)
        .env("IMAX_DATA_DIR", &t.config.data_dir)
        .env("IMAX_DATABASE_URL", t.config.database_url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imax admin");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(format!("{}\n", stdin.unwrap_or("")).as_bytes())
        .expect("write");
    drop(input);
    let out = child.wait_with_output().expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Issue 27's acceptance commands, exactly as written there, through the real binary (R2,
/// R3, R6, R19, R20): organizations, a BPR with a service bureau, its coordinator's own staff,
/// Search for User, taking on, recertifying for the portfolio, the deadline job.
#[tokio::test]
async fn the_acceptance_commands_through_the_binary() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let pw = Some("An-Acceptance-Pass-1");
    let steps: &[(&[&str], Option<&str>)] = &[
        (
            &[
                "organization",
                "create",
                "--id",
                "ALPHA",
                "--kind",
                "management-agent",
                "--name",
                "Alpha Management Company",
            ],
            None,
        ),
        (
            &[
                "organization",
                "create",
                "--id",
                "ABC",
                "--kind",
                "service-bureau",
                "--name",
                "ABC Service Bureau",
            ],
            None,
        ),
        (
            &[
                "mailbox",
                "create",
                "--imax-id",
                "TRACM41001",
                "--kind",
                "property",
                "--name",
                "Alpha Gardens",
                "--organization",
                "ALPHA",
                "--password-stdin",
            ],
            pw,
        ),
        (
            &[
                "property",
                "create",
                "--number",
                "810000001",
                "--name",
                "Alpha Gardens",
                "--mailbox",
                "TRACM41001",
                "--owner",
                "ALPHA",
            ],
            None,
        ),
        (
            &[
                "mailbox",
                "create",
                "--imax-id",
                "TRACM49001",
                "--kind",
                "service-bureau",
                "--name",
                "ABC Service Bureau",
                "--organization",
                "ABC",
                "--password-stdin",
            ],
            pw,
        ),
        (
            &[
                "account",
                "create",
                "--mid",
                "M41001",
                "--kind",
                "coordinator",
                "--name",
                "Alex Alpha",
                "--organization",
                "ALPHA",
                "--property",
                "810000001",
                "--password-stdin",
            ],
            pw,
        ),
        (
            &[
                "account",
                "create",
                "--mid",
                "M49001",
                "--kind",
                "coordinator",
                "--name",
                "Avery ABC",
                "--organization",
                "ABC",
                "--password-stdin",
            ],
            pw,
        ),
        (
            &["account", "bpr", "--mid", "M49001", "--organization", "ABC"],
            None,
        ),
        (
            &[
                "--as",
                "M49001",
                "account",
                "create",
                "--mid",
                "M49101",
                "--kind",
                "user",
                "--name",
                "Blake Bureau",
                "--organization",
                "ABC",
                "--password-stdin",
            ],
            pw,
        ),
        (
            &["account", "grant", "--mid", "M41001", "--right", "tcc"],
            None,
        ),
        (
            &[
                "--as",
                "M41001",
                "account",
                "assign-property",
                "--mid",
                "M49101",
                "--property",
                "810000001",
            ],
            None,
        ),
        (
            &["--as", "M41001", "account", "recertify", "--mid", "M49101"],
            None,
        ),
        (&["apply-deadlines"], None),
    ];
    for (args, stdin) in steps {
        let (ok, out, err) = imax(&t, args, *stdin);
        assert!(ok, "imax admin {args:?}: {out}{err}");
    }
    let (ok, out, err) = imax(
        &t,
        &["--as", "M41001", "account", "find", "--mid", "M49101"],
        None,
    );
    assert!(ok, "{err}");
    for fact in [
        "M49101",
        "Blake Bureau",
        "ABC (ABC Service Bureau)",
        "active",
    ] {
        assert!(out.contains(fact), "{fact} in {out}");
    }
    // Not another company's M-ID of HUD's, nor an unknown one: the same refusal.
    let (ok, _, unknown) = imax(
        &t,
        &["--as", "M41001", "account", "find", "--mid", "M49999"],
        None,
    );
    assert!(!ok && unknown.contains("NotFound"), "{unknown}");
    // Assigned Staff, and what the take-on wrote to the audit log.
    let (ok, out, err) = imax(&t, &["--as", "M41001", "account", "staff"], None);
    assert!(ok && out.contains("M49101"), "{out}{err}");
    let took: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'TakeOn'")
            .fetch_all(&t.db)
            .await
            .expect("audit");
    assert!(
        took.iter()
            .any(|d| d.contains("coordinator=M41001") && d.contains("M49001")),
        "{took:?}"
    );
    // The old commands keep working.
    let (ok, out, err) = imax(&t, &["account", "show", "--mid", "M49101"], None);
    assert!(ok && out.contains("M49101"), "{out}{err}");
}

/// R3 through the coordinator page: a service bureau's coordinator, with no property, creates
/// a user for the bureau it has a BPR with (the demo's CCS), and the user is the bureau's
/// staff, managed by it.
#[tokio::test]
async fn a_bureau_coordinator_creates_its_staff_on_the_coordinator_page() {
    use crate::web_forms::{csrf_of, request, session_cookie};
    let t = TestApp::start().await;
    let cookie = session_cookie(&t, BUREAU_USER).await;
    let (status, _, page) = request(&t, "GET", "/coordinator", &cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("CCS Certified Compliance Services (Service Bureau)"),
        "{page}"
    );
    let body = format!(
        "csrf={}&mid=M30077&full_name=Kim+Bureau&email=kim%40ccs.example&organization=CCS&password=A-Temporary-Pass-77",
        csrf_of(&page)
    );
    let form = "application/x-www-form-urlencoded";
    let (status, _, page) = request(
        &t,
        "POST",
        "/coordinator/users",
        &cookie,
        form,
        body.into_bytes(),
    )
    .await;
    assert_eq!(status, 303, "{page}");
    let bureau = t.admin.acting_as(BUREAU_USER.0).await.expect("acts");
    let staff: Vec<String> = bureau
        .assigned_staff()
        .await
        .expect("staff")
        .into_iter()
        .map(|f| f.mid)
        .collect();
    assert!(staff.contains(&"M30077".to_string()), "{staff:?}");
}

/// R25 with organizations: a property that changes hands moves to the new owner's mailbox and
/// to the new owner's organization (the agent goes with the old owner).
#[tokio::test]
async fn r25_a_change_of_ownership_moves_the_property_to_the_new_owners_organization() {
    let t = TestApp::start().await;
    let hud = &t.admin;
    hud.create_organization("NEWCO", OrganizationKind::Owner, "New Owner LLC", None)
        .await
        .expect("organization");
    let pw = Secret::new(mailbox_password("TRACM19001"));
    hud.create_mailbox("TRACM19001", MailboxKind::Property, "Maple (new)", "", &pw)
        .await
        .expect("mailbox");
    hud.set_mailbox_organization("TRACM19001", "NEWCO")
        .await
        .expect("its organization");
    let owners = |t: &TestApp| {
        let db = t.db.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT o.org_id FROM organizations o JOIN properties p
                    ON o.id = p.owner_id OR o.id = p.agent_id
                 WHERE p.property_number = '800100001' ORDER BY o.org_id",
            )
            .fetch_all(&db)
            .await
            .expect("owners")
        }
    };
    assert_eq!(owners(&t).await, ["CRESTLINE", "MAPLE-LP"]);
    hud.change_ownership("800100001", "TRACM19001")
        .await
        .expect("moved");
    assert_eq!(owners(&t).await, ["NEWCO"]);
}
