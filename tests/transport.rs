//! TLS, ALPN, the WSDL, and graceful shutdown.

use crate::helpers::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;
use tokio::net::TcpStream;

#[tokio::test]
async fn wsdl_and_xsd_are_served_with_the_gateway_address() {
    let t = TestApp::start().await;
    let mut c = t.client(SITE_USER).await;
    let (status, wsdl) = c.get("/s2s?wsdl").await.expect("wsdl");
    assert_eq!(status, 200);
    assert!(
        wsdl.contains(&format!(
            "location=\"https://localhost:{}/s2s\"",
            t.app().addr.port()
        )),
        "{wsdl}"
    );
    for op in [
        "SendFile",
        "ListMessages",
        "GetMessage",
        "AckMessage",
        "ChangePassword",
    ] {
        assert!(
            wsdl.contains(&format!("<wsdl:operation name=\"{op}\">")),
            "{op}"
        );
    }
    // The binding advertises MTOM (issue 13, item 5), the policy WCF reads.
    assert!(wsdl.contains("<wsp:PolicyReference URI=\"#ImaxBinding_Mtom\"/>"));
    assert!(wsdl.contains("<wsoma:OptimizedMimeSerialization/>"));
    let (status, xsd) = c.get("/imax-s2s.xsd").await.expect("xsd");
    assert_eq!(status, 200);
    assert!(xsd.contains("name=\"imaxFault\""));
    let (status, _) = c.get("/s2s").await.expect("get");
    assert_eq!(status, 405);
}

async fn handshake(
    t: &TestApp,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Result<(Option<Vec<u8>>, String), std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(&t.ca).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(t.app().addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let (_, conn) = tls.get_ref();
    let suite = format!("{:?}", conn.negotiated_cipher_suite().map(|s| s.suite()));
    Ok((conn.alpn_protocol().map(|p| p.to_vec()), suite))
}

#[tokio::test]
async fn tls_12_and_13_with_aead_suites_and_alpn() {
    let t = TestApp::start().await;
    let (alpn, suite) = handshake(&t, &[&rustls::version::TLS12], &[b"http/1.1"])
        .await
        .expect("TLS 1.2 works");
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(
        suite.contains("GCM") || suite.contains("CHACHA20_POLY1305"),
        "{suite}"
    );
    let (alpn, suite) = handshake(&t, &[&rustls::version::TLS13], &[b"h2", b"http/1.1"])
        .await
        .expect("TLS 1.3 works");
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert!(suite.starts_with("Some(TLS13_"), "{suite}");
}

#[tokio::test]
async fn http2_serves_the_same_endpoint() {
    let t = TestApp::start().await;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(&t.ca).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(t.app().addr).await.expect("tcp");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls_pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("tls");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("h2");
    tokio::spawn(conn);
    let req = hyper::Request::get(format!(
        "https://localhost:{}/s2s?wsdl",
        t.app().addr.port()
    ))
    .body(http_body_util::Empty::<Bytes>::new())
    .expect("req");
    let resp = sender.send_request(req).await.expect("resp");
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("strict-transport-security").is_some());
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("ImaxService"));
}

#[tokio::test]
async fn shutdown_lets_an_upload_in_flight_finish() {
    use imax_gateway::client::S2sClient;
    let mut t = TestApp::start().await;
    let (upload, tx) = open_upload(&t.url, &t.ca, "SLOW.DAT").await;
    tx.send(Bytes::from_static(b"QUJD")).await.expect("send");
    let conns = t.app().connections.clone();
    let limit = std::time::Duration::from_secs(10);
    wait_until("the upload in flight", limit, || async {
        conns.requests_in_flight() == 1
    })
    .await;
    let addr = t.app().addr;
    let app = t.app.take().expect("app");
    let stopping = tokio::spawn(app.stop());
    wait_until("the listener closed", limit, || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    // No new connections once shutdown has begun.
    assert!(S2sClient::connect(
        &format!("https://localhost:{}", addr.port()),
        &t.ca,
        "M1",
        "x"
    )
    .await
    .is_err());
    tx.send(Bytes::from_static(
        b"REVG</t:content></t:SendFile></soap:Body></soap:Envelope>",
    ))
    .await
    .expect("send");
    drop(tx);
    let r = upload.await.expect("join").expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("sizeBytes"), Some("6"));
    stopping.await.expect("stopped");
    // And the message is there after a restart.
    t.restart().await;
    let got = t.get(CA_USER, PBCA, r.get("messageId").expect("id")).await;
    assert_eq!(got.content().expect("content"), b"ABCDEF");
}

#[tokio::test]
async fn a_stalled_upload_is_refused_and_leaves_nothing() {
    let t = TestApp::start_with(|c| c.limits.body_idle_timeout_secs = 1).await;
    let (upload, tx) = open_upload(&t.url, &t.ca, "STALL.DAT").await;
    tx.send(Bytes::from_static(b"QUJD")).await.expect("send");
    // The client keeps the body open (stalled) well past the server's 1 s idle limit.
    let holder = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        drop(tx);
    });
    let r = upload.await.expect("join").expect("reply");
    let f = assert_fault(&r, "MalformedRequest");
    assert!(f.message.contains("stopped arriving"), "{}", f.message);
    holder.abort();
    assert_eq!(t.list(SITE_USER, MAPLE, "sentToOthers").await.status, 600);
    assert_eq!(settled_uploads(t.admin.store()).await, 0);
}

#[tokio::test]
async fn the_development_certificate_lasts_a_year_and_is_renewed_near_its_end() {
    let mut t = TestApp::start().await;
    let tls = t.dir.path().join("tls");
    let checkend = |days: i64| {
        std::process::Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-checkend",
                &(days * 86400).to_string(),
                "-in",
            ])
            .arg(tls.join("server.pem"))
            .status()
            .expect("openssl (installed by the test command)")
            .success()
    };
    assert!(checkend(364), "valid for (about) a year");
    assert!(
        !checkend(366),
        "not for longer (testssl.sh flags certificates valid for ages)"
    );
    let expires = imax_gateway::tls::dev_expiry(&tls).expect("expiry recorded");
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::days(364) && left <= time::Duration::days(365));

    // Near its end, the next start renews it; a certificate with time left is kept.
    let before = std::fs::read(tls.join("server.pem")).expect("cert");
    t.restart().await;
    assert_eq!(std::fs::read(tls.join("server.pem")).expect("cert"), before);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    std::fs::write(
        tls.join("dev-expires-at"),
        soon.unix_timestamp().to_string(),
    )
    .expect("age it");
    t.restart().await;
    assert_ne!(std::fs::read(tls.join("server.pem")).expect("cert"), before);
    assert!(checkend(364));
    // And the renewed certificate serves.
    let mut c = t.client(SITE_USER).await;
    assert_eq!(c.get("/healthz").await.expect("healthz").0, 200);
}

/// Generates a development pair in `dir` (a new CA each time): (cert path, key path, leaf DER).
fn new_pair(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    imax_gateway::tls::generate_dev(dir).expect("pair");
    let leaf = rustls_pki_types::CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("pem")
        .next()
        .expect("leaf")
        .expect("leaf")
        .to_vec();
    (dir.join("server.pem"), dir.join("server.key"), leaf)
}

/// Two development pairs, each from its own CA, and a bundle of both CAs that clients trust
/// (as during a planned rotation).
struct Rotation {
    a: (std::path::PathBuf, std::path::PathBuf, Vec<u8>),
    b: (std::path::PathBuf, std::path::PathBuf, Vec<u8>),
    both: std::path::PathBuf,
}

fn rotation(dir: &std::path::Path) -> Rotation {
    let (a, b) = (new_pair(&dir.join("a")), new_pair(&dir.join("b")));
    let both = dir.join("both-ca.pem");
    let ca = |n: &str| std::fs::read(dir.join(n).join("dev-ca.pem")).expect("ca");
    std::fs::write(&both, [ca("a"), ca("b")].concat()).expect("both");
    Rotation { a, b, both }
}

/// Replaces `to` with `from`'s bytes atomically (write beside, then rename over).
fn replace(from: &std::path::Path, to: &std::path::Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

/// The leaf certificate a fresh connection is served.
async fn served_leaf(addr: std::net::SocketAddr, ca: &std::path::Path) -> Vec<u8> {
    let tls = tls_to(addr, ca, b"http/1.1", None).await.expect("tls");
    tls.get_ref().1.peer_certificates().expect("certs")[0].to_vec()
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_or_a_failed_request() {
    let keys = tempfile::tempdir().expect("tmp");
    let Rotation {
        a: (a_cert, a_key, a_leaf),
        b: (b_cert, b_key, b_leaf),
        both,
    } = rotation(keys.path());
    let live = keys.path().join("live");
    std::fs::create_dir_all(&live).expect("dir");
    let (cert, key) = (live.join("server.pem"), live.join("server.key"));
    replace(&a_cert, &cert);
    replace(&a_key, &key);
    let (c, k) = (cert.clone(), key.clone());
    let t = TestApp::start_with(move |cfg| {
        cfg.tls.cert = c.display().to_string();
        cfg.tls.key = k.display().to_string();
        cfg.tls.reload_check_secs = 1;
    })
    .await;
    let addr = t.app().addr;
    assert_eq!(served_leaf(addr, &both).await, a_leaf);
    assert_eq!(
        t.app().cert_store.expires_at(),
        imax_gateway::tls::dev_expiry(&keys.path().join("a"))
    );
    // A connection opened before the swap, kept open across it.
    let mut kept = imax_gateway::client::S2sClient::connect(&t.url, &both, "M1", "x")
        .await
        .expect("connect");

    // Steady requests on fresh connections while the pair is swapped.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, both) = (stop.clone(), both.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let outcome = async {
                    let tls = tls_to(addr, &both, b"http/1.1", None).await.ok()?;
                    let (mut s, conn) =
                        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                            .await
                            .ok()?;
                    tokio::spawn(conn);
                    let req = hyper::Request::get("/healthz")
                        .header("host", "localhost")
                        .body(http_body_util::Empty::<Bytes>::new())
                        .ok()?;
                    let r = s.send_request(req).await.ok()?;
                    (r.status() == 200).then_some(())
                }
                .await;
                match outcome {
                    Some(()) => ok += 1,
                    None => failed += 1,
                }
            }
            (ok, failed)
        })
    };
    // The load is running: fresh connections are arriving.
    let conns = t.app().connections.clone();
    let accepted = conns.stats.get("accepted");
    wait_until(
        "the load to start",
        std::time::Duration::from_secs(10),
        || {
            let started = conns.stats.get("accepted") >= accepted + 3;
            async move { started }
        },
    )
    .await;
    replace(&b_key, &key);
    replace(&b_cert, &cert);
    let mut swapped = false;
    for _ in 0..100 {
        if served_leaf(addr, &both).await == b_leaf {
            swapped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(swapped, "the new certificate is served");
    // A pair that does not belong together is refused; the good one keeps serving.
    let store = t.app().cert_store.clone();
    let refused_before = store.refused_reloads();
    replace(&a_cert, &cert);
    wait_until(
        "the mismatched pair refused",
        std::time::Duration::from_secs(10),
        || async { store.refused_reloads() > refused_before },
    )
    .await;
    assert_eq!(served_leaf(addr, &both).await, b_leaf);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.await.expect("load");
    assert!(ok > 10, "{ok} requests during the swap");
    assert_eq!(failed, 0, "no request failed during the swap");
    let (status, _) = kept
        .get("/healthz")
        .await
        .expect("the old connection still works");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_of_imax_serve() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let keys = tempfile::tempdir().expect("tmp");
    let Rotation {
        a: (a_cert, a_key, a_leaf),
        b: (b_cert, b_key, b_leaf),
        both,
    } = rotation(keys.path());
    let (cert, key) = (
        keys.path().join("server.pem"),
        keys.path().join("server.key"),
    );
    replace(&a_cert, &cert);
    replace(&a_key, &key);
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let node = Node::spawn_with(
        t.dir.path(),
        &t.config.database_url,
        &[
            ("IMAX_TLS_CERT", cert_s.as_str()),
            ("IMAX_TLS_KEY", key_s.as_str()),
            ("IMAX_TLS_RELOAD_CHECK_SECS", "3600"),
        ],
    )
    .await;
    node.client(&both, SITE_USER).await;
    let port: u16 = node
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(served_leaf(addr, &both).await, a_leaf);
    replace(&b_key, &key);
    replace(&b_cert, &cert);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &node.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let mut swapped = false;
    for _ in 0..50 {
        if served_leaf(addr, &both).await == b_leaf {
            swapped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        swapped,
        "SIGHUP loaded the new pair (file checks are an hour apart here)"
    );
}

/// One connection with `config` that reads an answer (a TLS 1.3 server sends its session
/// tickets after the handshake), closed; how its handshake went.
async fn connect_once(t: &TestApp, config: &Arc<rustls::ClientConfig>) -> rustls::HandshakeKind {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = TcpStream::connect(t.app().addr).await.expect("tcp");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .expect("tls");
    let kind = tls.get_ref().1.handshake_kind().expect("handshake done");
    let head = "GET /s2s?wsdl HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    tls.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    kind
}

/// Issue 29, item 3: vendor software that opens a new connection per call resumes its TLS
/// session (session tickets: no certificate signature, no state kept on the node), even after
/// more new clients than the node's session cache holds have come and gone.
#[tokio::test]
async fn a_client_that_reconnects_resumes_its_tls_session() {
    let t = TestApp::start().await;
    let config = || imax_gateway::client::S2sClient::config(&t.ca).expect("config");
    let vendor = config();
    assert_eq!(connect_once(&t, &vendor).await, rustls::HandshakeKind::Full);
    for _ in 0..300 {
        let stranger = config();
        connect_once(&t, &stranger).await;
    }
    assert_eq!(
        connect_once(&t, &vendor).await,
        rustls::HandshakeKind::Resumed
    );
    assert_eq!(
        connect_once(&t, &vendor).await,
        rustls::HandshakeKind::Resumed
    );
}
