//! Mailbox profiles and the Help Desk's password reset (R23, R24), with the new password mailed
//! through a real SMTP server (Python's aiosmtpd, started here) and read from its mailbox.

use crate::helpers::*;
use imax_gateway::admin::{ProfileInput, ResetRequest};
use imax_gateway::config::StartTls;
use imax_gateway::directory::password::Secret;
use imax_gateway::error::Code;
use imax_gateway::store::profiles::Profile;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    /// The CA the relay's STARTTLS certificate chains to (none for a plain relay).
    pub ca: Option<PathBuf>,
}

impl SmtpServer {
    /// Points a gateway's `[smtp]` at this relay, trusting its certificate.
    pub fn configure(&self) -> impl FnOnce(&mut imax_gateway::config::Config) {
        let (port, ca) = (self.port, self.ca.clone());
        move |c| {
            c.smtp.relay = format!("127.0.0.1:{port}");
            if let Some(ca) = ca {
                c.smtp.ca_file = ca.display().to_string();
            }
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real SMTP relay (aiosmtpd) that offers STARTTLS with a certificate for 127.0.0.1 and
/// takes no mail without it.
pub async fn smtp_server(dir: &Path) -> SmtpServer {
    let tls = dir.join("smtp-tls");
    imax_gateway::tls::generate_dev(&tls).expect("relay certificate");
    let args = [
        "--tlscert".to_string(),
        tls.join("server.pem").display().to_string(),
        "--tlskey".to_string(),
        tls.join("server.key").display().to_string(),
    ];
    start_relay(dir, &args, Some(tls.join("dev-ca.pem"))).await
}

/// A relay without STARTTLS (what an attacker who strips it looks like).
pub async fn plain_smtp_server(dir: &Path) -> SmtpServer {
    start_relay(dir, &[], None).await
}

/// Starts aiosmtpd on a free port outside the kernel's ephemeral range (so no client socket of
/// a concurrent test takes it first) and returns once the relay *it started* greets as SMTP:
/// a port that merely accepts may be another test's server, and a gateway mailing there fails
/// its first try and waits out its backoff on a clock the test never moves. A relay that
/// could not bind its port is started again on another.
async fn start_relay(dir: &Path, tls_args: &[String], ca: Option<PathBuf>) -> SmtpServer {
    let maildir = dir.join("maildir");
    let python = std::env::var("IMAX_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(tls_args)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (installed by the test command)");
        if relay_greets(&mut child, port).await {
            return SmtpServer {
                child,
                port,
                maildir,
                ca,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("aiosmtpd did not start");
}

/// Whether `child`, still running, answers on `port` with an SMTP greeting (`220`), within
/// about 10 s.
async fn relay_greets(child: &mut Child, port: u16) -> bool {
    use tokio::io::AsyncReadExt;
    for _ in 0..400 {
        if !matches!(child.try_wait(), Ok(None)) {
            return false; // it exited: the port was taken
        }
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut greeting = [0u8; 3];
            let read = s.read_exact(&mut greeting);
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
            return matches!(read, Ok(Ok(_)))
                && &greeting == b"220"
                && child.try_wait().is_ok_and(|e| e.is_none());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

pub fn mails(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("new"))
        .map(|d| {
            d.flatten()
                .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

pub fn profile() -> ProfileInput {
    ProfileInput {
        profile: Profile {
            contact_first: "Pat".into(),
            contact_last: "Manager".into(),
            description: "management agent".into(),
            title: "Property Manager".into(),
            organization: "Maple Court Management LLC".into(),
            firm_name: "Maple Court Apartments".into(),
            street1: "12 Maple Court".into(),
            city: "Springfield".into(),
            state: "MA".into(),
            postal_code: "01101".into(),
            country: "US".into(),
            email: "pat@maplecourt.example".into(),
            secondary_first: "Sam".into(),
            secondary_last: "Deputy".into(),
            secondary_email: "sam@maplecourt.example".into(),
            ..Profile::default()
        },
        pin: Secret::new("4711"),
        secondary_pin: Some(Secret::new("0815")),
    }
}

/// The Help Desk, after it set Maple Court's profile ([`profile`]).
pub async fn help_desk_with_profile(t: &TestApp) -> imax_gateway::admin::Admin {
    let help = t.admin.acting_as("H10001").await.expect("help desk");
    help.set_mailbox_profile(MAPLE.0, &profile())
        .await
        .expect("profile");
    help
}

pub fn request() -> ResetRequest {
    ResetRequest {
        name: "pat  manager".into(),
        title: "Property Manager".into(),
        organization: "Maple Court Management, LLC".into(),
        firm_name: "Maple Court Apartments".into(),
        firm_address: "12 Maple Court, Springfield, MA 01101".into(),
        email: "PAT@maplecourt.example".into(),
        pin: Secret::new("4711"),
        channel: imax_gateway::admin::ResetChannel::new(Some("2026-03-01"), "HD-2026-0007"),
    }
}

pub fn new_password(mail: &str) -> String {
    mail.lines()
        .find_map(|l| l.strip_prefix("New password: "))
        .expect("the mail carries the new password")
        .trim()
        .to_string()
}

#[tokio::test]
async fn r24_help_desk_reset_checks_the_profile_and_mails_the_new_password() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    let help = t.admin.acting_as("H10001").await.expect("help desk");
    // Profiles are HUD's to set; a coordinator may not reset a mailbox password.
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    assert!(matches!(
        coordinator.set_mailbox_profile(MAPLE.0, &profile()).await,
        Err(e) if e.code == Code::NotPermitted
    ));
    help.set_mailbox_profile(MAPLE.0, &profile())
        .await
        .expect("profile");
    assert!(matches!(
        coordinator
            .reset_mailbox_password(MAPLE.0, &request())
            .await,
        Err(e) if e.code == Code::NotPermitted
    ));

    // A wrong PIN, a wrong address: refused without saying which, counted.
    let mut wrong = request();
    wrong.pin = Secret::new("1234");
    let refusal = help
        .reset_mailbox_password(MAPLE.0, &wrong)
        .await
        .expect_err("refused");
    assert!(refusal.to_string().contains("do not match"), "{refusal}");
    let mut wrong = request();
    wrong.firm_address = "99 Elsewhere Road".into();
    assert!(help.reset_mailbox_password(MAPLE.0, &wrong).await.is_err());

    assert!(
        mails(&smtp.maildir).is_empty(),
        "nothing is mailed on a mismatch"
    );
    // The old password still works.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);

    // The right details: a new password goes to the profile's address, and only there.
    let to = help
        .reset_mailbox_password(MAPLE.0, &request())
        .await
        .expect("reset");
    assert_eq!(to, "pat@maplecourt.example");
    let inbox = mails(&smtp.maildir);
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].contains("To: pat@maplecourt.example"));
    let password = new_password(&inbox[0]);
    assert!(password.len() >= 16);
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    assert_ok(&t.send(SITE_USER, (MAPLE.0, &password), None, b"x").await);
    // The password is never recorded.
    let leaks: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%' || $1 || '%'")
            .bind(&password)
            .fetch_one(&t.db)
            .await
            .expect("count");
    assert_eq!(leaks, 0);

    // The secondary contact may ask too; the mail goes to the secondary address.
    let secondary = ResetRequest {
        name: "Sam Deputy".into(),
        email: "sam@maplecourt.example".into(),
        pin: Secret::new("0815"),
        ..request()
    };
    assert_eq!(
        help.reset_mailbox_password(MAPLE.0, &secondary)
            .await
            .expect("reset"),
        "sam@maplecourt.example"
    );
    assert_eq!(mails(&smtp.maildir).len(), 2);
}

#[tokio::test]
async fn r24_three_mismatches_freeze_resets_for_a_day() {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    let help = help_desk_with_profile(&t).await;
    let mut wrong = request();
    wrong.email = "attacker@example.com".into();
    for _ in 0..3 {
        assert!(help.reset_mailbox_password(MAPLE.0, &wrong).await.is_err());
    }
    let frozen = help
        .reset_mailbox_password(MAPLE.0, &request())
        .await
        .expect_err("frozen");
    assert!(frozen.to_string().contains("frozen"), "{frozen}");
    let recorded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'ResetMailboxPassword' AND outcome IN ('ResetMismatch', 'ResetsFrozen')",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(recorded, 4);
    t.clock.advance(time::Duration::hours(25));
    help.reset_mailbox_password(MAPLE.0, &request())
        .await
        .expect("reset after the freeze");
    assert_eq!(mails(&smtp.maildir).len(), 1);
}

#[tokio::test]
async fn r24_a_new_password_never_travels_in_clear_unless_the_operator_says_so() {
    // A relay that does not offer STARTTLS (or a path where it was stripped): with the default
    // `starttls = "required"` nothing is sent, and the password is not changed.
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = plain_smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    assert_eq!(t.config.smtp.starttls, StartTls::Required, "the default");
    let help = help_desk_with_profile(&t).await;
    let refused = help
        .reset_mailbox_password(MAPLE.0, &request())
        .await
        .expect_err("no TLS, no mail");
    assert_eq!(refused.code, Code::MailUnavailable, "{refused:?}");
    assert!(mails(&smtp.maildir).is_empty());
    assert_ok(
        &t.send(SITE_USER, MAPLE, None, b"the old password still works")
            .await,
    );
    drop(t);
    // Only by explicit choice does it go in clear.
    let t = TestApp::start_with(|c| {
        smtp.configure()(c);
        c.smtp.starttls = StartTls::Opportunistic;
    })
    .await;
    let help = help_desk_with_profile(&t).await;
    help.reset_mailbox_password(MAPLE.0, &request())
        .await
        .expect("sent in clear, as chosen");
    assert_eq!(mails(&smtp.maildir).len(), 1);
}

/// The 2018 release's reset/reactivate function: a TRACSMail ID unused for the prescribed time
/// is inactive, refused by both doors with `MailboxInactive` (told only after its right
/// password; a wrong one is refused as any wrong one), listed on the Help Desk's page, and
/// reactivated by the Help Desk's password reset validated against its profile (R24), audited.
#[tokio::test]
async fn an_unused_mailbox_goes_inactive_until_the_help_desk_reactivates_it() {
    use crate::web_forms::{request as http, session_cookie};
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let relay = smtp.configure();
    let t = TestApp::start_with(move |c| {
        relay(c);
        c.accounts.mailbox_inactive_days = 30;
    })
    .await;
    // Used now; Riverside stays in use throughout.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"in use").await);
    t.days(20);
    let listed = t.list(BUREAU_USER, RIVERSIDE, "receivedFromOthers").await;
    assert!(listed.fault.is_none(), "{listed:?}");
    t.days(11);

    // System-to-system: inactive only to the right password.
    let f = assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"x").await,
        "MailboxInactive",
    );
    assert_eq!(f.status, 400);
    assert!(f.message.contains("Help Desk"), "{}", f.message);
    assert_fault(
        &t.send(SITE_USER, (MAPLE.0, "Wrong-Mailbox-1"), None, b"x")
            .await,
        "MailboxAuthenticationFailed",
    );
    // The browser: opening it says the same.
    let cookie = session_cookie(&t, SITE_USER).await;
    let (_, _, home) = http(&t, "GET", "/home", &cookie, "", Vec::new()).await;
    let token = crate::web_forms::csrf_of(&home);
    let form = format!(
        "csrf={token}&imax_id={}&mailbox_password={}",
        MAPLE.0, MAPLE.1
    );
    let (status, _, page) = http(
        &t,
        "POST",
        "/mailbox/open",
        &cookie,
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("MailboxInactive"), "{page}");

    // The Help Desk sees it among the inactive mailboxes (Riverside is not there).
    let help_cookie = session_cookie(&t, ("H10001", "Help-Desk-Pass-6")).await;
    let (_, _, desk) = http(&t, "GET", "/helpdesk", &help_cookie, "", Vec::new()).await;
    let list = desk
        .split("id=\"inactive-mailboxes\"")
        .nth(1)
        .and_then(|r| r.split("</ul>").next())
        .expect("the inactive list");
    assert!(list.contains(MAPLE.0), "{list}");
    assert!(!list.contains(RIVERSIDE.0), "{list}");

    // The reset, validated against the profile, reactivates it; audited as such.
    let help = help_desk_with_profile(&t).await;
    help.reset_mailbox_password(MAPLE.0, &request())
        .await
        .expect("reset");
    let password = new_password(&mails(&smtp.maildir)[0]);
    assert_ok(
        &t.send(SITE_USER, (MAPLE.0, &password), None, b"active again")
            .await,
    );
    let reactivated: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'ResetMailboxPassword'
          AND detail LIKE '%reactivated%'",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(reactivated, 1);
}

/// R23's self-service: whoever has the mailbox open keeps its profile current in the browser
/// (first and last name apart, a U.S. ZIP code or a foreign postal code with its country, the
/// PINs kept when left empty), and the Help Desk's reset (R24) then checks callers against the
/// profile as its holder left it.
#[tokio::test]
async fn a_mailbox_holder_keeps_its_profile_and_resets_check_against_it() {
    use crate::web_forms::{csrf_of, open_mailbox, request as http, session_cookie};
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp_server(dir.path()).await;
    let t = TestApp::start_with(smtp.configure()).await;
    let help = help_desk_with_profile(&t).await;
    let cookie = session_cookie(&t, SITE_USER).await;
    open_mailbox(&t, &cookie, MAPLE).await;
    let (status, _, page) = http(&t, "GET", "/mailbox/profile", &cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"Pat\"") && page.contains("value=\"Manager\""));
    assert!(!page.contains("4711"), "never a PIN");
    let token = csrf_of(&page);
    let save = |fields: &str| {
        let body = format!("csrf={token}&{fields}").into_bytes();
        let (app, cookie) = (&t, cookie.clone());
        async move {
            let form = "application/x-www-form-urlencoded";
            let (status, _, page) =
                http(app, "POST", "/mailbox/profile", &cookie, form, body).await;
            (status, page)
        }
    };
    let base = "contact_first=Robin&contact_last=Keeper&title=Site+Manager\
        &organization=Maple+Court+Management+LLC&firm_name=Maple+Court+Apartments\
        &street1=12+Maple+Court&city=Springfield&email=robin%40maplecourt.example\
        &mailbox_password=Maple-Mailbox-2026";
    // A U.S. address needs a ZIP code as the U.S. writes it.
    let (status, page) = save(&format!("{base}&state=MA&postal_code=ABCDE&country=US")).await;
    assert_eq!(status, 400);
    assert!(page.contains("ZIP"), "{page}");
    assert!(
        page.contains("value=\"Robin\""),
        "the form comes back as filled"
    );
    // A foreign postal code with its country is fine; the PINs on file are kept.
    let (status, page) = save(&format!(
        "{base}&state=&postal_code=SW1A+1AA&country=United+Kingdom"
    ))
    .await;
    assert_eq!(status, 303, "{page}");
    let (status, page) = save(&format!(
        "{base}&state=MA&postal_code=01101-2345&country=US"
    ))
    .await;
    assert_eq!(status, 303, "{page}");

    // The Help Desk now checks callers against the holder's profile.
    let old_caller = request();
    let refused = help
        .reset_mailbox_password(MAPLE.0, &old_caller)
        .await
        .expect_err("the old contact no longer matches");
    assert_eq!(refused.code, Code::NotPermitted);
    let robin = ResetRequest {
        name: "Robin Keeper".into(),
        title: "Site Manager".into(),
        email: "robin@maplecourt.example".into(),
        // The whole address as the holder last saved it (R24).
        firm_address: "12 Maple Court, Springfield, MA 01101-2345".into(),
        ..request()
    };
    assert_eq!(
        help.reset_mailbox_password(MAPLE.0, &robin)
            .await
            .expect("reset"),
        "robin@maplecourt.example"
    );
    let updates: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'UpdateMailboxProfile' AND outcome = 'ok'",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(updates, 2);
}
