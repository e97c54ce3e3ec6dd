//! `[scan]`: the virus scanner every uploaded body passes through (issue 30, item 4).

use serde::{Deserialize, Serialize};

/// Where clamd listens, and what to do when it cannot answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scan {
    /// clamd's `HOST:PORT` (its TCPSocket) or the path of its LocalSocket; empty: no scan.
    pub clamd: String,
    /// A scan that cannot finish (clamd unreachable, or slower than `timeout_secs`) stores the
    /// file unscanned (logged, counted as `unscanned`) instead of refusing it `Unavailable`.
    /// Off by default: a scanner that silently lets files through is worse than none.
    pub fail_open: bool,
    /// Longest wait for clamd on one step (connecting, taking a chunk, the verdict once the
    /// file has ended).
    pub timeout_secs: u64,
}

impl Default for Scan {
    fn default() -> Scan {
        Scan {
            clamd: String::new(),
            fail_open: false,
            timeout_secs: 30,
        }
    }
}

/// Where [`Scan::clamd`] points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    Tcp(String),
    Socket(std::path::PathBuf),
}

impl Scan {
    /// clamd's address: a path (it has a `/`) is a Unix socket, anything else `HOST:PORT`.
    /// `None`: no scanner configured.
    pub fn clamd_addr(&self) -> Option<ClamdAddr> {
        let s = self.clamd.trim();
        if s.is_empty() {
            None
        } else if s.contains('/') {
            Some(ClamdAddr::Socket(s.into()))
        } else {
            Some(ClamdAddr::Tcp(s.to_string()))
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.timeout_secs == 0 {
            return Err("scan.timeout_secs must be positive".into());
        }
        if let Some(ClamdAddr::Tcp(a)) = self.clamd_addr() {
            let port = a.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
            if !matches!(port, Some(Ok(p)) if p > 0) {
                return Err(format!(
                    "scan.clamd {a:?} is neither HOST:PORT nor a socket's path"
                ));
            }
        }
        Ok(())
    }
}
