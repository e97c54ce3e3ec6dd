//! The virus scanner (issue 30, item 4): every body, from either door, is streamed to clamd
//! (`zINSTREAM`) while it arrives, beside the store and the TRACS checker, and only a clean
//! verdict lets [`Gateway::send_file`] commit it. The scanner fails closed: an infected file
//! is refused `VirusFound` naming the signature, a file larger than clamd's `StreamMaxLength`
//! `TooLargeToScan` (never stored unscanned), and a clamd that cannot be reached or answers
//! slower than `scan.timeout_secs` `Unavailable` — unless the operator chose
//! `scan.fail_open`, when the file is stored and counted `unscanned`.
//!
//! One connection per file: clamd answers one INSTREAM per connection anyway, and a
//! connection on loopback or a local socket costs far less than the scan.

use super::Gateway;
use crate::config::{ClamdAddr, Scan};
use crate::error::{Code, Refusal};
use bytes::Bytes;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks waiting for clamd while the upload goes on: a slow clamd slows the upload down
/// (bounded by `scan.timeout_secs`) rather than letting the file pile up in memory.
const CHUNKS_AHEAD: usize = 8;

/// Longest reply read from clamd.
const MAX_REPLY: usize = 4096;

/// What clamd said of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature clamd named.
    Infected(String),
    /// Larger than clamd's `StreamMaxLength`: not scanned.
    TooLarge,
    /// No verdict: clamd unreachable, too slow, or an answer that is none of the above.
    Failed(String),
}

impl Verdict {
    /// The label of `imax_scan_verdicts_total{verdict}`.
    fn label(&self, fail_open: bool) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Infected(_) => "infected",
            Verdict::TooLarge => "too_large",
            Verdict::Failed(_) if fail_open => "unscanned",
            Verdict::Failed(_) => "unavailable",
        }
    }

    /// clamd's reply to INSTREAM (`stream: OK`, `stream: NAME FOUND`, `INSTREAM size limit
    /// exceeded. ERROR`), its terminating NUL and spaces aside.
    fn of_reply(reply: &[u8]) -> Verdict {
        let text = String::from_utf8_lossy(reply);
        let text = text.trim_end_matches(['\0', '\n', ' ']).trim();
        let body = text.strip_prefix("stream:").unwrap_or(text).trim();
        if body == "OK" {
            Verdict::Clean
        } else if let Some(name) = body.strip_suffix(" FOUND") {
            Verdict::Infected(name.trim().to_string())
        } else if text.contains("size limit exceeded") {
            Verdict::TooLarge
        } else if text.is_empty() {
            Verdict::Failed("clamd closed the connection without a verdict".into())
        } else {
            Verdict::Failed(format!("clamd answered {text:?}"))
        }
    }
}

/// A file on its way to clamd: a task speaks INSTREAM while the upload feeds it.
#[derive(Debug)]
pub struct VirusScan {
    /// `None` once the file ended, or once the task stopped taking chunks (its verdict says
    /// why).
    tx: Option<mpsc::Sender<Bytes>>,
    task: Option<JoinHandle<Verdict>>,
}

impl VirusScan {
    /// Starts a scan when `scan.clamd` is set (the connection opens in the task, so that its
    /// failure is the verdict's, not the upload's).
    pub fn start(config: &Scan) -> Option<VirusScan> {
        let addr = config.clamd_addr()?;
        let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        let timeout = Duration::from_secs(config.timeout_secs);
        let task = tokio::spawn(scan(addr, rx, timeout));
        Some(VirusScan {
            tx: Some(tx),
            task: Some(task),
        })
    }

    /// Hands clamd the next bytes (copied: the door's buffer is reused).
    pub async fn feed(&mut self, chunk: &[u8]) {
        // A zero-length chunk would end the stream.
        if chunk.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            if tx.send(Bytes::copy_from_slice(chunk)).await.is_err() {
                self.tx = None;
            }
        }
    }

    /// The file ended: clamd's verdict.
    pub async fn verdict(mut self) -> Verdict {
        self.tx = None;
        match self.task.take() {
            Some(task) => task
                .await
                .unwrap_or_else(|e| Verdict::Failed(format!("the scan task failed: {e}"))),
            None => Verdict::Failed("no scan".into()),
        }
    }
}

impl Drop for VirusScan {
    /// An upload refused on its way stops its scan at once.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Connects to clamd and streams the file.
async fn scan(addr: ClamdAddr, rx: mpsc::Receiver<Bytes>, timeout: Duration) -> Verdict {
    let unreachable = |e: String| Verdict::Failed(format!("clamd unreachable: {e}"));
    match addr {
        ClamdAddr::Tcp(a) => {
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&a)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    instream(s, rx, timeout).await
                }
                Ok(Err(e)) => unreachable(format!("{a}: {e}")),
                Err(_) => unreachable(format!("{a}: no connection within {timeout:?}")),
            }
        }
        ClamdAddr::Socket(p) => {
            match tokio::time::timeout(timeout, tokio::net::UnixStream::connect(&p)).await {
                Ok(Ok(s)) => instream(s, rx, timeout).await,
                Ok(Err(e)) => unreachable(format!("{}: {e}", p.display())),
                Err(_) => unreachable(format!("{}: no connection within {timeout:?}", p.display())),
            }
        }
    }
}

/// INSTREAM: `zINSTREAM\0`, then each chunk as a 4-byte big-endian length and its bytes, then
/// a zero length; clamd's reply is read all along, since it may answer (and close) before
/// the end, as it does when the stream passes its `StreamMaxLength`.
async fn instream<S>(stream: S, mut rx: mpsc::Receiver<Bytes>, timeout: Duration) -> Verdict
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    const END: [u8; 4] = [0, 0, 0, 0];
    let (mut rd, mut wr) = tokio::io::split(stream);
    let reply = read_reply(&mut rd);
    tokio::pin!(reply);
    let slow = || Verdict::Failed(format!("clamd took more than {timeout:?}"));
    let mut frame = Bytes::from_static(b"zINSTREAM\0");
    loop {
        tokio::select! {
            r = &mut reply => return Verdict::of_reply(&r),
            w = tokio::time::timeout(timeout, wr.write_all(&frame)) => match w {
                Ok(Ok(())) => {}
                Err(_) => return slow(),
                // Closed on us: its reply, if it sent one, says why.
                Ok(Err(e)) => {
                    return match tokio::time::timeout(timeout, &mut reply).await {
                        Ok(r) if !r.is_empty() => Verdict::of_reply(&r),
                        _ => Verdict::Failed(format!("clamd closed the stream: {e}")),
                    }
                }
            },
        }
        if frame.as_ref() == END {
            break;
        }
        // The next frame: a chunk with its length, or the end.
        frame = tokio::select! {
            biased;
            r = &mut reply => return Verdict::of_reply(&r),
            chunk = rx.recv() => match chunk {
                Some(c) => framed(&c),
                None => Bytes::from_static(&END),
            },
        };
    }
    match tokio::time::timeout(timeout, &mut reply).await {
        Ok(r) => Verdict::of_reply(&r),
        Err(_) => slow(),
    }
}

/// A chunk as INSTREAM frames it.
fn framed(chunk: &[u8]) -> Bytes {
    let mut f = Vec::with_capacity(4 + chunk.len());
    f.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
    f.extend_from_slice(chunk);
    Bytes::from(f)
}

/// clamd's reply: up to its NUL, the end of the connection, or [`MAX_REPLY`] bytes.
async fn read_reply(rd: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    while reply.len() < MAX_REPLY {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                reply.extend_from_slice(&buf[..n]);
                if buf[..n].contains(&0) {
                    break;
                }
            }
        }
    }
    reply
}

impl Gateway {
    /// Starts scanning a body, when a scanner is configured.
    pub(super) fn start_virus_scan(&self) -> Option<VirusScan> {
        VirusScan::start(&self.inner.config.scan)
    }

    /// The scan's verdict on a received file of `size` bytes: `Ok` lets it be stored. An
    /// empty file is not sent to clamd (there is nothing to scan). Counted in
    /// `imax_scan_verdicts_total{verdict}`.
    pub(super) async fn virus_verdict(
        &self,
        scan: Option<VirusScan>,
        size: u64,
    ) -> Result<(), Refusal> {
        let Some(scan) = scan.filter(|_| size > 0) else {
            return Ok(());
        };
        let fail_open = self.inner.config.scan.fail_open;
        let verdict = scan.verdict().await;
        metrics::counter!("imax_scan_verdicts_total", "verdict" => verdict.label(fail_open))
            .increment(1);
        match verdict {
            Verdict::Clean => Ok(()),
            Verdict::Infected(name) => Err(Refusal::with_detail(
                Code::VirusFound,
                format!("The virus scanner found {name}."),
            )),
            Verdict::TooLarge => Err(Refusal::new(Code::TooLargeToScan)),
            Verdict::Failed(why) if fail_open => {
                tracing::warn!(%why, size, "file stored unscanned (scan.fail_open)");
                Ok(())
            }
            Verdict::Failed(why) => {
                tracing::error!(%why, size, "file refused: no verdict from the virus scanner");
                Err(Refusal::new(Code::Unavailable))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_replies_are_read() {
        assert_eq!(Verdict::of_reply(b"stream: OK\0"), Verdict::Clean);
        assert_eq!(
            Verdict::of_reply(b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0"),
            Verdict::Infected("Eicar-Test-Signature.UNOFFICIAL".into())
        );
        assert_eq!(
            Verdict::of_reply(b"INSTREAM size limit exceeded. ERROR\0"),
            Verdict::TooLarge
        );
        assert!(matches!(Verdict::of_reply(b""), Verdict::Failed(_)));
        assert!(matches!(
            Verdict::of_reply(b"UNKNOWN COMMAND\0"),
            Verdict::Failed(_)
        ));
        assert_eq!(&framed(b"ab")[..], &[0, 0, 0, 2, b'a', b'b']);
    }
}
