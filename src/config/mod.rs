//! Typed configuration: embedded defaults, then a TOML file, then `IMAX_*` environment variables.
//!
//! Every key is documented in [`EXAMPLE`] (printed by `imax config example`). Unknown keys are
//! refused, so a misspelt setting never silently falls back to a default. An environment variable
//! names a key by its path in upper case with `_` between section and key: `IMAX_LISTEN`,
//! `IMAX_LIMITS_MAX_FILE_BYTES`, `IMAX_ACCOUNTS_FAILED_SIGNIN_LIMIT`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod values;
pub use values::{Engine, SmtpConfig, TrustedProxies, POSTGRES_SESSIONS};

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountPolicy {
    /// Wrong passwords in a row, on one side (familiar addresses, or strangers'), that lock
    /// that side (R14).
    pub failed_signin_limit: u32,
    /// How long the first lock for failed sign-ins lasts; each further lock in a row lasts
    /// twice the one before, up to `failed_signin_lock_max_minutes` (NIST SP 800-63B §5.2.2).
    pub failed_signin_lock_minutes: i64,
    pub failed_signin_lock_max_minutes: i64,
    /// Days a successful sign-in keeps its address familiar to the M-ID (and a successful
    /// open keeps a mailbox familiar to the M-ID): strangers' failures never lock the
    /// familiar out.
    pub familiar_days: i64,
    /// Distinct M-IDs frozen out of one mailbox at once (each by its own wrong passwords)
    /// that freeze it for everyone who has not opened it within `familiar_days`.
    pub mailbox_freeze_mids: u32,
    pub inactivity_lock_days: i64,
    pub termination_days: i64,
    pub password_max_age_days: i64,
    pub password_min_length: usize,
    pub password_history: u32,
    pub activity_granularity_secs: i64,
    pub credential_cache_secs: i64,
    pub working_group_delay_hours: i64,
    /// Wrong TRACSMail passwords in a row from one M-ID that freeze the mailbox for that M-ID.
    pub mailbox_failed_limit: u32,
    /// Minutes a freeze (for one M-ID, or for everyone) lasts unless the Help Desk resets the
    /// mailbox's password (R24).
    pub mailbox_freeze_minutes: i64,
    /// Days without use after which a TRACSMail ID is inactive until the Help Desk's password
    /// reset reactivates it; 0: never.
    pub mailbox_inactive_days: i64,
    pub recertification_opens: String,
    pub recertification_deadline: String,
    /// HUD's own staff and contractors (H-IDs, C-IDs) are recertified by their supervisor,
    /// OTC or COR in a window of their own (MM-DD dates).
    pub internal_recertification_opens: String,
    pub internal_recertification_deadline: String,
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
        }
    }
}

impl Default for AccountPolicy {
    fn default() -> Self {
        Self {
            failed_signin_limit: 3,
            failed_signin_lock_minutes: 15,
            failed_signin_lock_max_minutes: 24 * 60,
            familiar_days: 90,
            mailbox_freeze_mids: 3,
            inactivity_lock_days: 90,
            termination_days: 90,
            password_max_age_days: 90,
            password_min_length: 12,
            password_history: 6,
            activity_granularity_secs: 3600,
            credential_cache_secs: 300,
            working_group_delay_hours: 24,
            mailbox_failed_limit: 5,
            mailbox_freeze_minutes: 60,
            mailbox_inactive_days: 180,
            recertification_opens: "09-01".into(),
            recertification_deadline: "12-31".into(),
            internal_recertification_opens: "11-01".into(),
            internal_recertification_deadline: "12-05".into(),
        }
    }
}

impl AccountPolicy {
    /// The yearly recertification window (validated at load; the default if unparsable).
    pub fn recertification_window(&self) -> crate::calendar::Window {
        crate::calendar::Window::parse(&self.recertification_opens, &self.recertification_deadline)
            .or_else(|| crate::calendar::Window::parse("09-01", "12-31"))
            .unwrap_or(crate::calendar::Window {
                opens: (time::Month::September, 1),
                deadline: (time::Month::December, 31),
            })
    }

    /// The yearly window of HUD's own staff and contractors (validated at load).
    pub fn internal_recertification_window(&self) -> crate::calendar::Window {
        crate::calendar::Window::parse(
            &self.internal_recertification_opens,
            &self.internal_recertification_deadline,
        )
        .unwrap_or(crate::calendar::Window {
            opens: (time::Month::November, 1),
            deadline: (time::Month::December, 5),
        })
    }

    /// How long the next lock for failed sign-ins lasts after `locks_before` in a row: the
    /// first lock's minutes, doubled for each, capped (R14).
    pub fn failure_lock_for(&self, locks_before: u32) -> time::Duration {
        let minutes = self
            .failed_signin_lock_minutes
            .saturating_mul(1_i64 << locks_before.min(32))
            .min(self.failed_signin_lock_max_minutes);
        time::Duration::minutes(minutes)
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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("environment variable {var} does not name a setting")]
    UnknownEnv { var: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` if given, then `IMAX_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str::<toml::Table>(&text).map_err(|source| ConfigError::Parse {
                    path: path.into(),
                    source,
                })?
            }
            None => toml::Table::new(),
        };
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for (var, value) in env {
            let Some(name) = var.strip_prefix("IMAX_") else {
                continue;
            };
            // Variables that are not settings (IMAX_LOG, IMAX_CONFIG) are read elsewhere;
            // IMAX_TEST_* belong to the test suite.
            if matches!(name, "LOG" | "CONFIG") || name.starts_with("TEST_") {
                continue;
            }
            let (path, default) = resolve_env_key(&defaults, &name.to_ascii_lowercase())
                .ok_or_else(|| ConfigError::UnknownEnv { var: var.clone() })?;
            let value = parse_env_value(default, &value)
                .map_err(|why| ConfigError::Invalid(format!("{var}: {why}")))?;
            set_path(&mut table, &path, value);
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.limits.max_file_bytes == 0 {
            return bad("limits.max_file_bytes must be positive");
        }
        if self.limits.max_envelope_bytes < 4096 {
            return bad("limits.max_envelope_bytes must be at least 4096");
        }
        if self.accounts.failed_signin_limit == 0 {
            return bad("accounts.failed_signin_limit must be at least 1");
        }
        let a = &self.accounts;
        if a.failed_signin_lock_minutes < 1
            || a.failed_signin_lock_max_minutes < a.failed_signin_lock_minutes
        {
            return bad(
                "accounts.failed_signin_lock_minutes must be at least 1 and at most failed_signin_lock_max_minutes",
            );
        }
        if a.familiar_days < 1 || a.mailbox_freeze_mids == 0 {
            return bad("accounts.familiar_days and mailbox_freeze_mids must be at least 1");
        }
        if self.accounts.password_min_length < 8 {
            return bad("accounts.password_min_length must be at least 8");
        }
        if crate::calendar::Window::parse(
            &self.accounts.recertification_opens,
            &self.accounts.recertification_deadline,
        )
        .is_none()
        {
            return bad("accounts.recertification_opens and _deadline are MM-DD dates, the opening before the deadline");
        }
        if crate::calendar::Window::parse(
            &self.accounts.internal_recertification_opens,
            &self.accounts.internal_recertification_deadline,
        )
        .is_none()
        {
            return bad("accounts.internal_recertification_opens and _deadline are MM-DD dates, the opening before the deadline");
        }
        if !matches!(
            self.smtp.starttls.as_str(),
            "opportunistic" | "required" | "never"
        ) {
            return bad("smtp.starttls is opportunistic, required or never");
        }
        if self.web.session_idle_minutes < 1 || self.web.session_lifetime_hours < 1 {
            return bad("web.session_idle_minutes and web.session_lifetime_hours must be positive");
        }
        if self.web.max_files_per_upload == 0 || self.web.max_files_per_upload > 100 {
            return bad("web.max_files_per_upload must be between 1 and 100");
        }
        if self.tracs.answer_expected_hours < 0 {
            return bad("tracs.answer_expected_hours must not be negative");
        }
        if self.tracs.duplicate_window_days < 0 {
            return bad("tracs.duplicate_window_days must not be negative");
        }
        // R26 asks for at least 12 months of history.
        if self.history.retention_days < 366 {
            return bad("history.retention_days must be at least 366 (R26: at least 12 months)");
        }
        if let Err(e) = TrustedProxies::parse(&self.balancer.proxy_protocol_from) {
            return bad(&format!("balancer.proxy_protocol_from: {e}"));
        }
        if self.tls.reload_check_secs == 0 {
            return bad("tls.reload_check_secs must be positive");
        }
        if self.audit.checkpoint_secs == 0 {
            return bad("audit.checkpoint_secs must be positive");
        }
        if self.history.purge_batch == 0 {
            return bad("history.purge_batch must be positive");
        }
        let l = &self.limits;
        if l.max_connections == 0 || l.max_connections_per_client == 0 {
            return bad("limits.max_connections and max_connections_per_client must be positive");
        }
        if [
            l.header_read_timeout_secs,
            l.body_idle_timeout_secs,
            l.keepalive_timeout_secs,
            l.send_timeout_secs,
            l.send_stall_secs,
        ]
        .contains(&0)
        {
            return bad("limits: timeouts must be at least one second");
        }
        if l.max_header_bytes < 4096 || l.max_form_bytes < 4096 {
            return bad("limits.max_header_bytes and max_form_bytes must be at least 4096");
        }
        if l.h2_max_concurrent_streams == 0 {
            return bad("limits.h2_max_concurrent_streams must be positive");
        }
        if self.throttle.ipv6_prefix_len == 0 || self.throttle.ipv6_prefix_len > 128 {
            return bad("throttle.ipv6_prefix_len must be between 1 and 128");
        }
        if self.argon2.max_waiting == 0 {
            return bad("argon2.max_waiting must be positive");
        }
        if self.accounts.mailbox_inactive_days < 0 {
            return bad("accounts.mailbox_inactive_days must not be negative (0: never)");
        }
        if self.accounts.mailbox_failed_limit == 0 || self.accounts.mailbox_freeze_minutes < 1 {
            return bad(
                "accounts.mailbox_failed_limit and mailbox_freeze_minutes must be positive",
            );
        }
        if self.limits.page_size == 0 || self.limits.page_size > 1000 {
            return bad("limits.page_size must be between 1 and 1000");
        }
        if !self.database_url.is_empty() && Engine::of_url(&self.database_url).is_none() {
            // Refused before anything else reads it, and printed without its password.
            return bad(&format!(
                "database_url {} is not sqlite://… or postgres://…",
                self.database_url_redacted()
            ));
        }
        Ok(())
    }

    /// The database URL as it may be printed: its password hidden ([`redacted_url`]).
    pub fn database_url_redacted(&self) -> String {
        redacted_url(&self.database_url())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("imax.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The URL clients use to reach the gateway (placed in the served WSDL).
    pub fn public_url(&self, bound: SocketAddr) -> String {
        if self.public_url.is_empty() {
            format!("https://{bound}")
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }
}

/// Finds the key path (`["limits", "max_file_bytes"]`) an env suffix such as `limits_max_file_bytes`
/// names, by matching against the known keys (keys themselves contain `_`).
/// The setting an environment variable's name (lower case, without `IMAX_`) stands for: its
/// path and its default, whose type says how to read the value.
fn resolve_env_key<'d>(
    defaults: &'d toml::Table,
    name: &str,
) -> Option<(Vec<String>, &'d toml::Value)> {
    for (key, value) in defaults {
        if key == name && !value.is_table() {
            return Some((vec![key.clone()], value));
        }
        if let (toml::Value::Table(sub), Some(rest)) =
            (value, name.strip_prefix(&format!("{key}_")))
        {
            if let Some((mut path, default)) = resolve_env_key(sub, rest) {
                path.insert(0, key.clone());
                return Some((path, default));
            }
        }
    }
    None
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(sub) = entry {
                set_path(sub, rest, value);
            }
        }
    }
}

/// An environment variable's value read as the type of its setting (never guessed from the
/// value: a password of digits stays a string, and `IMAX_LISTEN=8443` is refused, not taken
/// for a number).
fn parse_env_value(default: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    use toml::Value;
    let trimmed = raw.trim();
    match default {
        Value::String(_) => Ok(Value::String(raw.to_string())),
        Value::Integer(_) => trimmed
            .parse()
            .map(Value::Integer)
            .map_err(|_| format!("{raw:?} is not a whole number")),
        Value::Float(_) => trimmed
            .parse()
            .map(Value::Float)
            .map_err(|_| format!("{raw:?} is not a number")),
        Value::Boolean(_) => match trimmed {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(format!("{raw:?} is neither true nor false")),
        },
        other => Err(format!(
            "a {} cannot be set from the environment",
            other.type_str()
        )),
    }
}

/// `url` with the password of its user information (`scheme://user:PASSWORD@host`) and any
/// `password=` query parameter replaced by `***`: a refused or logged database URL never shows
/// the password (issue 25, item 8).
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL of the usual shape: nothing of it can be told to be harmless.
        return "(a database URL, not shown)".into();
    };
    // The last `@` ends the user information, whatever the password holds (`/`, `?`, `#`):
    // hiding too much is the safe mistake.
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => (format!("{user}:***@"), host),
            None => (format!("{userinfo}@"), host),
        },
        None => (String::new(), rest),
    };
    let rest = match rest.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => rest.to_string(),
    };
    format!("{scheme}://{userinfo}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_is_the_defaults() {
        let parsed: Config = toml::from_str(EXAMPLE).expect("example parses");
        let a = toml::to_string(&parsed).expect("ser");
        let b = toml::to_string(&Config::default()).expect("ser");
        assert_eq!(a, b, "examples/imax.toml must state the embedded defaults");
    }

    #[test]
    fn env_overrides_file_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n[limits]\nmax_file_bytes = 10\n",
        )
        .expect("write");
        let env = vec![
            ("IMAX_LIMITS_MAX_FILE_BYTES".to_string(), "2048".to_string()),
            ("IMAX_DATA_DIR".to_string(), "/srv/imax".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let c = Config::load(Some(&path), env).expect("loads");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.limits.max_file_bytes, 2048);
        assert_eq!(c.data_dir, PathBuf::from("/srv/imax"));

        let bad = vec![("IMAX_NO_SUCH".to_string(), "1".to_string())];
        assert!(matches!(
            Config::load(None, bad),
            Err(ConfigError::UnknownEnv { .. })
        ));
        // Read as the setting's type: digits stay a string where a string is meant; a word
        // where a number is meant is refused, naming the variable.
        let digits = vec![("IMAX_SMTP_CA_FILE".to_string(), "2026".to_string())];
        let c = Config::load(None, digits).expect("a file name of digits");
        assert_eq!(c.smtp.ca_file, "2026");
        let word = vec![("IMAX_LIMITS_MAX_FILE_BYTES".to_string(), "lots".to_string())];
        match Config::load(None, word) {
            Err(ConfigError::Invalid(why)) => assert!(why.contains("IMAX_LIMITS_MAX_FILE_BYTES")),
            other => panic!("expected Invalid, got {other:?}"),
        }
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").expect("write");
        assert!(Config::load(Some(&path), Vec::new()).is_err());
    }

    #[test]
    fn a_database_url_is_printed_without_its_password() {
        for (url, shown) in [
            (
                "postgres://imax:s3cret@db.example:5432/imax",
                "postgres://imax:***@db.example:5432/imax",
            ),
            (
                "mysql://imax:pa/ss?w#rd@db/imax",
                "mysql://imax:***@db/imax",
            ),
            (
                "postgres://db/imax?user=imax&password=s3cret&sslmode=require",
                "postgres://db/imax?user=imax&password=***&sslmode=require",
            ),
            (
                "sqlite:///var/lib/imax/imax.db",
                "sqlite:///var/lib/imax/imax.db",
            ),
            ("imax:s3cret@db", "(a database URL, not shown)"),
        ] {
            assert_eq!(redacted_url(url), shown);
        }
        let config = Config {
            database_url: "mysql://imax:s3cret@db/imax".into(),
            ..Config::default()
        };
        let refused = config
            .validate()
            .expect_err("not a supported database")
            .to_string();
        assert!(refused.contains("mysql://imax:***@db/imax"), "{refused}");
        assert!(!refused.contains("s3cret"), "{refused}");
    }
}
