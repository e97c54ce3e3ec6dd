//! A message's look-up by its public ID ([`FIND_SQL`], every download and acknowledgement)
//! finds the time of its first answer by the partial index on `in_reply_to`, never by walking
//! `messages_age`: on a database of 20,000 messages before its first statistics (a new
//! gateway's first hours, every benchmark), PostgreSQL's generic plan for
//! `MIN(r.received_at)` walked that index from the oldest message, all of it when the message
//! had no reply.

use super::FIND_SQL;
use crate::store::{test_databases, Engine, Store};

/// Messages in the store, none a reply, and no statistics yet: a new database's first hours
/// (and every benchmark's), before the first automatic `ANALYZE`.
async fn history(store: &Store, n: i64) {
    sqlx::query(
        "INSERT INTO mailboxes (id, imax_id, kind, name, password_hash, password_changed_at,
            created_at) VALUES (7, 'TRACM1', 'property', 'M', 'x', 0, 0),
            (8, 'TRACM2', 'ca', 'C', 'x', 0, 0)",
    )
    .execute(&store.pool)
    .await
    .expect("mailboxes");
    let numbers = match store.engine {
        Engine::Sqlite => {
            "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
              SELECT i FROM n) n"
        }
        Engine::Postgres => "generate_series(1, $1::BIGINT) AS n(i)",
    };
    sqlx::query(&format!(
        "INSERT INTO messages (message_id, from_mailbox, to_mailbox, sent_by, file_name,
            size_bytes, sha256, body_key, received_at, routed_by)
         SELECT 'm-' || n.i, 7, 8, 'M1', 'X.DAT', 1, 'ab', 'k-' || n.i, n.i, 'sender'
           FROM {numbers}"
    ))
    .bind(n)
    .execute(&store.pool)
    .await
    .expect("history");
}

fn assert_answer_by_its_index(plan: &[String], engine: &str) {
    assert!(
        plan.iter().any(|l| l.contains("messages_in_reply_to")),
        "{engine}: the first answer by the index on in_reply_to: {plan:#?}"
    );
    assert!(
        !plan.iter().any(|l| l.contains("messages_age")),
        "{engine}: no walk of messages_age: {plan:#?}"
    );
}

#[tokio::test]
async fn on_sqlite_a_messages_first_answer_is_found_by_its_index() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("imax.db").display());
    let store = Store::open(&url, dir.path()).await.expect("store");
    history(&store, 20_000).await;
    let plan = test_databases::sqlite_plan(&store.pool, &FIND_SQL).await;
    assert_answer_by_its_index(&plan, "sqlite");
    store.close().await;
}

/// PostgreSQL's generic plan (what the gateway's sessions use, `store::pools`).
#[tokio::test]
async fn on_postgres_a_messages_first_answer_is_found_by_its_index() {
    let Some((url, database)) = test_databases::fresh("imax_answers").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&url, dir.path()).await.expect("store");
    history(&store, 20_000).await;
    let mut conn = store.pool.acquire().await.expect("session");
    let find = (FIND_SQL.as_str(), "text, bigint");
    let plan = test_databases::generic_plan(&mut conn, "p_find", find, "'m-19999', 8").await;
    assert_answer_by_its_index(&plan, "postgres");
    drop(conn);
    store.close().await;
    test_databases::drop(&database).await;
}
