//! Who a client is, for every count kept per client (connections, the throttle, the audit
//! log's share of refusals, familiar addresses).

use std::net::IpAddr;

/// Whom connections are counted against: an IPv4 address, or an IPv6 address cut to a prefix
/// (one customer's network is a /64, so counting single IPv6 addresses would count nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(addr: IpAddr, ipv6_prefix_len: u8) -> ClientKey {
        match addr {
            IpAddr::V4(_) => ClientKey(addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6);
                    let len = u32::from(ipv6_prefix_len.min(128));
                    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                    ClientKey(IpAddr::V6((bits & mask).into()))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/prefix"),
        }
    }
}

/// An IPv4 client seen through a dual-stack socket is still an IPv4 client.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}
