//! `imax client send` and `get` show a progress bar on a terminal for large files, and print
//! exactly what they printed before when their output is not a terminal (issue 30 item 6).
//! The terminal is a real pseudo-terminal: util-linux's `script` runs the real binary in one.

use crate::helpers::*;

/// The `imax client` arguments (as the given person, on the given mailbox) followed by `rest`.
fn client_args(t: &TestApp, person: &str, mailbox: &str, rest: &[&str]) -> Vec<String> {
    let ca = t.ca.to_str().expect("path");
    let head = ["client", "--url", &t.url, "--ca", ca, "--mid", person];
    let mut args: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    args.extend(["--mailbox".to_string(), mailbox.to_string()]);
    args.extend(rest.iter().map(|s| s.to_string()));
    args
}

/// Runs the binary, either in a pseudo-terminal (`script`: what it shows, stdout and stderr
/// together) or with pipes (stdout, and stderr which must stay empty).
async fn imax(args: &[String], env: [(&str, &str); 2], terminal: bool) -> (bool, String) {
    let bin = env!("CARGO_BIN_EXE_imax");
    let mut cmd = if terminal {
        let line = std::iter::once(bin.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = tokio::process::Command::new("script");
        c.args(["-qec", &line, "/dev/null"]);
        c
    } else {
        let mut c = tokio::process::Command::new(bin);
        c.args(args);
        c
    };
    let out = cmd
        .envs(env)
        .env("COLUMNS", "120")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("imax");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if !terminal {
        assert_eq!(text(&out.stderr), "", "nothing on stderr off a terminal");
    }
    (out.status.success(), text(&out.stdout))
}

fn message_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("messageId: "))
        .unwrap_or_else(|| panic!("no messageId in {out}"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn send_and_get_draw_a_progress_bar_on_a_terminal_only() {
    let t = TestApp::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("MAPLE_TEN_BIG.dat");
    let content = tenant_file(30_000); // about 3 MB: a large file
    std::fs::write(&file, &content).expect("write");
    let path = file.to_str().expect("path");
    let site = [
        ("TRACS_PASSWORD", SITE_USER.1),
        ("TRACS_MAILBOX_PASSWORD", MAPLE.1),
    ];
    let ca = [
        ("TRACS_PASSWORD", CA_USER.1),
        ("TRACS_MAILBOX_PASSWORD", PBCA.1),
    ];

    // Off a terminal: no bar, and the answer as scripts parse it.
    let send = client_args(&t, SITE_USER.0, MAPLE.0, &["send", path, "--resend"]);
    let (ok, out) = imax(&send, site, false).await;
    assert!(ok && out.starts_with("status "), "{out}");
    assert!(!out.contains("sending") && !out.contains("MiB"), "{out}");

    // On a terminal: a bar with the file's size, then the same answer.
    let (ok, shown) = imax(&send, site, true).await;
    assert!(ok, "{shown}");
    assert!(
        shown.contains("sending [") && shown.contains("MiB"),
        "{shown}"
    );
    assert!(shown.contains("status "), "{shown}");
    let id = message_id(&shown);

    // `get` likewise: a bar while the answer arrives, the same bytes saved.
    let saved = dir.path().join("got.dat");
    let get_args = ["get", id.as_str(), "--out", saved.to_str().expect("path")];
    let get = client_args(&t, CA_USER.0, PBCA.0, &get_args);
    let (ok, shown) = imax(&get, ca, true).await;
    assert!(ok, "{shown}");
    assert!(
        shown.contains("receiving") && shown.contains("MiB"),
        "{shown}"
    );
    assert_eq!(std::fs::read(&saved).expect("saved"), content);
    let (ok, out) = imax(&get, ca, false).await;
    assert!(ok && out.starts_with("saved to "), "{out}");
    assert!(!out.contains("receiving"), "{out}");
}
