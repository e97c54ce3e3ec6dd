//! Section 508 (WCAG 2.1 A and AA, issue 30 item 6): every page of the browser door is checked
//! in a real headless Chromium with axe-core (npm `axe-core`, installed into `tests/axe/` by
//! `./scripts/test`), and a person signs in and uploads a file with the keyboard alone.

use crate::browser::{browser, enter_imax, open_mailbox, sign_in, sign_out};
use crate::helpers::*;
use crate::webdriver::{Browser, Options};
use serde_json::Value;
use std::path::PathBuf;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// The WCAG levels HUD's systems must meet (Section 508 points at WCAG 2.0 AA; 2.1 adds to it).
const WCAG_TAGS: &str = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']";

fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `npm ci` in tests/axe, as ./scripts/test does)",
            path.display()
        )
    })
}

/// Runs axe-core on the page now shown, at the WCAG 2.1 A and AA rules: its violations. axe
/// is injected by WebDriver's execute-script, which the pages' strict CSP does not govern.
async fn axe_violations(b: &Browser) -> Vec<Value> {
    if b.eval("return typeof window.axe;").await != "object" {
        b.eval(&format!("{}\n;return true;", axe_source())).await;
    }
    let script = format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {{runOnly: {{type: 'tag', values: {WCAG_TAGS}}}}})
            .then(r => done({{passes: r.passes.length, violations: r.violations.map(v => ({{
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}}))}}))
            .catch(e => done({{passes: 0, violations: [{{id: 'axe-error', help: String(e), nodes: []}}]}}));"
    );
    let result = b.eval_async(&script).await;
    assert!(
        result["passes"].as_u64().unwrap_or(0) > 0,
        "axe checked nothing on {}: {result}",
        b.url().await
    );
    result["violations"].as_array().cloned().unwrap_or_default()
}

/// Fails, listing every violation (rule, what it asks, impact, and each offending element with
/// axe's summary), unless the page now shown has none.
pub(crate) async fn assert_accessible(b: &Browser) {
    let list = axe_violations(b).await;
    if !list.is_empty() {
        panic!(
            "{} WCAG 2.1 A/AA violation(s) on {}:\n{}",
            list.len(),
            b.url().await,
            list.iter().map(describe).collect::<Vec<_>>().join("\n")
        );
    }
}

fn describe(v: &Value) -> String {
    let nodes: Vec<String> = v["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .map(|n| format!("    - {}", n.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "  [{}] {} ({}):\n{}",
        v["id"].as_str().unwrap_or("?"),
        v["help"].as_str().unwrap_or(""),
        v["impact"].as_str().unwrap_or("?"),
        nodes.join("\n")
    )
}

/// Goes to `path`, waits for `text`, and checks the page with axe.
async fn check(b: &Browser, t: &TestApp, path: &str, text: &str) {
    b.goto(&format!("{}{path}", t.url)).await;
    b.wait_text(text).await;
    assert_accessible(b).await;
}

/// Every page a person, a coordinator, the Help Desk and a supervisor reach passes axe-core's
/// WCAG 2.1 A and AA rules with 0 violations (Section 508).
#[tokio::test]
async fn every_page_passes_axe_core_at_wcag_2_1_aa() {
    let t = TestApp::start().await;
    assert_ok(
        &t.send(SITE_USER, MAPLE, Some(PBCA.0), &tenant_file(5))
            .await,
    );
    let b = browser(&t, Options::default()).await;

    // Before signing in.
    check(&b, &t, "/signin", "Sign in").await;
    check(&b, &t, "/help/need-id", "M-ID").await;
    check(&b, &t, "/help/forgot-password", "password").await;

    // A person and their mailbox (R10).
    sign_in(&b, &t, SITE_USER).await;
    enter_imax(&b).await;
    assert_accessible(&b).await;
    check(&b, &t, "/menu", "Secure Systems: your applications").await;
    open_mailbox(&b, &t, MAPLE).await;
    assert_accessible(&b).await;
    check(&b, &t, "/mailbox/folder/sentToOthers", "TENANT.DAT").await;
    b.click("a[href^='/mailbox/message/']").await;
    b.wait_text("SHA-256").await;
    assert_accessible(&b).await;
    check(&b, &t, "/mailbox/folder/receivedFromOthers", "Received").await;
    check(&b, &t, "/mailbox/upload", "Recipient").await;
    check(&b, &t, "/mailbox/profile", "profile").await;
    check(&b, &t, "/notifications", "Notifications").await;
    check(&b, &t, "/account/two-factor", "authenticator").await;
    check(&b, &t, "/password", "password").await;
    check(&b, &t, "/rules/record", "Rules of Behavior").await;
    sign_out(&b).await;
    assert_accessible(&b).await;

    // A coordinator: My Users (with the new-user form), a person, the compliance report.
    sign_in(&b, &t, COORDINATOR).await;
    check(&b, &t, "/coordinator", "User Last Login Report").await;
    let person = format!("/coordinator/users/{}", SITE_USER.0);
    check(&b, &t, &person, "Property assignments").await;
    check(&b, &t, "/coordinator/report", SITE_USER.0).await;
    sign_out(&b).await;
    sign_in(&b, &t, ("M50001", "Harbor-Coord-Pass-9")).await;
    check(&b, &t, "/coordinator/portfolio", "Search for User").await;
    sign_out(&b).await;

    // The Help Desk: search, a reset, the audit records, the sandbox report (R24).
    sign_in(&b, &t, ("H10001", "Help-Desk-Pass-6")).await;
    check(&b, &t, "/helpdesk", "Help Desk").await;
    let search = format!("/helpdesk?q={}", MAPLE.0);
    check(&b, &t, &search, MAPLE.0).await;
    let reset = format!("/helpdesk/reset/{}", MAPLE.0);
    check(&b, &t, &reset, "checked against the mailbox profile").await;
    check(&b, &t, "/helpdesk/audit", "Audit").await;
    check(&b, &t, "/helpdesk/sandbox?organization=ACME", "ACME").await;
    sign_out(&b).await;

    // A supervisor's staff recertification page.
    sign_in(&b, &t, SUPERVISOR).await;
    check(&b, &t, "/certifier", "recertification").await;

    // The check sees a violation when there is one: an image without a text alternative.
    b.eval("const i = document.createElement('img'); i.src = '/x.png'; document.querySelector('main').append(i); return true;")
        .await;
    let found = axe_violations(&b).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], "image-alt", "{}", describe(&found[0]));
}

/// Presses Tab until `css` has the focus (every control is reachable by keyboard, in order).
async fn tab_to(b: &Browser, css: &str) {
    let probe = format!("return document.activeElement.matches({css:?});");
    for _ in 0..60 {
        if b.eval(&probe).await == true {
            return;
        }
        b.press(TAB).await;
    }
    panic!("Tab never reached {css} on {}", b.url().await);
}

/// A person signs in, opens a mailbox and uploads a file with the keyboard alone: Tab to each
/// field, type, Enter. WebDriver cannot drive the operating system's file chooser, so the
/// focused file input is given its path directly, as WebDriver allows.
#[tokio::test]
async fn a_person_signs_in_and_uploads_with_the_keyboard_alone() {
    let t = TestApp::start().await;
    let b = browser(&t, Options::default()).await;
    b.goto(&format!("{}/signin", t.url)).await;
    b.wait_text("Sign in").await;
    tab_to(&b, "#mid").await;
    b.press(SITE_USER.0).await;
    tab_to(&b, "#password").await;
    b.mark_page().await;
    b.press(&format!("{}{ENTER}", SITE_USER.1)).await;
    b.wait_new_page().await;
    b.wait_text("Secure Systems: your applications").await;
    tab_to(&b, "main a[href='/home']").await;
    b.press(ENTER).await;
    b.wait_text("Open a mailbox").await;

    tab_to(&b, "#imax_id").await;
    b.press(MAPLE.0).await;
    tab_to(&b, "#mailbox_password").await;
    b.press(&format!("{}{ENTER}", MAPLE.1)).await;
    b.wait_text(&format!("Welcome {}", MAPLE.0)).await;
    tab_to(&b, "nav.menu a[href='/mailbox/upload']").await;
    b.press(ENTER).await;
    b.wait_text("Recipient").await;

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("KEYBOARD_TEN_202603.dat");
    let content = tenant_file(20);
    std::fs::write(&file, &content).expect("write file");
    tab_to(&b, "#files").await;
    b.choose_file_focused(&file).await;
    tab_to(&b, "#upload-button").await;
    b.press(ENTER).await;
    b.wait_text("Results of the upload").await;
    assert_eq!(b.text("#receipts code.sha").await, sha256_hex(&content));
    assert_eq!(b.find_all("#receipts tr.ok").await.len(), 1);
    b.screenshot("80-keyboard-upload").await;
}
