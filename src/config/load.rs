//! Loading and checking a configuration: defaults, then the file, then `IMAX_*` variables;
//! every value validated before the gateway starts.

use super::*;

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

    /// Refuses values no gateway should run with (each section's checks in turn; the first
    /// bad value is named).
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_limits()?;
        self.validate_accounts()?;
        self.validate_services()
    }

    /// `[limits]` and `[throttle]`.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        let l = &self.limits;
        if l.max_file_bytes == 0 {
            return bad("limits.max_file_bytes must be positive");
        }
        if l.max_envelope_bytes < 4096 {
            return bad("limits.max_envelope_bytes must be at least 4096");
        }
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
        if l.page_size == 0 || l.page_size > 1000 {
            return bad("limits.page_size must be between 1 and 1000");
        }
        if l.sqlite_wal_restart_mb == 0 {
            return bad("limits.sqlite_wal_restart_mb must be at least 1");
        }
        if self.throttle.ipv6_prefix_len == 0 || self.throttle.ipv6_prefix_len > 128 {
            return bad("throttle.ipv6_prefix_len must be between 1 and 128");
        }
        Ok(())
    }

    /// `[accounts]`: sign-in locks, mailbox freezes, passwords, recertification windows.
    fn validate_accounts(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        let a = &self.accounts;
        if a.failed_signin_limit == 0 {
            return bad("accounts.failed_signin_limit must be at least 1");
        }
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
        if !(0..=365).contains(&a.rules_of_behavior_notice_days) {
            return bad("accounts.rules_of_behavior_notice_days is between 0 and 365");
        }
        if a.password_min_length < 8 {
            return bad("accounts.password_min_length must be at least 8");
        }
        if crate::calendar::Window::parse(&a.recertification_opens, &a.recertification_deadline)
            .is_none()
        {
            return bad("accounts.recertification_opens and _deadline are MM-DD dates, the opening before the deadline");
        }
        if crate::calendar::Window::parse(
            &a.internal_recertification_opens,
            &a.internal_recertification_deadline,
        )
        .is_none()
        {
            return bad("accounts.internal_recertification_opens and _deadline are MM-DD dates, the opening before the deadline");
        }
        if a.mailbox_inactive_days < 0 {
            return bad("accounts.mailbox_inactive_days must not be negative (0: never)");
        }
        if a.mailbox_failed_limit == 0 || a.mailbox_freeze_minutes < 1 {
            return bad(
                "accounts.mailbox_failed_limit and mailbox_freeze_minutes must be positive",
            );
        }
        if a.two_factor_attempts == 0 || !(1..=60).contains(&a.two_factor_pending_minutes) {
            return bad("accounts.two_factor_attempts must be at least 1 and two_factor_pending_minutes between 1 and 60");
        }
        Ok(())
    }

    /// The audit section: checkpoints, the syslog collector (issue 30), searches.
    fn validate_audit(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.audit.checkpoint_secs == 0 {
            return bad("audit.checkpoint_secs must be positive");
        }
        if let Err(e) = super::SyslogTarget::parse(&self.audit.syslog) {
            return bad(&format!("audit.syslog: {e}"));
        }
        if self.audit.syslog_retry_max_secs == 0 || self.audit.search_max_records == 0 {
            return bad(
                "audit.syslog_retry_max_secs and audit.search_max_records must be positive",
            );
        }
        Ok(())
    }

    /// The other sections: web, TRACS, history, balancer, TLS, audit, argon2, the database.
    fn validate_services(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
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
        self.notifications.check().map_err(ConfigError::Invalid)?;
        // A claimed notice's mail ends (sent or timed out) before its lease can pass to
        // another node, which would mail it again.
        if self.notifications.lease_secs <= self.smtp.timeout_secs {
            return bad("notifications.lease_secs must be greater than smtp.timeout_secs");
        }
        if self.tls.reload_check_secs == 0 {
            return bad("tls.reload_check_secs must be positive");
        }
        self.validate_audit()?;
        self.scan.validate().map_err(ConfigError::Invalid)?;
        self.ledger.check().map_err(ConfigError::Invalid)?;
        if let Err(e) = self.sandbox.check(self.history.retention_days) {
            return bad(&e);
        }
        if self.history.purge_batch == 0 {
            return bad("history.purge_batch must be positive");
        }
        if self.argon2.max_waiting == 0 {
            return bad("argon2.max_waiting must be positive");
        }
        if !self.database_url.is_empty() && Engine::of_url(&self.database_url).is_none() {
            // Refused before anything else reads it, and printed without its password.
            return bad(&format!(
                "database_url {} is not sqlite://… or postgres://…",
                self.database_url_redacted()
            ));
        }
        if !(5..=512).contains(&self.bodies.s3_part_mib)
            || !(1..=16).contains(&self.bodies.s3_parts_in_flight)
        {
            return bad("bodies.s3_part_mib is 5 to 512 and bodies.s3_parts_in_flight 1 to 16");
        }
        if !self.bodies.url.is_empty() {
            if !self.bodies.url.starts_with("s3://") || self.bodies.url.len() <= "s3://".len() {
                return bad("bodies.url must be s3://BUCKET or s3://BUCKET/PREFIX (or empty)");
            }
            // Uploads in progress are listed and swept with the database's clock, shared by
            // every node: PostgreSQL's.
            if Engine::of_url(&self.database_url()) != Some(Engine::Postgres) {
                return bad("bodies.url = \"s3://…\" needs a postgres:// database_url");
            }
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
        // A list of names, separated by commas (`coordinator,help-desk`).
        Value::Array(_) => Ok(Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| Value::String(v.to_string()))
                .collect(),
        )),
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
