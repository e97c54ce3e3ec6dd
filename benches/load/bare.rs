//! The reference for the SendFile figures: a bare durable upload server. The same TLS
//! configuration as the gateway (`imax_gateway::tls::server_config`), hyper 1 over
//! tokio-rustls, and for each POST: the body → SHA-256 → a new file → fsync → rename → fsync
//! of the directory, then a small SOAP answer with the digest. Nothing else: no
//! authentication, parsing, checks, database or audit. The load benchmark starts it as a
//! process of its own (`load --serve-bare PORT DIR`), like `imax serve`, so both pay the same
//! process and scheduling costs, and sends both the very same requests.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Serves on `127.0.0.1:port`, storing bodies under `dir`; never returns.
pub async fn serve(port: u16, dir: PathBuf) {
    std::fs::create_dir_all(dir.join("bodies")).expect("bodies dir");
    let paths = imax_gateway::tls::resolve("", "", &dir).expect("certificate");
    let (config, _) = imax_gateway::tls::server_config(&paths).expect("tls");
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    let dir = Arc::new(dir);
    let counter = Arc::new(AtomicU64::new(0));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, dir, counter) = (acceptor.clone(), dir.clone(), counter.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let (dir, counter) = (dir.clone(), counter.clone());
                async move { store(req, &dir, &counter).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn store(
    req: hyper::Request<Incoming>,
    dir: &Path,
    counter: &AtomicU64,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let bodies = dir.join("bodies");
    let staging = bodies.join(format!("{n}.part"));
    let mut file = tokio::fs::File::create(&staging).await?;
    let mut hash = Sha256::new();
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(std::io::Error::other)?;
        if let Some(data) = frame.data_ref() {
            hash.update(data);
            file.write_all(data).await?;
        }
    }
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&staging, bodies.join(n.to_string())).await?;
    let d = bodies.clone();
    tokio::task::spawn_blocking(move || std::fs::File::open(d)?.sync_all())
        .await
        .map_err(std::io::Error::other)??;
    let answer = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tns=\"urn:imax\"><soap:Body><tns:SendFileResponse><tns:status>200</tns:status><tns:receipt><tns:messageId>B{n}</tns:messageId><tns:sha256>{}</tns:sha256></tns:receipt></tns:SendFileResponse></soap:Body></soap:Envelope>",
        hex::encode(hash.finalize())
    );
    let mut resp = hyper::Response::new(Full::new(Bytes::from(answer)));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    Ok(resp)
}
