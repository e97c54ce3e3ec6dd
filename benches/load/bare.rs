//! The reference for the SendFile figures: a bare durable upload server. The same TLS
//! configuration as the gateway (`imax_gateway::tls::server_config`), hyper 1 over
//! tokio-rustls, and for each POST: the body → SHA-256 → a new file → fsync → rename → fsync
//! of the directory, then a small SOAP answer with the digest. As fast as these dependencies
//! allow: a small body is written, fsynced, renamed and its directory fsynced in one blocking
//! thread hop, a large one in pieces of 256 KiB; the bench binary has the gateway's allocator
//! (mimalloc, and the gateway's 10 ms purge delay through `MIMALLOC_PURGE_DELAY`). Nothing else: no
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

/// Bodies are written in pieces of this size at least: one blocking hop per piece.
const PIECE: usize = 256 * 1024;

/// The blocking file work of one body: `piece` appended to the staging file (created on the
/// first), and at the end fsync → rename → directory fsync, all on one blocking thread hop.
fn write_piece(
    file: Option<std::fs::File>,
    staging: &Path,
    piece: &[u8],
    end: Option<(&Path, &Path)>,
) -> std::io::Result<Option<std::fs::File>> {
    use std::io::Write;
    let mut file = match file {
        Some(f) => f,
        None => std::fs::File::create(staging)?,
    };
    file.write_all(piece)?;
    let Some((done, bodies)) = end else {
        return Ok(Some(file));
    };
    file.sync_all()?;
    drop(file);
    std::fs::rename(staging, done)?;
    std::fs::File::open(bodies)?.sync_all()?;
    Ok(None)
}

async fn store(
    req: hyper::Request<Incoming>,
    dir: &Path,
    counter: &AtomicU64,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let bodies = dir.join("bodies");
    let staging = bodies.join(format!("{n}.part"));
    let done = bodies.join(n.to_string());
    let mut hash = Sha256::new();
    let mut body = req.into_body();
    let (mut file, mut piece) = (None, Vec::with_capacity(PIECE));
    loop {
        let frame = body
            .frame()
            .await
            .transpose()
            .map_err(std::io::Error::other)?;
        if let Some(data) = frame.as_ref().and_then(|f| f.data_ref()) {
            hash.update(data);
            piece.extend_from_slice(data);
            if piece.len() < PIECE {
                continue;
            }
        }
        let last = frame.is_none();
        let (staging, done, bodies) = (staging.clone(), done.clone(), bodies.clone());
        let taken = std::mem::replace(&mut piece, Vec::with_capacity(PIECE));
        file = tokio::task::spawn_blocking(move || {
            let end = last.then_some((done.as_path(), bodies.as_path()));
            write_piece(file, &staging, &taken, end)
        })
        .await
        .map_err(std::io::Error::other)??;
        if last {
            break;
        }
    }
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
