//! Storage that loses nothing: durable before the receipt, leftovers removed at start-up.

use crate::helpers::*;
use imax_gateway::store::{BodyStore, Store};

const STAGED: &str = "staging/0123456789abcdef0123456789abcdef.part";
const ORPHAN: &str = "bodies/ff/ff00000000000000000000000000000f";

/// What a crash leaves behind. Files: a half-received upload in staging, a body moved into
/// place whose row never committed, and no clean-stop mark. Database bodies: an upload whose
/// node stopped two hours ago, and one another node is receiving right now.
async fn plant_crash_leftovers(t: &TestApp, store: &Store) {
    match &store.bodies {
        BodyStore::Files(_) => {
            let messages = t.dir.path().join("messages");
            assert!(
                messages.join("clean-shutdown").exists(),
                "a clean stop is marked"
            );
            std::fs::write(messages.join(STAGED), b"half").expect("write");
            std::fs::create_dir_all(messages.join("bodies/ff")).expect("dir");
            std::fs::write(messages.join(ORPHAN), b"orphan").expect("write");
            std::fs::remove_file(messages.join("clean-shutdown")).expect("unmark");
        }
        BodyStore::Chunks(_) | BodyStore::Objects(_) => {
            for (key, age) in [("00stale", 7200i64), ("00live", 0)] {
                sqlx::query(
                    "INSERT INTO body_uploads (body_key, touched_at)
                     VALUES ($1, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) - $2)",
                )
                .bind(key)
                .bind(age)
                .execute(&t.db)
                .await
                .expect("upload");
                sqlx::query("INSERT INTO body_chunks (body_key, seq, data) VALUES ($1, 0, $2)")
                    .bind(key)
                    .bind(&b"half"[..])
                    .execute(&t.db)
                    .await
                    .expect("chunk");
            }
        }
    }
}

/// After the restart: files' leftovers are gone; of the database uploads, only the stale one
/// is swept (by age), the live one is left to its node.
async fn assert_crash_leftovers_handled(t: &TestApp, store: &Store) {
    match &store.bodies {
        BodyStore::Files(_) => {
            let messages = t.dir.path().join("messages");
            assert_eq!(
                std::fs::read_dir(messages.join("staging"))
                    .expect("dir")
                    .count(),
                0,
                "staging leftovers removed"
            );
            assert!(!messages.join(ORPHAN).exists(), "orphan body removed");
        }
        BodyStore::Chunks(_) | BodyStore::Objects(_) => {
            let left: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT body_key FROM body_chunks WHERE body_key LIKE '00%'",
            )
            .fetch_all(&t.db)
            .await
            .expect("chunks");
            assert_eq!(
                left,
                vec!["00live".to_string()],
                "only the stale upload is swept"
            );
            assert_eq!(
                store.bodies.uploads_in_progress().await.expect("uploads"),
                1
            );
        }
    }
}

#[tokio::test]
async fn messages_survive_a_restart_and_crash_leftovers_are_removed() {
    let mut t = TestApp::start().await;
    let file = tenant_file(10);
    let id = t
        .send(SITE_USER, MAPLE, None, &file)
        .await
        .get("messageId")
        .expect("id")
        .to_string();
    t.stop().await;
    let store = t.admin.store().clone();
    plant_crash_leftovers(&t, &store).await;
    t.restart().await;
    assert_crash_leftovers_handled(&t, &store).await;
    let got = t.get(CA_USER, PBCA, &id).await;
    assert_eq!(
        got.content().expect("content"),
        file,
        "the committed message is intact"
    );
}

#[tokio::test]
async fn a_killed_gateway_leaves_whole_messages_or_nothing() {
    let mut t = TestApp::start_at(wall_clock_now(), |_| {}).await;
    // The in-process gateway made the directory and certificates; a real process takes over.
    t.stop().await;
    let dir = t.dir.path().to_path_buf();
    let mut node = Node::spawn(&dir, &t.config.database_url).await;
    // Uploads in flight while the process is killed.
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let mut c = node.client(&t.ca, SITE_USER).await;
        tasks.push(tokio::spawn(async move {
            let data = vec![i; 3 << 20];
            let r = c
                .send_file(
                    MAPLE.0,
                    MAPLE.1,
                    None,
                    "F.DAT",
                    imax_gateway::client::Content::Bytes(data.clone()),
                    None,
                )
                .await;
            (data, r)
        }));
    }
    // Killed the moment a first upload has its answer, the others still streaming in.
    let limit = std::time::Duration::from_secs(60);
    wait_until("a first receipt", limit, || {
        let answered = tasks.iter().any(|t| t.is_finished());
        async move { answered }
    })
    .await;
    node.kill();
    let receipts = receipts_of(tasks).await;
    let node = Node::spawn(&dir, &t.config.database_url).await;
    let mut ca_client = node.client(&t.ca, CA_USER).await;
    let ids = list_ids(&mut ca_client, PBCA, "receivedFromOthers").await;
    for (id, _) in &receipts {
        assert!(
            ids.contains(id),
            "a message whose receipt was sent is never lost"
        );
    }
    // Every visible message is whole: its body is there and has the stored SHA-256.
    for id in &ids {
        assert_eq!(fetch_whole(&mut ca_client, PBCA, id).await.len(), 3 << 20);
    }
    // What the killed process was receiving is swept once it is old enough (files: at once).
    age_uploads(&t.db).await;
    t.admin
        .store()
        .sweep_abandoned_uploads()
        .await
        .expect("sweep");
    assert_eq!(
        t.admin
            .store()
            .bodies
            .uploads_in_progress()
            .await
            .expect("uploads"),
        0
    );
    assert_eq!(stored_bodies(t.admin.store()).await, ids.len());
    drop(node);
}

#[tokio::test]
async fn two_gateways_never_serve_one_data_directory() {
    let t = TestApp::start().await;
    let second = imax_gateway::app::App::start(t.config.clone(), t.clock.clone()).await;
    match second {
        Err(imax_gateway::app::StartError::DataDirInUse(_)) => {}
        other => panic!("expected DataDirInUse, got {other:?}"),
    }
    // The first one still serves.
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"still here").await);
}

#[tokio::test]
async fn admin_check_finds_bad_bodies_orphans_and_a_broken_audit_chain() {
    let t = TestApp::start().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let r = t.send(SITE_USER, MAPLE, None, &tenant_file(2 + n)).await;
        assert_ok(&r);
        ids.push(r.get("messageId").expect("id").to_string());
    }
    let store = &t.admin.store();
    let r = store.check().await.expect("check");
    assert!(r.is_sound(), "{r:?}");
    assert_eq!(r.messages, 3);

    // A body changed behind the gateway's back, and a body without a row.
    let key: String = sqlx::query_scalar("SELECT body_key FROM messages WHERE message_id = $1")
        .bind(&ids[1])
        .fetch_one(&t.db)
        .await
        .expect("key");
    // Small bodies are rows of `body_chunks` on either engine (beside SQLite, since they
    // left files); an orphan is planted where the engine keeps bodies without rows.
    let in_database: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT data FROM body_chunks WHERE body_key = $1 AND seq = 0")
            .bind(&key)
            .fetch_optional(&t.db)
            .await
            .expect("chunk");
    let mut bytes = in_database.expect("a small body is kept in the database");
    bytes[0] ^= 1;
    sqlx::query("UPDATE body_chunks SET data = $2 WHERE body_key = $1 AND seq = 0")
        .bind(&key)
        .bind(&bytes)
        .execute(&t.db)
        .await
        .expect("tamper");
    match &store.bodies {
        BodyStore::Files(files) => {
            let orphan = files
                .path("00cafe0000000000000000000000000f")
                .expect("a key");
            std::fs::create_dir_all(orphan.parent().expect("shard")).expect("shard dir");
            std::fs::write(&orphan, b"left behind").expect("orphan");
        }
        BodyStore::Chunks(_) | BodyStore::Objects(_) => {
            sqlx::query("INSERT INTO body_chunks (body_key, seq, data) VALUES ($1, 0, $2)")
                .bind("00cafe0000000000000000000000000f")
                .bind(&b"left behind"[..])
                .execute(&t.db)
                .await
                .expect("orphan");
        }
    }
    // The damaged body is never served as if whole, the fetch does not count as retrieval,
    // and the failure is audited.
    let mut ca = t.client(CA_USER).await;
    let fetched = ca
        .call(
            "GetMessage",
            &[
                ("mailbox", PBCA.0),
                ("mailboxPassword", PBCA.1),
                ("messageId", &ids[1]),
            ],
        )
        .await;
    assert!(fetched.is_err(), "a damaged body broke off: {fetched:?}");
    let retrieved: Option<i64> =
        sqlx::query_scalar("SELECT retrieved_at FROM messages WHERE message_id = $1")
            .bind(&ids[1])
            .fetch_one(&t.db)
            .await
            .expect("row");
    assert_eq!(retrieved, None, "not retrieved");
    let mut audited = Vec::new();
    for _ in 0..50 {
        audited = sqlx::query_scalar(
            "SELECT detail FROM audit_log WHERE message_id = $1 AND outcome = 'Unavailable'",
        )
        .bind(&ids[1])
        .fetch_all(&t.db)
        .await
        .expect("audit");
        if !audited.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        audited.iter().any(|d: &String| d.contains("SHA-256")),
        "{audited:?}"
    );
    // A whole body is fetched and counts.
    let whole = get_reply(&mut t.client(CA_USER).await, PBCA, &ids[0]).await;
    assert_ok(&whole);

    let r = store.check().await.expect("check");
    assert_eq!(r.bad_rows.len(), 1, "{r:?}");
    assert_eq!(r.bad_rows[0].0, ids[1]);
    assert!(r.bad_rows[0].1.contains("SHA-256"));
    assert_eq!(
        r.orphan_bodies,
        vec!["00cafe0000000000000000000000000f".to_string()]
    );

    // An audit record removed.
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&t.db)
        .await
        .expect("delete");
    let r = store.check().await.expect("check");
    assert_eq!(r.audit_broken.as_ref().map(|b| b.0), Some(2), "{r:?}");
    assert!(!r.is_sound());
}

#[tokio::test]
async fn any_number_of_nodes_migrate_a_fresh_database_at_once() {
    // Four processes on one new database (PostgreSQL in the PostgreSQL run, a SQLite file
    // otherwise), started together: every one must come up on the same schema.
    let dir = tempfile::tempdir().expect("tmp");
    let url = test_database_url().await;
    let children: Vec<_> = (0..4)
        .map(|n| {
            let data = dir.path().join(format!("node{n}"));
            std::process::Command::new(env!("CARGO_BIN_EXE_imax"))
                .args(["admin", "migrate"])
                .env("IMAX_DATA_DIR", &data)
                .env(
                    "IMAX_DATABASE_URL",
                    if url.is_empty() {
                        format!("sqlite://{}", dir.path().join("shared.db").display())
                    } else {
                        url.clone()
                    },
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "a node failed to migrate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!(
            "schema at version {}",
            imax_gateway::store::SCHEMA_VERSION
        )));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_database_and_bodies_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestApp::start().await;
    let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), b"private").await;
    assert_ok(&r);
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let data = t.dir.path();
    assert_eq!(mode(data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("tls")), 0o700);
    assert_eq!(mode(&data.join("tls/server.key")), 0o600);
    let mut files = 0;
    let mut stack = vec![data.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                stack.push(path);
            } else if path.starts_with(data.join("messages"))
                || path.to_string_lossy().contains("imax.db")
            {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    if t.config.database_url.is_empty() {
        assert!(files >= 2, "the database and a body were checked");
    }
}

/// A tmpfs of `mib` MiB mounted on a fresh directory (the test command runs as root), and
/// unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u64) -> SmallDisk {
        let dir = tempfile::tempdir().expect("tmp");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "mounting a small tmpfs needs root (the test command runs as root)"
        );
        SmallDisk { dir }
    }
    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the gateway may still hold files there for a moment.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_uploads_cleanly_and_the_gateway_recovers_by_itself() {
    let disk = SmallDisk::mount(64);
    let data = disk.path().join("data");
    // Ballast, freed at the end as an operator would free space.
    let ballast = disk.path().join("ballast");
    std::fs::write(&ballast, vec![1u8; 16 * 1024 * 1024]).expect("ballast");
    // The file body store beside SQLite, whatever engine the suite runs on: its floor is
    // what is tested here.
    let t = TestApp::start_with(|c| {
        c.data_dir = data.clone();
        c.database_url = String::new();
        c.limits.min_free_disk_mb = 12;
    })
    .await;
    let mut sent = Vec::new();
    let refused = loop {
        let content: Vec<u8> = (0..1024 * 1024u32)
            .map(|i| (i.wrapping_mul(31).wrapping_add(sent.len() as u32) % 251) as u8)
            .collect();
        let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), &content).await;
        if r.fault.is_some() {
            break r;
        }
        sent.push((
            r.get("messageId").expect("id").to_string(),
            sha256_hex(&content),
        ));
        assert!(sent.len() < 60, "the floor never refused");
    };
    let f = assert_fault(&refused, "StorageFull");
    assert_eq!(f.status, 500);
    assert!(sent.len() >= 20, "only {} stored", sent.len());
    // Reads keep working, and record their activity and audit.
    let listed = t.list(CA_USER, PBCA, "receivedFromOthers").await;
    assert_ok(&listed);
    assert_eq!(listed.all("messageId").len(), sent.len());

    // Something else fills the disk to the last byte: every write fails, plainly.
    let filler = disk.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let r = t.send(SITE_USER, MAPLE, Some(PBCA.0), b"no room").await;
    assert_fault(&r, "StorageFull");
    let r = t.list(CA_USER, PBCA, "receivedFromOthers").await;
    let code = r.fault.map(|f| f.code).unwrap_or_else(|| "ok".into());
    assert!(
        ["ok", "StorageFull"].contains(&code.as_str()),
        "a read is served, or refused as StorageFull: {code}"
    );

    // Space returns: the gateway works again without a restart.
    std::fs::remove_file(&filler).expect("free");
    std::fs::remove_file(&ballast).expect("free");
    let r = t
        .send(SITE_USER, MAPLE, Some(PBCA.0), b"after the storm")
        .await;
    assert_ok(&r);
    // Nothing receipted was lost or damaged.
    let mut ca = t.client(CA_USER).await;
    for (id, sha) in &sent {
        let body = fetch_whole(&mut ca, PBCA, id).await;
        assert_eq!(&sha256_hex(&body), sha);
    }
    assert!(t.admin.store().check().await.expect("check").is_sound());
}

/// The schema as (table, column, NOT NULL) and (index, table) sets, whichever the engine.
async fn schema_of(
    url: &str,
) -> (
    std::collections::BTreeSet<(String, String, bool)>,
    std::collections::BTreeSet<(String, String)>,
) {
    let db = raw_db(url).await;
    let mut columns = std::collections::BTreeSet::new();
    let mut indexes = std::collections::BTreeSet::new();
    if url.starts_with("sqlite:") {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&db)
        .await
        .expect("tables");
        for table in tables {
            let cols: Vec<(String, i64, i64)> =
                sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info($1)")
                    .bind(&table)
                    .fetch_all(&db)
                    .await
                    .expect("columns");
            for (name, not_null, pk) in cols {
                // A primary key is never NULL, whatever SQLite's table_info says.
                columns.insert((table.clone(), name, not_null != 0 || pk != 0));
            }
        }
        let idx: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, tbl_name FROM sqlite_master
              WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
        )
        .fetch_all(&db)
        .await
        .expect("indexes");
        indexes.extend(idx);
    } else {
        let cols: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, is_nullable::text
               FROM information_schema.columns WHERE table_schema = 'public'",
        )
        .fetch_all(&db)
        .await
        .expect("columns");
        for (table, name, nullable) in cols {
            columns.insert((table, name, nullable == "NO"));
        }
        // Indexes made by hand, not those behind a primary key or UNIQUE constraint (SQLite
        // names those sqlite_autoindex_…, left out above).
        let idx: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.relname::text, t.relname::text FROM pg_index x
               JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_class t ON t.oid = x.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace
              WHERE n.nspname = 'public'
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        )
        .fetch_all(&db)
        .await
        .expect("indexes");
        indexes.extend(idx);
    }
    db.close().await;
    (columns, indexes)
}

/// Both engines' migrations end with the same tables, columns (and whether they may be NULL)
/// and indexes: a migration written for one and forgotten, or written differently, for the
/// other fails here. Run in the PostgreSQL run, where both engines are at hand.
#[tokio::test]
async fn both_engines_end_with_the_same_tables_columns_and_indexes() {
    let postgres = test_database_url().await;
    if postgres.is_empty() {
        println!(
            "compared in the PostgreSQL run (IMAX_TEST_POSTGRES), where both engines are at hand"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = format!("sqlite://{}", dir.path().join("imax.db").display());
    for url in [&sqlite, &postgres] {
        Store::open(url, dir.path())
            .await
            .expect("migrate")
            .close()
            .await;
    }
    let (lite_cols, lite_idx) = schema_of(&sqlite).await;
    let (pg_cols, pg_idx) = schema_of(&postgres).await;
    let only = |a: &std::collections::BTreeSet<(String, String, bool)>,
                b: &std::collections::BTreeSet<(String, String, bool)>| {
        a.difference(b).cloned().collect::<Vec<_>>()
    };
    assert!(
        lite_cols == pg_cols,
        "columns only on SQLite: {:?}\ncolumns only on PostgreSQL: {:?}",
        only(&lite_cols, &pg_cols),
        only(&pg_cols, &lite_cols)
    );
    assert!(
        lite_idx == pg_idx,
        "indexes only on SQLite: {:?}\nindexes only on PostgreSQL: {:?}",
        lite_idx.difference(&pg_idx).collect::<Vec<_>>(),
        pg_idx.difference(&lite_idx).collect::<Vec<_>>()
    );
}

/// Migrations run through sqlx's migrator, checksummed: a database made before it (history in
/// `schema_version` only) is adopted without applying anything twice, and a migration whose
/// file differs from the one applied stops the gateway with a plain reason.
#[tokio::test]
async fn migrations_are_checksummed_and_older_databases_are_adopted() {
    use imax_gateway::store::{StoreError, SCHEMA_VERSION};
    let mut t = TestApp::start().await;
    t.stop().await;
    let url = t.config.database_url();
    let applied = |db: sqlx::AnyPool| async move {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&db)
            .await
            .expect("count");
        n
    };
    assert_eq!(applied(t.db.clone()).await, SCHEMA_VERSION);

    // As a database made by a build before the migrator: no _sqlx_migrations table.
    sqlx::query("DROP TABLE _sqlx_migrations")
        .execute(&t.db)
        .await
        .expect("drop");
    let messages_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&t.db)
        .await
        .expect("accounts");
    let store = Store::open(&url, &t.config.data_dir)
        .await
        .expect("an older database is adopted");
    drop(store);
    assert_eq!(applied(t.db.clone()).await, SCHEMA_VERSION);
    let messages_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&t.db)
        .await
        .expect("accounts");
    assert_eq!(messages_before, messages_after, "nothing applied twice");

    // A released migration edited afterwards (its checksum no longer the applied one's).
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 3")
        .bind(vec![0u8; 48])
        .execute(&t.db)
        .await
        .expect("tamper");
    match Store::open(&url, &t.config.data_dir).await {
        Err(e @ StoreError::MigrationChanged { version: 3 }) => {
            assert!(e.to_string().contains("differs"), "{e}")
        }
        other => panic!("expected MigrationChanged for version 3, got {other:?}"),
    }
}

/// One write path: administration's changes take their turn in the committer's queue beside
/// the requests' batches, so many of both at once all commit, the audit chain stays one
/// unbroken line, and a change whose caller goes away never stalls the queue.
#[tokio::test]
async fn administration_and_requests_write_through_one_queue() {
    let t = TestApp::start().await;
    // One call first, as vendor software usually begins (a cold burst works too:
    // `guessing::a_cold_burst_of_right_passwords_all_succeed`).
    assert_ok(&t.send(SITE_USER, MAPLE, Some(PBCA.0), b"first").await);
    let mut sends = Vec::new();
    let mut changes = Vec::new();
    for i in 0..16u8 {
        sends.push(spawn_send(&t, "ONE.DAT", vec![i; 512]));
        let admin = t.admin.clone();
        changes.push(tokio::spawn(async move {
            admin
                .post_broadcast(&format!("Notice {i}"), "One queue.")
                .await
        }));
    }
    for s in sends {
        assert_ok(&s.await.expect("send"));
    }
    for c in changes {
        c.await.expect("change").expect("posted");
    }
    // A change abandoned at any point (here: as soon as it is spawned) leaves the queue going.
    let admin = t.admin.clone();
    let abandoned = tokio::spawn(async move { admin.post_broadcast("Gone", "x").await });
    abandoned.abort();
    let after = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        t.send(SITE_USER, MAPLE, Some(PBCA.0), b"after an abandoned change"),
    )
    .await
    .expect("the queue goes on");
    assert_ok(&after);
    let report = t.admin.store().check().await.expect("check");
    assert!(report.audit_broken.is_none(), "{report:?}");
}

/// Beside SQLite a small body is kept in the database with its row; bodies that earlier
/// versions kept as files (every body, whatever its size) are still read from their files,
/// checked whole, backed up and purged.
#[tokio::test]
async fn small_bodies_live_with_their_rows_and_older_body_files_still_serve() {
    let t = TestApp::start().await;
    let store = t.admin.store();
    let BodyStore::Files(files) = &store.bodies else {
        return; // PostgreSQL keeps every body in the database.
    };
    let mut ids = Vec::new();
    for n in 0..2 {
        let r = t.send(SITE_USER, MAPLE, None, &tenant_file(2 + n)).await;
        assert_ok(&r);
        ids.push(r.get("messageId").expect("id").to_string());
    }
    let keys: Vec<String> = sqlx::query_scalar("SELECT body_key FROM messages ORDER BY id")
        .fetch_all(&t.db)
        .await
        .expect("keys");
    for key in &keys {
        assert!(
            !files.path(key).expect("a key").exists(),
            "no body file for a small body"
        );
    }
    // The second as an earlier version left it: a file, and no row in `body_chunks`.
    let data: Vec<u8> =
        sqlx::query_scalar("SELECT data FROM body_chunks WHERE body_key = $1 AND seq = 0")
            .bind(&keys[1])
            .fetch_one(&t.db)
            .await
            .expect("chunk");
    let path = files.path(&keys[1]).expect("a key");
    std::fs::create_dir_all(path.parent().expect("shard")).expect("shard dir");
    std::fs::write(&path, &data).expect("file");
    sqlx::query("DELETE FROM body_chunks WHERE body_key = $1")
        .bind(&keys[1])
        .execute(&t.db)
        .await
        .expect("delete");

    let mut ca = t.client(CA_USER).await;
    for id in &ids {
        let got = get_reply(&mut ca, PBCA, id).await;
        assert_ok(&got);
    }
    let r = store.check().await.expect("check");
    assert!(r.is_sound(), "{r:?}");
    assert_eq!(r.messages, 2);
    assert_eq!(
        stored_bodies(store).await,
        2,
        "one in the database, one a file"
    );
}

/// An upload that keeps arriving is never taken for a stopped node's leftover, however long it
/// lasts: its chunks (several written at once on PostgreSQL) renew its entry's age, so the sweep
/// passes over it and the body ends whole.
#[tokio::test]
async fn an_upload_still_arriving_renews_its_age_and_outlives_the_sweep() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| bytes::Bytes::from(base64::engine::general_purpose::STANDARD.encode(b));
    let t = TestApp::start().await;
    let store = t.admin.store();
    let data = payload(21, 4 << 20);
    // Split at multiples of three bytes, so the pieces' base64 joins into the file's.
    let (first, rest) = data.split_at(3 << 19);
    let (second, third) = rest.split_at(3 << 19);
    let (upload, tx) = open_upload(&t.url, &t.ca, "LONG.DAT").await;
    tx.send(b64(first)).await.expect("first part");
    let limit = std::time::Duration::from_secs(30);
    wait_until("the upload in progress", limit, || async {
        store.bodies.uploads_in_progress().await.expect("uploads") == 1
    })
    .await;
    // As if it had been untouched for two hours (database bodies; files are never swept by age).
    let aged: Option<i64> = sqlx::query_scalar(
        "UPDATE body_uploads SET touched_at = touched_at - 7200 RETURNING touched_at",
    )
    .fetch_optional(&t.db)
    .await
    .expect("aged");
    // In a bucket an upload renews its entry at most every 20 s by the node's own clock
    // (`objects::RENEW_EVERY`, far inside the hour after which an entry is stale), so that
    // time must really pass before the next chunks renew it.
    if std::env::var("IMAX_TEST_S3").is_ok() && std::env::var("IMAX_TEST_POSTGRES").is_ok() {
        tokio::time::sleep(std::time::Duration::from_secs(21)).await;
    }
    tx.send(b64(second)).await.expect("second part");
    if let Some(aged) = aged {
        wait_until("the next chunks renew the entry", limit, || async {
            let stale: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM body_uploads WHERE touched_at <= $1")
                    .bind(aged)
                    .fetch_one(&t.db)
                    .await
                    .expect("stale");
            stale == 0
        })
        .await;
    }
    assert_eq!(store.sweep_abandoned_uploads().await.expect("sweep"), 0);
    tx.send(b64(third)).await.expect("last part");
    tx.send(bytes::Bytes::from_static(
        b"</t:content></t:SendFile></soap:Body></soap:Envelope>",
    ))
    .await
    .expect("end");
    drop(tx);
    let r = upload.await.expect("join").expect("reply");
    assert_ok(&r);
    let mut ca = t.client(CA_USER).await;
    let got = fetch_whole(&mut ca, PBCA, r.get("messageId").expect("id")).await;
    assert_eq!(sha256_hex(&got), sha256_hex(&data));
    assert_eq!(settled_uploads(store).await, 0);
}

/// A `body_key` read from the database is checked before it touches a path (issue 25, item
/// 8): a row whose key is not the shape the gateway makes (32 lower-case hex digits) is
/// corruption, reported by `imax admin check`, never joined to a file name and opened.
#[tokio::test]
async fn a_body_key_the_gateway_did_not_make_is_corruption_not_a_path() {
    let t = TestApp::start().await;
    let r = t
        .send(SITE_USER, MAPLE, None, &payload(7, 100 * 1024))
        .await;
    assert_ok(&r);
    let id = r.get("messageId").expect("id").to_string();
    sqlx::query("UPDATE messages SET body_key = $1 WHERE message_id = $2")
        .bind("../../../../../../../../etc/passwd")
        .bind(&id)
        .execute(&t.db)
        .await
        .expect("tamper");
    let store = t.admin.store();
    let report = store.check().await.expect("check");
    assert!(
        report
            .bad_rows
            .iter()
            .any(|(m, what)| *m == id && what.contains("not one the gateway made")),
        "{report:?}"
    );
    let hex = "0123456789abcdef0123456789abcdef";
    for key in [
        "../../../../etc/passwd",
        "/etc/passwd",
        "",
        "00",
        &hex.to_uppercase(),
        &format!("{}g", &hex[..31]),
        &format!("{hex}0"),
        &format!("{}/", &hex[..31]),
    ] {
        match store.bodies.open(key, 10).await {
            Ok(_) => panic!("{key:?} was opened"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{key:?}: {e}"),
        }
        let removed = store.bodies.remove(key).await.expect_err("refused");
        assert_eq!(removed.kind(), std::io::ErrorKind::InvalidData, "{key:?}");
    }
    // The gateway's own shape is accepted (no such body: not found, not refused).
    assert!(imax_gateway::store::bodies::is_key(hex));
}

/// Issue 29: under steady writes SQLite's write-ahead log is started again from its beginning
/// once it holds `limits.sqlite_wal_restart_mb` (here 1 MiB, a few dozen messages), in the
/// committer's turn, while four clients keep sending; every message sent meanwhile is kept
/// whole. (Left to the `PASSIVE` checkpoints alone, a log under steady writes never starts
/// again: the benchmark saw it reach 800 MB in eight seconds.)
#[tokio::test]
async fn the_write_ahead_log_starts_again_under_steady_writes_and_loses_nothing() {
    let t = TestApp::start_with(|c| c.limits.sqlite_wal_restart_mb = 1).await;
    if t.admin.store().engine != imax_gateway::store::Engine::Sqlite {
        println!("SQLite only: PostgreSQL keeps its own log");
        return;
    }
    let sent: Vec<(String, Vec<u8>)> = futures_util::future::join_all((0..4).map(|_| async {
        let mut client = t.client(SITE_USER).await;
        client.resend = true;
        let mut sent = Vec::new();
        for _ in 0..60 {
            let file = tenant_file(40);
            let reply = send_on(&mut client, MAPLE, None, &file).await;
            sent.push((reply.get("messageId").expect("receipt").to_string(), file));
        }
        sent
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(sent.len(), 240);

    // The checkpoint task runs every 250 ms: the last restarts come after the last send. Wait
    // until they are done (the count stays put for two rounds).
    let restarts = |page: &str| crate::ops::sample(page, "imax_wal_restarts_total", &["restarted"]);
    let mut page = crate::ops::get(&t, "/metrics", &[]).await.1;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let now = crate::ops::get(&t, "/metrics", &[]).await.1;
        let settled = restarts(&now) == restarts(&page) && restarts(&now) >= 2.0;
        page = now;
        if settled {
            break;
        }
    }
    assert!(restarts(&page) >= 2.0, "restarted at least twice:\n{page}");
    assert_eq!(
        crate::ops::sample(&page, "imax_wal_restarts_total", &["failed"]),
        0.0,
        "no restart failed"
    );
    // The log went back to its beginning: the next messages overwrite its first frames, and
    // the file (about 6 MB from the 240 messages) grows no more.
    let url = t.config.database_url();
    let file = imax_gateway::store::sqlite_path(&url).expect("a SQLite file");
    let log_size = || {
        std::fs::metadata(format!("{file}-wal"))
            .expect("the log")
            .len()
    };
    let before = log_size();
    for _ in 0..20 {
        t.send(SITE_USER, MAPLE, None, &tenant_file(40)).await;
    }
    assert_eq!(
        log_size(),
        before,
        "the log was written from its beginning again"
    );

    for (id, file) in sent.iter().step_by(20) {
        let got = t.get(CA_USER, PBCA, id).await;
        assert_eq!(
            got.content().expect("content"),
            *file,
            "message {id} is whole"
        );
    }
}

/// On PostgreSQL a body's chunks are compressed where that shrinks them (migration 33): a TRACS
/// file stays in its row, a fraction of its size, with nothing in the TOAST table; bytes that do
/// not compress are stored as they came. Both come back whole, and the check finds them sound.
#[tokio::test]
async fn on_postgres_chunks_are_compressed_where_they_shrink_and_come_back_whole() {
    let t = TestApp::start().await;
    let store = t.admin.store();
    if matches!(store.bodies, BodyStore::Files(_)) {
        return; // SQLite keeps bodies as files.
    }
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&t.db)
        .await
        .expect("version");
    if version.parse::<u32>().expect("a number") < 140_000 {
        return; // Before PostgreSQL 14 no column is compressed: migration 33 changes nothing.
    }
    let mut c = t.client(SITE_USER).await;
    let mut ca = t.client(CA_USER).await;
    let tenant = tenant_file(20);
    let r = send_on(&mut c, MAPLE, None, &tenant).await;
    assert_ok(&r);
    let tenant_id = r.get("messageId").expect("id").to_string();
    let toast_rows = || async {
        let toast: String = sqlx::query_scalar(
            "SELECT CAST(reltoastrelid::regclass AS TEXT) FROM pg_class
              WHERE relname = 'body_chunks'",
        )
        .fetch_one(&t.db)
        .await
        .expect("toast table");
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {toast}"))
            .fetch_one(&t.db)
            .await
            .expect("toast rows");
        n
    };
    assert_eq!(toast_rows().await, 0, "a TRACS file stays in its row");
    let noise = payload(7, 600_000);
    let noise_id = {
        let r = send_on(&mut c, MAPLE, None, &noise).await;
        assert_ok(&r);
        r.get("messageId").expect("id").to_string()
    };
    let chunks: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT m.message_id, COALESCE(pg_column_compression(c.data), 'none'),
                CAST(pg_column_size(c.data) AS BIGINT), CAST(octet_length(c.data) AS BIGINT)
           FROM messages m JOIN body_chunks c ON c.body_key = m.body_key ORDER BY m.id, c.seq",
    )
    .fetch_all(&t.db)
    .await
    .expect("chunks");
    let (_, method, stored, size) = &chunks[0];
    assert_eq!(
        (chunks[0].0.as_str(), method.as_str()),
        (tenant_id.as_str(), "lz4")
    );
    assert!(stored * 4 < *size, "{stored} bytes stored for {size}");
    if let BodyStore::Chunks(_) = &store.bodies {
        let noise_chunks: Vec<_> = chunks.iter().filter(|c| c.0 == noise_id).collect();
        assert_eq!(noise_chunks.len(), 3, "{chunks:?}");
        for (_, method, stored, size) in noise_chunks {
            assert_eq!(
                method, "none",
                "bytes that do not shrink are stored as they came"
            );
            assert!(stored >= size);
        }
        assert!(toast_rows().await > 0, "and out of line");
    }
    assert_eq!(fetch_whole(&mut ca, PBCA, &tenant_id).await, tenant);
    assert_eq!(fetch_whole(&mut ca, PBCA, &noise_id).await, noise);
    let check = store.check().await.expect("check");
    assert!(check.is_sound(), "{check:?}");
}
