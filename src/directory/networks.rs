//! Address allow-lists (issue 30, item 5): the networks an organization's or a mailbox's
//! vendor software connects from. An empty list admits any address; a list admits only the
//! addresses inside one of its networks.

use super::{ImaxId, OrgId};
use crate::ground::client::canonical;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// A list of networks (CIDR), kept canonical: each network's own address (host bits
/// cleared), each once, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedNetworks(Vec<IpNet>);

impl AllowedNetworks {
    /// Networks as written (`10.9.0.0/16`, `2001:db8::/32`; a bare address is its own
    /// network). The error names the entry that is not one.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut nets: Vec<IpNet> = Vec::new();
        for e in entries {
            let e = e.trim();
            if e.is_empty() {
                continue;
            }
            let net = match e.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match e.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(canonical(a)),
                    Err(_) => {
                        return Err(format!("{e:?} is not a network (CIDR such as 10.9.0.0/16)"))
                    }
                },
            };
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(AllowedNetworks(nets))
    }

    /// The stored text (comma-separated), as [`AllowedNetworks::to_string`] writes it. Stored
    /// text that no longer parses admits nobody rather than everybody.
    pub fn from_stored(text: &str) -> Self {
        Self::parse(text.split(',')).unwrap_or_else(|e| {
            tracing::error!(error = %e, "unreadable allow-list: admitting no address");
            AllowedNetworks::default().with_nobody()
        })
    }

    /// A list nothing matches (an unreadable one).
    fn with_nobody(mut self) -> Self {
        // 255.255.255.255/32: the limited broadcast address, never a client.
        self.0.push(IpNet::from(IpAddr::from([255u8; 4])));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `client` may call: any address when the list is empty; `None` (a call with no
    /// known address) only then.
    pub fn admits(&self, client: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = client.map(canonical) else {
            return false;
        };
        self.0.iter().any(|n| n.contains(&ip))
    }
}

impl fmt::Display for AllowedNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// Whose allow-list it is: an organization's (for its M-IDs and its mailboxes) or one
/// mailbox's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowListOf {
    Organization(OrgId),
    Mailbox(ImaxId),
}

impl fmt::Display for AllowListOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowListOf::Organization(o) => write!(f, "organization {o}"),
            AllowListOf::Mailbox(m) => write!(f, "mailbox {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_canonically_and_admit_their_addresses() {
        let l = AllowedNetworks::parse(["10.9.3.4/16", " 127.0.0.0/8", "10.9.0.0/16", "::1"])
            .expect("parses");
        assert_eq!(l.to_string(), "10.9.0.0/16,127.0.0.0/8,::1/128");
        assert_eq!(AllowedNetworks::from_stored(&l.to_string()), l);
        assert!(l.admits(Some("10.9.200.1".parse().unwrap())));
        assert!(l.admits(Some("127.0.0.1".parse().unwrap())));
        // An IPv4 client seen through an IPv6 socket is the same client.
        assert!(l.admits(Some("::ffff:10.9.0.7".parse().unwrap())));
        assert!(!l.admits(Some("10.10.0.1".parse().unwrap())));
        assert!(!l.admits(None));
        assert!(AllowedNetworks::default().admits(None));
        assert!(AllowedNetworks::parse(["10.9.0.0/33"]).is_err());
        assert!(AllowedNetworks::parse(["example.org"]).is_err());
        let broken = AllowedNetworks::from_stored("not a network");
        assert!(!broken.is_empty());
        assert!(!broken.admits(Some("10.9.0.1".parse().unwrap())));
    }
}
