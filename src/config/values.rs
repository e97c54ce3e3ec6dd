//! Value types of the configuration that other floors act on: the database engine a URL names,
//! the balancers trusted to name clients, the SMTP relay. `config` owns them, so that it
//! depends on nothing above it (`tests/layers.rs`).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// PostgreSQL sessions a node opens for statements by default. Measured on the 2-core
/// development machine with the database server beside the gateway: 16 sessions did 940–1,530
/// SendFile/s, 6 did 1,780–2,350 (fewer backends competing for the same cores; the callers'
/// reads and the group commit batch more).
pub const POSTGRES_SESSIONS: u32 = 6;

/// Callers' contexts a node remembers at most (`limits.remembered_callers`): about a kibibyte
/// each, so a few MiB at most.
pub const REMEMBERED_CALLERS: usize = 4096;

/// The database engine behind the pool, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// The balancers whose connections begin with a PROXY header.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `balancer.proxy_protocol_from`: addresses or networks, separated by commas or
    /// spaces (`"10.0.0.5, 10.0.1.0/24, ::1"`).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split([',', ' ']).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("{item:?} is not an address or a network"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a connection from `ip` must begin with a PROXY header.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = crate::ground::client::canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Whether mail to the relay goes over STARTTLS (`smtp.starttls`); any other value is refused
/// when the configuration is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    /// Nothing is sent to a relay that does not offer it (the default): the mails carry new
    /// passwords, and an attacker on the path could strip an optional STARTTLS.
    Required,
    /// When the relay offers it; only by the operator's explicit choice.
    Opportunistic,
    /// Never (a relay on this host).
    Never,
}

/// The SMTP relay (`[smtp]`): see `mail` for what each setting does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub relay: String,
    pub from: String,
    pub starttls: StartTls,
    pub ca_file: String,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            relay: String::new(),
            from: "imax-gateway@localhost".into(),
            starttls: StartTls::Required,
            ca_file: "/etc/ssl/certs/ca-certificates.crt".into(),
            timeout_secs: 30,
        }
    }
}
