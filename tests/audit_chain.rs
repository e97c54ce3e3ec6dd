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
    let pool = &t.admin.store.pool;
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

    let total = match audit::verify(pool).await.expect("verify") {
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
        audit::verify(pool).await.expect("verify"),
        Verdict::Broken { seq: 5, .. }
    ));
}

#[tokio::test]
async fn removal_and_reordering_are_found() {
    let t = TestApp::start().await;
    let pool = &t.admin.store.pool;
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(pool)
        .await
        .expect("remove");
    match audit::verify(pool).await.expect("verify") {
        Verdict::Broken { seq, reason } => {
            assert_eq!(seq, 4);
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let t = TestApp::start().await;
    let pool = &t.admin.store.pool;
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
        audit::verify(pool).await.expect("verify"),
        Verdict::Broken { seq: 6, .. }
    ));
}
