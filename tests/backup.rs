//! `imax admin backup` under load and `imax admin restore` into an empty data directory,
//! through the real binary: every message receipted before the backup began is in the copy,
//! whole; the copy checks sound (`imax admin check`, `imax audit verify` with its signed
//! checkpoints) and serves again.

use crate::helpers::*;
use imax_gateway::client::Content;
use imax_gateway::store::Engine;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `imax admin|audit …` on a data directory (its database the default one inside).
fn imax(data_dir: &Path, database_url: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imax"))
        .args(args)
        .env("IMAX_DATA_DIR", data_dir)
        .env("IMAX_DATABASE_URL", database_url)
        .output()
        .expect("run imax");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Distinct bytes per `n`, of sizes across several 64 KiB reads.
fn contents(n: u32) -> Vec<u8> {
    payload(n, 1000 + (n as usize * 7919) % 150_000)
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_whole_and_checks() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    t.stop().await;
    let url = t.config.database_url();
    let backups = tempfile::tempdir().expect("backups");
    let copy = backups.path().join("copy");
    if t.admin.store().engine == Engine::Postgres {
        let (ok, text) = imax(
            t.dir.path(),
            &url,
            &["admin", "backup", copy.to_str().unwrap()],
        );
        assert!(!ok && text.contains("pg_dump"), "{text}");
        return;
    }
    let node = Node::spawn(t.dir.path(), &url).await;
    node.client(&t.ca, SITE_USER).await;

    // A steady load of uploads, each receipt with the moment it arrived.
    let receipts = Arc::new(Mutex::new(Vec::<(Instant, String, Vec<u8>)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3u32 {
        let mut c = node.client(&t.ca, SITE_USER).await;
        let (receipts, stop) = (receipts.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = w;
            while !stop.load(Ordering::Relaxed) {
                let data = contents(n);
                n += 3;
                let r = c
                    .send_file(
                        MAPLE.0,
                        MAPLE.1,
                        None,
                        &format!("B{n}.DAT"),
                        Content::Bytes(data.clone()),
                        None,
                    )
                    .await
                    .expect("send");
                assert_ok(&r);
                let id = r.get("messageId").expect("id").to_string();
                receipts.lock().unwrap().push((Instant::now(), id, data));
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let began = Instant::now();
    let (ok, text) = imax(
        t.dir.path(),
        &url,
        &["admin", "backup", copy.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    assert!(text.contains("backed up to"), "{text}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    drop(node);
    let receipts = receipts.lock().unwrap().clone();
    let before: Vec<_> = receipts.iter().filter(|(at, ..)| *at < began).collect();
    assert!(
        before.len() >= 10,
        "a load before the backup: {}",
        before.len()
    );
    println!(
        "{} uploads receipted, {} before the backup began; {}",
        receipts.len(),
        before.len(),
        text.trim()
    );

    // The copy is private, and a second backup into it is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let db = std::fs::metadata(copy.join("imax.db")).expect("db");
        assert_eq!(db.permissions().mode() & 0o777, 0o600);
    }
    let (ok, text) = imax(
        t.dir.path(),
        &url,
        &["admin", "backup", copy.to_str().unwrap()],
    );
    assert!(!ok && text.contains("not empty"), "{text}");

    // Restore into a new data directory; refused into one that holds anything.
    let restored = tempfile::tempdir().expect("restored");
    let restored_url = format!("sqlite://{}", restored.path().join("imax.db").display());
    std::fs::write(restored.path().join("stray"), b"x").expect("stray");
    let (ok, text) = imax(
        restored.path(),
        &restored_url,
        &["admin", "restore", copy.to_str().unwrap()],
    );
    assert!(!ok && text.contains("not empty"), "{text}");
    std::fs::remove_file(restored.path().join("stray")).expect("rm");
    let (ok, text) = imax(
        restored.path(),
        &restored_url,
        &["admin", "restore", copy.to_str().unwrap()],
    );
    assert!(ok && text.contains("store sound"), "{text}");
    let (ok, text) = imax(restored.path(), &restored_url, &["admin", "check"]);
    assert!(ok && text.contains("store sound"), "{text}");
    let (ok, text) = imax(restored.path(), &restored_url, &["audit", "verify"]);
    assert!(ok && text.contains("audit chain intact"), "{text}");
    // The receipt keys come back (issue 31): receipts go on being signed with the published key.
    let keys =
        |dir: &std::path::Path| std::fs::read(dir.join("receipt-keys")).expect("receipt keys");
    assert_eq!(keys(restored.path()), keys(t.dir.path()));

    // The restored gateway serves every message receipted before the backup, whole.
    let node = Node::spawn(restored.path(), &restored_url).await;
    let mut ca = node.client(&t.ca, CA_USER).await;
    for (_, id, data) in before {
        assert_eq!(&fetch_whole(&mut ca, PBCA, id).await, data, "message {id}");
    }
}
