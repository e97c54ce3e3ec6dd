//! Every byte before sign-in counts (issue 25, item 2), through the real server over real
//! sockets: a stranger's SendFile (wrong M-ID password) that would be 95 MiB is refused once
//! `limits.max_envelope_bytes` of it was read, whatever fills it before the credentials:
//! comments, whitespace, processing instructions, CDATA, a long attribute value or element
//! text, and in MTOM a part the envelope does not reference, a preamble or part headers.
//! "Not read" is proved two ways: the client streams its body at a steady pace and the Fault
//! arrives while it has sent a small prefix, and the gateway's own count of the bytes it took
//! before the credentials (`imax_s2s_precredential_bytes`) stays within the cap and one read
//! buffer. Also: the WSDL's address never comes from the `Host` header (item 8).

use crate::helpers::*;
use imax_gateway::s2s::envelope::{SOAP_ENV, TNS, WSSE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What each request would be in all: far more than the gateway may read before sign-in.
const WOULD_BE: u64 = 95 * 1024 * 1024;
/// The client's pace: one 64 KiB piece every 20 ms (about 3 MiB/s, far above the slowest
/// body the gateway accepts), so the bytes in flight in the sockets stay small.
const PIECE: usize = 64 * 1024;
const PACE: Duration = Duration::from_millis(20);
/// A read buffer of the server (hyper's largest HTTP/1.1 read is about 400 KiB).
const READ_BUFFER: f64 = 512.0 * 1024.0;
const WRONG: &str = "Not-The-Password-9";

fn token(password: &str) -> String {
    format!(
        "<wsse:Security xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security>",
        SITE_USER.0
    )
}

fn send_file(content: &str) -> String {
    format!(
        "<soap:Body><t:SendFile><t:mailbox>{}</t:mailbox><t:mailboxPassword>{}</t:mailboxPassword><t:toMailbox>{}</t:toMailbox><t:fileName>X.PDF</t:fileName><t:content>{content}</t:content></t:SendFile></soap:Body></soap:Envelope>",
        MAPLE.0, MAPLE.1, PBCA.0
    )
}

fn envelope_open() -> String {
    format!("<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\">")
}

/// A request that would be `head`, then `unit` repeated to about [`WOULD_BE`] bytes, then
/// `tail` (the credentials and the rest).
struct Stuffed {
    what: &'static str,
    content_type: String,
    head: String,
    unit: String,
    tail: String,
    code: &'static str,
}

/// A plain SOAP SendFile whose header holds `open`, the units, then `close`, before the
/// UsernameToken with a wrong password.
fn in_header(
    what: &'static str,
    open: &str,
    unit: String,
    close: &str,
    code: &'static str,
) -> Stuffed {
    Stuffed {
        what,
        content_type: "text/xml; charset=utf-8".into(),
        head: format!("{}<soap:Header>{open}", envelope_open()),
        unit,
        tail: format!(
            "{close}{}</soap:Header>{}",
            token(WRONG),
            send_file("JVBERg==")
        ),
        code,
    }
}

const MTOM: &str = "multipart/related; type=\"application/xop+xml\"; boundary=B; start=\"<root>\"";
const ROOT_HEADERS: &str =
    "Content-Type: application/xop+xml; type=\"text/xml\"\r\nContent-ID: <root>\r\n";

fn include() -> String {
    "<xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:file\"/>".into()
}

fn mtom_root(password: &str, body: &str) -> String {
    format!(
        "--B\r\n{ROOT_HEADERS}\r\n{}<soap:Header>{}</soap:Header>{body}\r\n",
        envelope_open(),
        token(password)
    )
}

fn file_part() -> String {
    "--B\r\nContent-ID: <file>\r\n\r\n%PDF-1.7\r\n--B--\r\n".into()
}

fn cases() -> Vec<Stuffed> {
    let k32 = |c: char| c.to_string().repeat(32 * 1024);
    vec![
        in_header(
            "comments",
            "",
            format!("<!--{}-->", k32('c')),
            "",
            "MalformedRequest",
        ),
        in_header(
            "whitespace",
            "",
            " \r\n\t".repeat(8 * 1024),
            "",
            "MalformedRequest",
        ),
        in_header(
            "processing instructions",
            "",
            format!("<?pad {}?>", k32('p')),
            "",
            "MalformedRequest",
        ),
        in_header(
            "CDATA",
            "<x:pad xmlns:x=\"urn:pad\">",
            format!("<![CDATA[{}]]>", k32('d')),
            "</x:pad>",
            "MalformedRequest",
        ),
        in_header(
            "a long attribute value",
            "<x:pad xmlns:x=\"urn:pad\" v=\"",
            k32('a'),
            "\"/>",
            "MalformedRequest",
        ),
        in_header(
            "long element text",
            "<x:pad xmlns:x=\"urn:pad\">",
            k32('t'),
            "</x:pad>",
            "MalformedRequest",
        ),
        // MTOM: comments in the root part, before the credentials.
        Stuffed {
            what: "comments in the MTOM root",
            content_type: MTOM.into(),
            head: format!("--B\r\n{ROOT_HEADERS}\r\n{}<soap:Header>", envelope_open()),
            unit: format!("<!--{}-->", k32('c')),
            tail: format!(
                "{}</soap:Header>{}\r\n{}",
                token(WRONG),
                send_file(&include()),
                file_part()
            ),
            code: "MalformedRequest",
        },
        // A 95 MiB part the envelope never references, before the file part: the envelope
        // (no content element, so the credentials would be checked only at the end) is
        // followed by a part it does not name, refused at its headers.
        Stuffed {
            what: "an unreferenced MTOM part before the file part",
            content_type: MTOM.into(),
            head: format!(
                "{}--B\r\nContent-ID: <other>\r\n\r\n",
                mtom_root(WRONG, &send_file("").replace("<t:content></t:content>", ""))
            ),
            unit: k32('o'),
            tail: format!("\r\n{}", file_part()),
            code: "MalformedRequest",
        },
        // The same with the Include: the credentials come first (refused), nothing after.
        Stuffed {
            what: "an unreferenced MTOM part after an Include, wrong password",
            content_type: MTOM.into(),
            head: format!(
                "{}--B\r\nContent-ID: <other>\r\n\r\n",
                mtom_root(WRONG, &send_file(&include()))
            ),
            unit: k32('o'),
            tail: format!("\r\n{}", file_part()),
            code: "AuthenticationFailed",
        },
        Stuffed {
            what: "a huge MTOM preamble",
            content_type: MTOM.into(),
            head: String::new(),
            unit: format!("{}\r\n", k32('q')),
            tail: format!(
                "{}{}",
                mtom_root(WRONG, &send_file(&include())),
                file_part()
            ),
            code: "MalformedRequest",
        },
        Stuffed {
            what: "huge MTOM part headers",
            content_type: MTOM.into(),
            head: format!("--B\r\n{ROOT_HEADERS}"),
            unit: format!("X-Pad: {}\r\n", "h".repeat(1024)),
            tail: format!(
                "\r\n{}",
                mtom_root(WRONG, &send_file(&include()))
                    .split_once("\r\n\r\n")
                    .map(|(_, rest)| rest.to_string())
                    .unwrap_or_default()
            ) + &file_part(),
            code: "MalformedRequest",
        },
    ]
}

/// The gateway's metrics page, and one sample from it (the sum of matching lines).
async fn precredential_bytes(t: &TestApp) -> (f64, f64) {
    let (status, _, page) = https_request(t, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(status, 200);
    let sample = |name: &str| -> f64 {
        page.lines()
            .filter(|l| l.split([' ', '{']).next() == Some(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (
        sample("imax_s2s_precredential_bytes_sum"),
        sample("imax_s2s_precredential_bytes_count"),
    )
}

/// Sends `case` over its own HTTP/1.1 connection at the client's pace while reading the
/// answer; returns the answer and how many body bytes the client had sent when it came.
async fn stream_stuffed(
    t: &TestApp,
    case: &Stuffed,
) -> (imax_gateway::client::Reply, u64, Duration) {
    let tls = tls_to(t.app().addr, &t.ca, b"http/1.1", None)
        .await
        .expect("tls");
    let (mut rd, mut wr) = tokio::io::split(tls);
    let units = (WOULD_BE as usize).div_ceil(case.unit.len());
    let total = case.head.len() + units * case.unit.len() + case.tail.len();
    let head = format!(
        "POST /s2s HTTP/1.1\r\nHost: localhost\r\nContent-Type: {}\r\nContent-Length: {total}\r\n\r\n",
        case.content_type
    );
    let sent = Arc::new(AtomicU64::new(0));
    let writer = {
        let sent = sent.clone();
        let (body_head, unit, tail) = (case.head.clone(), case.unit.clone(), case.tail.clone());
        tokio::spawn(async move {
            wr.write_all(head.as_bytes()).await?;
            wr.write_all(body_head.as_bytes()).await?;
            sent.fetch_add(body_head.len() as u64, Ordering::SeqCst);
            // The filler, a piece at a time at the client's pace.
            let mut pending: Vec<u8> = Vec::with_capacity(PIECE * 2);
            let mut left = units;
            while left > 0 || !pending.is_empty() {
                while pending.len() < PIECE && left > 0 {
                    pending.extend_from_slice(unit.as_bytes());
                    left -= 1;
                }
                let n = pending.len().min(PIECE);
                wr.write_all(&pending[..n]).await?;
                wr.flush().await?;
                sent.fetch_add(n as u64, Ordering::SeqCst);
                pending.drain(..n);
                tokio::time::sleep(PACE).await;
            }
            wr.write_all(tail.as_bytes()).await?;
            wr.flush().await?;
            Ok::<_, std::io::Error>(())
        })
    };
    let started = Instant::now();
    // Read one HTTP/1.1 response: the head, then Content-Length bytes.
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let (status, body) = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n = rd.read(&mut buf).await.expect("read the answer");
            assert!(n > 0, "the connection closed before the answer: {got:?}");
            got.extend_from_slice(&buf[..n]);
            let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length");
            if got.len() >= end + 4 + len {
                let status: u16 = head[9..12].parse().expect("status");
                return (status, got[end + 4..end + 4 + len].to_vec());
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{}: no answer within 20 s; the client had sent {} bytes",
            case.what,
            sent.load(Ordering::SeqCst)
        )
    });
    let elapsed = started.elapsed();
    let sent_then = sent.load(Ordering::SeqCst);
    writer.abort();
    let reply = imax_gateway::client::parse_reply(status, &body).expect("a SOAP reply");
    (reply, sent_then, elapsed)
}

/// R9, issue 25 item 2: whatever construct fills a stranger's request before the
/// credentials, no more than the envelope cap (and one read buffer) is read before it is
/// refused; nothing is stored; and well-formed requests still go through.
#[tokio::test]
async fn every_byte_before_sign_in_counts_against_the_envelope_cap() {
    let t = TestApp::start().await;
    let cap = t.config.limits.max_envelope_bytes as f64;
    for case in cases() {
        let (sum_before, count_before) = precredential_bytes(&t).await;
        let (reply, sent, elapsed) = stream_stuffed(&t, &case).await;
        let f = assert_fault(&reply, case.code);
        assert!(!f.message.is_empty(), "{}: a sentence", case.what);
        // Refused while the client had sent a small prefix of its 95 MiB (what the sockets
        // hold in flight included), within seconds.
        assert!(
            sent < 8 * 1024 * 1024,
            "{}: the client had sent {sent} bytes when the answer came",
            case.what
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "{}: {elapsed:?}",
            case.what
        );
        // The gateway's own count: at most the cap and one read buffer before the refusal.
        let (sum, count) = precredential_bytes(&t).await;
        assert_eq!(
            count - count_before,
            1.0,
            "{}: one request counted",
            case.what
        );
        let read = sum - sum_before;
        assert!(
            read <= cap + READ_BUFFER,
            "{}: the gateway read {read} bytes before the credentials (cap {cap})",
            case.what
        );
        println!(
            "{}: {} ({read} bytes read, {sent} sent, {elapsed:?})",
            case.what, f.code
        );
    }
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    assert_eq!(settled_uploads(t.admin.store()).await, 0);

    // Well-formed requests with a few comments, whitespace and a PI before the credentials
    // still go through, plain and MTOM.
    let mut c = t.client(SITE_USER).await;
    let plain = format!(
        "{}<!-- sent by a client that comments -->\n  <soap:Header>\n<?client v1?>{}</soap:Header>{}",
        envelope_open(),
        token(SITE_USER.1),
        send_file("JVBERi0xLjcgcGxhaW4=")
    );
    let r = c.raw(plain.into_bytes()).await.expect("reply");
    assert_ok(&r);
    let r = c
        .post_raw_as(
            MTOM,
            format!(
                "preamble\r\n{}{}",
                mtom_root(SITE_USER.1, &send_file(&include())),
                file_part()
            )
            .into_bytes(),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("sizeBytes"), Some("8"));
    // The envelope's part must come first when `start` names it.
    let r = c
        .post_raw_as(
            &MTOM.replace("<root>", "<elsewhere>"),
            format!(
                "{}{}",
                mtom_root(SITE_USER.1, &send_file(&include())),
                file_part()
            )
            .into_bytes(),
        )
        .await
        .expect("reply");
    assert_fault(&r, "MalformedRequest");
    // After the credentials, a part the envelope does not name is refused too (unread).
    let r = c
        .post_raw_as(
            MTOM,
            format!(
                "{}--B\r\nContent-ID: <other>\r\n\r\nx\r\n{}",
                mtom_root(SITE_USER.1, &send_file(&include())),
                file_part()
            )
            .into_bytes(),
        )
        .await
        .expect("reply");
    let f = assert_fault(&r, "MalformedRequest");
    assert!(f.message.contains("does not reference"), "{}", f.message);
}

/// One HTTP/1.1 GET of the WSDL with the given Host header; its soap:address.
async fn wsdl_address(t: &TestApp, host: &str) -> String {
    let mut s = tls_to(t.app().addr, &t.ca, b"http/1.1", None)
        .await
        .expect("tls");
    s.write_all(
        format!("GET /s2s?wsdl HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("request");
    let mut page = Vec::new();
    s.read_to_end(&mut page).await.expect("answer");
    let page = String::from_utf8_lossy(&page);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let at = page.find("soap:address location=\"").expect("an address") + 23;
    page[at..].split('"').next().expect("quoted").to_string()
}

/// Issue 25, item 8: the WSDL's address is `public_url`, or the address the gateway listens
/// on; a hostile `Host` header never shows in it.
#[tokio::test]
async fn the_wsdl_address_never_comes_from_the_host_header() {
    let t = TestApp::start().await;
    let own = format!("https://localhost:{}/s2s", t.app().addr.port());
    for host in ["evil.example", "evil.example:443", "localhost:1"] {
        assert_eq!(wsdl_address(&t, host).await, own, "Host: {host}");
    }
    let t = TestApp::start_with(|c| c.public_url = "https://imax.example.gov/".into()).await;
    assert_eq!(
        wsdl_address(&t, "evil.example").await,
        "https://imax.example.gov/s2s"
    );
}

/// The same bound over HTTP/2, where the body arrives as DATA frames: a stranger's header of
/// endless comments, and an MTOM part the envelope never references, each refused after at
/// most the cap (and one read buffer) while the client is still streaming.
#[tokio::test]
async fn the_bound_holds_over_http2_too() {
    use futures_util::StreamExt;
    let t = TestApp::start().await;
    let cap = t.config.limits.max_envelope_bytes as f64;
    let tls = tls_to(t.app().addr, &t.ca, b"h2", None).await.expect("tls");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("h2");
    tokio::spawn(conn);
    let all = cases();
    let picked = all.iter().filter(|c| {
        c.what == "comments" || c.what == "an unreferenced MTOM part before the file part"
    });
    for case in picked {
        let (sum_before, _) = precredential_bytes(&t).await;
        let sent = Arc::new(AtomicU64::new(0));
        // The body: the head, then the filler a piece at a time at the client's pace.
        let pieces = {
            let sent = sent.clone();
            let head = case.head.clone().into_bytes();
            let piece = case
                .unit
                .repeat(PIECE.div_ceil(case.unit.len()))
                .into_bytes();
            let count = WOULD_BE as usize / piece.len();
            futures_util::stream::iter(
                std::iter::once(head).chain(std::iter::repeat_n(piece, count)),
            )
            .then(move |b| {
                let sent = sent.clone();
                async move {
                    tokio::time::sleep(PACE).await;
                    sent.fetch_add(b.len() as u64, Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(bytes::Bytes::from(
                        b,
                    )))
                }
            })
        };
        let req = hyper::Request::post(format!("https://localhost:{}/s2s", t.app().addr.port()))
            .header("content-type", case.content_type.as_str())
            .body(http_body_util::StreamBody::new(pieces.boxed()))
            .expect("request");
        sender.ready().await.expect("ready");
        let started = Instant::now();
        let resp = tokio::time::timeout(Duration::from_secs(20), sender.send_request(req))
            .await
            .unwrap_or_else(|_| panic!("{}: no answer within 20 s", case.what))
            .expect("answer");
        let sent_then = sent.load(Ordering::SeqCst);
        let status = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("body")
            .to_bytes();
        let reply = imax_gateway::client::parse_reply(status, &body).expect("a SOAP reply");
        assert_fault(&reply, case.code);
        assert!(
            sent_then < 8 * 1024 * 1024,
            "{}: {sent_then} bytes sent",
            case.what
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{}", case.what);
        let (sum, _) = precredential_bytes(&t).await;
        assert!(
            sum - sum_before <= cap + READ_BUFFER,
            "{}: {} bytes read before the credentials",
            case.what,
            sum - sum_before
        );
    }
}
