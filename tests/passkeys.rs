//! Issue 30, item 3: passkeys (WebAuthn) as a second factor, in Chromium with its virtual
//! authenticator. The relying party is `public_url`'s host (`localhost` here: browsers refuse
//! IP addresses), so the gateway listens on a port chosen first and names it in `public_url`.

use crate::browser::{browser, sign_in};
use crate::helpers::*;
use crate::webdriver::Browser;
use imax_gateway::config::SecondFactorGroup;
use imax_gateway::gateway::second_factor::Via;

/// A gateway reached as `https://localhost:PORT`, users required to have a second factor.
async fn gateway() -> TestApp {
    let port = free_port();
    TestApp::start_with(|c| {
        c.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        c.public_url = format!("https://localhost:{port}");
        c.accounts.two_factor_required = vec![SecondFactorGroup::User];
    })
    .await
}

async fn audited(t: &TestApp, action: &str, outcome: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = $2")
        .bind(action)
        .bind(outcome)
        .fetch_one(&t.db)
        .await
        .expect("audit count")
}

/// Clicks the passkey form's button and waits for the page its answer leads to.
async fn use_passkey(b: &Browser) {
    b.mark_page().await;
    b.click("form[data-passkey] button").await;
    b.wait_new_page().await;
}

/// A user the settings require a second factor of registers a passkey instead of a code (the
/// Enrol stage ends with it); signs out; signs in with the password, then the passkey, and
/// reaches the menu. With the authenticator gone and another in its place the browser has no
/// answer; a forged answer is refused, counted and audited like a wrong code.
#[tokio::test]
async fn in_chromium_a_person_registers_a_passkey_and_signs_in_with_it() {
    let t = gateway().await;
    let b = browser(&t, crate::webdriver::Options::default()).await;
    let authenticator = b.add_authenticator().await;
    sign_in(&b, &t, SITE_USER).await;
    b.wait_text("must have a second factor").await;
    use_passkey(&b).await;
    b.wait_text("You have registered 1 passkey").await;
    b.screenshot("72-passkey-registered").await;
    assert_eq!(audited(&t, "PasskeyRegistered", "ok").await, 1);
    b.goto(&format!("{}/menu", t.url)).await;
    b.wait_text("Secure Systems: your applications").await;
    b.mark_page().await;
    b.click(".signout button").await;
    b.wait_new_page().await;

    sign_in(&b, &t, SITE_USER).await;
    b.wait_text("Or use the passkey").await;
    b.screenshot("73-passkey-sign-in").await;
    use_passkey(&b).await;
    b.wait_text("Secure Systems: your applications").await;
    assert_eq!(audited(&t, "SecondFactor", "ok").await, 1);
    b.mark_page().await;
    b.click(".signout button").await;
    b.wait_new_page().await;

    // Another authenticator, without the passkey: the browser finds nothing to answer with.
    b.remove_authenticator(&authenticator).await;
    b.add_authenticator().await;
    sign_in(&b, &t, SITE_USER).await;
    b.wait_text("Or use the passkey").await;
    b.click("form[data-passkey] button").await;
    b.wait_text("No passkey answered").await;
    assert!(b.url().await.ends_with("/signin"), "{}", b.url().await);
    // A forged answer reaches the gateway: refused as a wrong code is, and audited.
    b.eval("const f = document.querySelector('form[data-passkey]'); f.elements.credential.value = '{}'; f.submit();").await;
    b.wait_text("The passkey was not accepted").await;
    assert_eq!(audited(&t, "SecondFactor", "SecondFactorFailed").await, 1);
    let (n,): (i64,) =
        sqlx::query_as("SELECT code_failures FROM web_sessions WHERE stage = 'second-factor'")
            .fetch_one(&t.db)
            .await
            .expect("the session waiting for its second factor");
    assert_eq!(n, 1);

    // The operator's `two-factor disable` removes the passkey with the rest: the next sign-in
    // is sent to enrol again.
    let gw = &t.app().gateway;
    gw.disable_second_factor(SITE_USER.0, Via::CommandLine)
        .await
        .expect("disabled");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys")
        .fetch_one(&t.db)
        .await
        .expect("count");
    assert_eq!(n, 0);
    sign_in(&b, &t, SITE_USER).await;
    b.wait_text("must have a second factor").await;
}

/// Passkeys are offered only when `public_url` names the gateway by a domain (browsers refuse
/// IP addresses as relying parties): otherwise the page has no button and the options are
/// refused. Under a domain, the options name it as the relying party with a fresh challenge,
/// and an answer that does not verify registers nothing and is audited as refused, as is one
/// sent again after the ceremony was taken.
#[tokio::test]
async fn passkeys_are_offered_only_under_a_domain_and_a_forged_registration_is_refused() {
    use crate::second_factor::{get, password, post};
    use crate::web_forms::csrf_of;
    let t = TestApp::start_with(|c| c.public_url = "https://127.0.0.1:8443".into()).await;
    let (status, cookie, _) = password(&t, SITE_USER).await;
    assert_eq!(status, 303);
    let (status, page) = get(&t, "/account/two-factor", &cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("Register a passkey"), "{page}");
    let (status, page) = post(
        &t,
        "/account/passkeys/options",
        &cookie,
        &csrf_of(&page),
        "",
    )
    .await;
    assert_ne!(status, 200, "{page}");
    assert!(page.contains("public_url"), "{page}");

    let t = gateway().await;
    let (status, cookie, _) = password(&t, SITE_USER).await;
    assert_eq!(status, 303, "enrol first");
    let (status, page) = get(&t, "/account/two-factor", &cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Register a passkey"), "{page}");
    let csrf = csrf_of(&page);
    let (status, options) = post(&t, "/account/passkeys/options", &cookie, &csrf, "").await;
    assert_eq!(status, 200, "{options}");
    let options: serde_json::Value = serde_json::from_str(&options).expect("JSON options");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost", "{options}");
    assert!(options["publicKey"]["challenge"]
        .as_str()
        .is_some_and(|c| c.len() >= 22));
    for _ in 0..2 {
        let (status, page) =
            post(&t, "/account/passkeys", &cookie, &csrf, "credential=%7B%7D").await;
        assert_eq!(status, 401, "{page}");
    }
    assert_eq!(
        audited(&t, "PasskeyRegistered", "SecondFactorFailed").await,
        2
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys")
        .fetch_one(&t.db)
        .await
        .expect("count");
    assert_eq!(n, 0);
    // Still at the enrolment: a refused passkey signs nobody in.
    assert_eq!(get(&t, "/menu", &cookie).await.0, 303);
}
