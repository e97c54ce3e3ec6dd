//! The vendor sandbox (issue 31, item 1), through the real server and the real binary: a
//! vendor and its TRACX mailbox made by `imax admin`, TRACS files sent by SOAP and by the
//! browser and answered by the simulated TRACS (format errors, acknowledgement, simulated
//! fatal errors and discrepancies for marked records) tied by inReplyTo in Received from
//! TRACS; the sandbox and production never meet; nothing counts as activity (R13); the
//! sandbox's files are purged on its own schedule; the certification report lists what the
//! vendor exercised; the conformance kit's zeep script runs against the sandbox.

use crate::compliance_binary::imax;
use crate::helpers::*;
use crate::pump::upload_form;
use crate::web_forms::{csrf_of, open_mailbox, request, session_cookie};
use imax_gateway::client::{Content, Reply};
use imax_gateway::tracs::{FileKind, Sample};

const SANDBOX: (&str, &str) = ("TRACX00001", "Acme-Sandbox-2026");
/// Acme's developer: a coordinator of the vendor (R6: its own organization's mailbox).
const VENDOR: (&str, &str) = ("M70001", "Acme-Developer-Pass-1");

const VENDOR_ACCOUNT: &str = r#"
[[account]]
mid = "M70001"
kind = "coordinator"
name = "Val Developer (Acme Software)"
email = "val@acme.example"
organization = "ACME"
password = "Acme-Developer-Pass-1"
rights = ["imax-coordinator", "imax"]
working_group = true
rules_of_behavior_accepted = true
business_partner_organizations = ["ACME"]
"#;

/// The acceptance commands' vendor and sandbox, made by the real binary, and its developer.
pub async fn vendor_with_sandbox(t: &TestApp) {
    let create = ["admin", "organization", "create", "--id", "ACME"];
    let args = [
        &create[..],
        &["--kind", "vendor", "--name", "Acme Software"],
    ]
    .concat();
    let (ok, out) = imax(t, &args, &[], "").await;
    assert!(ok, "{out}");
    let mailbox = |id: &'static str, kind: &'static str| {
        let mut a = vec![
            "admin",
            "mailbox",
            "create",
            "--imax-id",
            id,
            "--kind",
            kind,
        ];
        a.extend([
            "--name",
            "Acme test",
            "--organization",
            "ACME",
            "--password-stdin",
        ]);
        a
    };
    let pw = format!("{}\n", SANDBOX.1);
    // TRACX IDs are the sandbox's, and the sandbox's IDs are TRACX.
    for (id, kind) in [("TRACM00077", "sandbox"), ("TRACX00002", "property")] {
        let (ok, out) = imax(t, &mailbox(id, kind), &[], &pw).await;
        assert!(!ok && out.contains("TRACX"), "{id} {kind}: {out}");
    }
    let (ok, out) = imax(t, &mailbox(SANDBOX.0, "sandbox"), &[], &pw).await;
    assert!(ok, "{out}");
    let file = t.dir.path().join("vendor.toml");
    std::fs::write(&file, VENDOR_ACCOUNT).expect("write");
    imax_gateway::admin::import_file(&t.admin, &file)
        .await
        .expect("the vendor's developer");
}

/// (messageId, inReplyTo, fileName) of a listing.
fn listed(r: &Reply) -> Vec<(String, Option<String>, String)> {
    let mut out: Vec<(String, Option<String>, String)> = Vec::new();
    for (k, v) in &r.fields {
        match (k.as_str(), out.last_mut()) {
            ("messageId", _) => out.push((v.clone(), None, String::new())),
            ("inReplyTo", Some(last)) => last.1 = Some(v.clone()),
            ("fileName", Some(last)) => last.2 = v.clone(),
            _ => {}
        }
    }
    out
}

/// The answers in Received from TRACS to message `id`: their file names.
async fn answers_to(t: &TestApp, id: &str) -> Vec<String> {
    let from_tracs = t.list(VENDOR, SANDBOX, "receivedFromTracs").await;
    listed(&from_tracs)
        .into_iter()
        .filter(|(_, to, _)| to.as_deref() == Some(id))
        .map(|(_, _, name)| name)
        .collect()
}

/// A tenant file whose body lines `marks` hold a sandbox marker at column 41.
fn marked(time: &str, marks: &[(usize, &str)]) -> Vec<u8> {
    let s = Sample {
        records_per_batch: 4,
        time: time.into(),
        ..Sample::new(FileKind::Tenant, OAK_HILL.0)
    };
    let mut lines: Vec<Vec<u8>> = s
        .build()
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    for (i, m) in marks {
        lines[*i][40..40 + m.len()].copy_from_slice(m.as_bytes());
    }
    lines.concat()
}

async fn last_activity(t: &TestApp) -> (Option<i64>, Option<i64>) {
    let a: Option<i64> = sqlx::query_scalar("SELECT last_activity_at FROM accounts WHERE mid = $1")
        .bind(VENDOR.0)
        .fetch_one(&t.db)
        .await
        .expect("account");
    let m: Option<i64> =
        sqlx::query_scalar("SELECT last_used_at FROM mailboxes WHERE imax_id = $1")
            .bind(SANDBOX.0)
            .fetch_one(&t.db)
            .await
            .expect("mailbox");
    (a, m)
}

#[tokio::test]
async fn a_vendor_certifies_in_its_sandbox_by_both_doors_apart_from_production() {
    let t = TestApp::start().await;
    vendor_with_sandbox(&t).await;
    // Two days on: any use would now be recorded (R13's granularity).
    t.days(2);
    let before = last_activity(&t).await;

    // SOAP: a valid file goes to the simulated TRACS (its header's project is ignored) and is
    // acknowledged, tied to it.
    let good = tracs_file(FileKind::Tenant, OAK_HILL.0, 3);
    let sent = t.send(VENDOR, SANDBOX, Some("TRACS"), &good).await;
    assert_ok(&sent);
    assert_eq!(sent.get("toMailbox"), Some("TRACXTRACS"));
    let good_id = sent.get("messageId").expect("id").to_string();
    assert_eq!(answers_to(&t, &good_id).await, ["TENANT.DAT.ACK.txt"]);
    let sent_listing = t.list(VENDOR, SANDBOX, "sentToTracs").await;
    assert_eq!(listed(&sent_listing)[0].0, good_id);

    // Marked records: the acknowledgement, then simulated fatal errors and discrepancies.
    let file = marked("090100", &[(1, "SANDBOXFATAL"), (2, "SANDBOXDISCREP")]);
    let sent = t.send(VENDOR, SANDBOX, None, &file).await;
    assert_ok(&sent);
    let id = sent.get("messageId").expect("id").to_string();
    let names = answers_to(&t, &id).await;
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".FATAL.txt")), "{names:?}");
    let from_tracs = t.list(VENDOR, SANDBOX, "receivedFromTracs").await;
    let fatal = listed(&from_tracs)
        .into_iter()
        .find(|(_, to, n)| to.as_deref() == Some(id.as_str()) && n.ends_with(".FATAL.txt"))
        .expect("fatal errors")
        .0;
    let mut c = t.client(VENDOR).await;
    let text = String::from_utf8(fetch_whole(&mut c, SANDBOX, &fatal).await).expect("ascii");
    assert!(
        text.contains("SIMULATED") && text.contains("Line 0000002 MAT10"),
        "{text}"
    );

    // A file with problems in unconfirmed fields: the format-error reply, nothing else.
    let mut short = marked("090200", &[]);
    short.drain(400..410);
    let sent = t.send(VENDOR, SANDBOX, None, &short).await;
    assert_ok(&sent);
    let id = sent.get("messageId").expect("id").to_string();
    assert_eq!(answers_to(&t, &id).await, ["TENANT.DAT.TENER.txt"]);
    // A file with certain problems is refused as in production.
    let mut broken = marked("090300", &[]);
    broken[320] = 0x07;
    assert_fault(
        &t.send(VENDOR, SANDBOX, None, &broken).await,
        "InvalidTracsFile",
    );

    // R13: none of it counted as use, of the M-ID or of the mailbox (signing in to the
    // browser, below, is use of iMAX of its own).
    assert_eq!(last_activity(&t).await, before);

    // The browser: the SANDBOX banner on the mailbox's pages; an upload answered alike.
    let cookie = session_cookie(&t, VENDOR).await;
    open_mailbox(&t, &cookie, SANDBOX).await;
    for page in [
        "/mailbox",
        "/mailbox/upload",
        "/mailbox/folder/receivedFromTracs",
    ] {
        let (_, _, html) = request(&t, "GET", page, &cookie, "", Vec::new()).await;
        assert!(html.contains("<strong>SANDBOX</strong>"), "{page}: {html}");
    }
    let (_, _, form) = request(&t, "GET", "/mailbox/upload", &cookie, "", Vec::new()).await;
    let web_file = marked("090400", &[]);
    let (content_type, body) = upload_form(&csrf_of(&form), "TRACS", "WEB.DAT", &web_file);
    let (status, _, page) =
        request(&t, "POST", "/mailbox/upload", &cookie, &content_type, body).await;
    assert_eq!(status, 200, "{page}");
    let from_tracs = t.list(VENDOR, SANDBOX, "receivedFromTracs").await;
    assert!(listed(&from_tracs)
        .iter()
        .any(|(_, to, n)| to.is_some() && n == "WEB.DAT.ACK.txt"));

    // The sandbox and production never meet, either way (SandboxOnly).
    for to in [HUD.0, PBCA.0, "TRACM10001"] {
        let r = t
            .send(VENDOR, SANDBOX, Some(to), &marked("090500", &[]))
            .await;
        assert_fault(&r, "SandboxOnly");
    }
    let r = t
        .send(
            SITE_USER,
            MAPLE,
            Some(SANDBOX.0),
            &tracs_file(FileKind::Tenant, MAPLE.0, 3),
        )
        .await;
    assert_fault(&r, "SandboxOnly");
    let mut hud = t.client(HUD_STAFF).await;
    let r = hud
        .send_file(
            HUD.0,
            HUD.1,
            Some(SANDBOX.0),
            "N.TXT",
            Content::Bytes(b"x".to_vec()),
            None,
        )
        .await
        .expect("reply");
    assert_fault(&r, "SandboxOnly");
    let crossing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages m JOIN mailboxes f ON f.id = m.from_mailbox
           JOIN mailboxes t ON t.id = m.to_mailbox WHERE (f.kind = 'sandbox') <> (t.kind = 'sandbox')",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(crossing, 0);

    assert_eq!(
        last_activity(&t).await.1,
        before.1,
        "the sandbox was not used (R13)"
    );

    // The certification report, by the real binary, from what was stored.
    let args = [
        "admin",
        "sandbox",
        "report",
        "--organization",
        "ACME",
        "--format",
        "json",
    ];
    let (ok, out) = imax(&t, &args, &[], "").await;
    assert!(ok, "{out}");
    // Standard output's JSON (the helper appends standard error's log lines).
    // (pretty-printed: the first `}` at a line's start closes it).
    let json = out.get(..out.find("\n}").map_or(0, |i| i + 2));
    let report: serde_json::Value = serde_json::from_str(json.unwrap_or("")).expect("json");
    assert_eq!(report["mailboxes"], serde_json::json!([SANDBOX.0]));
    let op = |label: &str| {
        report["operations"]
            .as_array()
            .expect("operations")
            .iter()
            .find(|o| o["label"] == label)
            .map(|o| (o["succeeded"].as_u64(), o["refused"].as_u64()))
    };
    assert_eq!(op("SendFile (SOAP)"), Some((Some(3), Some(4))), "{out}");
    assert_eq!(op("browser upload"), Some((Some(1), Some(0))), "{out}");
    assert!(op("GetMessage (SOAP)").is_some() && op("ListMessages (SOAP)").is_some());
    assert_eq!(report["file_kinds"][0]["kind"], "tenant");
    assert_eq!(report["file_kinds"][0]["accepted"], 4);
    let answers: Vec<&str> = report["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .filter_map(|a| a["answer"].as_str())
        .collect();
    for a in [
        "acknowledgement",
        "fatal-errors",
        "discrepancies",
        "format-errors",
    ] {
        assert!(answers.contains(&a), "{a}: {out}");
    }
    // The same report as a page, the Help Desk's; not the vendor's own.
    let help = session_cookie(&t, ("H10001", "Help-Desk-Pass-6")).await;
    let url = "/helpdesk/sandbox?organization=ACME";
    let (status, _, page) = request(&t, "GET", url, &help, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<td>browser upload</td><td>web</td><td>1</td>"),
        "{page}"
    );
    assert!(page.contains("<td>fatal-errors</td>"), "{page}");
    let (status, _, _) = request(&t, "GET", url, &cookie, "", Vec::new()).await;
    assert_ne!(status, 200, "the vendor does not certify itself");
    let (ok, out) = imax(
        &t,
        &["admin", "sandbox", "report", "--organization", "CCS"],
        &[],
        "",
    )
    .await;
    assert!(!ok && out.contains("not a vendor"), "{out}");

    // The sandbox's own retention: after 31 days its files are purged, production's kept.
    let production = t
        .send(
            SITE_USER,
            MAPLE,
            None,
            &tracs_file(FileKind::Tenant, MAPLE.0, 3),
        )
        .await;
    assert_ok(&production);
    t.days(31);
    t.admin
        .purge(imax_gateway::admin::Purge::Remove)
        .await
        .expect("purge");
    let left: (i64, i64) = sqlx::query_as(
        "SELECT SUM(CASE WHEN t.kind = 'sandbox' THEN 1 ELSE 0 END),
                SUM(CASE WHEN t.kind = 'sandbox' THEN 0 ELSE 1 END)
           FROM messages m JOIN mailboxes t ON t.id = m.to_mailbox",
    )
    .fetch_one(&t.db)
    .await
    .expect("count");
    assert_eq!(left.0, 0, "the sandbox's files are purged");
    assert!(left.1 >= 1, "production's are kept");
}

/// The conformance kit's zeep script (examples/sandbox/) sends a sample file to a sandbox and
/// fetches TRACS's answer tied to it, unchanged, against the real server.
#[tokio::test]
async fn the_conformance_kits_zeep_script_runs_against_a_sandbox() {
    let t = TestApp::start().await;
    vendor_with_sandbox(&t).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sandbox/sandbox_zeep.py");
    let file = t.dir.path().join("SAMPLE.DAT");
    std::fs::write(&file, tracs_file(FileKind::Voucher, OAK_HILL.0, 3)).expect("write");
    let python = std::env::var("IMAX_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let (url, ca) = (t.url.clone(), t.ca.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([url.as_str(), &ca.to_string_lossy(), VENDOR.0, VENDOR.1])
            .args([SANDBOX.0, SANDBOX.1, &file.to_string_lossy()])
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zeep failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("TA005 voucher file SAMPLE.DAT"), "{stdout}");
    assert!(stdout.contains("sandbox: answered"), "{stdout}");
}

/// The conformance kit's node-soap script (examples/sandbox/), with the npm `soap` package the
/// suite installs for tests/nodesoap, against a sandbox through the real server.
#[tokio::test]
async fn the_conformance_kits_node_soap_script_runs_against_a_sandbox() {
    let t = TestApp::start().await;
    vendor_with_sandbox(&t).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("examples/sandbox/sandbox_soap.js");
    let modules = root.join("tests/nodesoap/node_modules");
    let file = t.dir.path().join("SAMPLE.DAT");
    std::fs::write(&file, tracs_file(FileKind::Tenant, OAK_HILL.0, 3)).expect("write");
    let node = std::env::var("IMAX_TEST_NODE").unwrap_or_else(|_| "node".into());
    let (url, ca) = (t.url.clone(), t.ca.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(node)
            .arg(script)
            .args([url.as_str(), VENDOR.0, VENDOR.1, SANDBOX.0, SANDBOX.1])
            .arg(file)
            .env("NODE_EXTRA_CA_CERTS", ca)
            .env("NODE_PATH", modules)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node-soap failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("TA005 tenant file SAMPLE.DAT"), "{stdout}");
    assert!(stdout.contains("sandbox: answered"), "{stdout}");
}
