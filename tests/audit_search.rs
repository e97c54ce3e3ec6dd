//! Issue 30 item 2: `imax audit search` through the real binary (table, CSV, JSON; by actor,
//! mailbox, action and calendar days in Washington, R17's days) and the Help Desk's audit page
//! with its CSV download, HUD's only.

use crate::helpers::*;
use time::macros::datetime;

/// Runs the real binary on the test's data; (success, standard output, standard error).
async fn imax(t: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_imax"))
        .args(args)
        .env("IMAX_DATA_DIR", &t.config.data_dir)
        .env("IMAX_DATABASE_URL", t.config.database_url())
        .output()
        .await
        .expect("imax");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (seq, hash) of every record by `actor`.
async fn records_of(t: &TestApp, actor: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT seq, hash FROM audit_log WHERE actor = $1 ORDER BY seq")
        .bind(actor)
        .fetch_all(&t.db)
        .await
        .expect("records")
}

/// A file sent by M10002 at 22:00 in Washington on 1 March (03:00 UTC on the 2nd), another on
/// 2 March, and one by the CA user.
async fn three_days_of_records() -> TestApp {
    let t = TestApp::start_at(datetime!(2026-03-02 03:00 UTC), |_| {}).await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(3)).await);
    t.clock.set(datetime!(2026-03-02 15:00 UTC));
    assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(4)).await);
    let mut ca = t.client(CA_USER).await;
    let _ = list_reply(&mut ca, PBCA, "Inbox").await;
    t
}

#[tokio::test]
async fn the_acceptance_search_as_csv_table_and_json_through_the_real_binary() {
    let t = three_days_of_records().await;
    let mine = records_of(&t, SITE_USER.0).await;
    assert!(mine.len() >= 2, "{mine:?}");

    let (ok, out, err) = imax(
        &t,
        &[
            "audit",
            "search",
            "--mid",
            "M10002",
            "--since",
            "2026-01-01",
            "--format",
            "csv",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "seq,at,actor,action,door,mailbox,message_id,client_addr,outcome,request_id,detail,hash"
    );
    assert_eq!(lines.len(), mine.len() + 1, "{out}");
    for (line, (seq, hash)) in lines[1..].iter().zip(&mine) {
        assert!(line.starts_with(&format!("{seq},")), "{line}");
        assert!(line.ends_with(&format!(",{hash}")), "{line}");
        assert!(line.contains(",M10002,"), "{line}");
    }

    // Days are Washington's: the 03:00 UTC send was on 1 March there.
    let day = |since: &'static str, until: &'static str| {
        let t = &t;
        async move {
            let (ok, out, err) = imax(
                t,
                &[
                    "audit", "search", "--mid", "M10002", "--action", "SendFile", "--since", since,
                    "--until", until, "--format", "json",
                ],
            )
            .await;
            assert!(ok, "{err}");
            out.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
                .collect::<Vec<_>>()
        }
    };
    let first = day("2026-03-01", "2026-03-01").await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["at"], "2026-03-02T03:00:00Z");
    assert_eq!(first[0]["mailbox"], "TRACM10001");
    assert_eq!(first[0]["actor"], "M10002");
    assert!(first[0]["seq"].as_i64().is_some() && first[0]["hash"].as_str().is_some());
    assert_eq!(day("2026-03-02", "2026-03-02").await.len(), 1);
    assert_eq!(day("2026-03-03", "2026-12-31").await.len(), 0);

    // A table for people, by mailbox; the limit is said when it cuts.
    let (ok, out, err) = imax(
        &t,
        &["audit", "search", "--mailbox", "tracm10001", "--limit", "1"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.starts_with("SEQ "), "{out}");
    assert!(out.contains("HASH") && out.contains("TRACM10001"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(err.contains("more than 1 records match"), "{err}");

    // Nonsense is refused with a reason.
    let (ok, _, err) = imax(&t, &["audit", "search", "--since", "2026-13-01"]).await;
    assert!(!ok && err.contains("YYYY-MM-DD"), "{err}");
    let (ok, _, err) = imax(&t, &["audit", "search", "--limit", "10000000"]).await;
    assert!(!ok && err.contains("search_max_records"), "{err}");
}

/// The Help Desk's page and its CSV download; a coordinator is refused (HUD's only).
#[tokio::test]
async fn the_help_desk_searches_and_downloads_a_coordinator_may_not() {
    use crate::web_forms::{request, session_cookie};
    let t = three_days_of_records().await;
    let mine = records_of(&t, SITE_USER.0).await;
    let help = session_cookie(&t, ("H10001", "Help-Desk-Pass-6")).await;
    let (status, _, page) = request(
        &t,
        "GET",
        "/helpdesk/audit?mid=M10002&action=SendFile&since=2026-03-02&until=",
        &help,
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("calendar days in Washington"), "{page}");
    assert!(page.contains("2026-03-02T15:00:00Z"), "{page}");
    assert!(
        !page.contains("2026-03-02T03:00:00Z"),
        "a day in Washington: {page}"
    );
    assert!(
        page.contains("/helpdesk/audit.csv?mid=M10002&#38;mailbox=&#38;action=SendFile"),
        "{page}"
    );

    let (status, _, csv) = request(
        &t,
        "GET",
        "/helpdesk/audit.csv?mid=M10002",
        &help,
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("seq,at,actor,action"), "{csv}");
    assert_eq!(lines.len(), mine.len() + 1, "{csv}");
    assert!(lines[1].ends_with(&mine[0].1), "{csv}");

    let (status, _, page) = request(
        &t,
        "GET",
        "/helpdesk/audit?since=someday",
        &help,
        "",
        Vec::new(),
    )
    .await;
    assert!(status >= 400 && page.contains("YYYY-MM-DD"), "{page}");

    let coordinator = session_cookie(&t, COORDINATOR).await;
    for path in ["/helpdesk/audit", "/helpdesk/audit.csv"] {
        let (status, _, body) = request(&t, "GET", path, &coordinator, "", Vec::new()).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(!body.contains("seq,at"), "{body}");
    }
}
