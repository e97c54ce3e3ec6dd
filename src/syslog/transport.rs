//! The connection to the collector: a connected UDP socket (one datagram a record) or a TCP
//! stream (octet-counted frames). A TCP stream the collector closed is noticed before the next
//! batch is written, so that batch waits for a new connection instead of vanishing into a dead
//! socket's buffer.

use super::rfc5424::octet_counted;
use crate::config::{SyslogTarget, SyslogTransport};
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

/// How long connecting or writing a batch may take before the collector counts as down.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// An open connection to the collector.
pub enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl Link {
    /// Connects to `target` (its name resolved now).
    pub async fn open(target: &SyslogTarget) -> io::Result<Link> {
        let connect = async {
            match target.transport {
                SyslogTransport::Tcp => Ok(Link::Tcp(TcpStream::connect(&target.address).await?)),
                SyslogTransport::Udp => {
                    let peer = tokio::net::lookup_host(&target.address)
                        .await?
                        .next()
                        .ok_or_else(|| io::Error::other("the collector's name has no address"))?;
                    let local = if peer.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let socket = UdpSocket::bind(local).await?;
                    socket.connect(peer).await?;
                    Ok(Link::Udp(socket))
                }
            }
        };
        tokio::time::timeout(IO_TIMEOUT, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting took too long"))?
    }

    /// Whether the collector closed a TCP stream (it never sends anything on its own).
    pub fn closed(&self) -> bool {
        let Link::Tcp(stream) = self else {
            return false;
        };
        let mut buf = [0u8; 512];
        match stream.try_read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }

    /// Sends `messages` in order; an error means the batch may not have arrived.
    pub async fn send(&mut self, messages: &[String]) -> io::Result<()> {
        let send = async {
            match self {
                Link::Udp(socket) => {
                    for m in messages {
                        socket.send(m.as_bytes()).await?;
                    }
                    Ok(())
                }
                Link::Tcp(stream) => {
                    let mut frames = String::new();
                    for m in messages {
                        frames.push_str(&octet_counted(m));
                    }
                    stream.write_all(frames.as_bytes()).await?;
                    stream.flush().await
                }
            }
        };
        tokio::time::timeout(IO_TIMEOUT, send)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "sending took too long"))?
    }
}
