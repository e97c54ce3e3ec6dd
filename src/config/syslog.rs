//! Where the audit chain is forwarded (`audit.syslog`, issue 30 item 2): a syslog collector
//! reached over UDP or TCP. `config` owns the value type so that the forwarder (`syslog`) and
//! the validation of the setting read it the same way.

/// How records travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    /// One datagram a record (RFC 5426): nothing tells the sender a record was lost.
    Udp,
    /// A stream with octet-counting framing (RFC 6587): a closed collector is noticed, and the
    /// forwarder resumes from its cursor.
    Tcp,
}

/// A collector: `udp://HOST:PORT` or `tcp://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    pub transport: SyslogTransport,
    /// `HOST:PORT`, resolved at each connection (a collector may move).
    pub address: String,
}

impl SyslogTarget {
    /// Parses `audit.syslog`; `Ok(None)` when it is empty (no forwarding).
    pub fn parse(s: &str) -> Result<Option<SyslogTarget>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let (transport, rest) = if let Some(rest) = s.strip_prefix("udp://") {
            (SyslogTransport::Udp, rest)
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            (SyslogTransport::Tcp, rest)
        } else {
            return Err(format!("{s:?} is not udp://HOST:PORT or tcp://HOST:PORT"));
        };
        let rest = rest.trim_end_matches('/');
        let port_ok = rest
            .rsplit_once(':')
            .filter(|(host, _)| !host.is_empty())
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .is_some_and(|p| p != 0);
        if !port_ok {
            return Err(format!("{s:?} names no HOST:PORT"));
        }
        Ok(Some(SyslogTarget {
            transport,
            address: rest.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_nonsense_is_refused() {
        assert_eq!(SyslogTarget::parse(""), Ok(None));
        let t = SyslogTarget::parse("tcp://127.0.0.1:6514")
            .unwrap()
            .unwrap();
        assert_eq!(t.transport, SyslogTransport::Tcp);
        assert_eq!(t.address, "127.0.0.1:6514");
        let u = SyslogTarget::parse("udp://logs.example:514")
            .unwrap()
            .unwrap();
        assert_eq!(u.transport, SyslogTransport::Udp);
        for bad in [
            "127.0.0.1:514",
            "tcp://host",
            "udp://:514",
            "tcp://h:0",
            "http://h:1",
        ] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod loading {
    use crate::config::Config;

    /// `IMAX_AUDIT_SYSLOG` sets `audit.syslog` (the acceptance setting); nonsense stops the
    /// start with the setting's name.
    #[test]
    fn the_setting_comes_from_the_environment_and_nonsense_is_refused() {
        let env = |v: &str| vec![("IMAX_AUDIT_SYSLOG".to_string(), v.to_string())];
        let c = Config::load(None, env("tcp://127.0.0.1:6514")).expect("loads");
        assert_eq!(
            c.audit.syslog_target().map(|t| t.address),
            Some("127.0.0.1:6514".to_string())
        );
        let e = Config::load(None, env("syslog.example:514")).expect_err("refused");
        assert!(e.to_string().contains("audit.syslog"), "{e}");
    }
}
