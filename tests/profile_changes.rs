//! A profile change proves the mailbox (issue 25, item 6; R23, R24): through the browser door
//! over real HTTPS, changing a mailbox profile's email address or a PIN needs the mailbox's
//! password again (counted as any attempt at it); a notice goes, through a real SMTP relay
//! (aiosmtpd), to the addresses on file before the change, naming the changed fields and how to
//! undo it; the Help Desk's reset page shows the last change.

use crate::helpers::*;
use crate::resets::{mails, new_password, plain_smtp_server, profile, smtp_server};
use crate::web_forms::{csrf_of, open_mailbox, request, session_cookie};
use imax_gateway::admin::ResetRequest;
use imax_gateway::directory::password::Secret;
use imax_gateway::error::Code;

const FORM: &str = "application/x-www-form-urlencoded";
const HELP_DESK: (&str, &str) = ("H10001", "Help-Desk-Pass-6");
const ATTACKER: &str = "mallory@attacker.example";

/// The profile form as the Help Desk set it ([`profile`]), with `changes` over it.
fn profile_form(token: &str, changes: &[(&str, &str)]) -> Vec<u8> {
    let p = profile().profile;
    let mut fields = vec![
        ("contact_first", p.contact_first),
        ("contact_last", p.contact_last),
        ("description", p.description),
        ("title", p.title),
        ("organization", p.organization),
        ("firm_name", p.firm_name),
        ("street1", p.street1),
        ("city", p.city),
        ("state", p.state),
        ("postal_code", p.postal_code),
        ("country", p.country),
        ("email", p.email),
        ("secondary_first", p.secondary_first),
        ("secondary_last", p.secondary_last),
        ("secondary_email", p.secondary_email),
    ];
    for (name, value) in changes {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value.to_string(),
            None => fields.push((name, value.to_string())),
        }
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("csrf", token);
    for (name, value) in &fields {
        form.append_pair(name, value);
    }
    form.finish().into_bytes()
}

/// A gateway mailing through `relay`, Maple Court's profile set by the Help Desk, and SITE_USER
/// holding Maple Court open in a browser session (its cookie).
async fn holder(
    relay: impl FnOnce(&mut imax_gateway::config::Config),
    tweak: impl FnOnce(&mut imax_gateway::config::Config),
) -> (TestApp, String) {
    let t = TestApp::start_with(|c| {
        relay(c);
        tweak(c);
    })
    .await;
    t.admin
        .acting_as(HELP_DESK.0)
        .await
        .expect("help desk")
        .set_mailbox_profile(MAPLE.0, &profile())
        .await
        .expect("profile");
    let cookie = session_cookie(&t, SITE_USER).await;
    open_mailbox(&t, &cookie, MAPLE).await;
    (t, cookie)
}

/// Posts the profile form with `changes`: status and page.
async fn save(t: &TestApp, cookie: &str, changes: &[(&str, &str)]) -> (u16, String) {
    let (status, _, page) = request(t, "GET", "/mailbox/profile", cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    let body = profile_form(&csrf_of(&page), changes);
    let (status, _, page) = request(t, "POST", "/mailbox/profile", cookie, FORM, body).await;
    (status, page)
}

async fn email_on_file(t: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT p.email FROM mailbox_profiles p JOIN mailboxes m ON m.id = p.mailbox_id
          WHERE m.imax_id = $1",
    )
    .bind(MAPLE.0)
    .fetch_one(&t.db)
    .await
    .expect("profile")
}

async fn pin_hash_on_file(t: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT p.pin_hash FROM mailbox_profiles p JOIN mailboxes m ON m.id = p.mailbox_id
          WHERE m.imax_id = $1",
    )
    .bind(MAPLE.0)
    .fetch_one(&t.db)
    .await
    .expect("profile")
}

/// The Help Desk's reset page of Maple Court: the sentence of its last profile change.
async fn last_change_on_reset_page(t: &TestApp) -> String {
    let cookie = session_cookie(t, HELP_DESK).await;
    let path = format!("/helpdesk/reset/{}", MAPLE.0);
    let (status, _, page) = request(t, "GET", &path, &cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    page.split("id=\"last-profile-change\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .expect("the reset page shows the last profile change")
        .to_string()
}

/// R23: without the mailbox's password, an email address or a PIN does not change (a clear
/// refusal, nothing changed, nothing mailed); other fields still do. A wrong password is
/// refused and counted as any wrong mailbox password: at the limit the mailbox freezes.
#[tokio::test]
async fn r23_changing_an_email_or_a_pin_needs_the_mailbox_password() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let (t, cookie) = holder(smtp.configure(), |c| c.accounts.mailbox_failed_limit = 3).await;
    let (_, _, page) = request(&t, "GET", "/mailbox/profile", &cookie, "", Vec::new()).await;
    assert!(page.contains("name=\"mailbox_password\""), "{page}");
    let pin_before = pin_hash_on_file(&t).await;

    // Without the password: neither the email, nor a PIN, nor the secondary contact's email.
    for changes in [
        &[("email", ATTACKER)][..],
        &[("pin", "9999")][..],
        &[("secondary_pin", "9999")][..],
        &[("secondary_email", ATTACKER), ("email", ATTACKER)][..],
    ] {
        let (status, page) = save(&t, &cookie, changes).await;
        assert_eq!(status, 400, "{changes:?}: {page}");
        assert!(
            page.contains("Changing an email address or a PIN of the profile needs the mailbox"),
            "a clear refusal: {page}"
        );
        assert!(page.contains("nothing was changed"), "{page}");
        assert!(!page.contains("9999"), "never a PIN in the page");
    }
    assert_eq!(email_on_file(&t).await, "pat@maplecourt.example");
    assert_eq!(
        pin_hash_on_file(&t).await,
        pin_before,
        "the PIN is unchanged"
    );
    assert!(mails(&smtp.maildir).is_empty(), "nothing mailed");

    // A field that decides nothing about resets changes as before, without the password.
    let (status, page) = save(&t, &cookie, &[("phone", "413-555-0100")]).await;
    assert_eq!(status, 303, "{page}");
    assert!(mails(&smtp.maildir).is_empty(), "no notice for a telephone");
    let last = last_change_on_reset_page(&t).await;
    assert!(
        last.contains("telephone") && last.contains(SITE_USER.0),
        "{last}"
    );

    // A wrong password: refused as a wrong mailbox password, nothing changed, counted.
    let wrong = [
        ("email", ATTACKER),
        ("mailbox_password", "Not-The-Password-1"),
    ];
    let (status, page) = save(&t, &cookie, &wrong).await;
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains(Code::MailboxAuthenticationFailed.sentence())
            || page.contains("MailboxAuthenticationFailed"),
        "{page}"
    );
    assert_eq!(email_on_file(&t).await, "pat@maplecourt.example");
    let counted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor = $1 AND mailbox = $2
           AND outcome = 'MailboxAuthenticationFailed' AND detail LIKE 'wrong password%'",
    )
    .bind(SITE_USER.0)
    .bind(MAPLE.0)
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(counted, 1, "counted as an attempt at the mailbox");
    // Up to the limit (3 here): the mailbox freezes for this M-ID, as any wrong passwords do;
    // the right password no longer opens it, by either door.
    // (The form is posted with the token read before: a freeze may end the session.)
    let token = csrf_of(&page);
    let post = |changes: &[(&str, &str)]| {
        let body = profile_form(&token, changes);
        let (t, cookie) = (&t, cookie.clone());
        async move { request(t, "POST", "/mailbox/profile", &cookie, FORM, body).await }
    };
    for _ in 0..2 {
        let (status, _, page) = post(&wrong).await;
        assert_ne!(status, 303, "{page}");
    }
    let right = [("email", ATTACKER), ("mailbox_password", MAPLE.1)];
    let (status, _, page) = post(&right).await;
    assert_ne!(status, 303, "frozen: {page}");
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"frozen").await,
        "MailboxAuthenticationFailed",
    );
    assert_eq!(email_on_file(&t).await, "pat@maplecourt.example");
    assert!(mails(&smtp.maildir).is_empty());
}

/// R23, R24: with the mailbox's password the change is made, after a notice to the addresses
/// on file (primary and secondary contact) naming the changed fields (never a PIN or a
/// password) and how to undo it; the Help Desk's reset page shows when, who and what; a reset
/// then goes to the new address, as R24 says, but the old owner was warned first.
#[tokio::test]
async fn r23_a_change_with_the_password_warns_the_old_addresses_and_the_help_desk_sees_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let (t, cookie) = holder(smtp.configure(), |_| {}).await;
    let first = last_change_on_reset_page(&t).await;
    assert!(
        first.contains("2026-03-02 09:00 UTC by H10001") && first.contains("email address"),
        "the first profile, set by the Help Desk: {first}"
    );
    t.clock.advance(time::Duration::minutes(5));

    let changes = [
        ("email", ATTACKER),
        ("pin", "9999"),
        ("mailbox_password", MAPLE.1),
    ];
    let (status, page) = save(&t, &cookie, &changes).await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(email_on_file(&t).await, ATTACKER);
    assert!(
        pin_hash_on_file(&t).await.starts_with("$argon2id$"),
        "the PIN stays hashed"
    );

    // The notice: at the old address and at the secondary contact, nowhere else.
    let inbox = mails(&smtp.maildir);
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    for to in ["pat@maplecourt.example", "sam@maplecourt.example"] {
        let notice = inbox
            .iter()
            .find(|m| m.contains(&format!("To: {to}")))
            .unwrap_or_else(|| panic!("a notice to {to}: {inbox:?}"));
        assert!(notice.contains(MAPLE.0), "{notice}");
        assert!(notice.contains("Changed: email address, PIN."), "{notice}");
        assert!(notice.contains("2026-03-02T09:05:00Z"), "when: {notice}");
        assert!(notice.contains(SITE_USER.0), "who: {notice}");
        assert!(
            notice.contains("If you did not make or expect this change, call the HUD iMAX Help"),
            "how to undo it: {notice}"
        );
        assert!(!notice.contains("9999"), "never the PIN: {notice}");
        assert!(!notice.contains(MAPLE.1), "never a password: {notice}");
    }
    assert!(!inbox.iter().any(|m| m.contains(&format!("To: {ATTACKER}"))));

    // The Help Desk sees when, who and which fields.
    let last = last_change_on_reset_page(&t).await;
    assert_eq!(
        last,
        "<strong>The profile was last changed 2026-03-02 09:05 UTC by M10002: email address, PIN.</strong>"
    );
    // The audit record names the fields and the notice, never the PIN.
    let (detail,): (String,) = sqlx::query_as(
        "SELECT detail FROM audit_log WHERE action = 'UpdateMailboxProfile' AND outcome = 'ok'",
    )
    .fetch_one(&t.db)
    .await
    .expect("audited");
    assert!(detail.contains("changed: email address, PIN"), "{detail}");
    assert!(
        detail.contains("notice mailed to pat@maplecourt.example, sam@maplecourt.example"),
        "{detail}"
    );
    assert!(!detail.contains("9999"), "{detail}");

    // R24 as written: the Help Desk's reset now goes to the new address (the old owner was
    // told first, and the Help Desk saw the change on the page).
    let help = t.admin.acting_as(HELP_DESK.0).await.expect("help desk");
    let to = help
        .reset_mailbox_password(
            MAPLE.0,
            &ResetRequest {
                name: "Pat Manager".into(),
                title: "Property Manager".into(),
                organization: "Maple Court Management LLC".into(),
                firm_name: "Maple Court Apartments".into(),
                firm_address: "12 Maple Court, Springfield, MA 01101".into(),
                email: ATTACKER.into(),
                pin: Secret::new("9999"),
                channel: imax_gateway::admin::ResetChannel::new(None, "HD-EMAIL-1"),
            },
        )
        .await
        .expect("reset");
    assert_eq!(to, ATTACKER);
    let inbox = mails(&smtp.maildir);
    assert_eq!(inbox.len(), 3);
    let reset = inbox
        .iter()
        .find(|m| m.contains(&format!("To: {ATTACKER}")))
        .expect("the reset mail");
    assert!(!new_password(reset).is_empty());
}

/// R23: a holder's change of an email address is made only once the addresses on file were
/// told; when the notice cannot be mailed (here a relay that does not offer STARTTLS, which the
/// default `starttls = "required"` refuses), nothing changes.
#[tokio::test]
async fn r23_no_notice_no_change() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = plain_smtp_server(dir.path()).await;
    let (t, cookie) = holder(smtp.configure(), |_| {}).await;
    let changes = [("email", ATTACKER), ("mailbox_password", MAPLE.1)];
    let (status, page) = save(&t, &cookie, &changes).await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("nothing was changed"), "{page}");
    assert_eq!(email_on_file(&t).await, "pat@maplecourt.example");
    assert!(mails(&smtp.maildir).is_empty());
}

/// R23 through `imax admin` (HUD's own authority, no mailbox password): the Help Desk's change
/// of the address is mailed to the addresses on file too, and shown as the last change; a PIN
/// given again unchanged is not named.
#[tokio::test]
async fn r23_the_help_desks_change_is_told_to_the_old_addresses_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let (t, _) = holder(smtp.configure(), |_| {}).await;
    let help = t.admin.acting_as(HELP_DESK.0).await.expect("help desk");
    let mut changed = profile();
    changed.profile.email = "new-manager@maplecourt.example".into();
    help.set_mailbox_profile(MAPLE.0, &changed)
        .await
        .expect("profile");
    let inbox = mails(&smtp.maildir);
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(inbox
        .iter()
        .all(|m| m.contains("Changed: email address.") && m.contains("H10001")));
    assert!(inbox
        .iter()
        .any(|m| m.contains("To: pat@maplecourt.example")));
    assert!(inbox
        .iter()
        .any(|m| m.contains("To: sam@maplecourt.example")));
    let last = last_change_on_reset_page(&t).await;
    assert!(last.contains("by H10001: email address."), "{last}");
}

/// R23 (issue 27): the profile's Description is the kind of the organization the mailbox
/// belongs to (Maple Court's mailbox: its owner's), whatever the holder types there.
#[tokio::test]
async fn r23_the_description_comes_from_the_organizations_kind() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let (t, cookie) = holder(smtp.configure(), |_| {}).await;
    let (status, page) = save(&t, &cookie, &[("description", "Anything at all")]).await;
    assert_eq!(status, 303, "{page}");
    let description: String = sqlx::query_scalar(
        "SELECT p.description FROM mailbox_profiles p JOIN mailboxes m ON m.id = p.mailbox_id
          WHERE m.imax_id = $1",
    )
    .bind(MAPLE.0)
    .fetch_one(&t.db)
    .await
    .expect("profile");
    assert_eq!(description, "Owner");
}
