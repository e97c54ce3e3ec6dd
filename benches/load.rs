//! Load benchmark: starts a real `imax serve` process (release build, durable storage, default
//! argon2 parameters) on a fresh data directory with the demo directory, then reports
//!
//! * the server's peak memory growth while it receives one 100 MiB file;
//! * SendFile and GetMessage requests per second and p50/p99 latency at concurrency 1, 16 and
//!   64, for 10 KiB and 1 MiB files.
//!
//! once per database engine: SQLite (bodies as files), and PostgreSQL (bodies in the database)
//! when `IMAX_BENCH_POSTGRES` names a server the benchmark may create a database on.
//!
//! Run: `scripts/bench` (starts a private PostgreSQL cluster, durable settings, and runs both
//! engines in one go), or `cargo bench --bench load` for SQLite alone; add `--quick` for a
//! short run. Each worker keeps one HTTP/1.1 connection, as vendor software does.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use imax_gateway::client::{Content, S2sClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SITE_USER: (&str, &str) = ("M10002", "Site-Manager-Pass-2");
const CA_USER: (&str, &str) = ("M20001", "Contract-Admin-Pass-4");
const MAPLE: (&str, &str) = ("TRACM10001", "Maple-Mailbox-2026");
const PBCA: (&str, &str) = ("TRACM20001", "Ca1-Mailbox-2026");

struct Server {
    child: Child,
    url: String,
    ca: PathBuf,
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
    postgres: Option<String>,
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

fn imax(dir: &Path, database_url: &str, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imax"));
    // The gateway refuses IMAX_* variables that are not settings.
    c.env_remove("IMAX_BENCH_POSTGRES")
        .env("IMAX_DATA_DIR", dir)
        .env("IMAX_DATABASE_URL", database_url)
        .env("IMAX_LISTEN", format!("127.0.0.1:{port}"))
        .env("IMAX_LOG", "warn")
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
    let status = imax(dir, &database_url, port)
        .args(["admin", "import"])
        .arg(demo)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "import failed");
    let child = imax(dir, &database_url, port)
        .arg("serve")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("https://localhost:{port}"),
        ca: dir.join("tls/dev-ca.pem"),
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
    let path = dir.join("big.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let block: Vec<u8> = (0..1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        for _ in 0..100 {
            f.write_all(&block).unwrap();
        }
    }
    let t = Instant::now();
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "BIG.BIN",
            Content::File(path.clone()),
            None,
        )
        .await
        .unwrap();
    let took = t.elapsed();
    assert!(r.fault.is_none(), "{:?}", r.fault);
    let peak = status_kib(pid, "VmHWM:");
    println!(
        "memory: RSS before {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB while receiving 100 MiB ({:.0} MiB/s)",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(before) as f64 / 1024.0,
        100.0 / took.as_secs_f64()
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
        tasks.push(tokio::spawn(async move {
            let mut c = S2sClient::connect(&url, &ca, SITE_USER.0, SITE_USER.1)
                .await
                .unwrap();
            let (mut lat, mut ids, mut errors) = (Vec::new(), Vec::new(), 0);
            while start.elapsed() < duration {
                let t = Instant::now();
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
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    stats(lat, start.elapsed(), errors)
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
        postgres: None,
    }];
    match std::env::var("IMAX_BENCH_POSTGRES") {
        Ok(base) => engines.push(Engine {
            name: "PostgreSQL (bodies in the database)",
            postgres: Some(base),
        }),
        Err(_) => println!(
            "(SQLite only: set IMAX_BENCH_POSTGRES, or run scripts/bench, for PostgreSQL too)"
        ),
    }
    // `--engine sqlite` or `--engine postgres` runs one of them.
    let args: Vec<String> = std::env::args().collect();
    if let Some(only) = args
        .iter()
        .position(|a| a == "--engine")
        .and_then(|i| args.get(i + 1))
    {
        engines.retain(|e| e.name.to_lowercase().starts_with(only.as_str()));
        assert!(!engines.is_empty(), "no engine {only} to run");
    }
    for (n, engine) in engines.iter().enumerate() {
        println!("\n== {}", engine.name);
        let dir = root.path().join(format!("engine-{n}"));
        memory_while_receiving(&dir.join("memory"), engine).await;
        let server = start(&dir.join("load"), engine).await;
        for (size, label) in [(10 * 1024, "10 KiB"), (1024 * 1024, "1 MiB")] {
            for c in [1, 16, 64] {
                let (s, ids) = run_sends(&server, c, size, duration).await;
                line("SendFile", label, c, &s);
                let g = run_gets(&server, c, Arc::new(ids), duration).await;
                line("GetMessage", label, c, &g);
            }
        }
    }
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs())
}
