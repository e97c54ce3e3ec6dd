//! Issue 28's acceptance commands through the real binary (`imax admin`, `imax client`).

use crate::helpers::*;
use imax_gateway::directory::password::Secret;

/// Runs the real binary with the test directory's data; (success, stdout and stderr). Async:
/// the gateway under test runs on this test's own runtime.
pub(crate) async fn imax(
    t: &TestApp,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> (bool, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_imax"))
        .args(args)
        .env("IMAX_DATA_DIR", &t.config.data_dir)
        .env("IMAX_DATABASE_URL", t.config.database_url())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("imax");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).await.expect("write");
    drop(input);
    let out = child.wait_with_output().await.expect("imax");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The acceptance commands of issue 28 through the real binary (the wall clock's day): REAC-TAC
/// restores (R16), training and the report (Q24, R21), the Help Desk's whole address (R24), and
/// `imax client` printing the notice (R21).
#[tokio::test]
async fn acceptance_commands_through_the_real_binary() {
    use imax_gateway::clock::Clock;
    use imax_gateway::directory::AccountStatus;
    let mut t = TestApp::start_at(wall_clock_now(), |c| c.accounts.mailbox_inactive_days = 0).await;
    let staff = crate::access_rules::person("H10009", Secret::new("Reac-Tac-Pass-01"));
    t.admin.create_account(&staff).await.expect("created");
    t.admin
        .set_status(NEW_HIRE.0, AccountStatus::Terminated)
        .await
        .expect("terminated");
    crate::resets::help_desk_with_profile(&t).await;
    // The coordinator accepted the rules 340 days ago: due in 25 days (R21).
    let accepted = t.clock.now() - time::Duration::days(340);
    sqlx::query("UPDATE accounts SET rob_accepted_at = $1 WHERE mid = $2")
        .bind(accepted.unix_timestamp())
        .bind(COORDINATOR.0)
        .execute(&t.db)
        .await
        .expect("backdated");
    let due = imax_gateway::calendar::iso_date(
        imax_gateway::access::RulesOfBehavior::of(
            &t.admin
                .store()
                .accounts()
                .load(&imax_gateway::directory::MId::parse(COORDINATOR.0).expect("mid"))
                .await
                .expect("load")
                .expect("account"),
            &t.config.accounts,
            t.clock.now(),
        )
        .due_on()
        .expect("due"),
    );

    // `imax client … send FILE` prints the notice as a line of its own.
    let file = t.config.data_dir.join("TENANT.DAT");
    std::fs::write(&file, b"a file").expect("file");
    let ca = t.config.data_dir.join("tls/dev-ca.pem");
    let (ok, out) = imax(
        &t,
        &[
            "client",
            "--url",
            &t.url,
            "--ca",
            ca.to_str().expect("path"),
            "--mid",
            COORDINATOR.0,
            "--mailbox",
            MAPLE.0,
            "send",
            file.to_str().expect("path"),
            "--resend",
        ],
        &[
            ("TRACS_PASSWORD", COORDINATOR.1),
            ("TRACS_MAILBOX_PASSWORD", MAPLE.1),
        ],
        "",
    )
    .await;
    assert!(ok, "{out}");
    let line = format!("notice: Rules of Behavior due on {due}: sign in on the web to accept");
    assert!(out.lines().any(|l| l == line), "{out}");

    // `imax admin` works on the directory itself, with the gateway stopped (as in operation).
    let now = t.clock.now();
    t.stop().await;
    let (ok, out) = imax(
        &t,
        &["admin", "account", "reac-tac", "--mid", "H10009"],
        &[],
        "",
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = imax(
        &t,
        &[
            "admin", "--as", "H10001", "account", "restore", "--mid", NEW_HIRE.0,
        ],
        &[],
        "",
    )
    .await;
    assert!(
        !ok && out.contains("REAC-TAC"),
        "the Help Desk no longer restores: {out}"
    );
    let (ok, out) = imax(
        &t,
        &[
            "admin", "--as", "H10009", "account", "restore", "--mid", NEW_HIRE.0,
        ],
        &[],
        "",
    )
    .await;
    assert!(ok, "{out}");
    let today = imax_gateway::calendar::iso_day(now);
    let (ok, out) = imax(
        &t,
        &[
            "admin",
            "--as",
            "M10001",
            "account",
            "training",
            "--mid",
            SITE_USER.0,
            "--completed",
            &today,
            "--certificate",
            "CAC-2027-0042",
        ],
        &[],
        "",
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = imax(
        &t,
        &["admin", "--as", "M10001", "account", "report"],
        &[],
        "",
    )
    .await;
    assert!(ok, "{out}");
    let site = out
        .lines()
        .find(|l| l.starts_with(SITE_USER.0))
        .unwrap_or_default()
        .to_string();
    assert!(
        site.contains(&today) && site.contains("CAC-2027-0042"),
        "{out}"
    );
    assert!(out.contains(&due) || site.contains('-'), "{out}");
    // The street line alone is not the firm's address (R24): refused before anything is mailed.
    let reset = |address: &'static str| {
        vec![
            "admin",
            "--as",
            "H10001",
            "mailbox",
            "reset-password",
            "--imax-id",
            MAPLE.0,
            "--name",
            "Pat Manager",
            "--title",
            "Property Manager",
            "--organization",
            "Maple Court Management LLC",
            "--firm-name",
            "Maple Court Apartments",
            "--firm-address",
            address,
            "--email",
            "pat@maplecourt.example",
            "--letter-dated",
            "2026-03-01",
            "--reference",
            "HD-2026-0007",
        ]
    };
    let (ok, out) = imax(&t, &reset("12 Maple Court"), &[], "4711\n").await;
    assert!(!ok && out.contains("do not match"), "{out}");
}
