//! The duplicate look-ups' plans, on a database fresh from the migrations (no statistics): each
//! reaches `messages` by the digest, `messages_same_content`, and by no index that reads a
//! whole window of a mailbox's messages (`messages_to`, `messages_from`). SQLite chose
//! `messages_from` when only the recipient was kept from the index; PostgreSQL's choices of
//! `messages_to`, then of `messages_from` for a batch's look-ups, came on sessions of a loaded
//! gateway, which a fresh database does not reproduce: its test holds the plan to the same
//! shape, and since migration 32 no other index can match the look-up at all.

use super::files::{DUPLICATE_ONLY_SQL, FILE_CONTEXT_SQL};
use crate::store::messages::FIND_DUPLICATE_SQL;
use crate::store::test_databases::generic_plan;
use crate::store::Store;

/// The plan's lines that name `messages`' indexes.
fn message_index_lines(plan: &[String]) -> Vec<&String> {
    plan.iter().filter(|l| l.contains("messages_")).collect()
}

/// The commit's look-up for a batch of two files (`committer::repeats`): each file's
/// look-up is [`FIND_DUPLICATE_SQL`]'s, so each must keep its plan.
fn repeats_sql() -> String {
    crate::store::committer::repeats::look_up_sql([0, 1].into_iter(), 1)
}

fn assert_by_sender_and_digest(plan: &[String], statement: &str) {
    let lines = message_index_lines(plan);
    let by_content = lines
        .iter()
        .filter(|l| l.contains("messages_same_content"))
        .count();
    let looked_up = if statement == "repeats_at_commit" {
        2
    } else {
        1
    };
    assert!(
        by_content >= looked_up,
        "{statement}: each same-content look-up goes through messages_same_content: {plan:#?}"
    );
    for bad in ["messages_to ", "messages_to_", "messages_from"] {
        assert!(
            !lines.iter().any(|l| l.contains(bad)),
            "{statement}: no window of a mailbox's messages ({bad}): {plan:#?}"
        );
    }
}

#[tokio::test]
async fn on_sqlite_the_duplicate_look_ups_read_the_senders_copies_of_the_content_only() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("imax.db").display());
    let store = Store::open(&url, dir.path()).await.expect("store");
    let repeats = repeats_sql();
    for (name, sql) in [
        ("file_context", FILE_CONTEXT_SQL.as_str()),
        ("duplicate_only", DUPLICATE_ONLY_SQL.as_str()),
        ("find_duplicate", FIND_DUPLICATE_SQL.as_str()),
        ("repeats_at_commit", repeats.as_str()),
    ] {
        let plan = crate::store::test_databases::sqlite_plan(&store.pool, sql).await;
        assert_by_sender_and_digest(&plan, name);
    }
    store.close().await;
}

/// PostgreSQL's generic plans (what the gateway's sessions use, `store::pools`) on a fresh
/// database of its own; runs where the tests have a server (`IMAX_TEST_POSTGRES`).
#[tokio::test]
async fn on_postgres_the_duplicate_look_ups_read_the_senders_copies_of_the_content_only() {
    let Some((url, database)) = crate::store::test_databases::fresh("imax_plans").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&url, dir.path()).await.expect("store");
    let mut conn = store.pool.acquire().await.expect("session");
    let repeats = repeats_sql();
    let find_types = "text, bigint, bigint, text, bigint";
    let find_args = "'TRACM10001|01012026|120000', 5, 3, 'ab', 1";
    for (name, sql, types, args) in [
        (
            "file_context",
            FILE_CONTEXT_SQL.as_str(),
            "text, text, bigint, text, bigint",
            "'TRACM10001', 'TRACM10001|01012026|120000', 5, 'ab', 1",
        ),
        (
            "duplicate_only",
            DUPLICATE_ONLY_SQL.as_str(),
            "text, text, bigint, text, bigint",
            "'TRACM10001', 'TRACM10001|01012026|120000', 5, 'ab', 1",
        ),
        (
            "find_duplicate",
            FIND_DUPLICATE_SQL.as_str(),
            find_types,
            find_args,
        ),
        (
            "repeats_at_commit",
            repeats.as_str(),
            &format!("{find_types}, {find_types}"),
            &format!("{find_args}, {find_args}"),
        ),
    ] {
        let prepared = format!("p_{name}");
        let plan = generic_plan(&mut conn, &prepared, (sql, types), args).await;
        assert!(
            !plan.iter().any(|l| l.contains("Seq Scan on messages")),
            "{name}: {plan:#?}"
        );
        assert_by_sender_and_digest(&plan, name);
    }
    drop(conn);
    store.close().await;
    crate::store::test_databases::drop(&database).await;
}
