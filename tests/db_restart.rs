//! The database coming back is invisible to clients (issue 25, item 7): after PostgreSQL
//! restarts, or an administrator ends every session of the gateway's database, the first
//! SendFile succeeds; each dead session is replaced and its statement retried once, counted in
//! `imax_database_retries_total`, and no message is committed twice. PostgreSQL only: skipped
//! on SQLite (a file does not hang up).

use crate::helpers::*;
use imax_gateway::audit::Verdict;
use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL cluster of this test's own (the suite's shared one cannot be restarted under
/// the other tests), made as `scripts/private-postgres.sh` makes one: `initdb` into a
/// temporary directory, a free port on 127.0.0.1, owned by `postgres` when run as root.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    /// `None` unless the suite runs on PostgreSQL (`IMAX_TEST_POSTGRES`, whose script
    /// installed the server).
    fn start() -> Option<Cluster> {
        std::env::var("IMAX_TEST_POSTGRES").ok()?;
        let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed beside IMAX_TEST_POSTGRES")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("pg_ctl").exists())
            .collect();
        bins.sort();
        let bin = bins.pop().expect("a PostgreSQL bin directory");
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
        };
        let data = cluster.data();
        run(cluster
            .tool("initdb")
            .args(["-D", &data, "-A", "trust", "-U", "postgres"]));
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.port,
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log");
        run(cluster.tool("pg_ctl").args([
            "-D",
            &data,
            "-w",
            "-l",
            &log.display().to_string(),
            "-o",
            &opts,
            "start",
        ]));
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A PostgreSQL tool, run as `postgres` when the test runs as root (PostgreSQL refuses
    /// root).
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// Restarts the server as an operator would (`fast`: sessions are ended, not waited for).
    /// The server started again keeps the first start's options (`postmaster.opts`), but
    /// not its log file, named again so that it does not hold the test's output pipe.
    fn restart(&self) {
        let log = self.dir.path().join("server.log");
        run(self.tool("pg_ctl").args([
            "-D",
            &self.data(),
            "-w",
            "-m",
            "fast",
            "-l",
            &log.display().to_string(),
            "restart",
        ]));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[track_caller]
fn run(c: &mut Command) {
    let out = c.output().expect("runs");
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `imax_database_retries_total`, summed over its kinds, from the gateway's `/metrics`.
async fn retries(t: &TestApp) -> f64 {
    let (status, _, page) = https_request(t, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(status, 200);
    page.lines()
        .filter(|l| l.starts_with("imax_database_retries_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every send of the test is one message, and the chain holds each request's record once.
async fn each_message_once(url: &str, sent: i64) {
    // A pool of its own: the test's pool lost its sessions with everyone else's.
    let db = raw_db(url).await;
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM messages")
            .fetch_one(&db)
            .await
            .expect("count");
    assert_eq!((rows, distinct), (sent, sent), "no message committed twice");
    let store = imax_gateway::store::Store::open(url, tempfile::tempdir().expect("tmp").path())
        .await
        .expect("store");
    assert!(matches!(
        store.audit_log().verify().await.expect("verify"),
        Verdict::Intact { .. }
    ));
    store.close().await;
}

/// A small body (written with its row) and a large one (chunks through the uploads' own
/// sessions), each answered with a receipt.
async fn send_both(t: &TestApp, seed: u32) {
    assert_ok(&t.send(SITE_USER, MAPLE, None, &payload(seed, 1000)).await);
    assert_ok(
        &t.send(SITE_USER, MAPLE, None, &payload(seed + 1, 700 * 1024))
            .await,
    );
}

#[tokio::test]
async fn the_first_send_after_a_postgres_restart_succeeds() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url();
    let t = TestApp::start_with(|c| c.database_url = url.clone()).await;
    send_both(&t, 1).await;
    assert_eq!(
        retries(&t).await,
        0.0,
        "nothing retried while the database was up"
    );

    cluster.restart();
    // The first requests after the restart find every pooled session dead: each is replaced
    // (and its statement retried) without the client seeing it.
    send_both(&t, 3).await;
    assert!(
        retries(&t).await >= 1.0,
        "the dead sessions were noticed and counted"
    );
    // And the gateway goes on as before.
    send_both(&t, 5).await;
    each_message_once(&url, 6).await;
}

#[tokio::test]
async fn sessions_ended_by_an_administrator_are_replaced_without_a_refusal() {
    if std::env::var("IMAX_TEST_POSTGRES").is_err() {
        return;
    }
    let t = TestApp::start().await;
    send_both(&t, 1).await;
    assert_eq!(retries(&t).await, 0.0);
    // What `pg_terminate_backend` does is what a restart does to a client, at once: the
    // sessions were used a moment ago, so they are not checked before use; the statements
    // that find them dead are retried.
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&t.db)
    .await
    .expect("terminate");
    assert!(
        ended.len() >= 2,
        "the gateway's sessions were ended: {ended:?}"
    );
    send_both(&t, 3).await;
    assert!(retries(&t).await >= 1.0, "the retries were counted");
    send_both(&t, 5).await;
    each_message_once(&t.config.database_url(), 6).await;
}
