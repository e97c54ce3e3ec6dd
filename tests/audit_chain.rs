//! The audit log: every operation is recorded, and tampering is found.

use crate::helpers::*;
use imax_gateway::audit::{self, Verdict};

#[tokio::test]
async fn operations_are_recorded_and_the_chain_detects_edits_and_removals() {
    let t = TestApp::start().await;
    let id = t
        .send(SITE_USER, MAPLE, None, b"audited")
        .await
        .get("messageId")
        .expect("id")
        .to_string();
    assert_ok(&t.get(CA_USER, PBCA, &id).await);
    assert_fault(
        &t.send((SITE_USER.0, "wrong-password"), MAPLE, None, b"x")
            .await,
        "AuthenticationFailed",
    );
    let pool = &t.db;
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT actor, action, mailbox, message_id, client_addr, outcome FROM audit_log WHERE door = 's2s' ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .expect("rows");
    let send = rows
        .iter()
        .find(|r| r.1 == "SendFile" && r.5 == "ok")
        .expect("send recorded");
    assert_eq!(send.0, SITE_USER.0);
    assert_eq!(send.2.as_deref(), Some(MAPLE.0));
    assert_eq!(send.3.as_deref(), Some(id.as_str()));
    assert_eq!(send.4.as_deref(), Some("127.0.0.1"));
    assert!(rows
        .iter()
        .any(|r| r.1 == "GetMessage" && r.0 == CA_USER.0 && r.5 == "ok"));
    assert!(rows
        .iter()
        .any(|r| r.0 == SITE_USER.0 && r.5 == "AuthenticationFailed"));
    let admin_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE door = 'cli'")
        .fetch_one(pool)
        .await
        .expect("n");
    assert!(admin_rows > 10, "the import's admin changes are recorded");
    let no_secrets: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%-Pass-%' OR detail LIKE '%Mailbox-2026%'",
    )
    .fetch_one(pool)
    .await
    .expect("n");
    assert_eq!(no_secrets, 0, "no password in the audit log");

    let total = match t.admin.store().audit_log().verify().await.expect("verify") {
        Verdict::Intact { records } => records,
        other => panic!("{other:?}"),
    };
    assert!(total > 3);
    // Edit record 5.
    sqlx::query("UPDATE audit_log SET outcome = 'ok' WHERE seq = 5")
        .execute(pool)
        .await
        .expect("tamper");
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5")
        .execute(pool)
        .await
        .expect("tamper");
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        Verdict::Broken { seq: 5, .. }
    ));
}

#[tokio::test]
async fn removal_and_reordering_are_found() {
    let t = TestApp::start().await;
    let pool = &t.db;
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(pool)
        .await
        .expect("remove");
    match t.admin.store().audit_log().verify().await.expect("verify") {
        Verdict::Broken { seq, reason } => {
            assert_eq!(seq, 4);
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let t = TestApp::start().await;
    let pool = &t.db;
    // Swap records 6 and 7 (renumbering them).
    sqlx::query("UPDATE audit_log SET seq = -6 WHERE seq = 6")
        .execute(pool)
        .await
        .expect("swap");
    sqlx::query("UPDATE audit_log SET seq = 6 WHERE seq = 7")
        .execute(pool)
        .await
        .expect("swap");
    sqlx::query("UPDATE audit_log SET seq = 7 WHERE seq = -6")
        .execute(pool)
        .await
        .expect("swap");
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        Verdict::Broken { seq: 6, .. }
    ));
}

/// What someone who can write the database would do to hide an edit: change a record and
/// compute every later hash again, so that the chain alone still holds.
async fn edit_and_recompute(pool: &sqlx::AnyPool, seq: i64) {
    use sqlx::Row;
    sqlx::query("UPDATE audit_log SET detail = 'nothing to see' WHERE seq = $1")
        .bind(seq)
        .execute(pool)
        .await
        .expect("edit");
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, door, mailbox, message_id, client_addr, outcome, detail, request_id
         FROM audit_log WHERE seq >= $1 ORDER BY seq",
    )
    .bind(seq)
    .fetch_all(pool)
    .await
    .expect("rows");
    let mut prev: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(seq - 1)
        .fetch_one(pool)
        .await
        .expect("prev");
    for row in rows {
        let e = audit::AuditEntry {
            at: imax_gateway::clock::from_epoch(row.get(1)),
            actor: row.get(2),
            action: row.get(3),
            door: row.get(4),
            mailbox: row.get(5),
            message_id: row.get(6),
            client_addr: row.get(7),
            outcome: row.get(8),
            detail: row.get(9),
            request_id: row.get(10),
        };
        let n: i64 = row.get(0);
        let hash = audit::record_hash(n, &prev, &e);
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&hash)
            .bind(n)
            .execute(pool)
            .await
            .expect("recompute");
        prev = hash;
    }
}

#[tokio::test]
async fn signed_checkpoints_reveal_a_recomputed_chain_a_cut_tail_and_forgeries() {
    use imax_gateway::checkpoint::{self, CheckpointVerdict, Checkpoints};
    let mut t = TestApp::start().await;
    for _ in 0..3 {
        assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    }
    // Stopping writes the head's checkpoint (as the schedule does while running).
    t.stop().await;
    let cp = Checkpoints::from_config(&t.config).expect("key");
    let pool = &t.db;
    let holds = checkpoint::verify(t.admin.store(), &cp)
        .await
        .expect("verify");
    let CheckpointVerdict::Holds {
        checkpoints, seq, ..
    } = holds
    else {
        panic!("{holds:?}");
    };
    assert!(checkpoints >= 1 && seq > 5, "{holds:?}");

    // An edit hidden by recomputing the chain: the chain alone holds, the signed head does not.
    edit_and_recompute(pool, 3).await;
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        Verdict::Intact { .. }
    ));
    assert_checkpoints_broken(&t, &cp, "recomputed").await;
    // The command operators run says so too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imax"))
        .args(["audit", "verify"])
        .env("IMAX_DATA_DIR", &t.config.data_dir)
        .env("IMAX_DATABASE_URL", t.config.database_url())
        .output()
        .expect("imax audit verify");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recomputed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The tail cut off (on a fresh gateway): the signed record is gone.
    let mut t = TestApp::start().await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    t.stop().await;
    let cp = Checkpoints::from_config(&t.config).expect("key");
    let pool = &t.db;
    sqlx::query("DELETE FROM audit_log WHERE seq > 4")
        .execute(pool)
        .await
        .expect("cut");
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        Verdict::Intact { .. }
    ));
    assert_checkpoints_broken(&t, &cp, "cut").await;

    // A checkpoint written without the key is refused.
    std::fs::write(
        &cp.file,
        format!("4 {} 0 {}\n", "0".repeat(64), "f".repeat(64)),
    )
    .expect("forge");
    assert_checkpoints_broken(&t, &cp, "not signed").await;
}

/// `imax audit verify`'s checkpoint walk finds the chain altered, for a reason naming `why`.
async fn assert_checkpoints_broken(
    t: &TestApp,
    cp: &imax_gateway::checkpoint::Checkpoints,
    why: &str,
) {
    use imax_gateway::checkpoint::{self, CheckpointVerdict};
    match checkpoint::verify(t.admin.store(), cp)
        .await
        .expect("verify")
    {
        CheckpointVerdict::Broken { reason, .. } => assert!(reason.contains(why), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A deleted checkpoint file reads as a finding, never as "intact" (issue 25, item 8): once
/// the chain is older than the checkpoint interval a running gateway would have signed its
/// head, so `imax admin check` and `imax audit verify` both say the checkpoints are missing.
#[tokio::test]
async fn a_deleted_checkpoint_file_is_a_finding_not_intact() {
    use imax_gateway::checkpoint::Checkpoints;
    let mut t = TestApp::start().await;
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
    // Stopping writes the head's checkpoint.
    t.stop().await;
    let imax = |args: &[&str]| imax_offline(&t, args);
    let (ok, text) = imax(&["admin", "check"]);
    assert!(ok && text.contains("store sound"), "{text}");
    assert!(imax(&["audit", "verify"]).0);

    let cp = Checkpoints::from_config(&t.config).expect("key");
    std::fs::remove_file(&cp.file).expect("delete the checkpoints");
    let (ok, text) = imax(&["admin", "check"]);
    assert!(!ok, "{text}");
    assert!(text.contains("holds no signed checkpoint"), "{text}");
    assert!(!text.contains("store sound"), "{text}");
    let (ok, text) = imax(&["audit", "verify"]);
    assert!(!ok, "{text}");
    assert!(text.contains("checkpoints missing"), "{text}");
    assert!(!text.contains("intact"), "{text}");
}

/// Issue 29: once the gateway's committer knows the chain's head, files go in one round trip
/// (`committer::batch::one_trip`). Another writer's record on the same database (here the
/// administration's) moves the head: the next trip is refused and its file is stored the
/// locked way all the same, and trips resume after. Every file is stored and noted in the
/// chain, which holds.
#[tokio::test]
async fn files_go_in_one_round_trip_and_another_writers_record_sends_one_the_locked_way() {
    async fn trips(t: &TestApp) -> (f64, f64) {
        let (_, page) = crate::ops::get(t, "/metrics", &[]).await;
        (
            crate::ops::sample(&page, "imax_commit_batches_total", &["path=\"one_trip\""]),
            crate::ops::sample(&page, "imax_commit_one_trips_refused_total", &[]),
        )
    }
    let records = |t: &TestApp| {
        let db = t.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT MAX(seq) FROM audit_log")
                .fetch_one(&db)
                .await
                .expect("head")
        }
    };
    let t = TestApp::start().await;
    for n in 0..3 {
        let body = format!("file {n}");
        assert_ok(&t.send(SITE_USER, MAPLE, None, body.as_bytes()).await);
    }
    let (one_trip, refused) = trips(&t).await;
    assert!(one_trip >= 1.0, "{one_trip}");
    assert_eq!(refused, 0.0);
    // The administration appends (a right granted, then taken back, ...). A turn of the
    // gateway's own housekeeping (its first hourly round runs as it starts, and a slow machine
    // can run it this late) makes the committer forget its head too: the next file then goes
    // the locked way with no trip refused. So a round whose files found no refusal is tried
    // again, at most three times; one round without a turn shows the refusal.
    let right = imax_gateway::directory::Right::Tcr;
    let (mut since, mut again, mut refused) = (one_trip, one_trip, 0.0);
    for round in 0..3 {
        since = again;
        let before = records(&t).await;
        if round % 2 == 0 {
            t.admin.grant(COORDINATOR.0, right).await.expect("granted");
        } else {
            t.admin.revoke(COORDINATOR.0, right).await.expect("revoked");
        }
        assert!(records(&t).await > before, "another writer appended");
        for n in 0..3 {
            let body = format!("file {round}-{n}");
            assert_ok(&t.send(SITE_USER, MAPLE, None, body.as_bytes()).await);
        }
        (again, refused) = trips(&t).await;
        if refused > 0.0 {
            break;
        }
    }
    assert_eq!(refused, 1.0, "the head had moved");
    // In the round of the refusal: its file went the locked way, and a later one in one trip.
    assert!(again > since, "trips resume: {since} -> {again}");
    let unnoted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages m WHERE m.audit_seq IS NULL
            OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.seq = m.audit_seq
                            AND a.action = 'SendFile' AND a.message_id = m.message_id)",
    )
    .fetch_one(&t.db)
    .await
    .expect("notes");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(&t.db)
        .await
        .expect("count");
    assert!(stored >= 6, "{stored}");
    assert_eq!(unnoted, 0, "every file notes its record");
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        Verdict::Intact { .. }
    ));
}

/// A CA's downloads and acknowledgements commit in one round trip, as files do
/// (`store::committer::updates`): a first retrieval marks the message retrieved, an
/// acknowledgement acknowledges it, each batch one statement, and the chain holds.
#[tokio::test]
async fn downloads_and_acknowledgements_go_in_one_round_trip() {
    async fn one_trips(t: &TestApp) -> f64 {
        let (_, page) = crate::ops::get(t, "/metrics", &[]).await;
        crate::ops::sample(&page, "imax_commit_batches_total", &["path=\"one_trip\""])
    }
    let t = TestApp::start().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = format!("file {n}");
        let sent = t.send(SITE_USER, MAPLE, None, body.as_bytes()).await;
        ids.push(sent.get("messageId").expect("id").to_string());
    }
    let mut ca = t.client(CA_USER).await;
    let before = one_trips(&t).await;
    // The CA's first call also records its M-ID's and its mailbox's uses: one trip too.
    for id in &ids {
        assert_ok(&get_reply(&mut ca, PBCA, id).await);
        let ack = [
            ("mailbox", PBCA.0),
            ("mailboxPassword", PBCA.1),
            ("messageId", id),
        ];
        assert_ok(&ca.call("AckMessage", &ack).await.expect("reply"));
    }
    // One call at a time, each its own batch; a turn of the committer's in between (a
    // housekeeping task's) may send one the locked way.
    let trips = one_trips(&t).await - before;
    assert!(
        trips >= 5.0,
        "downloads and acknowledgements in one trip: {trips} of 6"
    );
    let unmarked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE retrieved_at IS NULL OR acked_at IS NULL",
    )
    .fetch_one(&t.db)
    .await
    .expect("marks");
    assert_eq!(unmarked, 0, "each retrieved and acknowledged");
    assert!(matches!(
        t.admin.store().audit_log().verify().await.expect("verify"),
        Verdict::Intact { .. }
    ));
}
