//! `examples/haproxy.cfg`, exactly as shipped, run by Debian's haproxy in front of two real
//! `imax serve` nodes on one PostgreSQL database, under a steady load of vendor calls (a new
//! TLS connection each, as much vendor software makes them): a node stopped by SIGTERM is taken
//! out of rotation before it stops accepting and no request fails; a node killed by SIGKILL
//! loses only the requests in flight on it; a node that comes back is sent traffic again. The
//! nodes learn the real client from the PROXY protocol header (`server::proxy`).

use crate::helpers::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use imax_gateway::client::S2sClient;
use imax_gateway::store::Engine;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKERS: usize = 4;

struct Haproxy(std::process::Child);

impl Haproxy {
    fn start(bind: &str, node1: &str, node2: &str, log: &Path) -> Haproxy {
        let bin = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("haproxy");
        let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/haproxy.cfg");
        let out = std::fs::File::create(log).expect("haproxy log");
        let child = std::process::Command::new(bin)
            .args(["-db", "-f", cfg])
            .env("IMAX_HAPROXY_BIND", bind)
            .env("IMAX_NODE1", node1)
            .env("IMAX_NODE2", node2)
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("haproxy ({bin}) did not start: {e}; scripts/test installs it")
            });
        Haproxy(child)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One call of the load: when it began and ended, and what went wrong if anything did.
struct Call {
    began: Instant,
    ended: Instant,
    failure: Option<String>,
}

async fn one_call(url: &str, ca: &Path) -> Option<String> {
    let mut client = match S2sClient::connect(url, ca, SITE_USER.0, SITE_USER.1).await {
        Ok(c) => c,
        Err(e) => return Some(format!("connect: {e}")),
    };
    let reply = client
        .call(
            "ListMessages",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("folder", "sentToOthers"),
            ],
        )
        .await;
    match reply {
        Ok(r) => r.fault.map(|f| format!("fault {}", f.code)),
        Err(e) => Some(format!("call: {e}")),
    }
}

/// The `answered` lines of a node's JSON log for the system-to-system door, and whether a
/// request from `peer` was among all its lines.
fn served(log: &Path, peer: &str) -> (usize, bool) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut s2s = 0;
    let mut saw_peer = false;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["fields"]["message"] != "answered" {
            continue;
        }
        if v["span"]["path"] == "/s2s" {
            s2s += 1;
        }
        saw_peer |= v["span"]["peer"] == peer;
    }
    (s2s, saw_peer)
}

/// `GET path` over a fresh TLS connection to `to` from the loopback address `from`.
async fn get_from(
    to: std::net::SocketAddr,
    ca: &Path,
    from: &str,
    path: &str,
) -> Result<u16, String> {
    let tls = tls_to(to, ca, b"http/1.1", Some(from.parse().unwrap()))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// Waits until `log` shows more system-to-system requests than `before` (a node back in
/// rotation), up to 15 s.
async fn until_serving(log: &Path, before: usize) -> usize {
    for _ in 0..150 {
        let (n, _) = served(log, "");
        if n > before {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} was not sent traffic again", log.display());
}

#[tokio::test]
async fn haproxy_routes_around_a_stopped_or_killed_node_and_back() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let db = t.config.database_url();
    if t.admin.store().engine == Engine::Sqlite {
        // Several nodes need PostgreSQL (a second node on SQLite is refused: tests/nodes.rs).
        println!("several nodes behind a balancer need PostgreSQL; run with IMAX_TEST_POSTGRES");
        return;
    }
    let b_dir = second_data_dir(t.dir.path());
    let logs = tempfile::tempdir().expect("logs");
    let log = |name: &str| -> PathBuf { logs.path().join(name) };
    // Only the balancer (127.0.0.1 here) may send PROXY headers; the shipped drain delay.
    let env = [
        ("IMAX_BALANCER_PROXY_PROTOCOL_FROM", "127.0.0.1"),
        ("IMAX_LOG_FORMAT", "json"),
    ];
    // The nodes pick their ports; a restarted node takes its old one back, where the balancer
    // expects it. HAProxy cannot be handed a listener, so its port is asked for.
    let mut a = Node::spawn_logged(t.dir.path(), &db, &env, Some(&log("a1.log"))).await;
    let mut b = Node::spawn_logged(b_dir.path(), &db, &env, Some(&log("b1.log"))).await;
    let (p1, p2, front) = (a.port(), b.port(), free_port());
    let _haproxy = Haproxy::start(
        &format!("127.0.0.1:{front}"),
        &format!("127.0.0.1:{p1}"),
        &format!("127.0.0.1:{p2}"),
        &log("haproxy.log"),
    );
    let url = format!("https://localhost:{front}");
    let front_addr: std::net::SocketAddr = format!("127.0.0.1:{front}").parse().unwrap();
    let node1: std::net::SocketAddr = format!("127.0.0.1:{p1}").parse().unwrap();

    // Both nodes up and checked healthy (rise 2 at 1 s).
    for _ in 0..100 {
        if one_call(&url, &t.ca).await.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The nodes see the client the PROXY header names, and require the header from the
    // balancer's address only.
    assert_eq!(
        get_from(front_addr, &t.ca, "127.0.0.3", "/healthz").await,
        Ok(200)
    );
    // The node writes its log line as it answers; on a busy machine it may land a moment later.
    let mut saw = false;
    for _ in 0..100 {
        saw = served(&log("a1.log"), "127.0.0.3").1 || served(&log("b1.log"), "127.0.0.3").1;
        if saw {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw, "a node logged the client's own address");
    assert!(
        get_from(node1, &t.ca, "127.0.0.1", "/healthz")
            .await
            .is_err(),
        "a connection from the balancer's address without a PROXY header is closed"
    );
    assert_eq!(
        get_from(node1, &t.ca, "127.0.0.2", "/healthz").await,
        Ok(200),
        "other clients reach a node directly"
    );

    // A steady load through the balancer.
    let calls = Arc::new(Mutex::new(Vec::<Call>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (url, ca, calls, stop) = (url.clone(), t.ca.clone(), calls.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let failure = one_call(&url, &ca).await;
                calls.lock().unwrap().push(Call {
                    began,
                    ended: Instant::now(),
                    failure,
                });
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Both nodes take part (waited for: a check may have been slow on a busy machine).
    let (mut a_before, mut b_before) = (0, 0);
    for _ in 0..100 {
        a_before = served(&log("a1.log"), "").0;
        b_before = served(&log("b1.log"), "").0;
        if a_before > 0 && b_before > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        a_before > 0 && b_before > 0,
        "both nodes serve: {a_before}, {b_before}"
    );

    // SIGTERM node 1: out of rotation before it stops accepting; it exits by itself.
    a.terminate();
    assert!(a.wait(Duration::from_secs(45)).await, "node 1 stopped");
    let a_after = served(&log("a1.log"), "").0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    a = Node::spawn_at(p1, t.dir.path(), &db, &env, Some(&log("a2.log"))).await;
    until_serving(&log("a2.log"), 0).await;

    // SIGKILL node 2: only what was in flight on it fails.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed_at = Instant::now();
    b.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    b = Node::spawn_at(p2, b_dir.path(), &db, &env, Some(&log("b2.log"))).await;
    until_serving(&log("b2.log"), 0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }

    let calls = calls.lock().unwrap();
    let failed: Vec<&Call> = calls.iter().filter(|c| c.failure.is_some()).collect();
    println!(
        "{} calls through haproxy, {} failed; node 1 served {a_before} before SIGTERM and {a_after} in all; node 2 {b_before} before",
        calls.len(),
        failed.len()
    );
    for c in &failed {
        assert!(
            c.began <= killed_at && c.ended >= killed_at,
            "a call failed that was not in flight on the killed node: {:?} ({:?} after the kill)",
            c.failure,
            c.began.saturating_duration_since(killed_at)
        );
    }
    assert!(failed.len() <= WORKERS, "{} failed", failed.len());
    assert!(calls.len() > 100, "a steady load: {} calls", calls.len());
    drop(a);
    drop(b);
}
