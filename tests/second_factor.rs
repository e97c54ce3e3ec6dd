//! Issue 30, item 3: a second factor on the browser door. Enrolment through the real binary
//! (`imax admin --as MID account two-factor enroll|confirm|disable`) and the web page; the
//! sign-in then answers the password with a form whose input is `code`; codes used once,
//! recovery codes once; wrong codes throttled like passwords without locking the M-ID; groups
//! required to enrol first; the system-to-system door unchanged.

use crate::compliance_binary::imax;
use crate::helpers::*;
use crate::web_forms::{csrf_of, request};
use imax_gateway::clock::Clock;
use imax_gateway::config::SecondFactorGroup;
use imax_gateway::directory::second_factor::TotpSecret;
use imax_gateway::directory::AccountStatus;
use imax_gateway::gateway::second_factor::Via;
use time::Duration;

const FORM: &str = "application/x-www-form-urlencoded";

/// The sign-in form's password step: (status, the session cookie, the page).
pub(crate) async fn password(t: &TestApp, who: (&str, &str)) -> (u16, String, String) {
    let (_, pre, page) = request(t, "GET", "/signin", "", "", Vec::new()).await;
    let form = format!("csrf={}&mid={}&password={}", csrf_of(&page), who.0, who.1);
    let (status, cookies, page) = request(
        t,
        "POST",
        "/signin",
        &pre.join("; "),
        FORM,
        form.into_bytes(),
    )
    .await;
    let cookie = cookies
        .into_iter()
        .find(|c| c.starts_with("__Host-imax-session=") && c.len() > 30)
        .unwrap_or_default();
    (status, cookie, page)
}

/// Posts `form` (its token added) to `path` in the session `cookie`: (status, page).
pub(crate) async fn post(
    t: &TestApp,
    path: &str,
    cookie: &str,
    csrf: &str,
    form: &str,
) -> (u16, String) {
    let body = format!("csrf={csrf}&{form}").into_bytes();
    let (status, _, page) = request(t, "POST", path, cookie, FORM, body).await;
    (status, page)
}

pub(crate) async fn get(t: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let (status, _, page) = request(t, "GET", path, cookie, "", Vec::new()).await;
    (status, page)
}

fn unix(t: time::OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp()).expect("after 1970")
}

/// A six-digit code that is none of the three steps around `at`.
fn wrong_code(secret: &TotpSecret, at: u64) -> String {
    let right: Vec<String> = [at - 30, at, at + 30]
        .iter()
        .map(|&s| secret.code_at(s))
        .collect();
    (0..)
        .map(|n| format!("{:06}", n * 7919 % 1_000_000))
        .find(|c| !right.contains(c))
        .expect("a wrong code")
}

async fn audited(t: &TestApp, action: &str, outcome: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = $2")
        .bind(action)
        .bind(outcome)
        .fetch_one(&t.db)
        .await
        .expect("audit count")
}

/// The acceptance commands through the real binary, then the browser's sign-in: the password
/// is answered with the `code` form; the half-signed-in session opens nothing else; a code's
/// time step is used once, a recovery code once; the system-to-system door is unchanged.
#[tokio::test]
async fn enrolled_at_the_command_line_the_sign_in_asks_for_a_code() {
    let t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    let two_factor =
        |verb: &'static str| ["admin", "--as", SITE_USER.0, "account", "two-factor", verb];
    let (ok, out) = imax(&t, &two_factor("enroll"), &[], "").await;
    assert!(ok, "{out}");
    let uri = out
        .lines()
        .find(|l| l.starts_with("otpauth://totp/"))
        .unwrap_or_else(|| panic!("an otpauth URI: {out}"));
    assert!(uri.contains(SITE_USER.0), "{uri}");
    let secret = uri
        .split("secret=")
        .nth(1)
        .expect("secret")
        .split('&')
        .next();
    let secret = TotpSecret::from_stored(secret.expect("secret").to_string());
    // Sealed at rest under the audit key, which is not in the database.
    let stored: String = sqlx::query_scalar("SELECT secret FROM second_factors")
        .fetch_one(&t.db)
        .await
        .expect("a secret");
    assert!(
        stored.starts_with("sealed1:") && !stored.contains(secret.expose()),
        "{stored}"
    );
    // Pending: the password alone still signs in.
    assert_eq!(password(&t, SITE_USER).await.0, 303);
    let wrong = wrong_code(&secret, unix(wall_clock_now()));
    let mut confirm = two_factor("confirm").map(str::to_string).to_vec();
    confirm.extend(["--code".to_string(), wrong.clone()]);
    let args: Vec<&str> = confirm.iter().map(String::as_str).collect();
    let (ok, out) = imax(&t, &args, &[], "").await;
    assert!(!ok && out.contains("SecondFactorFailed"), "{out}");
    let right = secret.code_at(unix(wall_clock_now()));
    let mut confirm = two_factor("confirm").map(str::to_string).to_vec();
    confirm.extend(["--code".to_string(), right]);
    let args: Vec<&str> = confirm.iter().map(String::as_str).collect();
    let (ok, out) = imax(&t, &args, &[], "").await;
    assert!(ok, "{out}");
    let recovery: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    assert_eq!(recovery.len(), 10, "{out}");

    // The gateway's clock a minute on: a time step after the confirming code's.
    t.clock.set(wall_clock_now() + Duration::seconds(60));
    let now = unix(t.clock.now());
    let (status, cookie, page) = password(&t, SITE_USER).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"code\""), "{page}");
    // Half signed in: no other page opens.
    for path in ["/menu", "/home", "/mailbox", "/password"] {
        assert_eq!(get(&t, path, &cookie).await.0, 303, "{path}");
    }
    let csrf = csrf_of(&page);
    let code = |c: &str| format!("code={c}");
    let (status, page) = post(
        &t,
        "/signin/code",
        &cookie,
        &csrf,
        &code(&wrong_code(&secret, now)),
    )
    .await;
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains("name=\"code\"") && page.contains("not correct"),
        "{page}"
    );
    let right = secret.code_at(now);
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf, &code(&right))
            .await
            .0,
        303
    );
    assert_eq!(get(&t, "/menu", &cookie).await.0, 200);

    // The same code in another sign-in (its step was used): refused. A recovery code: once.
    let (_, cookie, page) = password(&t, SITE_USER).await;
    let csrf = csrf_of(&page);
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf, &code(&right))
            .await
            .0,
        401
    );
    let spare = recovery[3].to_lowercase();
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf, &code(&spare))
            .await
            .0,
        303
    );
    let (_, cookie, page) = password(&t, SITE_USER).await;
    let (status, _) = post(&t, "/signin/code", &cookie, &csrf_of(&page), &code(&spare)).await;
    assert_eq!(status, 401, "a spent recovery code");
    assert_eq!(audited(&t, "SecondFactor", "ok").await, 2);
    assert!(audited(&t, "SecondFactor", "SecondFactorFailed").await >= 3);
    assert_eq!(audited(&t, "SecondFactorEnrolled", "ok").await, 1);

    // The system-to-system door keeps the M-ID and password of the published interface.
    assert_ok(&t.list(SITE_USER, MAPLE, "sentToOthers").await);

    // Disabled: the password alone signs in again.
    let (ok, out) = imax(&t, &two_factor("disable"), &[], "").await;
    assert!(ok, "{out}");
    assert_eq!(password(&t, SITE_USER).await.0, 303);
}

/// Wrong codes count against the client's throttle as wrong passwords do, and
/// `accounts.two_factor_attempts` of them end the half-signed-in session; they never lock the
/// M-ID (only someone with the password can send one), so the person signs in once the
/// throttle's window has passed.
#[tokio::test]
async fn wrong_codes_are_throttled_and_lock_nobody_out() {
    let t = TestApp::start_with(|c| {
        c.throttle.max_failures = 3;
        c.accounts.two_factor_attempts = 2;
    })
    .await;
    let gw = &t.app().gateway;
    let enrolment = gw.begin_enrolment(SITE_USER.0, Via::CommandLine).await;
    let secret = enrolment.expect("begun").secret;
    let first = secret.code_at(unix(t.clock.now()));
    let confirmed = gw
        .confirm_enrolment(SITE_USER.0, &first, Via::CommandLine)
        .await;
    assert_eq!(confirmed.expect("confirmed").len(), 10);
    t.clock.advance(Duration::seconds(60));
    let now = unix(t.clock.now());
    let wrong = format!("code={}", wrong_code(&secret, now));
    let right = format!("code={}", secret.code_at(now));

    // Two wrong codes end the session: the sign-in page again, the cookie spent.
    let (_, cookie, page) = password(&t, SITE_USER).await;
    let csrf = csrf_of(&page);
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf, &wrong).await.0,
        401
    );
    let (status, page) = post(&t, "/signin/code", &cookie, &csrf, &wrong).await;
    assert_eq!(status, 401);
    assert!(
        page.contains("name=\"password\"") && page.contains("Too many wrong codes"),
        "{page}"
    );
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf, &right).await.0,
        303
    );
    assert_eq!(get(&t, "/menu", &cookie).await.0, 303, "the session ended");

    // A third wrong code reaches the client's limit: even the right code is refused unchecked.
    let (_, cookie, page) = password(&t, SITE_USER).await;
    let csrf = csrf_of(&page);
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf, &wrong).await.0,
        401
    );
    let (status, page) = post(&t, "/signin/code", &cookie, &csrf, &right).await;
    assert_eq!(status, 401);
    assert!(page.contains("RateLimited"), "{page}");

    // Nobody is locked out: once the window has passed, the password and a code sign in.
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Active
    );
    t.clock
        .advance(Duration::seconds(t.config.throttle.window_secs + 60));
    let right = format!("code={}", secret.code_at(unix(t.clock.now())));
    let (_, cookie, page) = password(&t, SITE_USER).await;
    assert_eq!(
        post(&t, "/signin/code", &cookie, &csrf_of(&page), &right)
            .await
            .0,
        303
    );
    assert_eq!(get(&t, "/menu", &cookie).await.0, 200);
}

/// `accounts.two_factor_required` names users: a user without a second factor is sent to
/// enrol before anything else, enrols on the page (QR code, secret, a current code, ten
/// recovery codes) and goes on; a coordinator is not asked; the system-to-system door keeps
/// the password alone.
#[tokio::test]
async fn a_required_group_enrols_before_anything_else() {
    let t = TestApp::start_with(|c| {
        c.accounts.two_factor_required = vec![SecondFactorGroup::User];
    })
    .await;
    let (status, cookie, _) = password(&t, COORDINATOR).await;
    assert_eq!(status, 303);
    assert_eq!(get(&t, "/menu", &cookie).await.0, 200, "not in the group");

    let (status, cookie, _) = password(&t, SITE_USER).await;
    assert_eq!(status, 303);
    for path in ["/menu", "/home", "/signin/code"] {
        assert_eq!(get(&t, path, &cookie).await.0, 303, "{path}");
    }
    let (status, page) = get(&t, "/account/two-factor", &cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("must have a second factor"), "{page}");
    let csrf = csrf_of(&page);
    assert_eq!(
        post(&t, "/account/two-factor/begin", &cookie, &csrf, "")
            .await
            .0,
        303
    );
    let (_, page) = get(&t, "/account/two-factor", &cookie).await;
    assert!(page.contains("<svg"), "a QR code: {page}");
    let secret = page
        .split("Secret: <code>")
        .nth(1)
        .and_then(|r| r.split("</code>").next())
        .expect("the secret on the page");
    let secret = TotpSecret::from_stored(secret.to_string());
    let code = format!("code={}", secret.code_at(unix(t.clock.now())));
    let (status, page) = post(&t, "/account/two-factor/confirm", &cookie, &csrf, &code).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("<li><code>").count(), 10, "{page}");
    assert_eq!(
        get(&t, "/menu", &cookie).await.0,
        200,
        "enrolled, signed in"
    );
    assert_eq!(audited(&t, "SecondFactorEnrolled", "ok").await, 1);

    // The system-to-system door: the M-ID and password, as published.
    assert_ok(&t.list(SITE_USER, MAPLE, "sentToOthers").await);
}

/// In Chromium: the enrolment page draws its QR code (inline SVG, under the pages' policy) and
/// shows the secret; a code typed by keyboard confirms it; the next sign-in's password is
/// answered by the code's form, and a current code reaches the menu.
#[tokio::test]
async fn in_chromium_a_person_enrols_and_signs_in_with_a_code() {
    use crate::browser::{assert_fields_labelled, browser, sign_in, ENTER};
    use crate::browser_accessibility::assert_accessible;
    let t = TestApp::start().await;
    let b = browser(&t, crate::webdriver::Options::default()).await;
    sign_in(&b, &t, SITE_USER).await;
    b.goto(&format!("{}/account/two-factor", t.url)).await;
    b.mark_page().await;
    b.click("form[action='/account/two-factor/begin'] button")
        .await;
    b.wait_new_page().await;
    b.wait_text("Scan this QR code").await;
    let drawn = b
        .eval("const s = document.querySelector('figure.qr svg'); return s ? s.getBoundingClientRect().width : 0;")
        .await;
    assert!(drawn.as_f64().unwrap_or(0.0) >= 100.0, "a QR code: {drawn}");
    assert_fields_labelled(&b).await;
    assert_accessible(&b).await; // Section 508 (issue 30 item 6)
    b.screenshot("70-second-factor-enrol").await;
    let secret = TotpSecret::from_stored(b.text("figure.qr + p code").await);
    let code = secret.code_at(unix(t.clock.now()));
    b.mark_page().await;
    b.fill("#code", &format!("{code}{ENTER}")).await;
    b.wait_new_page().await;
    b.wait_text("Keep these recovery codes").await;
    assert_eq!(b.find_all(".recovery-codes li").await.len(), 10);
    b.mark_page().await;
    b.click(".signout button").await;
    b.wait_new_page().await;

    t.clock.advance(Duration::seconds(60));
    sign_in(&b, &t, SITE_USER).await;
    b.wait_text("Enter the six-digit code").await;
    assert_fields_labelled(&b).await;
    assert_accessible(&b).await;
    b.screenshot("71-second-factor-code").await;
    let code = secret.code_at(unix(t.clock.now()));
    b.mark_page().await;
    b.fill("#code", &format!("{code}{ENTER}")).await;
    b.wait_new_page().await;
    b.wait_text("Secure Systems: your applications").await;
}

/// R16: with a second factor enrolled, the right password alone is neither a sign-in nor use
/// of the M-ID (a stolen password must not keep it alive): a person who gives the password
/// but never the code is terminated 90 days after their last completed sign-in, while one
/// who gives the code is not.
#[tokio::test]
async fn r16_a_password_without_its_code_is_no_sign_in() {
    let t = TestApp::start().await;
    let gw = &t.app().gateway;
    let mut secrets = Vec::new();
    for who in [SITE_USER, CA_USER] {
        let begun = gw.begin_enrolment(who.0, Via::CommandLine).await;
        let secret = begun.expect("begun").secret;
        let code = secret.code_at(unix(t.clock.now()));
        let confirmed = gw.confirm_enrolment(who.0, &code, Via::CommandLine).await;
        confirmed.expect("confirmed");
        secrets.push(secret);
    }
    let last_sign_in = |mid: &'static str| {
        let db = t.db.clone();
        async move {
            let sql = "SELECT last_signin_at FROM accounts WHERE mid = $1";
            let at: Option<i64> = sqlx::query_scalar(sql)
                .bind(mid)
                .fetch_one(&db)
                .await
                .expect("account");
            at
        }
    };
    let before = last_sign_in(SITE_USER.0).await;
    t.days(60);
    // The password, and no code: no sign-in recorded.
    let (status, _, page) = password(&t, SITE_USER).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"code\""), "{page}");
    assert_eq!(
        last_sign_in(SITE_USER.0).await,
        before,
        "R16: not a use yet"
    );
    // The password and the code: a sign-in.
    let (_, cookie, page) = password(&t, CA_USER).await;
    let code = format!("code={}", secrets[1].code_at(unix(t.clock.now())));
    let (status, _) = post(&t, "/signin/code", &cookie, &csrf_of(&page), &code).await;
    assert_eq!(status, 303);
    let now = t.clock.now().unix_timestamp();
    assert_eq!(last_sign_in(CA_USER.0).await, Some(now));

    // 95 days after the start: 90 days past the code-less person's last real sign-in.
    t.days(35);
    let (_, _, page) = password(&t, SITE_USER).await;
    assert!(!page.contains("name=\"code\""), "{page}");
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        AccountStatus::Terminated,
        "R16: 90 days without a completed sign-in"
    );
    let (status, _, page) = password(&t, CA_USER).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"code\""), "{page}");
    assert_eq!(
        account_status(t.admin.store(), CA_USER.0).await,
        AccountStatus::Active
    );
}
