//! The browser door end to end, in a real headless Chromium driven over WebDriver (R10–R14,
//! R21, R24). Each test saves screenshots of the pages it passes through into
//! `target/screenshots/` for reviewers.

use crate::helpers::*;
use crate::resets::{mails, new_password, profile, smtp_server};
use crate::webdriver::{Browser, Options};
use imax_gateway::error::Code;
use std::path::Path;

pub(crate) const ENTER: &str = "\u{E007}";

pub(crate) async fn browser(t: &TestApp, opts: Options) -> Browser {
    Browser::start(&t.app().certs.key, opts).await
}

/// Signs in by keyboard: type the M-ID and password, press Enter, and wait for the answer.
pub(crate) async fn sign_in(b: &Browser, t: &TestApp, who: (&str, &str)) {
    b.goto(&format!("{}/signin", t.url)).await;
    b.fill("#mid", who.0).await;
    b.mark_page().await;
    b.fill("#password", &format!("{}{ENTER}", who.1)).await;
    b.wait_new_page().await;
}

/// A sign-in lands on the Secure Systems menu; iMAX is one application on it (R13, R16).
pub(crate) async fn enter_imax(b: &Browser) {
    b.wait_text("Secure Systems: your applications").await;
    b.click("main a[href='/home']").await;
    b.wait_text("Open a mailbox").await;
}

pub(crate) async fn sign_out(b: &Browser) {
    b.click(".signout button").await;
    b.wait_text("You have signed out.").await;
}

pub(crate) async fn open_mailbox(b: &Browser, t: &TestApp, mailbox: (&str, &str)) {
    b.goto(&format!("{}/home", t.url)).await;
    b.fill("#imax_id", mailbox.0).await;
    b.fill("#mailbox_password", mailbox.1).await;
    b.click("form[action='/mailbox/open'] button").await;
    b.wait_text(&format!("Welcome {}", mailbox.0)).await;
}

/// Every visible form field has a label (a page usable with a screen reader and keyboard).
pub(crate) async fn assert_fields_labelled(b: &Browser) {
    let unlabelled = b
        .eval(
            "return [...document.querySelectorAll('input:not([type=hidden]),select,textarea')]
                .filter(e => !(e.labels && e.labels.length)).map(e => e.name || e.id);",
        )
        .await;
    assert_eq!(
        unlabelled,
        serde_json::json!([]),
        "unlabelled fields on {}",
        b.url().await
    );
}

#[tokio::test]
async fn r10_new_user_changes_password_accepts_rules_uploads_and_the_ca_downloads() {
    let t = TestApp::start().await;
    let b = browser(&t, Options::default()).await;

    // The coordinator creates a user for its property (R3) with the iMAX role (R5).
    sign_in(&b, &t, COORDINATOR).await;
    enter_imax(&b).await;
    b.screenshot("01-home").await;
    b.goto(&format!("{}/coordinator", t.url)).await;
    b.wait_text("User Last Login Report").await;
    assert_fields_labelled(&b).await;
    b.fill("#new-mid", "M10009").await;
    b.fill("#full_name", "Jamie Newcomer").await;
    b.fill("#email", "jamie@maplecourt.example").await;
    b.click("#p-800100001").await;
    b.fill("#temp", "Temporary-Pass-77").await;
    b.screenshot("02-coordinator-create-user").await;
    b.click("form[action='/coordinator/users'] button").await;
    b.wait_text("M10009 was created").await;
    sign_out(&b).await;

    // R15: the temporary password allows only the change; R21: then the Rules of Behavior.
    sign_in(&b, &t, ("M10009", "Temporary-Pass-77")).await;
    b.wait_text("Your password has expired").await;
    assert!(b.url().await.ends_with("/password"));
    b.screenshot("03-password-expired").await;
    b.fill("#current", "Temporary-Pass-77").await;
    b.fill("#new_password", "short").await;
    b.fill("#confirm", "short").await;
    b.click("form[action='/password'] button").await;
    // The rule broken is shown next to the field.
    let err = b.text("#new-error").await;
    assert!(err.starts_with(Code::PasswordRejected.sentence()), "{err}");
    b.fill("#current", "Temporary-Pass-77").await;
    b.fill("#new_password", "Jamie-Own-Pass-2026").await;
    b.fill("#confirm", "Jamie-Own-Pass-2026").await;
    b.click("form[action='/password'] button").await;
    b.wait_text("Rules of Behavior for 2026").await;
    assert!(b.url().await.ends_with("/rules"));
    b.screenshot("04-rules-of-behavior").await;
    // Nothing else is reachable before accepting (R21).
    b.goto(&format!("{}/home", t.url)).await;
    assert!(b.url().await.ends_with("/rules"));
    b.click("#accept").await;
    b.click("form[action='/rules'] button").await;
    enter_imax(&b).await;

    // Session cookie: HttpOnly (invisible to scripts), Secure, SameSite=Strict.
    let cookies = b.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "__Host-imax-session")
        .expect("session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["secure"], true);
    assert_eq!(session["sameSite"], "Strict");
    assert_eq!(b.eval("return document.cookie;").await, "");

    // R10: the mailbox opens with its own TRACSMail password; a wrong one is refused with
    // the same sentence the system-to-system fault carries.
    b.fill("#imax_id", MAPLE.0).await;
    b.fill("#mailbox_password", "Not-The-Password-1").await;
    b.click("form[action='/mailbox/open'] button").await;
    assert_eq!(
        b.text("#mbpw-error").await,
        Code::MailboxAuthenticationFailed.sentence()
    );
    open_mailbox(&b, &t, MAPLE).await;
    b.screenshot("05-mailbox").await;

    // Upload: the address book preselects the administrator of Maple Court's contract.
    b.click("nav.menu a[href='/mailbox/upload']").await;
    b.wait_text("Recipient").await;
    assert_eq!(
        b.eval("return document.getElementById('to').value;").await,
        PBCA.0
    );
    assert_fields_labelled(&b).await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("MAPLE_TEN_202603.dat");
    let content = tenant_file(30_000); // about 3 MB: the progress bar has time to move
    std::fs::write(&file, &content).expect("write file");
    b.choose_files("#files", &[&file]).await;
    b.screenshot("06-upload").await;
    // Record what the progress bar shows while the file goes up (the window outlives the
    // page the script swaps in afterwards).
    b.eval(
        "window.progressSeen = [];
         const bar = document.getElementById('progress');
         new MutationObserver(() => window.progressSeen.push(bar.value))
             .observe(bar, {attributes: true, attributeFilter: ['value']});",
    )
    .await;
    b.click("#upload-button").await;
    b.wait_text("Results of the upload").await;
    b.screenshot("07-upload-receipt").await;
    let seen = b.eval("return window.progressSeen;").await;
    let seen: Vec<f64> = seen
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    assert!(
        seen.last() == Some(&100.0),
        "the progress bar moved to 100%: {seen:?}"
    );
    let sha = b.text("#receipts code.sha").await;
    assert_eq!(
        sha,
        sha256_hex(&content),
        "the receipt shows the file's SHA-256"
    );
    let message_id = b.text("#receipts a.message-id").await;
    assert!(!message_id.is_empty());
    assert!(b.page_text().await.contains(PBCA.0));

    // Sent to Others lists it.
    b.goto(&format!("{}/mailbox/folder/sentToOthers", t.url))
        .await;
    b.wait_text("MAPLE_TEN_202603.dat").await;
    b.screenshot("08-sent-to-others").await;
    sign_out(&b).await;

    // The CA finds it in Received from Others, unread first, and downloads the same bytes.
    sign_in(&b, &t, CA_USER).await;
    open_mailbox(&b, &t, PBCA).await;
    b.wait_text("1 new").await;
    b.click("nav.menu a[href='/mailbox/folder/receivedFromOthers']")
        .await;
    b.wait_text("MAPLE_TEN_202603.dat").await;
    assert_eq!(b.find_all("#messages tr.unread").await.len(), 1);
    b.screenshot("09-received-from-others").await;
    b.click(&format!("a[href='/mailbox/message/{message_id}']"))
        .await;
    b.wait_text("SHA-256").await;
    assert_eq!(b.text("#sha256").await, sha);
    b.screenshot("10-message").await;
    b.click("#download").await;
    let got = b.downloaded().await;
    assert_eq!(
        got.file_name().and_then(|n| n.to_str()),
        Some("MAPLE_TEN_202603.dat")
    );
    assert_eq!(std::fs::read(&got).expect("downloaded"), content);
    // The download carries the SHA-256 (RFC 9530 Repr-Digest and a plain hex header).
    let headers = b
        .eval(&format!(
            "return fetch('/mailbox/message/{message_id}/download').then(r => [r.headers.get('x-content-sha256'), r.headers.get('repr-digest'), r.headers.get('content-disposition')]);"
        ))
        .await;
    assert_eq!(headers[0], serde_json::json!(sha));
    assert!(headers[1].as_str().unwrap_or("").starts_with("sha-256=:"));
    assert!(headers[2].as_str().unwrap_or("").starts_with("attachment;"));
    // Retrieved is marked on the list.
    b.goto(&format!("{}/mailbox/folder/receivedFromOthers", t.url))
        .await;
    b.wait_text("Retrieved").await;
    assert!(b.find_all("#messages tr.unread").await.is_empty());
}

#[tokio::test]
async fn r14_coordinator_unlocks_and_r24_help_desk_resets_a_mailbox_password() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    t.admin
        .set_mailbox_profile(MAPLE.0, &profile())
        .await
        .expect("profile");
    let b = browser(&t, Options::default()).await;

    // Three wrong passwords, from where the person signs in, lock the M-ID (R14); the
    // sentence is the system-to-system one.
    sign_in(&b, &t, SITE_USER).await;
    sign_out(&b).await;
    for _ in 0..3 {
        sign_in(&b, &t, (SITE_USER.0, "Wrong-Password-99")).await;
        assert_eq!(
            b.text("#password-error").await,
            Code::AuthenticationFailed.sentence()
        );
    }
    // The right password now gets the very same answer: the page tells a guesser nothing.
    sign_in(&b, &t, SITE_USER).await;
    assert_eq!(
        b.text("#password-error").await,
        Code::AuthenticationFailed.sentence()
    );
    b.screenshot("11-signin-locked").await;

    // R14: the coordinator sees the lock in the User Last Login Report and unlocks.
    sign_in(&b, &t, COORDINATOR).await;
    b.goto(&format!("{}/coordinator", t.url)).await;
    b.wait_text("locked (failed sign-ins)").await;
    b.screenshot("12-coordinator-report").await;
    b.click(&format!("button[aria-label='Unlock {}']", SITE_USER.0))
        .await;
    b.wait_text(&format!("{} is unlocked.", SITE_USER.0)).await;
    // The coordinator's user page: rights, assignments, recertification.
    b.goto(&format!("{}/coordinator/users/{}", t.url, SITE_USER.0))
        .await;
    b.wait_text("Property assignments").await;
    assert_fields_labelled(&b).await;
    b.screenshot("13-coordinator-user").await;
    sign_out(&b).await;
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    sign_out(&b).await;

    // R24: the Help Desk finds the mailbox, validates the caller, and the new password goes
    // by mail only.
    sign_in(&b, &t, ("H10001", "Help-Desk-Pass-6")).await;
    b.goto(&format!("{}/helpdesk", t.url)).await;
    b.fill("#q", MAPLE.0).await;
    b.click("form[role=search] button").await;
    b.click(&format!("a[href='/helpdesk/reset/{}']", MAPLE.0))
        .await;
    b.wait_text("checked against the mailbox profile").await;
    assert_fields_labelled(&b).await;
    b.fill("#name", "Pat Manager").await;
    b.fill("#title", "Property Manager").await;
    b.fill("#organization", "Maple Court Management LLC").await;
    b.fill("#firm_name", "Maple Court Apartments").await;
    b.fill("#letter_dated", "2026-03-01").await;
    b.fill("#reference", "HD-2026-0007").await;
    b.fill("#firm_address", "12 Maple Court, Springfield, MA 01101")
        .await;
    b.fill("#email", "pat@maplecourt.example").await;
    b.fill("#pin", "4711").await;
    b.screenshot("14-helpdesk-reset").await;
    b.click("form[action='/helpdesk/reset/TRACM10001'] button")
        .await;
    b.wait_text("new password was mailed").await;
    let page = b.page_text().await;
    let mail = mails(&smtp.maildir).pop().expect("a mail arrived");
    let password = new_password(&mail);
    assert!(!page.contains(&password), "the password is never shown");

    // R14: a locked coordinator is unlocked by the Help Desk.
    t.admin
        .set_status(
            BUREAU_USER.0,
            imax_gateway::directory::AccountStatus::Locked(
                imax_gateway::directory::LockReason::Administrative,
            ),
        )
        .await
        .expect("lock");
    b.fill("#q", BUREAU_USER.0).await;
    b.click("form[role=search] button").await;
    b.click(&format!("a[href='/helpdesk/people/{}']", BUREAU_USER.0))
        .await;
    b.wait_text("locked (by the Help Desk)").await;
    b.screenshot("15-helpdesk-person").await;
    b.click("form[action$='/status'] button[value=active]")
        .await;
    b.wait_text(&format!("The state of {} was changed.", BUREAU_USER.0))
        .await;
    assert_eq!(b.text("#state").await, "active");

    // Broadcasts reach every mailbox's home page.
    b.goto(&format!("{}/helpdesk", t.url)).await;
    b.fill("#title", "TRACS maintenance").await;
    b.fill(
        "#body",
        "TRACS is closed on Saturday from 08:00 to 12:00 Eastern.",
    )
    .await;
    b.click("form[action='/helpdesk/broadcasts'] button").await;
    b.wait_text("The broadcast was posted").await;
    sign_out(&b).await;

    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    b.wait_text("TRACS maintenance").await;
    open_mailbox(&b, &t, (MAPLE.0, &password)).await;
    b.wait_text("TRACS maintenance").await;
}

#[tokio::test]
async fn web_security_sessions_and_pages_without_javascript_or_at_360px() {
    let t = TestApp::start().await;
    let b = browser(&t, Options::default()).await;
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;

    // Headers of every page.
    let csp = b
        .eval("return fetch('/home').then(r => [r.headers.get('content-security-policy'), r.headers.get('strict-transport-security'), r.headers.get('cache-control'), r.headers.get('x-frame-options')]);")
        .await;
    assert!(csp[0]
        .as_str()
        .unwrap_or("")
        .contains("frame-ancestors 'none'"));
    assert!(!csp[0].as_str().unwrap_or("").contains("unsafe-inline"));
    assert!(csp[1].as_str().unwrap_or("").starts_with("max-age="));
    assert_eq!(csp[2], "no-store");
    assert_eq!(csp[3], "DENY");
    // A state-changing request without the session's CSRF token does nothing.
    let status = b
        .eval("return fetch('/mailbox/close', {method: 'POST', body: new URLSearchParams({csrf: 'forged'})}).then(r => r.status);")
        .await;
    assert_eq!(status, 403);

    // 360 px: nothing wider than the screen.
    open_mailbox(&b, &t, MAPLE).await;
    b.set_width(360).await;
    for (page, shot) in [
        ("/home", "20-home-360"),
        ("/mailbox", "21-mailbox-360"),
        ("/mailbox/upload", "22-upload-360"),
        ("/mailbox/folder/sentToTracs", "23-folder-360"),
    ] {
        b.goto(&format!("{}{page}", t.url)).await;
        b.find("main h1").await;
        let fits = b
            .eval("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
            .await;
        assert_eq!(fits, true, "{page} is wider than 360 px");
        b.screenshot(shot).await;
    }
    b.set_width(1440).await;

    // Idle timeout: 15 minutes without a request end the session.
    let old = b
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "__Host-imax-session")
        .expect("session cookie");
    t.clock.advance(time::Duration::minutes(16));
    b.goto(&format!("{}/mailbox", t.url)).await;
    b.find("#mid").await;
    assert!(b.url().await.ends_with("/signin"));

    // Absolute lifetime: 12 hours end a session however busy it is.
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    for _ in 0..51 {
        t.clock.advance(time::Duration::minutes(14));
        b.goto(&format!("{}/help/need-id", t.url)).await;
    }
    b.goto(&format!("{}/home", t.url)).await;
    b.find("main h1").await;
    assert!(
        b.url().await.ends_with("/home"),
        "11 h 54 min: still signed in"
    );
    t.clock.advance(time::Duration::minutes(14));
    b.goto(&format!("{}/home", t.url)).await;
    b.find("#mid").await;
    assert!(b.url().await.ends_with("/signin"), "12 h: signed out");

    // Sign-out ends the session on the server: the old cookie opens nothing.
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    let live = b
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "__Host-imax-session")
        .expect("session cookie");
    assert_ne!(
        live["value"], old["value"],
        "a new sign-in, a new session ID"
    );
    sign_out(&b).await;
    b.add_cookie(serde_json::json!({
        "name": "__Host-imax-session", "value": live["value"], "path": "/",
        "secure": true, "httpOnly": true, "sameSite": "Strict"
    }))
    .await;
    b.goto(&format!("{}/home", t.url)).await;
    b.find("#mid").await;
    assert!(b.url().await.ends_with("/signin"));
    drop(b);

    // Without JavaScript the upload form still posts and returns the receipt.
    let b = browser(
        &t,
        Options {
            javascript: false,
            width: 1440,
        },
    )
    .await;
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    open_mailbox(&b, &t, MAPLE).await;
    b.goto(&format!("{}/mailbox/upload", t.url)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (one, two, bad) = (
        dir.path().join("A.dat"),
        dir.path().join("B.dat"),
        dir.path().join("C.dat"),
    );
    std::fs::write(&one, tenant_file(5)).expect("write");
    std::fs::write(&two, tenant_file(6)).expect("write");
    let mut broken = tenant_file(2);
    broken[320] = 0x07; // a control character in the first certification record
    std::fs::write(&bad, broken).expect("write");
    b.choose_files(
        "#files",
        &[Path::new(&one), Path::new(&two), Path::new(&bad)],
    )
    .await;
    b.click("#upload-button").await;
    b.wait_text("Results of the upload").await;
    // The preselected recipient agrees with the header's project; the broken file is refused
    // with its located problems.
    assert_eq!(b.find_all("#receipts tr.ok").await.len(), 2);
    assert!(b.page_text().await.contains(PBCA.0));
    assert!(b
        .page_text()
        .await
        .contains("sent to the recipient you chose"));
    let problem = b.text("#receipts tr.failed ul.problems li").await;
    assert!(
        problem.starts_with("line 2, MAT10, column 19: expected printable ASCII"),
        "{problem}"
    );
    b.screenshot("24-receipt-without-javascript").await;

    // The same rules as the system-to-system door: a second copy is a duplicate naming the
    // first, a deliberate resend goes through, and a recipient against the directory is
    // misrouted.
    let first_id = b.text("#receipts a.message-id").await;
    b.goto(&format!("{}/mailbox/upload", t.url)).await;
    b.choose_files("#files", &[Path::new(&one)]).await;
    b.click("#upload-button").await;
    b.wait_text("Results of the upload").await;
    let refusal = b.text("#receipts tr.failed").await;
    assert!(refusal.contains("(DuplicateFile)"), "{refusal}");
    assert!(
        refusal.contains(&first_id) || refusal.contains("Message 2026"),
        "{refusal}"
    );
    b.goto(&format!("{}/mailbox/upload", t.url)).await;
    b.click("#resend").await;
    b.choose_files("#files", &[Path::new(&one)]).await;
    b.click("#upload-button").await;
    b.wait_text("Results of the upload").await;
    assert_eq!(b.find_all("#receipts tr.ok").await.len(), 1);
    let other = dir.path().join("D.dat");
    std::fs::write(&other, tenant_file(2)).expect("write");
    b.goto(&format!("{}/mailbox/upload", t.url)).await;
    b.click(&format!("#to option[value='{}']", TCA.0)).await;
    b.choose_files("#files", &[Path::new(&other)]).await;
    b.click("#upload-button").await;
    b.wait_text("Results of the upload").await;
    let refusal = b.text("#receipts tr.failed").await;
    assert!(refusal.contains("(Misrouted)"), "{refusal}");
}

#[tokio::test]
async fn a_browser_session_is_honoured_by_every_node_sharing_the_database() {
    use imax_gateway::app::{App, StartError};
    let t = TestApp::start().await;
    // Node B: an in-process gateway with its own data directory (and A's TLS files, as two
    // nodes behind one name), on the same database.
    let b_dir = second_data_dir(t.dir.path());
    let mut config = t.config.clone();
    config.data_dir = b_dir.path().to_path_buf();
    config.database_url = t.config.database_url();
    let second = App::start(config, t.clock.clone()).await;
    if t.admin.store().engine == imax_gateway::store::Engine::Sqlite {
        // SQLite serves one node.
        assert!(matches!(second, Err(StartError::DatabaseInUse(_))));
        return;
    }
    let node_b = second.expect("node B starts");
    let url_b = format!("https://localhost:{}", node_b.addr.port());
    let b = browser(&t, Options::default()).await;

    // Signed in through A, the session cookie works on B (cookies do not name a port); the
    // mailbox opened on B is open on A.
    sign_in(&b, &t, SITE_USER).await;
    b.goto(&format!("{url_b}/home")).await;
    b.wait_text("Open a mailbox").await;
    b.fill("#imax_id", MAPLE.0).await;
    b.fill("#mailbox_password", MAPLE.1).await;
    b.click("form[action='/mailbox/open'] button").await;
    b.wait_text(&format!("Welcome {}", MAPLE.0)).await;
    b.goto(&format!("{}/mailbox", t.url)).await;
    b.wait_text(&format!("Welcome {}", MAPLE.0)).await;

    // Signed out through B, the session is over on A too.
    sign_out(&b).await;
    b.goto(&format!("{}/home", t.url)).await;
    b.wait_text("Sign in").await;
    assert!(
        b.try_find("#mid").await.is_some(),
        "A asks to sign in again"
    );
    node_b.stop().await;
}

/// Issue 16: what comes back from TRACS shows beside the file it answers. A file with a guessed
/// record length wrong is accepted and answered by TRACS's format edits; the sent folder says
/// which files have been answered and which have waited too long; the original's page lists
/// its replies; a CA answers a received file from its page (R12).
#[tokio::test]
async fn replies_show_beside_the_files_they_answer_and_unanswered_files_are_marked() {
    let t = TestApp::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (short, valid) = (dir.path().join("SHORT.DAT"), dir.path().join("VALID.DAT"));
    let mut file = tenant_file(3);
    file.drain(400..410); // ten characters out of the first certification record
    std::fs::write(&short, file).expect("write");
    std::fs::write(&valid, tenant_file(2)).expect("write");
    let b = browser(&t, Options::default()).await;
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    open_mailbox(&b, &t, MAPLE).await;
    b.goto(&format!("{}/mailbox/upload", t.url)).await;
    b.choose_files("#files", &[Path::new(&short), Path::new(&valid)])
        .await;
    b.click("#upload-button").await;
    b.wait_text("Results of the upload").await;
    assert_eq!(b.find_all("#receipts tr.ok").await.len(), 2);
    assert!(
        b.page_text()
            .await
            .contains("format edits found 1 problem in fields whose layout is not confirmed"),
        "{}",
        b.page_text().await
    );
    b.screenshot("40-receipt-with-format-errors").await;

    // Two days later (past tracs.answer_expected_hours, 48 by default), a new session.
    t.clock.advance(time::Duration::hours(49));
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    open_mailbox(&b, &t, MAPLE).await;
    b.goto(&format!("{}/mailbox/folder/sentToOthers", t.url))
        .await;
    let answered = b.text("#messages tr:not(.overdue) td.answer").await;
    assert!(answered.starts_with("Answered "), "{answered}");
    let overdue = b.find_all("#messages tr.overdue").await;
    assert_eq!(overdue.len(), 1, "the valid file has no answer yet");
    assert_eq!(
        b.text("#messages tr.overdue td.answer").await,
        "No answer yet"
    );
    assert!(b.page_text().await.contains("48 hours"));
    b.screenshot("41-sent-folder-answered-and-overdue").await;

    // The reply from TRACS, and from it the file it answers, which lists its replies.
    b.goto(&format!("{}/mailbox/folder/receivedFromTracs", t.url))
        .await;
    b.click("#messages a").await;
    b.wait_text("In reply to").await;
    assert!(b.page_text().await.contains("SHORT.DAT.TENER.txt"));
    b.click("#in-reply-to a").await;
    b.wait_text("Replies").await;
    assert!(b.text("#replies").await.contains("SHORT.DAT.TENER.txt"));
    assert!(b.text("#answer").await.starts_with("Answered "));
    assert!(b.try_find("#reply-form").await.is_none(), "one's own file");
    b.screenshot("42-message-with-its-replies").await;
    drop(b);

    // The CA answers the file still waiting, from that file's page.
    let waiting = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    let mut unanswered = Vec::new();
    for (k, v) in &waiting.fields {
        match k.as_str() {
            "messageId" => unanswered.push(v.clone()),
            "answeredAt" => {
                unanswered.pop();
            }
            _ => {}
        }
    }
    let [id] = unanswered.as_slice() else {
        panic!("one unanswered file: {unanswered:?}")
    };
    let b = browser(&t, Options::default()).await;
    sign_in(&b, &t, CA_USER).await;
    enter_imax(&b).await;
    open_mailbox(&b, &t, PBCA).await;
    b.goto(&format!("{}/mailbox/message/{id}", t.url)).await;
    let letter = dir.path().join("DISCREPANCY.TXT");
    std::fs::write(&letter, "Unit 4: move-in date differs.\r\n").expect("write");
    b.choose_files("#reply-file", &[Path::new(&letter)]).await;
    b.click("#reply-button").await;
    b.wait_text("Results of the upload").await;
    assert!(b.page_text().await.contains("sent back, as a reply"));
    let after = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert_eq!(after.all("answeredAt").len(), 2, "{id} is answered now");
}

/// Issue 27 in Chromium (R3, R18, R19, R20): Harbor View's coordinator finds Crestline's site
/// manager by M-ID (four facts), takes it on for its property (certified at once), sees its
/// Assigned Staff with "certified elsewhere" (Dana, CCS's employee whom Crestline took on
/// too), and deletes the site manager from its staff.
#[tokio::test]
async fn portfolio_search_for_user_take_on_and_delete_in_chromium() {
    let t = TestApp::start().await;
    let b = browser(&t, Options::default()).await;
    sign_in(&b, &t, ("M50001", "Harbor-Coord-Pass-9")).await;
    b.goto(&format!("{}/coordinator/portfolio", t.url)).await;
    b.wait_text("Search for User").await;
    b.fill("#find-mid", SITE_USER.0).await;
    b.click("#find button").await;
    b.wait_text("CRESTLINE (Crestline Property Management)")
        .await;
    assert_fields_labelled(&b).await;
    b.screenshot("50-portfolio-found").await;
    b.click("#take-on button").await;
    b.wait_text(&format!("{} is taken on", SITE_USER.0)).await;
    let staff = b.text("#staff").await;
    assert!(
        staff.contains(SITE_USER.0) && staff.contains("M30002"),
        "{staff}"
    );
    // Dana was certified by CCS's and Crestline's coordinators too: yes, never who.
    let dana = b
        .eval("return [...document.querySelectorAll('#staff tr')].find(r => r.textContent.includes('M30002')).textContent;")
        .await;
    let dana = dana.as_str().unwrap_or_default().to_string();
    assert!(dana.contains("yes"), "{dana}");
    assert!(
        !dana.contains("M30001") && !dana.contains("M10001"),
        "{dana}"
    );
    b.screenshot("51-portfolio-staff").await;
    b.click(&format!(
        "button[aria-label='Delete {} from your staff']",
        SITE_USER.0
    ))
    .await;
    b.wait_text(&format!("{} is no longer on your staff", SITE_USER.0))
        .await;
    assert!(!b.text("#staff").await.contains(SITE_USER.0));
    // The site manager's own coordinator keeps it (R19).
    let crestline = t.admin.acting_as(COORDINATOR.0).await.expect("acts");
    let mine: Vec<String> = crestline
        .assigned_staff()
        .await
        .expect("staff")
        .into_iter()
        .map(|f| f.mid)
        .collect();
    assert!(mine.contains(&SITE_USER.0.to_string()), "{mine:?}");
}
