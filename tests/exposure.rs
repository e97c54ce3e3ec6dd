//! What a stranger can do to the gateway before signing in, over real sockets: idle and
//! half-open crowds, dribbled heads, slow bodies, clients that do not read, one client with
//! too many connections, over HTTP/1.1 and HTTP/2. Everyone else must be served throughout.

use crate::helpers::*;
use bytes::Bytes;
use imax_gateway::s2s::envelope::{SOAP_ENV, TNS, WSSE};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A TLS connection (handshake done) speaking `alpn`, from `from`.
async fn tls_from(t: &TestApp, from: IpAddr, alpn: &[u8]) -> std::io::Result<TlsStream<TcpStream>> {
    tls_to(t.app().addr, &t.ca, alpn, Some(from)).await
}

fn local() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// Reads (and discards) until the peer closes the connection; how long that took, or `None`
/// when it was still open after `limit`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 16 * 1024];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .ok()
        .map(|_| start.elapsed())
}

/// A plain HTTP/1.1 GET of the WSDL over `s`: the status code.
async fn get_wsdl(s: &mut TlsStream<TcpStream>) -> u16 {
    s.write_all(b"GET /s2s?wsdl HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    // Read the head and the whole (Content-Length) body, so the connection is idle after.
    loop {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before the answer");
        head.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&head).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().expect("len"))
                })
                .expect("content-length");
            if head.len() >= end + 4 + len {
                return text[9..12].parse().expect("status");
            }
        }
    }
}

fn stat(t: &TestApp, name: &str) -> u64 {
    t.app().connections.stats.get(name)
}

#[tokio::test]
async fn a_crowd_of_idle_connections_never_locks_out_a_new_client() {
    let t = TestApp::start_with(|c| {
        c.limits.max_connections = 24;
        c.limits.max_connections_per_client = 1000;
        c.limits.header_read_timeout_secs = 3;
    })
    .await;
    // Twice the cap: TLS connections that never send a request, and TCP connections that
    // never even start the handshake.
    let mut idle = Vec::new();
    for _ in 0..24 {
        idle.push(tls_from(&t, local(), b"http/1.1").await.expect("tls"));
    }
    let mut half_open = Vec::new();
    for _ in 0..24 {
        half_open.push(tcp_from(t.app().addr, Some(local())).await);
    }
    // A real client is served at once, through both doors' listener.
    let started = Instant::now();
    let r = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert_eq!(r.status, 600, "{r:?}");
    // (The point is being served at all: before, a new client got no answer for 70 s.)
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stat(&t, "shed_idle") >= 24,
        "{:?}",
        t.app().connections.stats.snapshot()
    );
    // And the crowd is gone within the head deadline.
    for s in idle.iter_mut() {
        assert!(closed_within(s, Duration::from_secs(5)).await.is_some());
    }
    for s in half_open.iter_mut() {
        assert!(closed_within(s, Duration::from_secs(5)).await.is_some());
    }
}

#[tokio::test]
async fn dribbled_heads_and_idle_connections_are_closed_on_time() {
    let t = TestApp::start_with(|c| {
        c.limits.header_read_timeout_secs = 2;
        c.limits.keepalive_timeout_secs = 4;
    })
    .await;
    // Idle after the handshake: no head within 2 s of the accept.
    let mut idle = tls_from(&t, local(), b"http/1.1").await.expect("tls");
    let took = closed_within(&mut idle, Duration::from_secs(10))
        .await
        .expect("closed");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );

    // A head dribbled a line every 300 ms: bytes keep coming, the head never completes.
    let mut dribbler = tls_from(&t, local(), b"http/1.1").await.expect("tls");
    dribbler
        .write_all(b"GET /s2s?wsdl HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut dropped = false;
    while started.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if dribbler.write_all(b"X-Slow: 1\r\n").await.is_err() || dribbler.flush().await.is_err() {
            dropped = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), dribbler.read(&mut probe)).await
        {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "a dribbled head was still open after 8 s");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );

    // Keep-alive: a finished request leaves the connection idle; it closes after 4 s idle.
    let mut kept = tls_from(&t, local(), b"http/1.1").await.expect("tls");
    assert_eq!(get_wsdl(&mut kept).await, 200);
    let took = closed_within(&mut kept, Duration::from_secs(12))
        .await
        .expect("closed");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(9),
        "{took:?}"
    );

    // HTTP/2: a connection with no stream is held only until the first head is due; one
    // whose requests are done, until the keep-alive timeout (then GOAWAY).
    let tls = tls_from(&t, local(), b"h2").await.expect("tls");
    let (_sender, conn) =
        hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<Bytes>>(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .expect("h2");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("an HTTP/2 connection without requests is closed")
        .ok();
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );

    let tls = tls_from(&t, local(), b"h2").await.expect("tls");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("h2");
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(format!(
        "https://localhost:{}/s2s?wsdl",
        t.app().addr.port()
    ))
    .body(http_body_util::Empty::<Bytes>::new())
    .expect("req");
    let resp = sender.send_request(req).await.expect("resp");
    assert_eq!(resp.status(), 200);
    drop(resp);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(14), conn)
        .await
        .expect("an idle HTTP/2 connection is closed")
        .ok();
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stat(&t, "header_timeouts") >= 3,
        "{:?}",
        t.app().connections.stats.snapshot()
    );
    assert!(
        stat(&t, "idle_closed") >= 2,
        "{:?}",
        t.app().connections.stats.snapshot()
    );
}

/// Sends an HTTP/1.1 request head announcing `len` body bytes, then `first`, then one
/// `drip` every `every`, until the gateway answers or closes; what it answered.
async fn dribble_body(
    t: &TestApp,
    head: &str,
    len: usize,
    first: &[u8],
    every: Duration,
) -> (String, Duration) {
    let mut s = tls_from(t, local(), b"http/1.1").await.expect("tls");
    let head = format!("{head}Host: localhost\r\nContent-Length: {len}\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(first).await.expect("first");
    let started = Instant::now();
    let (mut rd, mut wr) = tokio::io::split(s);
    let writer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if wr.write_all(&[b'A'; 64]).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut answer)).await;
    writer.abort();
    (
        String::from_utf8_lossy(&answer).to_string(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn bodies_below_the_minimum_pace_are_refused() {
    let t = TestApp::start_with(|c| {
        c.limits.body_min_rate_bytes_per_sec = 2000;
        c.limits.body_rate_grace_secs = 1;
        c.limits.body_idle_timeout_secs = 10;
    })
    .await;
    // A SendFile whose content arrives at 320 bytes a second, though it never pauses long.
    let prefix = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\"><soap:Body><t:SendFile><t:mailbox>{}</t:mailbox>",
        MAPLE.0
    );
    let (answer, took) = dribble_body(
        &t,
        "POST /s2s HTTP/1.1\r\nContent-Type: text/xml\r\n",
        1_000_000,
        prefix.as_bytes(),
        Duration::from_millis(200),
    )
    .await;
    assert!(answer.contains("MalformedRequest"), "{answer}");
    assert!(answer.contains("arrived too slowly"), "{answer}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The sign-in form, too (a browser's form has the same pace to keep).
    let (answer, took) = dribble_body(
        &t,
        "POST /signin HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n",
        60_000,
        b"csrf=x&mid=M10002&password=",
        Duration::from_millis(200),
    )
    .await;
    assert!(took < Duration::from_secs(10), "{took:?}: {answer}");
    assert!(
        !answer.contains(" 200 ") && !answer.contains(" 303 "),
        "{answer}"
    );
    assert!(
        stat(&t, "body_timeouts") >= 2,
        "{:?}",
        t.app().connections.stats.snapshot()
    );
    // A form larger than limits.max_form_bytes is refused once that much has arrived.
    let mut big = b"csrf=x&mid=".to_vec();
    big.resize(100 * 1024, b'A');
    let (answer, _) = dribble_body(
        &t,
        "POST /signin HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n",
        10_000_000,
        &big,
        Duration::from_millis(50),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn one_client_is_capped_while_others_are_served() {
    let t = TestApp::start_with(|c| c.limits.max_connections_per_client = 3).await;
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(
            tls_from(&t, IpAddr::from([127, 0, 0, 7]), b"http/1.1")
                .await
                .expect("tls"),
        );
    }
    // The fourth from the same address is closed before its handshake completes.
    assert!(tls_from(&t, IpAddr::from([127, 0, 0, 7]), b"http/1.1")
        .await
        .is_err());
    assert_eq!(stat(&t, "refused_per_client"), 1);
    // Another client is served, and the capped client's open connections still work.
    let mut other = tls_from(&t, IpAddr::from([127, 0, 0, 8]), b"http/1.1")
        .await
        .expect("tls");
    assert_eq!(get_wsdl(&mut other).await, 200);
    assert_eq!(get_wsdl(&mut mine[0]).await, 200);
}

#[tokio::test]
async fn a_client_that_does_not_read_its_answer_is_dropped() {
    let t = TestApp::start_with(|c| c.limits.send_timeout_secs = 2).await;
    // A 24 MiB attachment for the CA: far more than the sockets' buffers hold.
    let content: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), &content).await;
    assert_ok(&r);
    let id = r.get("messageId").expect("id").to_string();
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\"><soap:Header><wsse:Security xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><t:GetMessage><t:mailbox>{}</t:mailbox><t:mailboxPassword>{}</t:mailboxPassword><t:messageId>{id}</t:messageId></t:GetMessage></soap:Body></soap:Envelope>",
        CA_USER.0, CA_USER.1, PBCA.0, PBCA.1
    );
    let mut s = tls_from(&t, local(), b"http/1.1").await.expect("tls");
    let head = format!(
        "POST /s2s HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        envelope.len()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(envelope.as_bytes()).await.expect("body");
    // Read nothing for a while: the gateway gives up on us after the send timeout.
    let open_before = stat(&t, "open");
    let started = Instant::now();
    while stat(&t, "send_timeouts") == 0 && started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stat(&t, "send_timeouts"),
        1,
        "{:?}",
        t.app().connections.stats.snapshot()
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // The connection's task ends right after the failed write.
    for _ in 0..100 {
        if stat(&t, "open") < open_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stat(&t, "open") < open_before, "the connection was closed");
    // The body was not handed over whole, so the message is not retrieved.
    let listed = t.list(CA_USER, PBCA, "receivedFromOthers").await;
    assert_ok(&listed);
    assert_eq!(listed.all("messageId"), vec![id.as_str()]);
    assert!(listed.get("retrievedAt").is_none(), "{listed:?}");
}

/// An HTTP/2 connection whose client keeps every stream's window closed
/// (`SETTINGS_INITIAL_WINDOW_SIZE = 0`), with one `GET /signin` open on it: the response's
/// head arrives, not one byte of its body can.
struct ZeroWindow {
    client: h2::client::SendRequest<Bytes>,
    body: h2::RecvStream,
    conn: tokio::task::JoinHandle<Result<(), h2::Error>>,
}

async fn zero_window(t: &TestApp, from: IpAddr) -> std::io::Result<ZeroWindow> {
    let tls = tls_from(t, from, b"h2").await?;
    let (client, conn) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, Bytes>(tls)
        .await
        .map_err(std::io::Error::other)?;
    let conn = tokio::spawn(conn);
    let mut client = client.ready().await.map_err(std::io::Error::other)?;
    let req = hyper::Request::get(format!("https://localhost:{}/signin", t.app().addr.port()))
        .body(())
        .expect("request");
    let (response, _) = client
        .send_request(req, true)
        .map_err(std::io::Error::other)?;
    let response = response.await.map_err(std::io::Error::other)?;
    assert_eq!(response.status(), 200);
    Ok(ZeroWindow {
        client,
        body: response.into_body(),
        conn,
    })
}

/// A new client from `from`, retried while the gateway turns it away: how long until it was
/// served (the WSDL over HTTP/1.1), or `None` after `limit`.
async fn served_within(t: &TestApp, from: IpAddr, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(mut s) = tls_from(t, from, b"http/1.1").await {
            if let Ok(status) = tokio::time::timeout(Duration::from_secs(5), get_wsdl(&mut s)).await
            {
                assert_eq!(status, 200);
                return Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Issue 25: eight HTTP/2 connections that keep their windows closed on a `GET /signin`, with
/// `max_connections = 8`, do not keep a new client out: a connection whose every response
/// waits on its client counts as idle once it has waited `send_stall_secs`, and is closed for
/// the newcomer (before, nothing ever timed them out and curl got no answer at all).
#[tokio::test]
async fn zero_window_http2_connections_do_not_keep_a_new_client_out() {
    let t = TestApp::start_with(|c| {
        c.limits.max_connections = 8;
        c.limits.send_stall_secs = 1;
        c.limits.send_timeout_secs = 60;
    })
    .await;
    let mut crowd = Vec::new();
    for _ in 0..8 {
        crowd.push(zero_window(&t, local()).await.expect("h2"));
    }
    // The window is really closed: no byte of the page arrives, and all eight are in flight.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), crowd[0].body.data())
            .await
            .is_err(),
        "data arrived through a closed window"
    );
    assert_eq!(t.app().connections.requests_in_flight(), 8);
    // A new client is served within the stall deadline (1 s), long before any send timeout.
    let took = served_within(&t, IpAddr::from([127, 0, 0, 2]), Duration::from_secs(8))
        .await
        .expect("a new client is served");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let stats = t.app().connections.stats.snapshot();
    assert!(stat(&t, "shed_stalled") >= 1, "{stats:?}");
    assert_eq!(stat(&t, "stalled_streams"), 0, "{stats:?}");
    // The connection shed for it is gone at once (no polite wait on a stalled response).
    wait_until(
        "a stalled connection closed",
        Duration::from_secs(3),
        || async { crowd.iter().any(|z| z.conn.is_finished()) },
    )
    .await;
}

/// Issue 25: a stream whose window stays closed is reset (`RST_STREAM`) after the send
/// timeout, counted; the request ends, and the connection goes on serving.
#[tokio::test]
async fn a_stream_whose_window_stays_closed_is_reset_after_the_send_timeout() {
    let t = TestApp::start_with(|c| c.limits.send_timeout_secs = 2).await;
    let mut z = zero_window(&t, local()).await.expect("h2");
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), z.body.data())
        .await
        .expect("the stream ends");
    let took = started.elapsed();
    let err = match ended {
        Some(Err(e)) => e,
        other => panic!("expected a reset, got {other:?}"),
    };
    assert_eq!(err.reason(), Some(h2::Reason::CANCEL), "{err:?}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(stat(&t, "stalled_streams"), 1);
    wait_until("the request to end", Duration::from_secs(2), || async {
        t.app().connections.requests_in_flight() == 0
    })
    .await;
    // The same connection still answers (a response without a body needs no window).
    let req = hyper::Request::head(format!("https://localhost:{}/signin", t.app().addr.port()))
        .body(())
        .expect("request");
    let (response, _) = z.client.send_request(req, true).expect("send");
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("answered")
        .expect("response");
    assert_eq!(response.status(), 200);
    assert!(!z.conn.is_finished());
}

/// Issue 25, at the defaults: however many zero-window connections one address opens, it
/// holds no more than its per-client share (64); everyone else is served.
#[tokio::test]
async fn zero_window_connections_from_one_address_are_capped_at_its_share() {
    let t = TestApp::start().await;
    let share = t.config.limits.max_connections_per_client;
    let attacker = IpAddr::from([127, 0, 0, 9]);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..share + 6 {
        match zero_window(&t, attacker).await {
            Ok(z) => held.push(z),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(held.len(), share);
    assert_eq!(refused, 6);
    assert_eq!(stat(&t, "refused_per_client"), 6);
    let took = served_within(&t, IpAddr::from([127, 0, 0, 10]), Duration::from_secs(5))
        .await
        .expect("another client is served");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Issue 25, HTTP/1.1: clients that ask for a large answer and stop reading fill the gateway
/// (`max_connections = 3`), yet a new client is served once their responses have waited
/// `send_stall_secs` (they count as idle), and each is cut off at the send timeout; the
/// message is not retrieved.
#[tokio::test]
async fn http1_clients_that_stop_reading_are_shed_and_cut_off() {
    let t = TestApp::start_with(|c| {
        c.limits.max_connections = 3;
        c.limits.send_stall_secs = 1;
        c.limits.send_timeout_secs = 12;
    })
    .await;
    let content: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), &content).await;
    assert_ok(&r);
    let id = r.get("messageId").expect("id").to_string();
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\"><soap:Header><wsse:Security xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><t:GetMessage><t:mailbox>{}</t:mailbox><t:mailboxPassword>{}</t:mailboxPassword><t:messageId>{id}</t:messageId></t:GetMessage></soap:Body></soap:Envelope>",
        CA_USER.0, CA_USER.1, PBCA.0, PBCA.1
    );
    let mut readers = Vec::new();
    for n in 0..3u8 {
        let mut s = tls_from(&t, IpAddr::from([127, 0, 0, 20 + n]), b"http/1.1")
            .await
            .expect("tls");
        let head = format!(
            "POST /s2s HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            envelope.len()
        );
        s.write_all(head.as_bytes()).await.expect("head");
        s.write_all(envelope.as_bytes()).await.expect("body");
        readers.push(s);
    }
    wait_until(
        "three answers in flight",
        Duration::from_secs(30),
        || async { t.app().connections.requests_in_flight() == 3 },
    )
    .await;
    // A newcomer is served by shedding a stalled reader, not by waiting for a send timeout.
    served_within(&t, IpAddr::from([127, 0, 0, 30]), Duration::from_secs(10))
        .await
        .expect("a new client is served");
    let stats = t.app().connections.stats.snapshot();
    assert!(stat(&t, "shed_stalled") >= 1, "{stats:?}");
    assert_eq!(stat(&t, "send_timeouts"), 0, "{stats:?}");
    // The others are cut off at the send timeout.
    wait_until(
        "the stalled readers cut off",
        Duration::from_secs(40),
        || async { t.app().connections.requests_in_flight() == 0 },
    )
    .await;
    let stats = t.app().connections.stats.snapshot();
    assert!(
        stat(&t, "send_timeouts") + stat(&t, "shed_stalled") >= 3,
        "{stats:?}"
    );
    for s in readers.iter_mut() {
        assert!(closed_within(s, Duration::from_secs(5)).await.is_some());
    }
    let listed = t.list(CA_USER, PBCA, "receivedFromOthers").await;
    assert_ok(&listed);
    assert!(listed.get("retrievedAt").is_none(), "{listed:?}");
}
