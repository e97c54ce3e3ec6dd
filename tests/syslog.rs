//! Issue 30 item 2: the audit chain forwarded to a real syslog collector (Debian's rsyslog,
//! started by each test with a private configuration on a free port, writing what it receives
//! to a file), in RFC 5424 over TCP (RFC 6587 octet counting) and UDP; a collector down then
//! up gets every record written meanwhile, none lost and none twice (over TCP).

use crate::helpers::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A private rsyslogd: TCP and UDP on one port, every message's raw text a line of a file.
pub struct Collector {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<std::process::Child>,
}

fn rsyslogd() -> PathBuf {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("rsyslogd (Debian's rsyslog; ./scripts/test installs it)")
}

impl Collector {
    pub async fn start() -> Collector {
        let mut c = Collector {
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
        };
        c.up().await;
        c
    }

    fn messages(&self) -> PathBuf {
        self.dir.path().join("messages")
    }

    /// Starts rsyslogd (again, on the same port) and waits until it accepts connections.
    pub async fn up(&mut self) {
        let d = self.dir.path().display();
        let conf = format!(
            "global(workDirectory=\"{d}\")\n\
             module(load=\"imtcp\")\nmodule(load=\"imudp\")\n\
             input(type=\"imtcp\" port=\"{p}\" address=\"127.0.0.1\")\n\
             input(type=\"imudp\" port=\"{p}\" address=\"127.0.0.1\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             *.* action(type=\"omfile\" file=\"{m}\" template=\"raw\")\n",
            p = self.port,
            m = self.messages().display()
        );
        let conf_file = self.dir.path().join("rsyslog.conf");
        std::fs::write(&conf_file, conf).expect("config");
        let child = std::process::Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(&conf_file)
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rsyslogd");
        self.child = Some(child);
        let port = self.port;
        wait_until(
            "rsyslogd to listen",
            Duration::from_secs(20),
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            },
        )
        .await;
    }

    /// Stops rsyslogd (SIGTERM) and waits for it to end: its connections are closed.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Every message received so far, one a line: only whole lines, as the collector may be
    /// writing the last one while it is read.
    pub fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.messages()).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole.lines().map(str::to_string).collect()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.down();
    }
}

/// The `seq` of each message received, and how often it came.
fn seqs(lines: &[String]) -> HashMap<i64, usize> {
    let mut seen = HashMap::new();
    for l in lines {
        let seq = l
            .split("seq=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("no seq in {l}"));
        *seen.entry(seq).or_default() += 1;
    }
    seen
}

/// The chain's records: sequence number, hash, action, actor and outcome.
async fn chain(t: &TestApp) -> Vec<(i64, String, String, String, String)> {
    sqlx::query_as("SELECT seq, hash, action, actor, outcome FROM audit_log ORDER BY seq")
        .fetch_all(&t.db)
        .await
        .expect("chain")
}

/// Waits until the collector holds every record of the chain.
async fn everything_arrived(t: &TestApp, c: &Collector) {
    let head = chain(t).await.len() as i64;
    wait_until(
        "every record at the collector",
        Duration::from_secs(30),
        || async move { (1..=head).all(|s| seqs(&c.lines()).contains_key(&s)) },
    )
    .await;
}

/// A metric's value from the gateway's `/metrics`.
async fn metric(t: &TestApp, name: &str) -> f64 {
    let (status, _, page) = https_request(t, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(status, 200);
    page.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every record reaches the collector in RFC 5424 with its chain position and fields; with the
/// collector down the records wait in the chain (the lag shows them), and once it is back every
/// one arrives, in order, none twice.
#[tokio::test]
async fn every_record_reaches_a_real_collector_over_tcp_none_lost_none_twice() {
    let mut c = Collector::start().await;
    let port = c.port;
    let t = TestApp::start_with(|cfg| {
        cfg.audit.syslog = format!("tcp://127.0.0.1:{port}");
        cfg.audit.syslog_retry_max_secs = 1;
    })
    .await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(3)).await);
    everything_arrived(&t, &c).await;
    let records = chain(&t).await;
    let lines = c.lines();
    for (seq, hash, action, actor, outcome) in &records {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("seq=\"{seq}\" ")))
            .expect("the record's message");
        // <PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID [SD] (RFC 5424), facility 13 (log audit).
        let pri = if outcome == "ok" {
            "<110>1 "
        } else {
            "<109>1 "
        };
        assert!(line.starts_with(pri), "{line}");
        let fields: Vec<&str> = line.splitn(7, ' ').collect();
        assert!(
            fields[1].ends_with('Z') && fields[1].contains('T'),
            "{line}"
        );
        assert_eq!(fields[3], "imax", "{line}");
        assert_eq!(fields[5], action, "{line}");
        assert!(fields[6].starts_with("[imax@32473 "), "{line}");
        for want in [
            format!("hash=\"{hash}\""),
            format!("action=\"{action}\""),
            format!("actor=\"{actor}\""),
            format!("outcome=\"{outcome}\""),
        ] {
            assert!(line.contains(&want), "{want}: {line}");
        }
    }
    let send = lines
        .iter()
        .find(|l| l.contains("action=\"SendFile\""))
        .expect("the SendFile record");
    assert!(send.contains("actor=\"M10002\"") && send.contains("mailbox=\"TRACM10001\""));
    assert!(!lines
        .iter()
        .any(|l| l.contains(SITE_USER.1) || l.contains(MAPLE.1)));
    assert!(metric(&t, "imax_audit_forwarded_total").await >= records.len() as f64);

    // The collector goes away; records go on being written, and wait in the chain.
    c.down();
    for i in 0..3 {
        assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(4 + i)).await);
    }
    let head = chain(&t).await.len() as i64;
    let waiting = head - records.len() as i64;
    assert!(waiting > 0);
    let t_ = &t;
    wait_until("the lag to show", Duration::from_secs(10), || async move {
        metric(t_, "imax_audit_forward_lag").await >= waiting as f64
    })
    .await;
    assert!(metric(&t, "imax_audit_forward_failures_total").await >= 1.0);

    // Back: every record written meanwhile arrives; none was lost and none came twice.
    c.up().await;
    everything_arrived(&t, &c).await;
    let seen = seqs(&c.lines());
    assert_eq!(seen.len() as i64, head, "{seen:?}");
    assert!(
        seen.values().all(|n| *n == 1),
        "a record came twice: {seen:?}"
    );
    wait_until("no lag", Duration::from_secs(10), || async move {
        metric(t_, "imax_audit_forward_lag").await == 0.0
    })
    .await;
    // The cursor beside the checkpoints names the last record forwarded.
    let cursor =
        std::fs::read_to_string(t.config.data_dir.join("audit-syslog-cursor")).expect("the cursor");
    assert!(cursor.starts_with(&format!("{head} ")), "{cursor}");
}

/// Over UDP each record is one datagram in RFC 5424.
#[tokio::test]
async fn records_reach_a_real_collector_over_udp() {
    let c = Collector::start().await;
    let port = c.port;
    let t = TestApp::start_with(|cfg| cfg.audit.syslog = format!("udp://127.0.0.1:{port}")).await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(3)).await);
    everything_arrived(&t, &c).await;
    assert!(c
        .lines()
        .iter()
        .any(|l| l.starts_with("<110>1 ") && l.contains(" SendFile [imax@32473 seq=\"")));
    let _ = c.dir();
}

/// A forwarder restarted resumes from its cursor: the records it sent before are not sent
/// again, the ones written while it was stopped follow, in order, over several batches.
#[tokio::test]
async fn a_restarted_gateway_resumes_from_its_cursor() {
    let c = Collector::start().await;
    let port = c.port;
    let mut t = TestApp::start_with(|cfg| {
        cfg.audit.syslog = format!("tcp://127.0.0.1:{port}");
        cfg.audit.syslog_retry_max_secs = 1;
    })
    .await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, &tenant_file(3)).await);
    everything_arrived(&t, &c).await;
    t.stop().await;
    // Written while no gateway runs (the command line's administration): more records than
    // one batch of the forwarder (500).
    for i in 0..510 {
        t.admin
            .post_broadcast("Maintenance", &format!("Saturday night, notice {i}"))
            .await
            .expect("posted");
    }
    t.restart().await;
    everything_arrived(&t, &c).await;
    let seen = seqs(&c.lines());
    assert!(
        seen.values().all(|n| *n == 1),
        "a record came twice: {seen:?}"
    );
}

/// The acceptance setting from the environment (`IMAX_AUDIT_SYSLOG`) on a real `imax serve`:
/// records reach the collector; the node killed (SIGKILL) and records written meanwhile, a new
/// node resumes from the cursor: every record once.
#[tokio::test]
async fn a_real_node_forwards_by_the_environment_and_resumes_after_a_kill() {
    let c = Collector::start().await;
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let url = t.config.database_url();
    let target = format!("tcp://127.0.0.1:{}", c.port);
    let env = [
        ("IMAX_AUDIT_SYSLOG", target.as_str()),
        ("IMAX_AUDIT_SYSLOG_RETRY_MAX_SECS", "1"),
    ];
    let mut node = Node::spawn_with(t.dir.path(), &url, &env).await;
    let mut client = node.client(&t.ca, SITE_USER).await;
    let _ = list_reply(&mut client, MAPLE, "Inbox").await;
    everything_arrived(&t, &c).await;
    node.kill();
    t.admin
        .post_broadcast("Maintenance", "Saturday night")
        .await
        .expect("posted");
    let _node = Node::spawn_with(t.dir.path(), &url, &env).await;
    everything_arrived(&t, &c).await;
    let seen = seqs(&c.lines());
    assert_eq!(seen.len(), chain(&t).await.len());
    assert!(
        seen.values().all(|n| *n == 1),
        "a record came twice: {seen:?}"
    );
    assert!(c
        .lines()
        .iter()
        .any(|l| l.contains("action=\"PostBroadcast\"")));
}
