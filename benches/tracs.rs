#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The TRACS checker alone, in MB/s, beside what receiving the same bytes over TLS costs on
//! this machine: checking must be a small fraction of receiving.
//!
//! `cargo bench --bench tracs` (add `-- --quick` for a shorter run).

use imax_gateway::tracs::{FileKind, Sample, Scanner};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 64 * 1024;

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

/// Feeds `file` to the checker in 64 KiB chunks (as uploads arrive) until `min` has passed.
fn parse_rate(file: &[u8], min: Duration) -> (f64, usize) {
    let start = Instant::now();
    let mut bytes = 0;
    let mut runs = 0;
    while start.elapsed() < min || runs == 0 {
        let mut s = Scanner::new();
        for c in file.chunks(CHUNK) {
            s.feed(c);
        }
        let r = s.finish();
        assert!(r.is_valid_tracs(), "{:?}", r.problems);
        bytes += file.len();
        runs += 1;
    }
    (mb_per_s(bytes, start.elapsed()), runs)
}

/// Sends `total` bytes over a loopback TLS connection (the gateway's own TLS configuration)
/// and returns the receiving rate.
async fn tls_rate(total: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let certs = imax_gateway::tls::resolve("", "", dir.path()).unwrap();
    let (server, _) = imax_gateway::tls::server_config(&certs).unwrap();
    let client = imax_gateway::tls::client_config(certs.dev_ca.as_ref().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recv = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .unwrap();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        let start = Instant::now();
        while got < total {
            let n = tls.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got += n;
        }
        mb_per_s(got, start.elapsed())
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .unwrap();
    let block = vec![b'T'; CHUNK];
    let mut sent = 0;
    while sent < total {
        tls.write_all(&block).await.unwrap();
        sent += block.len();
    }
    tls.flush().await.unwrap();
    let rate = recv.await.unwrap();
    let _ = tls.shutdown().await;
    rate
}

/// SHA-256 over 64 KiB chunks, as the body store hashes uploads.
fn sha256_rate(min: Duration) -> f64 {
    use sha2::Digest;
    let block = vec![b'T'; CHUNK];
    let start = Instant::now();
    let mut bytes = 0;
    let mut h = sha2::Sha256::new();
    while start.elapsed() < min {
        for _ in 0..64 {
            h.update(&block);
        }
        bytes += 64 * CHUNK;
    }
    std::hint::black_box(h.finalize());
    mb_per_s(bytes, start.elapsed())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let min = Duration::from_secs(if quick { 1 } else { 5 });
    println!(
        "TRACS checker (streaming, {CHUNK}-byte chunks), {}",
        if quick { "quick" } else { "full" }
    );
    println!("| file | size | MB/s |");
    println!("| --- | --- | --- |");
    let mut slowest = f64::MAX;
    for (kind, records) in [
        (FileKind::Tenant, 2_000),
        (FileKind::Tenant, 100_000),
        (FileKind::Voucher, 100_000),
    ] {
        let file = Sample {
            records_per_batch: records / 4,
            batches: 4,
            ..Sample::new(kind, "TRACM10001")
        }
        .build();
        let (rate, _) = parse_rate(&file, min);
        slowest = slowest.min(rate);
        println!(
            "| {} ({records} records) | {:.1} MB | {rate:.0} |",
            kind.as_str(),
            file.len() as f64 / 1e6
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tls = rt.block_on(tls_rate(if quick { 128 } else { 512 } << 20));
    let sha = sha256_rate(min);
    println!("\nFor comparison, on the same machine:");
    println!("  receiving over loopback TLS (the gateway's rustls configuration): {tls:.0} MB/s");
    println!("  SHA-256, which every upload is hashed with: {sha:.0} MB/s");
    println!(
        "Checking takes {:.0}% of the time raw TLS receiving of the same bytes takes, {:.0}% of hashing them.",
        100.0 * tls / slowest,
        100.0 * sha / slowest
    );
}
