//! The virus scanner that fails closed (issue 30, item 4), through the real server and a real
//! clamd: Debian's clamav-daemon, started once per run by `scripts/test`
//! (`scripts/private-clamd.sh`, a one-line `.ndb` database holding the EICAR signature and
//! `StreamMaxLength 2M`), named by `IMAX_TEST_CLAMD`. The tests that need no verdict (clamd
//! out of reach, too slow) use a closed port and a silent listener of their own.

use crate::helpers::*;
use crate::pump::{refused_uploads, upload_form};
use crate::web_forms::{csrf_of, open_mailbox, request, session_cookie};
use imax_gateway::client::{Content, Reply};

/// The EICAR anti-virus test file: harmless, and found by every scanner.
const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The private clamd's address, or `None` (said loudly) outside `scripts/test`; under CI the
/// scanner must be there.
fn clamd() -> Option<String> {
    match std::env::var("IMAX_TEST_CLAMD") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "IMAX_TEST_CLAMD must be set under CI (scripts/test starts clamd)"
            );
            eprintln!(
                "\n*** SKIPPED: IMAX_TEST_CLAMD is not set; run scripts/test, or \
                 `source scripts/private-clamd.sh; start_private_clamd` and set \
                 IMAX_TEST_CLAMD=$private_clamd ***\n"
            );
            None
        }
    }
}

/// Sends `file` from Maple Court to the CA through the SOAP door (base64, or MTOM).
async fn send_soap(t: &TestApp, name: &str, file: &[u8], mtom: bool) -> Reply {
    let mut c = t.client(SITE_USER).await;
    let content = Content::Bytes(file.to_vec());
    let r = if mtom {
        c.send_file_mtom(MAPLE.0, MAPLE.1, Some(PBCA.0), name, content)
            .await
    } else {
        c.send_file(MAPLE.0, MAPLE.1, Some(PBCA.0), name, content, None)
            .await
    };
    r.expect("reply")
}

/// Uploads `file` through the browser's form: the status and the page.
async fn send_web(t: &TestApp, cookie: &str, name: &str, file: &[u8]) -> (u16, String) {
    let (_, _, form) = request(t, "GET", "/mailbox/upload", cookie, "", Vec::new()).await;
    let (content_type, body) = upload_form(&csrf_of(&form), PBCA.0, name, file);
    let (status, _, page) =
        request(t, "POST", "/mailbox/upload", cookie, &content_type, body).await;
    (status, page)
}

/// `imax_scan_verdicts_total{verdict="…"}` from the gateway's `/metrics`.
async fn verdicts(t: &TestApp, verdict: &str) -> f64 {
    let (status, _, page) = https_request(t, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(status, 200);
    let series = format!("imax_scan_verdicts_total{{verdict=\"{verdict}\"}}");
    page.lines()
        .filter(|l| l.starts_with(&series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn an_infected_file_is_refused_at_every_door_naming_its_signature_and_nothing_is_stored() {
    let Some(clamd) = clamd() else { return };
    let t = TestApp::start_with(|c| c.scan.clamd = clamd).await;
    for mtom in [false, true] {
        let r = send_soap(&t, "EICAR.PDF", EICAR, mtom).await;
        let f = assert_fault(&r, "VirusFound");
        assert_eq!(f.status, 300);
        assert!(f.message.contains("Eicar-Test-Signature"), "{}", f.message);
    }
    let cookie = session_cookie(&t, SITE_USER).await;
    open_mailbox(&t, &cookie, MAPLE).await;
    let (status, page) = send_web(&t, &cookie, "EICAR.PDF", EICAR).await;
    assert_eq!(status, 400, "nothing was stored: {page}");
    assert!(page.contains("VirusFound"), "{page}");
    assert!(page.contains("Eicar-Test-Signature"), "{page}");
    // Audited once per refusal, by its door, with the signature; nothing stored or left.
    let refused = refused_uploads(&t).await;
    let expected: Vec<(String, String)> = ["s2s", "s2s", "web"]
        .iter()
        .map(|door| (door.to_string(), "VirusFound".to_string()))
        .collect();
    assert_eq!(refused, expected);
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE outcome = 'VirusFound'")
            .fetch_all(&t.db)
            .await
            .expect("details");
    assert!(
        details.iter().all(|d| d.contains("Eicar-Test-Signature")),
        "{details:?}"
    );
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    assert_eq!(settled_uploads(t.admin.store()).await, 0);
    // A clean file passes every door, scanned.
    assert_ok(&send_soap(&t, "CLEAN1.PDF", &payload(1, 300_000), false).await);
    assert_ok(&send_soap(&t, "CLEAN2.PDF", &payload(2, 300_000), true).await);
    let (status, page) = send_web(&t, &cookie, "CLEAN3.PDF", &payload(3, 300_000)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(stored_bodies(t.admin.store()).await, 3);
    assert_eq!(verdicts(&t, "infected").await, 3.0);
    assert_eq!(verdicts(&t, "clean").await, 3.0);
}

#[tokio::test]
async fn a_file_larger_than_clamd_scans_is_refused_never_skipped() {
    let Some(clamd) = clamd() else { return };
    // Even when the operator lets files through an unreachable scanner.
    let t = TestApp::start_with(|c| {
        c.scan.clamd = clamd;
        c.scan.fail_open = true;
    })
    .await;
    // The private clamd's StreamMaxLength is 2 MiB.
    let big = payload(4, 3 * 1024 * 1024);
    for mtom in [false, true] {
        let r = send_soap(&t, "BIG.PDF", &big, mtom).await;
        assert_fault(&r, "TooLargeToScan");
    }
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    assert_eq!(verdicts(&t, "too_large").await, 2.0);
    // Just under the limit, the file is scanned and stored.
    assert_ok(&send_soap(&t, "FITS.PDF", &payload(5, 2 * 1024 * 1024 - 4096), false).await);
}

#[tokio::test]
async fn a_scanner_out_of_reach_refuses_unavailable_and_stores_nothing_unless_fail_open() {
    // A port nobody listens on: clamd stopped.
    let closed = format!("127.0.0.1:{}", free_port());
    let t = TestApp::start_with(|c| c.scan.clamd = closed.clone()).await;
    for mtom in [false, true] {
        let r = send_soap(&t, "A.PDF", &payload(6, 10_000), mtom).await;
        assert_fault(&r, "Unavailable");
    }
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    assert_eq!(verdicts(&t, "unavailable").await, 2.0);
    // scan.fail_open: stored, and counted as unscanned.
    let t = TestApp::start_with(|c| {
        c.scan.clamd = closed;
        c.scan.fail_open = true;
    })
    .await;
    assert_ok(&send_soap(&t, "B.PDF", &payload(7, 10_000), false).await);
    assert_eq!(stored_bodies(t.admin.store()).await, 1);
    assert_eq!(verdicts(&t, "unscanned").await, 1.0);
}

#[tokio::test]
async fn a_scanner_slower_than_its_timeout_refuses_unavailable() {
    // A clamd that takes the stream and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let addr = silent.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((mut s, _)) = silent.accept().await {
            conns.push(tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink).await;
            }));
        }
    });
    let t = TestApp::start_with(|c| {
        c.scan.clamd = addr.to_string();
        c.scan.timeout_secs = 1;
    })
    .await;
    let r = send_soap(&t, "SLOW.PDF", &payload(8, 10_000), false).await;
    assert_fault(&r, "Unavailable");
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    held.abort();
}
