//! What operators and balancers see: `/healthz`, `/readyz` (database, schema, storage,
//! draining) and `/metrics` (Prometheus text, loopback or a bearer token), through the real
//! server.

use crate::helpers::*;
use std::time::Duration;

/// A GET with optional headers over a fresh HTTP/1.1 TLS connection: status and body.
pub(crate) async fn get(t: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = https_request(t, "GET", path, headers, Vec::new()).await;
    (status, body)
}

/// The value of one sample line of a Prometheus text page (`name{labels} value`), summed over
/// the lines that contain every given fragment.
pub(crate) fn sample(page: &str, name: &str, fragments: &[&str]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.starts_with(name)
                && l[name.len()..].starts_with(['{', ' '])
                && fragments.iter().all(|f| l.contains(f))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn health_and_readiness_say_what_a_balancer_needs() {
    let t = TestApp::start().await;
    assert_eq!(get(&t, "/healthz", &[]).await, (200, "ok\n".to_string()));
    let (status, body) = get(&t, "/readyz", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ready\":true"), "{body}");
    assert!(body.contains("\"database\":\"ok\""), "{body}");

    // Below the free-space floor the node takes no uploads: not ready (alive all the same).
    let t = TestApp::start_with(|c| c.limits.min_free_disk_mb = u64::MAX / (1 << 21)).await;
    let (status, body) = get(&t, "/readyz", &[]).await;
    if t.config.database_url.is_empty() {
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("\"storage\":\"failing\""), "{body}");
    }
    assert_eq!(get(&t, "/healthz", &[]).await.0, 200);
}

/// Rolling upgrades: the first upgraded node migrates; the nodes not yet upgraded stay ready on
/// the newer schema while every newer step is compatible with them, and not otherwise.
#[tokio::test]
async fn older_nodes_serve_on_a_newer_compatible_schema_and_stop_on_an_incompatible_one() {
    use imax_gateway::store::SCHEMA_VERSION;
    let mut t = TestApp::start().await;
    let pool = t.db.clone();
    let step = |version: i64, back_to: Option<i64>| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO schema_version (version, applied_at, compatible_back_to) VALUES ($1, 0, $2)",
            )
            .bind(version)
            .bind(back_to)
            .execute(&pool)
            .await
            .expect("a newer step");
        }
    };
    // A newer build added something this one can ignore.
    step(SCHEMA_VERSION + 1, Some(SCHEMA_VERSION)).await;
    let (status, body) = get(&t, "/readyz", &[]).await;
    assert_eq!(status, 200, "{body}");
    t.restart().await;
    assert_eq!(get(&t, "/readyz", &[]).await.0, 200, "and it starts on it");
    // A still newer one changed what this build would misread: seen once the readiness
    // answer is older than its second (it is asked of the database at most once a second).
    step(SCHEMA_VERSION + 2, None).await;
    wait_until(
        "readyz to see the newer step",
        Duration::from_secs(5),
        || async { get(&t, "/readyz", &[]).await.0 == 503 },
    )
    .await;
    let (status, body) = get(&t, "/readyz", &[]).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"schema\":\"failing\""), "{body}");
    t.stop().await;
    let refused = imax_gateway::app::App::start(t.config.clone(), t.clock.clone()).await;
    let Err(err) = refused else {
        panic!("an incompatible schema must be refused at start");
    };
    let err = err.to_string();
    assert!(err.contains("newer than this gateway"), "{err}");
}

#[tokio::test]
async fn draining_says_not_ready_at_once_and_keeps_serving_for_the_delay() {
    let mut t = TestApp::start_with(|c| c.shutdown.drain_delay_secs = 3).await;
    let app = t.app.take().expect("app");
    let addr_url = t.url.clone();
    let stopping = tokio::spawn(app.stop());
    // Not ready well within the drain delay (the balancer must learn it first).
    let url = addr_url.clone();
    let ca = t.ca.clone();
    wait_until("readyz to say draining", Duration::from_secs(2), || {
        let (url, ca) = (url.clone(), ca.clone());
        async move {
            let c = imax_gateway::client::S2sClient::connect(&url, &ca, "M1", "x").await;
            match c {
                Ok(mut c) => matches!(c.get("/readyz").await, Ok((503, _))),
                Err(_) => false,
            }
        }
    })
    .await;
    // Still accepting, still serving, but no longer ready.
    t.url = addr_url;
    let c = imax_gateway::client::S2sClient::connect(&t.url, &t.ca, SITE_USER.0, SITE_USER.1)
        .await
        .expect("still accepting while draining");
    let mut c = c;
    let (status, body) = c.get("/readyz").await.expect("readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"draining\":true"), "{body}");
    let (status, _) = c.get("/healthz").await.expect("healthz");
    assert_eq!(status, 200);
    assert_ok(&list_reply(&mut c, MAPLE, "sentToOthers").await);
    drop(c);
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn metrics_count_real_requests_and_are_not_for_strangers() {
    let t = TestApp::start().await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"counted").await);
    assert_as_wrong_password(
        &t.send((SITE_USER.0, "Wrong-Password-9"), MAPLE, None, b"x")
            .await,
    );
    let (status, page) = get(&t, "/metrics", &[]).await;
    assert_eq!(status, 200, "a loopback client reads the metrics");
    let ok = sample(
        &page,
        "imax_requests_total",
        &["door=\"s2s\"", "operation=\"SendFile\"", "outcome=\"ok\""],
    );
    let refused = sample(
        &page,
        "imax_requests_total",
        &["outcome=\"AuthenticationFailed\""],
    );
    assert!(ok >= 1.0 && refused >= 1.0, "{page}");
    for name in [
        "imax_connections_accepted_total",
        "imax_password_hashes_total",
        "imax_received_bytes_total",
        "imax_audit_chain_records",
        "imax_commit_batch_size_count",
        "imax_database_sessions_open",
        "imax_http_response_seconds_count",
    ] {
        assert!(sample(&page, name, &[]) > 0.0, "{name} in\n{page}");
    }
    // Callers' contexts are read in shared statements on PostgreSQL; on SQLite each on the
    // asking thread (`store::direct`), and nothing failed there.
    if t.config.database_url.is_empty() {
        assert_eq!(sample(&page, "imax_caller_read_batch_size_count", &[]), 0.0);
        assert_eq!(sample(&page, "imax_direct_read_failures_total", &[]), 0.0);
    } else {
        assert!(sample(&page, "imax_caller_read_batch_size_count", &[]) > 0.0);
    }
    assert!(page.contains("imax_connections_closed_total{reason=\"shed_idle\"}"));
    // On SQLite the write-ahead log is checkpointed by the gateway's own task (every 250 ms),
    // not by whichever commit crosses SQLite's mark (connections turn that off).
    if t.config.database_url.is_empty() {
        let t = &t;
        wait_until(
            "a checkpoint of the write-ahead log",
            Duration::from_secs(10),
            || async move {
                let (_, page) = get(t, "/metrics", &[]).await;
                sample(&page, "imax_wal_checkpoint_seconds_count", &[]) > 0.0
            },
        )
        .await;
    }
    // The counters move with the next requests.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"counted again").await);
    let (_, later) = get(&t, "/metrics", &[]).await;
    assert!(
        sample(
            &later,
            "imax_requests_total",
            &["door=\"s2s\"", "operation=\"SendFile\"", "outcome=\"ok\""]
        ) > ok
    );

    // With a token, everyone (loopback too) must present it.
    let t =
        TestApp::start_with(|c| c.ops.metrics_token = "s3cret-token-for-prometheus".into()).await;
    assert_eq!(get(&t, "/metrics", &[]).await.0, 401);
    assert_eq!(
        get(&t, "/metrics", &[("authorization", "Bearer wrong")])
            .await
            .0,
        401
    );
    let (status, page) = get(
        &t,
        "/metrics",
        &[("authorization", "Bearer s3cret-token-for-prometheus")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("imax_connections_open"), "{page}");
}

#[tokio::test]
async fn readiness_fails_while_the_database_does_not_answer_and_comes_back() {
    // Only a server database can stop answering while the gateway runs; on SQLite the test
    // shows the same through the file's permissions being taken away is not meaningful, so it
    // checks the database check itself on PostgreSQL (the test command runs both engines).
    let Ok(base) = std::env::var("IMAX_TEST_POSTGRES") else {
        let t = TestApp::start().await;
        assert!(get(&t, "/readyz", &[])
            .await
            .1
            .contains("\"database\":\"ok\""));
        return;
    };
    let t = TestApp::start().await;
    let name = t
        .config
        .database_url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_string();
    use sqlx::Connection;
    let mut admin = sqlx::AnyConnection::connect(&base).await.expect("admin");
    // The database stops taking connections and drops the gateway's: as if it were stopped.
    for sql in [
        format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.expect("outage");
    }
    let mut status = 0;
    for _ in 0..20 {
        status = get(&t, "/readyz", &[]).await.0;
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 503, "not ready while the database is away");
    assert_eq!(get(&t, "/healthz", &[]).await.0, 200, "alive all the same");
    sqlx::query(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ))
    .execute(&mut admin)
    .await
    .expect("back");
    let mut back = false;
    for _ in 0..50 {
        if get(&t, "/readyz", &[]).await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "ready again once the database answers");
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_with_its_id_and_no_secret() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let log = t.dir.path().join("imax.log");
    let mut node = Node::spawn_logged(
        t.dir.path(),
        &t.config.database_url,
        &[("IMAX_LOG_FORMAT", "json")],
        Some(&log),
    )
    .await;
    let mut c = node.client(&t.ca, SITE_USER).await;
    let sent = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "LOGGED.DAT",
            imax_gateway::client::Content::Bytes(b"logged".to_vec()),
            None,
        )
        .await
        .expect("reply");
    assert_ok(&sent);
    let mut wrong = node
        .client(&t.ca, (SITE_USER.0, "Not-The-Password-7"))
        .await;
    let refused = list_reply(&mut wrong, MAPLE, "sentToOthers").await;
    let id = refused
        .fault
        .as_ref()
        .and_then(|f| f.request_id.clone())
        .expect("the fault names its request");
    node.kill();
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "answered")
        .collect();
    let send = answered
        .iter()
        .find(|l| l["span"]["operation"] == "SendFile")
        .expect("the SendFile's line");
    assert_eq!(send["span"]["mid"], SITE_USER.0);
    assert_eq!(send["span"]["mailbox"], MAPLE.0);
    assert_eq!(send["span"]["outcome"], "ok");
    assert_eq!(send["span"]["door"], "s2s");
    let failed = answered
        .iter()
        .find(|l| l["span"]["id"] == id.as_str())
        .expect("the refused request's line, by the id its fault gave");
    assert_eq!(failed["span"]["outcome"], "AuthenticationFailed");
    // The audit record of the refusal carries the same id, and the chain holds with it.
    let store = imax_gateway::store::Store::open(&t.config.database_url(), t.dir.path())
        .await
        .expect("store");
    let (actor, outcome): (String, String) =
        sqlx::query_as("SELECT actor, outcome FROM audit_log WHERE request_id = $1")
            .bind(&id)
            .fetch_one(&raw_db(&t.config.database_url()).await)
            .await
            .expect("the refusal's audit record, by the fault's request id");
    assert_eq!(
        (actor.as_str(), outcome.as_str()),
        (SITE_USER.0, "AuthenticationFailed")
    );
    assert!(matches!(
        store.audit_log().verify().await.expect("verify"),
        imax_gateway::audit::Verdict::Intact { .. }
    ));
    store.close().await;
    for secret in [SITE_USER.1, MAPLE.1, "Not-The-Password-7"] {
        assert!(!text.contains(secret), "a secret in the log");
    }
}

#[tokio::test]
async fn the_example_alerts_and_dashboard_name_only_exported_metrics() {
    let t = TestApp::start().await;
    // Make every family appear at least once.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    assert_as_wrong_password(&t.send((SITE_USER.0, "Wrong-1"), MAPLE, None, b"x").await);
    let mut c = t.client(CA_USER).await;
    let id = t
        .send(SITE_USER, MAPLE, Some(PBCA.0), b"for the sent bytes")
        .await
        .get("messageId")
        .expect("id")
        .to_string();
    fetch_whole(&mut c, PBCA, &id).await;
    get(&t, "/readyz", &[]).await;
    let (_, page) = get(&t, "/metrics", &[]).await;
    let exported: std::collections::BTreeSet<String> = page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .fold(n.to_string(), |n, s| {
                    n.strip_suffix(s).map(str::to_string).unwrap_or(n)
                })
        })
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for file in ["prometheus-alerts.yml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(root.join(file)).expect("example");
        let mut named = 0;
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(name) = word.strip_prefix("imax_") {
                let name = format!("imax_{name}");
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .fold(name.clone(), |n, s| {
                        n.strip_suffix(s).map(str::to_string).unwrap_or(n)
                    });
                if name == "imax_gateway" {
                    continue; // the dashboard's uid
                }
                assert!(
                    exported.contains(&base),
                    "{file} names {name}, which is not exported"
                );
                named += 1;
            }
        }
        assert!(named > 5, "{file} names the gateway's metrics");
    }
}

/// Anyone who reaches the listener may ask `/readyz`: however many ask at once, the database
/// is asked at most once a second (issue 25, item 8), and every asker gets the answer.
#[tokio::test]
async fn readiness_asks_the_database_at_most_once_a_second() {
    let t = TestApp::start().await;
    let checks = |page: &str| sample(page, "imax_readiness_database_checks_total", &[]);
    let before = checks(&get(&t, "/metrics", &[]).await.1);
    let started = std::time::Instant::now();
    let answers = futures_util::future::join_all((0..40).map(|_| get(&t, "/readyz", &[]))).await;
    let elapsed = started.elapsed().as_secs_f64();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert!(body.contains("\"database\":\"ok\""), "{body}");
    }
    let asked = checks(&get(&t, "/metrics", &[]).await.1) - before;
    assert!(asked >= 1.0, "the database was asked");
    assert!(
        asked <= 1.0 + elapsed.floor(),
        "{asked} database checks for 40 requests in {elapsed:.2} s"
    );
}
