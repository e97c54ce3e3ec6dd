//! `TestApp`: a fresh gateway with the demo directory, a manual clock and ready clients.

use imax_gateway::admin::{self, Admin};
use imax_gateway::app::App;
use imax_gateway::client::{Content, Reply, S2sClient};
use imax_gateway::clock::{ManualClock, SharedClock};
use imax_gateway::config::Config;
use imax_gateway::store::Store;
use imax_gateway::tracs::{FileKind, Sample};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tempfile::TempDir;

/// People and mailboxes of `examples/demo-directory.toml`.
pub const SITE_USER: (&str, &str) = ("M10002", "Site-Manager-Pass-2");
pub const COORDINATOR: (&str, &str) = ("M10001", "Coordinator-Pass-1");
pub const NEW_HIRE: (&str, &str) = ("M10003", "New-Hire-Pass-3");
pub const CA_USER: (&str, &str) = ("M20001", "Contract-Admin-Pass-4");
pub const BUREAU_USER: (&str, &str) = ("M30001", "Bureau-Operator-Pass-5");
pub const MAPLE: (&str, &str) = ("TRACM10001", "Maple-Mailbox-2026");
pub const RIVERSIDE: (&str, &str) = ("TRACM10002", "River-Mailbox-2026");
pub const OAK_HILL: (&str, &str) = ("TRACM10003", "OakHill-Mailbox-2026");
pub const PBCA: (&str, &str) = ("TRACM20001", "Ca1-Mailbox-2026");
pub const TCA: (&str, &str) = ("TRACM20002", "Ca2-Mailbox-2026");
pub const HUD: (&str, &str) = ("TRACMPROD", "Hud-Mailbox-2026");
/// HUD's TRACS staff: an H-ID, the only kind of M-ID that opens TRACMPROD.
pub const HUD_STAFF: (&str, &str) = ("H20001", "Tracs-Staff-Pass-7");
/// HUD's supervisor who certifies HUD_STAFF (internal recertification).
pub const SUPERVISOR: (&str, &str) = ("H30001", "Supervisor-Pass-8");

/// RFC 3339 text of the clock's time moved by `secs`.
pub trait ClockText {
    fn now_after(&self, secs: i64) -> String;
}

impl ClockText for ManualClock {
    fn now_after(&self, secs: i64) -> String {
        use imax_gateway::clock::Clock;
        imax_gateway::clock::rfc3339(self.now() + time::Duration::seconds(secs))
    }
}

pub struct TestApp {
    pub app: Option<App>,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    pub config: Config,
    pub url: String,
    pub ca: PathBuf,
    pub admin: Admin,
    /// The test's own pool on the gateway's database (the gateway's is private): to read and
    /// to tamper as someone with database access would.
    pub db: sqlx::AnyPool,
}

/// A pool of its own on the database at `url`, as an intruder or an inspector would open one.
pub async fn raw_db(url: &str) -> sqlx::AnyPool {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .expect("the test's own database pool")
}

/// The engine every test runs on: SQLite in the data directory, or, when the test command sets
/// `IMAX_TEST_POSTGRES` (a superuser URL of its private cluster), a fresh, empty PostgreSQL
/// database per test. The test command runs the whole suite once per engine.
pub async fn test_database_url() -> String {
    let Ok(base) = std::env::var("IMAX_TEST_POSTGRES") else {
        return String::new();
    };
    create_database(&base, None).await
}

/// As [`test_database_url`], but on PostgreSQL already at this build's schema: a copy of a
/// template database the first test of the run migrates (the rest clone it, which takes a
/// fraction of running every migration again: the permission matrix starts hundreds of
/// gateways). The template is named after the migrations' contents, so an edited migration
/// makes a new one.
pub async fn migrated_test_database_url() -> String {
    let Ok(base) = std::env::var("IMAX_TEST_POSTGRES") else {
        return String::new();
    };
    let template = template_database(&base).await;
    create_database(&base, Some(&template)).await
}

async fn admin_connection(base: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(base)
        .await
        .expect("the test PostgreSQL cluster (IMAX_TEST_POSTGRES)")
}

fn database_url_named(base: &str, name: &str) -> String {
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{prefix}/{name}")
}

/// A new database, empty or a copy of `template`; its URL.
async fn create_database(base: &str, template: Option<&str>) -> String {
    use sqlx::Connection;
    let name = format!("imax_test_{}", hex::encode(rand_bytes()));
    let mut admin = admin_connection(base).await;
    let sql = match template {
        Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
        None => format!("CREATE DATABASE {name}"),
    };
    // A copy waits for the template's last session (its migration's) to be gone.
    let mut tries = 0;
    while let Err(e) = sqlx::query(&sql).execute(&mut admin).await {
        tries += 1;
        assert!(tries < 100, "create a test database: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = admin.close().await;
    database_url_named(base, &name)
}

/// The template at this build's schema, made once per cluster under an advisory lock (tests
/// run as separate processes).
async fn template_database(base: &str) -> String {
    use sha2::Digest;
    use sqlx::Connection;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut hash = sha2::Sha256::new();
    for f in &files {
        hash.update(std::fs::read(f).expect("migration"));
    }
    let name = format!("imax_template_{}", &hex::encode(hash.finalize())[..16]);
    let mut admin = admin_connection(base).await;
    sqlx::query("SELECT pg_advisory_lock(7141)")
        .execute(&mut admin)
        .await
        .expect("lock");
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .expect("look for the template")
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {building}"))
            .execute(&mut admin)
            .await
            .expect("drop a half-built template");
        sqlx::query(&format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .expect("create the template");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&database_url_named(base, &building), dir.path())
            .await
            .expect("migrate the template");
        store.close().await;
        // Renamed only once whole, so no test copies a half-migrated template.
        let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
        let mut tries = 0;
        while let Err(e) = sqlx::query(&rename).execute(&mut admin).await {
            tries += 1;
            assert!(tries < 100, "name the template: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let _ = sqlx::query("SELECT pg_advisory_unlock(7141)")
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    name
}

/// Where bodies go: with `IMAX_TEST_S3` (the endpoint of the one SeaweedFS the test command
/// starts, `scripts/private-s3.sh`; its bucket in `IMAX_TEST_S3_BUCKET`, credentials in the
/// standard `AWS_*` variables) and PostgreSQL, the bucket under a prefix named after the test's
/// own database, so that every test has its own and a node spawned on that database finds it;
/// otherwise where the engine keeps them (issue 29).
pub fn test_bodies(database_url: &str) -> imax_gateway::config::Bodies {
    let (Ok(endpoint), Some((_, database))) = (
        std::env::var("IMAX_TEST_S3"),
        database_url
            .strip_prefix("postgres://")
            .and_then(|u| u.rsplit_once('/')),
    ) else {
        return imax_gateway::config::Bodies::default();
    };
    let bucket = std::env::var("IMAX_TEST_S3_BUCKET").unwrap_or_else(|_| "imax-test".into());
    imax_gateway::config::Bodies {
        url: format!("s3://{bucket}/{database}"),
        s3_endpoint: endpoint,
        ..imax_gateway::config::Bodies::default()
    }
}

fn rand_bytes() -> [u8; 8] {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("random");
    b
}

pub fn test_config(dir: &Path) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    // Still argon2id, at a lower cost so that tests stay quick.
    config.argon2.memory_kib = 1024;
    config.argon2.iterations = 1;
    config.shutdown.grace_secs = 5;
    config.shutdown.drain_delay_secs = 0;
    config
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    /// A gateway whose clock starts on 2 March 2026, so that the 90-day rules can be walked
    /// through without crossing a new year (R21 asks for the Rules of Behavior yearly).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::start_at(time::macros::datetime!(2026-03-02 09:00 UTC), tweak).await
    }

    pub async fn start_at(start: time::OffsetDateTime, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        config.database_url = migrated_test_database_url().await;
        tweak(&mut config);
        if config.bodies.url.is_empty() {
            // After the tweak: a test that chose SQLite keeps its bodies beside it.
            config.bodies = test_bodies(&config.database_url);
        }
        let clock = Arc::new(ManualClock::new(start));
        // Provision first, through the same admin operations `imax admin import` uses.
        let store = Store::open(&config.database_url(), &config.data_dir)
            .await
            .and_then(|s| s.with_bodies(&config.bodies))
            .expect("store");
        let admin = Admin::new(store.clone(), clock.clone() as SharedClock, config.clone());
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-directory.toml");
        admin::import_file(&admin, &demo)
            .await
            .expect("demo directory imports");
        let app = App::start(config.clone(), clock.clone())
            .await
            .expect("gateway starts");
        let url = format!("https://localhost:{}", app.addr.port());
        // With a certificate of its own (tls.cert), a test brings its own trust.
        let ca = app
            .certs
            .dev_ca
            .clone()
            .unwrap_or_else(|| app.certs.cert.clone());
        let db = raw_db(&config.database_url()).await;
        TestApp {
            db,
            app: Some(app),
            clock,
            dir,
            config,
            url,
            ca,
            admin,
        }
    }

    pub fn app(&self) -> &App {
        self.app.as_ref().expect("running")
    }

    pub async fn client(&self, person: (&str, &str)) -> S2sClient {
        S2sClient::connect(&self.url, &self.ca, person.0, person.1)
            .await
            .expect("connects")
    }

    /// A client at another address (127.0.0.x): to the gateway, another peer.
    pub async fn client_from(&self, from: [u8; 4], person: (&str, &str)) -> S2sClient {
        S2sClient::connect_from(
            &self.url,
            &self.ca,
            person.0,
            person.1,
            Some(std::net::IpAddr::from(from)),
        )
        .await
        .expect("connects")
    }

    /// [`TestApp::send`] from another address (127.0.0.x).
    pub async fn send_from(
        &self,
        from: [u8; 4],
        person: (&str, &str),
        mailbox: (&str, &str),
        content: &[u8],
    ) -> Reply {
        let mut client = self.client_from(from, person).await;
        client.resend = true;
        send_on(&mut client, mailbox, None, content).await
    }

    /// Sends `content` from `mailbox` as `person`, marked as a deliberate resend: the tests
    /// that use this send the same few bytes again and again to test who may send, not what.
    /// (The duplicate rules are tested with [`TestApp::client`] directly.)
    pub async fn send(
        &self,
        person: (&str, &str),
        mailbox: (&str, &str),
        to: Option<&str>,
        content: &[u8],
    ) -> Reply {
        let mut client = self.client(person).await;
        client.resend = true;
        send_on(&mut client, mailbox, to, content).await
    }

    pub async fn list(&self, person: (&str, &str), mailbox: (&str, &str), folder: &str) -> Reply {
        list_reply(&mut self.client(person).await, mailbox, folder).await
    }

    pub async fn get(&self, person: (&str, &str), mailbox: (&str, &str), id: &str) -> Reply {
        get_reply(&mut self.client(person).await, mailbox, id).await
    }

    pub fn days(&self, n: i64) {
        self.clock.advance(time::Duration::days(n));
    }

    /// Starts the gateway again on the same data directory (after `stop`).
    pub async fn restart(&mut self) {
        self.stop().await;
        let app = App::start(self.config.clone(), self.clock.clone())
            .await
            .expect("gateway restarts");
        self.url = format!("https://localhost:{}", app.addr.port());
        self.app = Some(app);
    }

    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }
}

/// Asserts a reply is a Fault with this code and returns it.
#[track_caller]
pub fn assert_fault(r: &Reply, code: &str) -> imax_gateway::client::Fault {
    let f = r
        .fault
        .clone()
        .unwrap_or_else(|| panic!("expected fault {code}, got {r:?}"));
    assert_eq!(f.code, code, "{f:?}");
    assert_eq!(r.http_status, 500, "SOAP 1.1 faults travel with HTTP 500");
    assert!(f.message.ends_with('.'), "a sentence: {}", f.message);
    // Every fault names its request (for the support desk); the rest is compared by content.
    assert!(
        f.request_id.is_some(),
        "a fault without its request id: {f:?}"
    );
    imax_gateway::client::Fault {
        request_id: None,
        ..f
    }
}

/// Asserts a reply is exactly the refusal a wrong password gets (code, status, sentence): how
/// a locked or terminated M-ID answers whatever password is sent, so that it tells a guesser
/// nothing. The true state is in the directory (see [`account_status`]).
#[track_caller]
pub fn assert_as_wrong_password(r: &Reply) {
    let f = assert_fault(r, "AuthenticationFailed");
    assert_eq!(f.status, 401);
    assert_eq!(
        f.message,
        imax_gateway::error::Code::AuthenticationFailed.sentence()
    );
}

/// The directory's state of an M-ID.
pub async fn account_status(store: &Store, mid: &str) -> imax_gateway::directory::AccountStatus {
    store
        .accounts()
        .load(&imax_gateway::directory::MId::parse(mid).expect("mid"))
        .await
        .expect("db")
        .expect("account")
        .status
}

#[track_caller]
pub fn assert_ok(r: &Reply) {
    assert!(r.fault.is_none(), "unexpected fault {:?}", r.fault);
    assert_eq!(r.http_status, 200);
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// A valid TRACS tenant file for Maple Court (project and sender TRACM10001), built from the
/// gateway's layout tables, with `lines` certification records. Each call gets its own time
/// stamp, so that each is a new transmission (not a duplicate).
pub fn tenant_file(lines: usize) -> Vec<u8> {
    tracs_file(FileKind::Tenant, MAPLE.0, lines)
}

/// A valid TRACS file of `kind` for `project` (also its sender), a new transmission each call.
pub fn tracs_file(kind: FileKind, project: &str, lines: usize) -> Vec<u8> {
    tracs_file_from(kind, project, project, lines)
}

/// A valid TRACS file of `kind` about `project`, whose header names `sender` as Sender's iMAX
/// ID; a new transmission each call (its own time stamp).
pub fn tracs_file_from(kind: FileKind, project: &str, sender: &str, lines: usize) -> Vec<u8> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Sample {
        time: format!("{:02}{:02}{:02}", (n / 3600) % 24, (n / 60) % 60, n % 60),
        records_per_batch: lines,
        sender: sender.into(),
        ..Sample::new(kind, project)
    }
    .build()
}

/// Stored bodies (uploads in progress not counted), whichever the engine keeps them in.
pub async fn stored_bodies(store: &Store) -> usize {
    store.bodies.keys().await.expect("body keys").len()
}

/// Uploads in progress (staging files, or listed database uploads) once the cleanup a refused
/// request starts has had up to five seconds to finish.
pub async fn settled_uploads(store: &Store) -> u64 {
    let mut n = 0;
    for _ in 0..100 {
        n = store.bodies.uploads_in_progress().await.expect("uploads");
        if n == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    n
}

/// Ages every listed database upload by two hours, as if its node had stopped long ago
/// (the sweep measures age with the database's clock, which tests cannot move).
pub async fn age_uploads(db: &sqlx::AnyPool) {
    sqlx::query("UPDATE body_uploads SET touched_at = touched_at - 7200")
        .execute(db)
        .await
        .expect("age uploads");
}

/// A SendFile from SITE_USER's Maple mailbox whose body the test feeds through the returned
/// sender (base64 text); the prefix (credentials and the opening of `content`) is sent at once.
pub async fn open_upload(
    url: &str,
    ca: &Path,
    file_name: &str,
) -> (Upload, tokio::sync::mpsc::Sender<bytes::Bytes>) {
    use http_body_util::BodyExt;
    use imax_gateway::s2s::envelope::{SOAP_ENV, TNS, WSSE};
    let mut c = S2sClient::connect(url, ca, SITE_USER.0, SITE_USER.1)
        .await
        .expect("connect");
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(hyper::body::Frame::data(b)), rx))
    });
    let body = http_body_util::StreamBody::new(stream).boxed();
    let upload = tokio::spawn(async move { c.post_body(body).await });
    let (mid, pw, mb, mpw) = (SITE_USER.0, SITE_USER.1, MAPLE.0, MAPLE.1);
    let prefix = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\"><soap:Header><wsse:Security xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken><wsse:Username>{mid}</wsse:Username><wsse:Password>{pw}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><t:SendFile><t:mailbox>{mb}</t:mailbox><t:mailboxPassword>{mpw}</t:mailboxPassword><t:fileName>{file_name}</t:fileName><t:content>"
    );
    tx.send(bytes::Bytes::from(prefix)).await.expect("send");
    (upload, tx)
}

pub type Upload =
    tokio::task::JoinHandle<Result<imax_gateway::client::Reply, imax_gateway::client::ClientError>>;

/// A gateway as a real `imax serve` process (wall clock, cheap argon2) on a port of its own, killed
/// with SIGKILL when dropped. The data directory must hold its TLS files (`tls/`).
pub struct Node {
    child: std::process::Child,
    pub url: String,
}

impl Node {
    pub async fn spawn(data_dir: &Path, database_url: &str) -> Node {
        Self::spawn_with(data_dir, database_url, &[]).await
    }

    /// [`Node::spawn`] with further settings in the environment (`IMAX_…`).
    pub async fn spawn_with(data_dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Node {
        Self::spawn_logged(data_dir, database_url, env, None).await
    }

    /// [`Node::spawn_with`], its log (standard error) written to `log`.
    pub async fn spawn_logged(
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Node {
        Self::spawn_at(0, data_dir, database_url, env, log).await
    }

    /// [`Node::spawn_logged`] on a chosen port, 0 for one the node's own listener picks (no
    /// port is chosen for it, freed and reused, so no other process can take it meanwhile);
    /// a fixed port is for a node restarted where a balancer expects it. Returns once the node
    /// listens: it says where on its standard output.
    pub async fn spawn_at(
        port: u16,
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Node {
        use tokio::io::AsyncBufReadExt;
        let stderr = match log {
            Some(path) => std::process::Stdio::from(std::fs::File::create(path).expect("log file")),
            None => std::process::Stdio::null(),
        };
        let mut child = Self::command(data_dir, database_url, port)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn imax serve");
        let stdout = child.stdout.take().expect("stdout");
        let stdout = tokio::process::ChildStdout::from_std(stdout).expect("async stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix("imax-gateway listening on https://") {
                    return addr.parse::<std::net::SocketAddr>().ok();
                }
            }
            None
        })
        .await;
        let Ok(Some(addr)) = listening else {
            let _ = child.kill();
            panic!("imax serve did not say where it listens (it stopped, or took over 60 s)");
        };
        // The rest of its standard output, read so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node {
            child,
            url: format!("https://localhost:{}", addr.port()),
        }
    }

    /// The port the node listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    pub fn command(data_dir: &Path, database_url: &str, port: u16) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_imax"));
        c.arg("serve")
            .env("IMAX_LISTEN", format!("127.0.0.1:{port}"))
            .env("IMAX_DATA_DIR", data_dir)
            .env("IMAX_DATABASE_URL", database_url)
            .env("IMAX_ARGON2_MEMORY_KIB", "1024")
            .env("IMAX_ARGON2_ITERATIONS", "1");
        let bodies = test_bodies(database_url);
        c.env("IMAX_BODIES_URL", bodies.url)
            .env("IMAX_BODIES_S3_ENDPOINT", bodies.s3_endpoint);
        c
    }

    /// A client for `person`, once the node answers (up to ten seconds).
    pub async fn client(&self, ca: &Path, person: (&str, &str)) -> S2sClient {
        for _ in 0..200 {
            if let Ok(c) = S2sClient::connect(&self.url, ca, person.0, person.1).await {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("gateway node {} did not come up", self.url);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of the process's `/proc/PID/status` in KiB (`VmRSS:`, `VmHWM:`).
    pub fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("proc status")
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("field")
    }

    /// The process's CPU time so far (user + system), in seconds.
    pub fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 =
            f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
        ticks / 100.0
    }

    /// SIGTERM: the node drains and stops by itself (see [`Node::wait`]).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `limit`; whether it did.
    pub async fn wait(&mut self, limit: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    /// SIGKILL: no shutdown, no draining, no clean-stop mark.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Varied bytes, different per `seed`, of any length (not a multiple of any chunk size unless
/// asked).
pub fn payload(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// One HTTP/1.1 request to a test gateway over a fresh TLS connection: the status, the
/// response's headers and its body as text.
pub async fn https_request(
    t: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, hyper::HeaderMap, String) {
    use http_body_util::BodyExt;
    let tls = tls_to(t.app().addr, &t.ca, b"http/1.1", None)
        .await
        .expect("tls");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .expect("http1");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("localhost:{}", t.app().addr.port()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(
            req.body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .expect("request"),
        )
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A loopback port free at the time of asking, for third-party servers (HAProxy) that cannot
/// be handed a listener or asked for the port they took, a gateway whose public URL names its
/// port, or an address nobody listens on. Gateways otherwise pick their own (`Node`).
///
/// Chosen below Linux's ephemeral range (32768–60999), where every bind to port 0 and every
/// outgoing connection of the other tests lands: a port from that range could be taken between
/// this check and its use (a test failed so, `AddrInUse`); one below it only by another caller
/// of this, at random among 12,000.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let mut b = [0u8; 2];
        getrandom::getrandom(&mut b).expect("random");
        let port = 20_000 + u16::from_le_bytes(b) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between 20000 and 32000");
}

/// The current wall-clock time in whole seconds, for a `TestApp` whose directory real
/// `imax serve` processes (on the wall clock) take over.
pub fn wall_clock_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("whole seconds")
}

/// Sends `content` as `TENANT.DAT` from `mailbox` (to `to`, or where it is routed) on
/// `client`'s connection (its `resend` mark as the caller set it).
pub async fn send_on(
    client: &mut S2sClient,
    mailbox: (&str, &str),
    to: Option<&str>,
    content: &[u8],
) -> Reply {
    client
        .send_file(
            mailbox.0,
            mailbox.1,
            to,
            "TENANT.DAT",
            Content::Bytes(content.to_vec()),
            None,
        )
        .await
        .expect("reply")
}

/// Lists a mailbox folder through `client`: the reply, whatever it is.
pub async fn list_reply(client: &mut S2sClient, mailbox: (&str, &str), folder: &str) -> Reply {
    client
        .call(
            "ListMessages",
            &[
                ("mailbox", mailbox.0),
                ("mailboxPassword", mailbox.1),
                ("folder", folder),
            ],
        )
        .await
        .expect("list")
}

/// Lists a mailbox folder through `client` and returns the message IDs.
pub async fn list_ids(client: &mut S2sClient, mailbox: (&str, &str), folder: &str) -> Vec<String> {
    let r = list_reply(client, mailbox, folder).await;
    assert_ok(&r);
    r.all("messageId").into_iter().map(String::from).collect()
}

/// Fetches a message through `client`: the reply, whatever it is.
pub async fn get_reply(client: &mut S2sClient, mailbox: (&str, &str), id: &str) -> Reply {
    client
        .call(
            "GetMessage",
            &[
                ("mailbox", mailbox.0),
                ("mailboxPassword", mailbox.1),
                ("messageId", id),
            ],
        )
        .await
        .expect("get")
}

/// Fetches a message through `client`, asserting the body matches the SHA-256 sent with it.
pub async fn fetch_whole(client: &mut S2sClient, mailbox: (&str, &str), id: &str) -> Vec<u8> {
    let got = get_reply(client, mailbox, id).await;
    assert_ok(&got);
    let content = got.content().expect("content");
    assert_eq!(Some(sha256_hex(&content).as_str()), got.get("sha256"));
    content
}

/// A send's bytes and the reply it got.
pub type SendTask =
    tokio::task::JoinHandle<(Vec<u8>, Result<Reply, imax_gateway::client::ClientError>)>;

/// The (message ID, SHA-256) of every upload among `tasks` that got a receipt.
pub async fn receipts_of(tasks: Vec<SendTask>) -> Vec<(String, String)> {
    let mut receipts = Vec::new();
    for task in tasks {
        if let Ok((data, Ok(r))) = task.await {
            if r.fault.is_none() {
                assert_eq!(r.get("sha256"), Some(sha256_hex(&data).as_str()));
                receipts.push((
                    r.get("messageId").expect("id").to_string(),
                    sha256_hex(&data),
                ));
            }
        }
    }
    receipts
}

/// A second data directory for node B, with node A's TLS files (both sit behind one name).
pub fn second_data_dir(a: &std::path::Path) -> tempfile::TempDir {
    let b = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(b.path().join("tls")).expect("tls dir");
    for f in ["server.pem", "server.key", "dev-ca.pem", "dev-expires-at"] {
        std::fs::copy(a.join("tls").join(f), b.path().join("tls").join(f)).expect("copy tls");
    }
    b
}

/// A TCP connection to `to` from a chosen loopback address (127.0.0.0/8 is all ours), or
/// from the default one.
pub async fn tcp_from(
    to: std::net::SocketAddr,
    from: Option<std::net::IpAddr>,
) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if let Some(from) = from {
        socket
            .bind(std::net::SocketAddr::new(from, 0))
            .expect("bind");
    }
    socket.connect(to).await.expect("connect")
}

/// A TLS connection to a test gateway (its development CA trusted) speaking `alpn`
/// (`h2` or `http/1.1`), the handshake done.
pub async fn tls_to(
    to: std::net::SocketAddr,
    ca: &Path,
    alpn: &[u8],
    from: Option<std::net::IpAddr>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut config = (*imax_gateway::tls::client_config(ca).expect("ca")).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tcp_from(to, from).await;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// Waits until `condition` holds, checking every 20 ms, for at most `limit`; panics naming
/// `what` when it never does. Tests wait on what they need, never for a fixed time.
pub async fn wait_until<F, Fut>(what: &str, limit: std::time::Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = std::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            std::time::Instant::now() < until,
            "waited {limit:?} in vain for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A SendFile of `content` from SITE_USER's Maple Court mailbox to the PBCA on a connection of
/// its own, spawned (a deliberate resend, so that equal contents are not duplicates).
pub fn spawn_send(
    t: &TestApp,
    file_name: &'static str,
    content: Vec<u8>,
) -> tokio::task::JoinHandle<Reply> {
    let (url, ca) = (t.url.clone(), t.ca.clone());
    tokio::spawn(async move {
        let mut c = S2sClient::connect(&url, &ca, SITE_USER.0, SITE_USER.1)
            .await
            .expect("connect");
        c.resend = true;
        c.send_file(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            file_name,
            imax_gateway::client::Content::Bytes(content),
            None,
        )
        .await
        .expect("reply")
    })
}

/// `imax ARGS…` as an operator runs it beside a (stopped) gateway: its data directory and
/// database from the environment; (success, stdout and stderr).
pub fn imax_offline(t: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imax"))
        .args(args)
        .env("IMAX_DATA_DIR", &t.config.data_dir)
        .env("IMAX_DATABASE_URL", t.config.database_url())
        .output()
        .expect("imax");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
