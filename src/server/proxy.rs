//! The PROXY protocol (v1 and v2), spoken by a TCP balancer in front of the gateway.
//!
//! Behind a TLS-passthrough balancer (HAProxy's `mode tcp`) every connection comes from the
//! balancer's address, so the per-client connection cap, the failed-password throttle, the
//! audit log and `/metrics`' loopback rule would all see one client. With `send-proxy-v2` the
//! balancer begins each connection with a small header naming the real client; the gateway
//! reads it before the TLS handshake, **only** from the addresses listed in
//! `balancer.proxy_protocol_from` (anyone else could name any address), and from those it is
//! required: a connection from a listed address without a valid header is closed.
//!
//! Reading is bounded like everything before sign-in: the header must arrive within the header
//! timeout, v1 is at most 107 bytes and v2 at most [`MAX_V2_LEN`] bytes of addresses and TLVs.
//! Specification: <https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt>.

pub use crate::config::TrustedProxies;
use crate::ground::client::canonical;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncRead, AsyncReadExt};

const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Addresses (at most 216 bytes for AF_UNIX) plus the TLVs HAProxy may add.
const MAX_V2_LEN: usize = 1024;
/// "PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF, per the specification.
const MAX_V1_LEN: usize = 107;

/// Why a PROXY header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BadHeader {
    /// Neither signature: the balancer is not configured to send it.
    Missing,
    Malformed(&'static str),
    Io,
}

/// Reads one PROXY header from `io` and returns the client it names. `None`: the balancer's
/// own connection (v2 LOCAL, as in its health checks, or v1 UNKNOWN): keep the socket's peer.
pub async fn read_header<R: AsyncRead + Unpin>(
    io: &mut R,
) -> Result<Option<SocketAddr>, BadHeader> {
    let mut head = [0u8; 16];
    io.read_exact(&mut head[..6])
        .await
        .map_err(|_| BadHeader::Io)?;
    if &head[..6] == b"PROXY " {
        return read_v1(io).await;
    }
    if head[..6] != V2_SIGNATURE[..6] {
        return Err(BadHeader::Missing);
    }
    io.read_exact(&mut head[6..])
        .await
        .map_err(|_| BadHeader::Io)?;
    if head[..12] != V2_SIGNATURE {
        return Err(BadHeader::Missing);
    }
    let (version, command) = (head[12] >> 4, head[12] & 0x0f);
    if version != 2 {
        return Err(BadHeader::Malformed("version"));
    }
    let len = u16::from_be_bytes([head[14], head[15]]) as usize;
    if len > MAX_V2_LEN {
        return Err(BadHeader::Malformed("length"));
    }
    let mut rest = vec![0u8; len];
    io.read_exact(&mut rest).await.map_err(|_| BadHeader::Io)?;
    match command {
        0 => return Ok(None), // LOCAL
        1 => {}
        _ => return Err(BadHeader::Malformed("command")),
    }
    match head[13] {
        // TCP over IPv4: source, destination, source port, destination port.
        0x11 if len >= 12 => {
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            let port = u16::from_be_bytes([rest[8], rest[9]]);
            Ok(Some(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        0x21 if len >= 36 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&rest[..16]);
            let port = u16::from_be_bytes([rest[32], rest[33]]);
            Ok(Some(SocketAddr::new(
                canonical(IpAddr::V6(Ipv6Addr::from(octets))),
                port,
            )))
        }
        // UNSPEC, UDP or a Unix socket: nothing useful to name.
        0x00 => Ok(None),
        _ => Err(BadHeader::Malformed("address family")),
    }
}

/// The rest of a v1 line after "PROXY ": `TCP4 src dst sport dport\r\n` or `UNKNOWN …\r\n`.
async fn read_v1<R: AsyncRead + Unpin>(io: &mut R) -> Result<Option<SocketAddr>, BadHeader> {
    let mut line = Vec::with_capacity(MAX_V1_LEN);
    line.extend_from_slice(b"PROXY ");
    loop {
        let b = io.read_u8().await.map_err(|_| BadHeader::Io)?;
        line.push(b);
        if line.ends_with(b"\r\n") {
            break;
        }
        if line.len() >= MAX_V1_LEN {
            return Err(BadHeader::Malformed("v1 line too long"));
        }
    }
    let text = std::str::from_utf8(&line[6..line.len() - 2])
        .map_err(|_| BadHeader::Malformed("v1 text"))?;
    let fields: Vec<&str> = text.split(' ').collect();
    match fields.as_slice() {
        ["UNKNOWN", ..] => Ok(None),
        [proto @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip: IpAddr = src
                .parse()
                .map_err(|_| BadHeader::Malformed("v1 address"))?;
            if (*proto == "TCP4") != ip.is_ipv4() {
                return Err(BadHeader::Malformed("v1 address family"));
            }
            let port: u16 = sport.parse().map_err(|_| BadHeader::Malformed("v1 port"))?;
            Ok(Some(SocketAddr::new(canonical(ip), port)))
        }
        _ => Err(BadHeader::Malformed("v1 fields")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> Result<Option<SocketAddr>, BadHeader> {
        let mut r = bytes;
        read_header(&mut r).await
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[tokio::test]
    async fn v2_names_the_client_and_local_keeps_the_peer() {
        let mut body = vec![203, 0, 113, 7, 10, 0, 0, 1];
        body.extend_from_slice(&50123u16.to_be_bytes());
        body.extend_from_slice(&443u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0, 2, 1, 2]); // a TLV, skipped
        assert_eq!(
            read(&v2(1, 0x11, &body)).await,
            Ok(Some("203.0.113.7:50123".parse().unwrap()))
        );
        let mut six = "2001:db8::9".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        six.extend_from_slice(&[0; 16]);
        six.extend_from_slice(&[0, 80, 1, 187]);
        assert_eq!(
            read(&v2(1, 0x21, &six)).await,
            Ok(Some("[2001:db8::9]:80".parse().unwrap()))
        );
        assert_eq!(read(&v2(0, 0x00, &[])).await, Ok(None));
    }

    #[tokio::test]
    async fn v1_lines_are_read_and_bounded() {
        assert_eq!(
            read(b"PROXY TCP4 198.51.100.2 10.0.0.1 40000 443\r\nrest").await,
            Ok(Some("198.51.100.2:40000".parse().unwrap()))
        );
        assert_eq!(read(b"PROXY UNKNOWN\r\n").await, Ok(None));
        assert_eq!(
            read(b"PROXY TCP6 198.51.100.2 10.0.0.1 40000 443\r\n").await,
            Err(BadHeader::Malformed("v1 address family"))
        );
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert_eq!(
            read(&long).await,
            Err(BadHeader::Malformed("v1 line too long"))
        );
    }

    #[tokio::test]
    async fn a_tls_hello_or_an_oversized_header_is_refused() {
        assert_eq!(
            read(&[0x16, 3, 1, 2, 0, 1, 0, 0]).await,
            Err(BadHeader::Missing)
        );
        let mut big = V2_SIGNATURE.to_vec();
        big.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(read(&big).await, Err(BadHeader::Malformed("length")));
        assert_eq!(
            read(&v2(1, 0x11, &[1, 2])).await,
            Err(BadHeader::Malformed("address family"))
        );
    }

    #[test]
    fn only_listed_balancers_are_trusted() {
        let t = TrustedProxies::parse("10.0.0.5, 192.168.1.0/24 ::1").unwrap();
        assert!(t.trusts("10.0.0.5".parse().unwrap()));
        assert!(t.trusts("::ffff:10.0.0.5".parse().unwrap()));
        assert!(t.trusts("192.168.1.77".parse().unwrap()));
        assert!(t.trusts("::1".parse().unwrap()));
        assert!(!t.trusts("10.0.0.6".parse().unwrap()));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.300").is_err());
    }
}
