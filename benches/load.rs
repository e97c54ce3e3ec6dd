//! Load benchmark: starts real `imax serve` processes (release build, durable storage, default
//! argon2 parameters) on fresh data directories with the demo directory, one per store: SQLite
//! (bodies as files), and when `IMAX_BENCH_POSTGRES` names a server the benchmark may create
//! databases on, PostgreSQL (bodies in the database) and, with `IMAX_BENCH_S3` and
//! `IMAX_BENCH_S3_BUCKET`, PostgreSQL with bodies in an S3 bucket.
//!
//! By default ([`side`], issue 29): every store's gateway beside a bare durable upload server
//! ([`bare`]) in alternating rounds — SendFile 10 KiB at c=16 kept-alive and with a new TLS
//! connection per call, 50 MiB uploads — then flat memory on each store and a summary of the
//! ratios against the targets. `--matrix` adds the load matrix (SendFile and GetMessage,
//! 10 KiB and 1 MiB, c=1, 16, 64); `--listing` measures instead a folder's first full page
//! with 100 messages and then a million (`--listing-rows N`) in the store; `--memory` the
//! peak RSS of 100 MiB uploads and downloads, one and 16 at once; `--downloads` the CA's
//! side, each new message fetched and acknowledged ([`downloads`]). `--kept-alive`,
//! `--per-call` and `--large` run only those side-by-side steps (for a profile of one).
//!
//! Run: `scripts/bench` (starts a private PostgreSQL cluster, durable settings, and a private
//! SeaweedFS, and runs every store in one go), or `cargo bench --bench load` for SQLite alone;
//! add `--quick` for a short run. Each worker keeps one HTTP/1.1 connection, as vendor
//! software does, except in the new-connection-per-call rounds.

#![allow(clippy::expect_used, clippy::unwrap_used)]

/// The gateway's allocator (src/main.rs), for the bare server as for `imax serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "load/bare.rs"]
mod bare;
#[path = "load/downloads.rs"]
mod downloads;
#[path = "load/side.rs"]
mod side;

use imax_gateway::client::{Content, S2sClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An ID and its password.
type Pair = (&'static str, &'static str);

const SITE_USER: (&str, &str) = ("M10002", "Site-Manager-Pass-2");
const CA_USER: (&str, &str) = ("M20001", "Contract-Admin-Pass-4");
const MAPLE: (&str, &str) = ("TRACM10001", "Maple-Mailbox-2026");
const PBCA: (&str, &str) = ("TRACM20001", "Ca1-Mailbox-2026");

struct Server {
    child: Child,
    url: String,
    ca: PathBuf,
    /// The gateway's database (empty for the bare server).
    database_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database engine to run against: SQLite in each data directory, or a fresh database per
/// server on the PostgreSQL server at `postgres`.
struct Engine {
    name: &'static str,
    /// The name in the ratios' lines.
    short: &'static str,
    postgres: Option<String>,
    /// Bodies in a bucket: `(endpoint, bucket)`, each server under a prefix of its own.
    s3: Option<(String, String)>,
    /// Another build of `imax` to run instead of this one (`IMAX_BENCH_BEFORE`).
    bin: Option<String>,
}

/// A fresh database on the PostgreSQL server `IMAX_BENCH_POSTGRES` names.
async fn fresh_postgres_database(base: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut b = [0u8; 6];
    getrandom::getrandom(&mut b).unwrap();
    let name = format!("imax_bench_{}", hex::encode(b));
    let mut admin = sqlx::AnyConnection::connect(base)
        .await
        .expect("IMAX_BENCH_POSTGRES");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{prefix}/{name}")
}

fn imax(dir: &Path, database_url: &str, port: u16, bin: Option<&str>) -> Command {
    let mut c = Command::new(bin.unwrap_or(env!("CARGO_BIN_EXE_imax")));
    // The gateway refuses IMAX_* variables that are not settings.
    c.env_remove("IMAX_BENCH_POSTGRES")
        .env_remove("IMAX_BENCH_S3")
        .env_remove("IMAX_BENCH_S3_BUCKET")
        .env_remove("IMAX_BENCH_LOG")
        .env_remove("IMAX_BENCH_BEFORE")
        .env("IMAX_DATA_DIR", dir)
        .env("IMAX_DATABASE_URL", database_url)
        .env("IMAX_LISTEN", format!("127.0.0.1:{port}"))
        // `IMAX_BENCH_LOG=sqlx::query=debug` counts the statements per request (on stderr).
        .env(
            "IMAX_LOG",
            std::env::var("IMAX_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        // The benchmark is one client address making many requests; nothing here fails.
        .env("IMAX_THROTTLE_MAX_FAILURES", "1000000")
        // ...and opens up to 64 connections at once from that one address.
        .env("IMAX_LIMITS_MAX_CONNECTIONS_PER_CLIENT", "256");
    c
}

async fn start(dir: &Path, engine: &Engine) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-directory.toml");
    let database_url = match &engine.postgres {
        Some(base) => fresh_postgres_database(base).await,
        None => String::new(),
    };
    let with_bodies = |mut c: Command| {
        if let Some((endpoint, bucket)) = &engine.s3 {
            let prefix = database_url.rsplit('/').next().unwrap_or("imax");
            c.env("IMAX_BODIES_URL", format!("s3://{bucket}/{prefix}"))
                .env("IMAX_BODIES_S3_ENDPOINT", endpoint);
        }
        c
    };
    let status = with_bodies(imax(dir, &database_url, port, engine.bin.as_deref()))
        .args(["admin", "import"])
        .arg(demo)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "import failed");
    let child = with_bodies(imax(dir, &database_url, port, engine.bin.as_deref()))
        .arg("serve")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let database_url = if database_url.is_empty() {
        format!("sqlite://{}", dir.join("imax.db").display())
    } else {
        database_url
    };
    let server = Server {
        child,
        url: format!("https://localhost:{port}"),
        ca: dir.join("tls/dev-ca.pem"),
        database_url,
    };
    for _ in 0..200 {
        if server.ca.exists()
            && S2sClient::connect(&server.url, &server.ca, "M1", "x")
                .await
                .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server did not start");
}

/// A process's CPU time so far (user + system), in seconds.
fn cpu_secs(pid: u32) -> f64 {
    stat_ticks(pid, 11..=12)
}

/// The CPU time of `pid` and of its children that ended (in seconds): a server's whole work,
/// also that of its sessions closed between two readings (PostgreSQL's backends), which
/// [`cpu_secs`] summed over live processes loses.
fn cpu_with_ended_children_secs(pid: u32) -> f64 {
    stat_ticks(pid, 11..=14)
}

/// The sum of the fields `fields` of `/proc/PID/stat`, counted after the command's name, in
/// seconds (user, system, and children's user and system time are 11 to 14).
fn stat_ticks(pid: u32, fields: std::ops::RangeInclusive<usize>) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    fields.map(ticks).sum::<f64>() / 100.0
}

/// The bare durable upload server, as a process of its own.
fn start_bare(dir: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(std::env::current_exe().unwrap())
        .env("MIMALLOC_PURGE_DELAY", "10")
        .arg("--serve-bare")
        .arg(port.to_string())
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Server {
        child,
        url: format!("https://localhost:{port}"),
        ca: dir.join("tls/dev-ca.pem"),
        database_url: String::new(),
    }
}

async fn until_up(server: &Server) {
    for _ in 0..400 {
        if server.ca.exists()
            && S2sClient::connect(&server.url, &server.ca, "M1", "x")
                .await
                .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} did not start", server.url);
}

/// A file of `mib` MiB of varied bytes.
fn big_file(dir: &Path, mib: usize) -> PathBuf {
    use std::io::Write;
    let path = dir.join(format!("big-{mib}.bin"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    // Incompressible (xorshift): a compressing store must not look faster than it is for
    // the PDFs and archives that are most large attachments.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1024 * 1024];
    for _ in 0..mib {
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        f.write_all(&block).unwrap();
    }
    path
}

/// One upload of `path` to `server`, as base64 or as MTOM: MiB/s of file content.
async fn one_upload(server: &Server, path: &Path, mib: usize, mtom: bool) -> f64 {
    let mut c = S2sClient::connect(&server.url, &server.ca, SITE_USER.0, SITE_USER.1)
        .await
        .unwrap();
    // The same file as the base64 upload before it: a deliberate resend.
    c.resend = true;
    let took = if mtom {
        let t = Instant::now();
        let file = Content::File(path.to_path_buf());
        let r = c
            .send_file_mtom(MAPLE.0, MAPLE.1, None, "BIG.BIN", file)
            .await
            .unwrap();
        assert!(r.fault.is_none(), "{:?}", r.fault);
        t.elapsed()
    } else {
        timed_upload(&mut c, path).await
    };
    mib as f64 / took.as_secs_f64()
}

/// Sends `path` through `c` and returns how long until the receipt.
async fn timed_upload(c: &mut S2sClient, path: &Path) -> Duration {
    let t = Instant::now();
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "BIG.BIN",
            Content::File(path.to_path_buf()),
            None,
        )
        .await
        .unwrap();
    assert!(r.fault.is_none(), "{:?}", r.fault);
    t.elapsed()
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn memory_while_receiving(dir: &Path, engine: &Engine) {
    let server = start(dir, engine).await;
    let pid = server.child.id();
    let mut c = S2sClient::connect(&server.url, &server.ca, SITE_USER.0, SITE_USER.1)
        .await
        .unwrap();
    // Warm up: one small send so that pools, caches and buffers exist.
    c.send_file(
        MAPLE.0,
        MAPLE.1,
        None,
        "W.DAT",
        Content::Bytes(vec![1; 10 * 1024]),
        None,
    )
    .await
    .unwrap();
    let before = status_kib(pid, "VmRSS:");
    let path = big_file(dir, 100);
    let took = timed_upload(&mut c, &path).await;
    let peak = status_kib(pid, "VmHWM:");
    println!(
        "memory: RSS before {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB while receiving 100 MiB ({:.0} MiB/s)",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(before) as f64 / 1024.0,
        100.0 / took.as_secs_f64()
    );
    // The peak only grows: each figure below is the highest growth so far.
    let growth = || status_kib(pid, "VmHWM:").saturating_sub(before) as f64 / 1024.0;
    let sent = c
        .call(
            "ListMessages",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("folder", "sentToOthers"),
            ],
        )
        .await
        .unwrap();
    let id = sent
        .all("messageId")
        .last()
        .expect("the 100 MiB file")
        .to_string();
    let fetch = |id: String| {
        let (url, ca) = (server.url.clone(), server.ca.clone());
        async move {
            let mut c = S2sClient::connect(&url, &ca, CA_USER.0, CA_USER.1)
                .await
                .unwrap();
            let (r, bytes) = c.get_message_mtom(PBCA.0, PBCA.1, &id).await.unwrap();
            assert!(r.fault.is_none(), "{:?}", r.fault);
            assert_eq!(bytes.map(|b| b.len()), Some(100 * 1024 * 1024));
        }
    };
    fetch(id.clone()).await;
    println!(
        "memory: growth {:.1} MiB after also sending it back (GetMessage)",
        growth()
    );
    let t = Instant::now();
    let uploads: Vec<_> = (0..16)
        .map(|_| {
            let (url, ca, path) = (server.url.clone(), server.ca.clone(), path.clone());
            tokio::spawn(async move {
                let mut c = S2sClient::connect(&url, &ca, SITE_USER.0, SITE_USER.1)
                    .await
                    .unwrap();
                c.resend = true;
                timed_upload(&mut c, &path).await
            })
        })
        .collect();
    for u in uploads {
        u.await.unwrap();
    }
    println!(
        "memory: growth {:.1} MiB after 16 such uploads at once ({:.0} MiB/s together)",
        growth(),
        1600.0 / t.elapsed().as_secs_f64()
    );
    let downloads: Vec<_> = (0..16).map(|_| tokio::spawn(fetch(id.clone()))).collect();
    for d in downloads {
        d.await.unwrap();
    }
    println!(
        "memory: growth {:.1} MiB after 16 such downloads at once",
        growth()
    );
    let _ = std::fs::remove_file(path);
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

fn stats(mut lat: Vec<Duration>, elapsed: Duration, errors: usize) -> Stats {
    lat.sort();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Stats {
        rps: lat.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
    }
}

/// A copy of a TRACS file with a date and time stamp no other copy has.
fn unique(template: &[u8]) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (day, second) = (n / 86_400, n % 86_400);
    let mut f = template.to_vec();
    let date = format!("01{:02}{:04}", 1 + day % 28, 2026 + day / 28);
    let time = format!(
        "{:02}{:02}{:02}",
        second / 3600,
        second / 60 % 60,
        second % 60
    );
    f[17..25].copy_from_slice(date.as_bytes());
    f[25..31].copy_from_slice(time.as_bytes());
    f
}

async fn run_sends(
    server: &Server,
    concurrency: usize,
    size: usize,
    duration: Duration,
) -> (Stats, Vec<String>) {
    run_sends_with(server, concurrency, size, duration, None).await
}

/// [`run_sends`], each worker on one kept-alive connection, or (`per_call`: the TLS
/// configuration, shared so that sessions resume) on a new connection for every SendFile,
/// closed after it, the way much vendor software calls.
async fn run_sends_with(
    server: &Server,
    concurrency: usize,
    size: usize,
    duration: Duration,
    per_call: Option<Arc<rustls::ClientConfig>>,
) -> (Stats, Vec<String>) {
    // Real TRACS tenant files of about `size` bytes; each request gets its own date and time
    // stamps (so each is a new transmission, not a duplicate) by patching the header.
    let data = Arc::new(
        imax_gateway::tracs::Sample {
            records_per_batch: (size / 402).max(1),
            ..imax_gateway::tracs::Sample::new(imax_gateway::tracs::FileKind::Tenant, MAPLE.0)
        }
        .build(),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (url, ca, data) = (server.url.clone(), server.ca.clone(), data.clone());
        let per_call = per_call.clone();
        tasks.push(tokio::spawn(async move {
            let config = per_call
                .clone()
                .unwrap_or_else(|| S2sClient::config(&ca).unwrap());
            let connect =
                || S2sClient::connect_with(&url, config.clone(), SITE_USER.0, SITE_USER.1, None);
            let mut kept = connect().await.unwrap();
            let (mut lat, mut ids, mut errors) = (Vec::new(), Vec::new(), 0);
            while start.elapsed() < duration {
                let t = Instant::now();
                let mut fresh = None;
                let c = match per_call {
                    None => &mut kept,
                    Some(_) => match connect().await {
                        Ok(c) => fresh.insert(c),
                        Err(_) => {
                            errors += 1;
                            continue;
                        }
                    },
                };
                match c
                    .send_file(
                        MAPLE.0,
                        MAPLE.1,
                        None,
                        "TEN.DAT",
                        Content::Bytes(unique(&data)),
                        None,
                    )
                    .await
                {
                    Ok(r) if r.fault.is_none() => {
                        lat.push(t.elapsed());
                        ids.push(r.get("messageId").unwrap().to_string());
                    }
                    _ => errors += 1,
                }
            }
            (lat, ids, errors)
        }));
    }
    let (mut lat, mut ids, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (l, i, e) = t.await.unwrap();
        lat.extend(l);
        ids.extend(i);
        errors += e;
    }
    (stats(lat, start.elapsed(), errors), ids)
}

async fn run_gets(
    server: &Server,
    concurrency: usize,
    ids: Arc<Vec<String>>,
    duration: Duration,
) -> Stats {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (url, ca, ids) = (server.url.clone(), server.ca.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = S2sClient::connect(&url, &ca, CA_USER.0, CA_USER.1)
                .await
                .unwrap();
            let (mut lat, mut errors, mut i) = (Vec::new(), 0, w);
            while start.elapsed() < duration {
                let id = &ids[i % ids.len()];
                i += concurrency;
                let t = Instant::now();
                match c
                    .call(
                        "GetMessage",
                        &[
                            ("mailbox", PBCA.0),
                            ("mailboxPassword", PBCA.1),
                            ("messageId", id),
                        ],
                    )
                    .await
                {
                    Ok(r) if r.fault.is_none() => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (lat, errors) = gathered(tasks).await;
    stats(lat, start.elapsed(), errors)
}

/// The workers' latencies and errors, all together.
async fn gathered(
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>,
) -> (Vec<Duration>, usize) {
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    (lat, errors)
}

/// Adds `n` messages from Maple Court to the PBCA straight into the database (rows only: a
/// listing reads no bodies), received one second apart and all before now.
async fn seed(server: &Server, first: i64, n: i64) {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                if conn.backend_name() == "SQLite" {
                    conn.execute("PRAGMA busy_timeout = 60000").await?;
                }
                Ok(())
            })
        })
        .connect(&server.database_url)
        .await
        .expect("the gateway's database");
    let numbers = if server.database_url.starts_with("sqlite:") {
        "(WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) SELECT i FROM n) n"
    } else {
        "generate_series($1::BIGINT, $2::BIGINT) AS n(i)"
    };
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 2_000_000;
    let sql = format!(
        "INSERT INTO messages (message_id, from_mailbox, to_mailbox, sent_by, file_name,
            size_bytes, sha256, body_key, received_at, routed_by)
         SELECT 'seed-' || n.i, f.id, t.id, 'M10002', 'SEED.DAT', 10240,
            '0000000000000000000000000000000000000000000000000000000000000000',
            'seed-' || n.i, $3 + n.i, 'sender'
           FROM {numbers}, mailboxes f, mailboxes t
          WHERE f.imax_id = 'TRACM10001' AND t.imax_id = 'TRACM20001'"
    );
    sqlx::query(&sql)
        .bind(first)
        .bind(first + n - 1)
        .bind(start)
        .execute(&pool)
        .await
        .expect("seeded");
    pool.close().await;
}

/// ListMessages of one folder's first page through `server` at `concurrency`.
async fn run_lists(
    server: &Server,
    person: Pair,
    mailbox: Pair,
    folder: &'static str,
    concurrency: usize,
    duration: Duration,
) -> Stats {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (url, ca) = (server.url.clone(), server.ca.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = S2sClient::connect(&url, &ca, person.0, person.1)
                .await
                .unwrap();
            let (mut lat, mut errors) = (Vec::new(), 0);
            while start.elapsed() < duration {
                let t = Instant::now();
                let fields = [
                    ("mailbox", mailbox.0),
                    ("mailboxPassword", mailbox.1),
                    ("folder", folder),
                ];
                match c.call("ListMessages", &fields).await {
                    Ok(r) if r.fault.is_none() && r.all("messageId").len() == 100 => {
                        lat.push(t.elapsed())
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    stats(lat, start.elapsed(), errors)
}

/// Issue "SendFile near the machine's limit", item 4: a folder's first full page (100
/// messages) at c=16 with 100 messages in the store, then with `rows`, seeded straight into
/// the database and measured through the real server; prints the ratios.
async fn listing(dir: &Path, engine: &Engine, duration: Duration, rows: i64) {
    let server = start(dir, engine).await;
    let folders: [(&str, Pair, Pair, &'static str); 2] = [
        (
            "PBCA receivedFromOthers (unread)",
            CA_USER,
            PBCA,
            "receivedFromOthers",
        ),
        ("Maple sentToOthers", SITE_USER, MAPLE, "sentToOthers"),
    ];
    seed(&server, 1, 100).await;
    let mut small = Vec::new();
    for (name, person, mailbox, folder) in folders {
        let s = run_lists(&server, person, mailbox, folder, 16, duration).await;
        line("ListMessages", "100", 16, &s);
        small.push((name, s));
    }
    let t = Instant::now();
    seed(&server, 101, rows - 100).await;
    println!(
        "seeded {rows} messages in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    for ((name, a), (_, person, mailbox, folder)) in small.iter().zip(folders) {
        let b = run_lists(&server, person, mailbox, folder, 16, duration).await;
        line("ListMessages", &rows.to_string(), 16, &b);
        println!(
            "{name}: a full first page with {rows} messages in the store costs {:.2}× the time of one with 100 (requests per second {:.0} %), p99 {:.2}×",
            a.rps / b.rps.max(1e-9),
            100.0 * b.rps / a.rps.max(1e-9),
            b.p99.as_secs_f64() / a.p99.as_secs_f64().max(1e-9),
        );
    }
}

fn line(op: &str, size: &str, c: usize, s: &Stats) {
    println!(
        "{op:<11} {size:>7} c={c:<3} {:>8.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   errors {}",
        s.rps,
        s.p50.as_secs_f64() * 1000.0,
        s.p99.as_secs_f64() * 1000.0,
        s.errors
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-bare") {
        let port = args[i + 1].parse().expect("port");
        bare::serve(port, PathBuf::from(&args[i + 2])).await;
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let duration = Duration::from_secs(if quick { 2 } else { 8 });
    let root = tempfile::tempdir().unwrap();
    println!(
        "imax-gateway load benchmark ({} per run, {} cores)",
        humantime(duration),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let mut engines = vec![Engine {
        name: "SQLite (bodies as files)",
        short: "SQLite",
        postgres: None,
        s3: None,
        bin: None,
    }];
    match std::env::var("IMAX_BENCH_POSTGRES") {
        Ok(base) => {
            engines.push(Engine {
                name: "PostgreSQL (bodies in the database)",
                short: "PG",
                postgres: Some(base.clone()),
                s3: None,
                bin: None,
            });
            if let Ok(endpoint) = std::env::var("IMAX_BENCH_S3") {
                let bucket = std::env::var("IMAX_BENCH_S3_BUCKET").expect("IMAX_BENCH_S3_BUCKET");
                engines.push(Engine {
                    name: "PostgreSQL + S3 (bodies in SeaweedFS)",
                    short: "PG+S3",
                    postgres: Some(base),
                    s3: Some((endpoint, bucket)),
                    bin: None,
                });
            }
        }
        Err(_) => println!(
            "(SQLite only: set IMAX_BENCH_POSTGRES (and IMAX_BENCH_S3, IMAX_BENCH_S3_BUCKET), or run scripts/bench, for PostgreSQL and S3 too)"
        ),
    }
    // `--engine sqlite|pg|pg+s3` (repeatable) runs only those.
    let only: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--engine")
        .map(|w| w[1].to_lowercase())
        .collect();
    if !only.is_empty() {
        engines.retain(|e| only.contains(&e.short.to_lowercase()));
        assert!(!engines.is_empty(), "no engine {only:?} to run");
    }
    // `IMAX_BENCH_BEFORE=<imax>`: each store's gateway also as that build (an earlier
    // commit's), in the same alternating rounds, to compare a change in one sitting.
    if let Ok(before) = std::env::var("IMAX_BENCH_BEFORE") {
        let earlier: Vec<Engine> = engines
            .iter()
            .map(|e| Engine {
                name: e.name,
                short: match e.short {
                    "SQLite" => "SQLite-before",
                    "PG" => "PG-before",
                    _ => "PG+S3-before",
                },
                postgres: e.postgres.clone(),
                s3: e.s3.clone(),
                bin: Some(before.clone()),
            })
            .collect();
        engines.extend(earlier);
    }
    let rows: i64 = args
        .iter()
        .position(|a| a == "--listing-rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let flag = |f: &str| args.iter().any(|a| a == f);
    // `--listing` and `--memory` run only these measurements, engine by engine.
    if flag("--listing") || flag("--memory") {
        for (n, engine) in engines.iter().enumerate() {
            println!("\n== {}", engine.name);
            let dir = root.path().join(format!("engine-{n}"));
            if flag("--listing") {
                listing(&dir.join("listing"), engine, duration, rows).await;
            } else {
                memory_while_receiving(&dir.join("memory"), engine).await;
            }
        }
        return;
    }
    // `--downloads`: only the CA's fetches and acknowledgements, every engine in alternating
    // rounds (with an earlier build's beside each under `IMAX_BENCH_BEFORE`).
    if flag("--downloads") {
        downloads::downloads(&root.path().join("downloads"), &engines, duration).await;
        return;
    }
    // Issue 29's figures: every engine beside the bare server in one run, then flat memory.
    let mut summary = side::Summary::default();
    println!(
        "\n== Side by side: {}",
        engines
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    // `--large`, `--kept-alive`, `--per-call`: only those steps (and no flat memory).
    let chosen = ["--large", "--kept-alive", "--per-call"].map(flag);
    let steps = if chosen.iter().any(|c| *c) {
        side::Steps {
            large: chosen[0],
            kept_alive: chosen[1],
            per_call: chosen[2],
        }
    } else {
        side::Steps {
            large: true,
            kept_alive: true,
            per_call: true,
        }
    };
    side::side_by_side(
        &root.path().join("side"),
        &engines,
        duration,
        steps,
        &mut summary,
    )
    .await;
    if !chosen.iter().any(|c| *c) && !flag("--side-by-side") {
        for (n, engine) in engines.iter().enumerate() {
            let dir = root.path().join(format!("memory-{n}"));
            side::flat_memory(&dir, engine, if quick { 2 } else { 4 }, &mut summary).await;
        }
    }
    summary.print();
    // `--matrix`: the load matrix (SendFile and GetMessage, 10 KiB and 1 MiB, c=1, 16, 64).
    if !flag("--matrix") {
        return;
    }
    for (n, engine) in engines.iter().enumerate() {
        println!("\n== {}", engine.name);
        let server = start(&root.path().join(format!("load-{n}")), engine).await;
        let pid = server.child.id();
        // The server's CPU time per request of a run that took `duration`.
        let per_request = |before: f64, s: &Stats| {
            (cpu_secs(pid) - before) / (s.rps * duration.as_secs_f64()).max(1.0) * 1e6
        };
        for (size, label) in [(10 * 1024, "10 KiB"), (1024 * 1024, "1 MiB")] {
            for c in [1, 16, 64] {
                let cpu = cpu_secs(pid);
                let (s, ids) = run_sends(&server, c, size, duration).await;
                let send_cpu = per_request(cpu, &s);
                line("SendFile", label, c, &s);
                let cpu = cpu_secs(pid);
                let g = run_gets(&server, c, Arc::new(ids), duration).await;
                let get_cpu = per_request(cpu, &g);
                line("GetMessage", label, c, &g);
                println!(
                    "  server CPU per request: SendFile {send_cpu:.0} µs, GetMessage {get_cpu:.0} µs ({:.2}×)",
                    get_cpu / send_cpu.max(1e-9)
                );
            }
        }
    }
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs())
}
