//! Typed configuration: embedded defaults, then a TOML file, then `IMAX_*` environment variables.
//!
//! Every key is documented in [`EXAMPLE`] (printed by `imax config example`). Unknown keys are
//! refused, so a misspelt setting never silently falls back to a default. An environment variable
//! names a key by its path in upper case with `_` between section and key: `IMAX_LISTEN`,
//! `IMAX_LIMITS_MAX_FILE_BYTES`, `IMAX_ACCOUNTS_FAILED_SIGNIN_LIMIT`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod accounts;
mod ledger;
mod load;
mod notifications;
mod receipts;
mod sandbox;
mod scan;
mod syslog;
#[cfg(test)]
mod tests;
mod values;
pub use accounts::{AccountPolicy, SecondFactorGroup};
pub use ledger::Ledger;
pub use load::{redacted_url, ConfigError};
pub use notifications::Notifications;
pub use receipts::Receipts;
pub use sandbox::Sandbox;
pub use scan::{ClamdAddr, Scan};
pub use syslog::{SyslogTarget, SyslogTransport};
pub use values::{
    Engine, SmtpConfig, StartTls, TrustedProxies, POSTGRES_SESSIONS, REMEMBERED_CALLERS,
};

/// The commented example configuration, which is also the documentation of every setting.
pub const EXAMPLE: &str = include_str!("../../examples/imax.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: String,
    pub tls: TlsConfig,
    pub limits: Limits,
    pub accounts: AccountPolicy,
    pub throttle: Throttle,
    pub argon2: Argon2Config,
    pub shutdown: Shutdown,
    pub smtp: SmtpConfig,
    pub web: Web,
    pub tracs: Tracs,
    pub history: History,
    pub audit: Audit,
    pub ops: Ops,
    pub balancer: Balancer,
    pub log: Log,
    pub bodies: Bodies,
    pub scan: Scan,
    pub notifications: Notifications,
    pub sandbox: Sandbox,
    pub receipts: Receipts,
    pub ledger: Ledger,
}

/// Where message bodies live when not where the engine puts them (issue 29).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bodies {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`: an S3-compatible bucket (PostgreSQL only);
    /// empty: files beside SQLite, the database itself on PostgreSQL.
    pub url: String,
    /// The S3 service's URL (`http://127.0.0.1:8333` for SeaweedFS); empty: AWS.
    pub s3_endpoint: String,
    /// MiB per part of a multipart upload (S3's minimum is 5, its maximum 5,120).
    pub s3_part_mib: usize,
    /// Parts of one upload already sent whose answer from the bucket may be awaited while the
    /// next part streams. An upload holds one part in memory whatever this and the file's size.
    pub s3_parts_in_flight: usize,
}

impl Default for Bodies {
    fn default() -> Bodies {
        Bodies {
            url: String::new(),
            s3_endpoint: String::new(),
            s3_part_mib: 5,
            s3_parts_in_flight: 1,
        }
    }
}

/// A TCP (TLS-passthrough) balancer in front of the nodes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Balancer {
    /// Addresses or networks (comma-separated) whose connections begin with a PROXY protocol
    /// header naming the real client (`server::proxy`); empty: none.
    pub proxy_protocol_from: String,
}

/// How the gateway logs (`IMAX_LOG` filters what).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
}

/// `log.format`: lines of text for people, or one JSON object a line for a log pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What operators and balancers reach (see `ops`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ops {
    /// Bearer token for `GET /metrics`; empty: loopback clients only.
    pub metrics_token: String,
}

/// The audit chain's signed checkpoints (see `audit::checkpoint`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// The signing key in hex (64 digits), usually from `IMAX_AUDIT_KEY`; empty: `key_file`.
    pub key: String,
    /// The key's file; empty: `<data_dir>/audit.key`, created on first start.
    pub key_file: String,
    /// Where this node appends its checkpoints; empty: `<data_dir>/audit-checkpoints`.
    pub checkpoint_file: String,
    /// Seconds between checkpoints: records newer than the last one are not yet protected.
    pub checkpoint_secs: u64,
    /// Refused password attempts (wrong passwords, unknown IDs) recorded one by one per client
    /// address (or IPv6 prefix) and window; beyond it, the window's further refusals from that
    /// client become one summary record when the window ends, so that a stranger's flood
    /// cannot grow the permanent audit log without bound.
    pub failures_recorded_per_client: u32,
    /// The window of `failures_recorded_per_client`, in seconds.
    pub failure_window_secs: u64,
    /// Clients tracked at once in a window; further clients' refusals count in one summary.
    pub failure_clients_tracked: usize,
    /// `udp://HOST:PORT` or `tcp://HOST:PORT`: every record is forwarded there in RFC 5424
    /// (`syslog`); empty: none.
    pub syslog: String,
    /// The forwarder's cursor (the last record forwarded); empty: beside the checkpoint file.
    pub syslog_cursor_file: String,
    /// The longest wait between attempts while the collector is unreachable, in seconds.
    pub syslog_retry_max_secs: u64,
    /// The most records one search (`imax audit search`, the Help Desk's page) returns.
    pub search_max_records: u32,
}

impl Audit {
    /// The collector `syslog` names, if any (checked when the configuration loads).
    pub fn syslog_target(&self) -> Option<SyslogTarget> {
        SyslogTarget::parse(&self.syslog).ok().flatten()
    }
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            key: String::new(),
            key_file: String::new(),
            checkpoint_file: String::new(),
            checkpoint_secs: 60,
            failures_recorded_per_client: 20,
            failure_window_secs: 300,
            failure_clients_tracked: 10_000,
            syslog: String::new(),
            syslog_cursor_file: String::new(),
            syslog_retry_max_secs: 30,
            search_max_records: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert: String,
    pub key: String,
    pub handshake_timeout_secs: u64,
    /// Seconds between checks whether the certificate's files changed (SIGHUP reloads at once).
    pub reload_check_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_envelope_bytes: usize,
    /// Open connections in all; at the cap the longest-idle connection is closed for a new one.
    pub max_connections: usize,
    /// Open connections from one client (an IPv4 address, or an IPv6 /64).
    pub max_connections_per_client: usize,
    /// From accept to the first complete request head (TLS handshake included), and from the
    /// first byte of each later HTTP/1.1 request head to its end.
    pub header_read_timeout_secs: u64,
    /// Longest pause inside a request body.
    pub body_idle_timeout_secs: u64,
    /// Slowest request body accepted, on average: after `body_rate_grace_secs`, a body must
    /// have arrived at this many bytes per second of waiting for it.
    pub body_min_rate_bytes_per_sec: u64,
    pub body_rate_grace_secs: u64,
    /// An idle connection (no request in flight) is closed after this long.
    pub keepalive_timeout_secs: u64,
    /// Longest time a response may wait on a client that does not take it: a write to a
    /// client that does not read, or one chunk of a response body (an HTTP/2 client keeping
    /// its window closed: the stream is reset; HTTP/1.1: the connection is closed).
    pub send_timeout_secs: u64,
    /// A connection whose every response has waited this long on its client counts as idle
    /// when the gateway is full: it is closed for a new client, after the idle ones.
    pub send_stall_secs: u64,
    /// Largest request head (HTTP/1.1) or header list (HTTP/2), in bytes.
    pub max_header_bytes: usize,
    /// Concurrent requests (streams) on one HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 keep-alive: a PING after this long without frames, and the connection is closed
    /// when its answer takes longer than `h2_keepalive_timeout_secs`.
    pub h2_keepalive_interval_secs: u64,
    pub h2_keepalive_timeout_secs: u64,
    /// Largest form a page accepts (sign-in, settings); uploads have `max_file_bytes`.
    pub max_form_bytes: usize,
    /// Free space (MiB) the data directory's filesystem keeps: below it new uploads are
    /// refused (`StorageFull`), so the database always has room for its own writes.
    pub min_free_disk_mb: u64,
    pub page_size: u32,
    /// PostgreSQL sessions a node opens for its statements (besides four that carry bodies'
    /// chunks; at least 2). Few on purpose: on a small database server, more sessions than its
    /// cores mostly wait for one another (docs/performance.md).
    pub postgres_sessions: u32,
    /// Callers' contexts a node remembers while the directory does not change, each served
    /// after a short read of the directory's mark instead of a whole one, and as many
    /// projects' contracts (0: none; `store::context::remembered`, `imax_remembered_callers`,
    /// `imax_remembered_projects`).
    pub remembered_callers: usize,
    /// SQLite: the size (MiB) past which the write-ahead log is started again from its
    /// beginning, pausing the committer for a few milliseconds (`store::committer::wal`).
    pub sqlite_wal_restart_mb: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Throttle {
    pub max_failures: u32,
    pub window_secs: i64,
    /// IPv6 clients are counted by this prefix (64: one customer's network), IPv4 by address.
    pub ipv6_prefix_len: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Password hashes computed at once (0: one per CPU core). Each holds `memory_kib`.
    pub max_concurrent: usize,
    /// Authentications waiting for a hash slot; more are refused at once (`Unavailable`).
    pub max_waiting: usize,
    /// Longest wait for a hash slot before the attempt is refused (`Unavailable`).
    pub max_wait_ms: u64,
}

/// What the gateway does with TRACS files it checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tracs {
    /// A file addressed to a recipient other than the one the directory names for the header's
    /// project: refused (`Misrouted`) or accepted and marked on the receipt.
    pub misrouted: Misrouted,
    /// Days within which the same content from the same mailbox to the same recipient is a
    /// duplicate.
    pub duplicate_window_days: i64,
    /// Hours after which a sent file without a reply is marked unanswered in the sender's
    /// folders (TRACS usually answers within a day or two); 0 marks none.
    pub answer_expected_hours: i64,
}

/// What to do with a misrouted TRACS file (`tracs.misrouted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Misrouted {
    Refuse,
    Mark,
}

impl Default for Tracs {
    fn default() -> Self {
        Self {
            misrouted: Misrouted::Refuse,
            duplicate_window_days: 30,
            answer_expected_hours: 48,
        }
    }
}

/// How long mailboxes keep their history (R26).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    pub retention_days: i64,
    pub purge_batch: u32,
}

impl Default for History {
    fn default() -> Self {
        Self {
            retention_days: 396,
            purge_batch: 500,
        }
    }
}

/// The browser door's sessions and uploads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    pub session_idle_minutes: i64,
    pub session_lifetime_hours: i64,
    pub max_files_per_upload: usize,
}

impl Default for Web {
    fn default() -> Self {
        Self {
            session_idle_minutes: 15,
            session_lifetime_hours: 12,
            max_files_per_upload: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    pub grace_secs: u64,
    /// Seconds between SIGTERM (when `/readyz` starts saying 503) and closing the listener,
    /// so that a balancer's health checks notice before connections are refused.
    pub drain_delay_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("./imax-data"),
            database_url: String::new(),
            public_url: String::new(),
            tls: TlsConfig::default(),
            limits: Limits::default(),
            accounts: AccountPolicy::default(),
            throttle: Throttle::default(),
            argon2: Argon2Config::default(),
            shutdown: Shutdown::default(),
            smtp: SmtpConfig::default(),
            web: Web::default(),
            tracs: Tracs::default(),
            history: History::default(),
            audit: Audit::default(),
            ops: Ops::default(),
            balancer: Balancer::default(),
            log: Log::default(),
            bodies: Bodies::default(),
            scan: Scan::default(),
            notifications: Notifications::default(),
            sandbox: Sandbox::default(),
            ledger: Ledger::default(),
            receipts: Receipts::default(),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert: String::new(),
            key: String::new(),
            handshake_timeout_secs: 10,
            reload_check_secs: 60,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 100 * 1024 * 1024,
            max_envelope_bytes: 64 * 1024,
            max_connections: 1024,
            max_connections_per_client: 64,
            header_read_timeout_secs: 10,
            body_idle_timeout_secs: 30,
            body_min_rate_bytes_per_sec: 1024,
            body_rate_grace_secs: 10,
            keepalive_timeout_secs: 60,
            send_timeout_secs: 60,
            send_stall_secs: 5,
            max_header_bytes: 32 * 1024,
            h2_max_concurrent_streams: 64,
            h2_keepalive_interval_secs: 30,
            h2_keepalive_timeout_secs: 20,
            max_form_bytes: 64 * 1024,
            min_free_disk_mb: 256,
            page_size: 100,
            postgres_sessions: POSTGRES_SESSIONS,
            remembered_callers: REMEMBERED_CALLERS,
            sqlite_wal_restart_mb: 256,
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            max_failures: 20,
            window_secs: 300,
            ipv6_prefix_len: 64,
        }
    }
}

impl Default for Argon2Config {
    /// OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
            max_waiting: 64,
            max_wait_ms: 3000,
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            grace_secs: 30,
            drain_delay_secs: 5,
        }
    }
}
