//! Retrievals, acknowledgements and uses in one trip (`committer::updates`), on SQLite and on
//! PostgreSQL: written as the locked way writes them, beside new messages; a batch that
//! updates one row twice goes the locked way, which applies its effects in order.

use super::*;
use crate::store::Store;

/// The account the updates name (besides mailbox 7, which `started` makes).
async fn account(store: &Store) -> i64 {
    sqlx::query(
        "INSERT INTO accounts (mid, kind, full_name, email, organization, password_hash,
            password_changed_at, created_at, affiliation, last_activity_at, last_signin_at)
         VALUES ('M1', 'user', 'P', 'p@example.com', 'O', 'x', 0, 0, 'industry', 50, 60)",
    )
    .execute(&store.pool)
    .await
    .expect("account");
    sqlx::query_scalar("SELECT id FROM accounts WHERE mid = 'M1'")
        .fetch_one(&store.pool)
        .await
        .expect("id")
}

/// Message `id`'s row id.
async fn row(store: &Store, id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM messages WHERE message_id = $1")
        .bind(id)
        .fetch_one(&store.pool)
        .await
        .expect("row")
}

/// Message `id`'s (retrieved, acknowledged) times, as epoch seconds.
async fn marks(store: &Store, id: &str) -> (Option<i64>, Option<i64>) {
    sqlx::query_as("SELECT retrieved_at, acked_at FROM messages WHERE message_id = $1")
        .bind(id)
        .fetch_one(&store.pool)
        .await
        .expect("marks")
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.pool)
        .await
        .expect(sql)
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).expect("time")
}

/// `batch` committed in one trip from `head`; the head it leaves.
async fn committed_in_one_trip(
    store: &Store,
    engine: Engine,
    batch: &[Job],
    head: &Chain,
) -> Chain {
    let mut conn = store.pool.acquire().await.expect("conn");
    let Ok(OneTrip::Committed(_, next)) = one_trip::commit(&mut conn, engine, batch, head).await
    else {
        panic!("{engine:?}: in one trip")
    };
    next
}

/// One job of `effects`.
fn jobs(effects: Vec<Effect>) -> [Job; 1] {
    [job(effects, Action::GetMessage).0]
}

fn retrieved(message: i64, secs: i64) -> Effect {
    Effect::MarkRetrieved {
        message,
        at: at(secs),
    }
}

fn acked(message: i64, secs: i64) -> Effect {
    Effect::MarkAcked {
        message,
        at: at(secs),
    }
}

fn activity(account: i64, secs: i64) -> Effect {
    Effect::RecordActivity {
        account,
        at: at(secs),
    }
}

/// The account's last activity and last sign-in, as `activity * 1000 + sign-in`.
const USES: &str = "SELECT last_activity_at * 1000 + last_signin_at FROM accounts WHERE mid = 'M1'";

async fn updates_go_in_one_trip(store: &Store, engine: Engine) {
    let (_, head) = started(store).await;
    let me = account(store).await;
    let files: Vec<Job> = ["a", "b", "c"]
        .iter()
        .map(|id| job(vec![message(id, 7)], Action::SendFile).0)
        .collect();
    let next = committed_in_one_trip(store, engine, &files, &head).await;
    let (a, b, c) = (
        row(store, "a").await,
        row(store, "b").await,
        row(store, "c").await,
    );
    // b was retrieved before: its first retrieval stands.
    sqlx::query("UPDATE messages SET retrieved_at = 5 WHERE id = $1")
        .bind(b)
        .execute(&store.pool)
        .await
        .expect("retrieved before");
    let uses = Effect::RecordMailboxUse {
        mailbox: 7,
        at: at(400),
    };
    let batch = [
        job(vec![retrieved(a, 100)], Action::GetMessage).0,
        job(vec![retrieved(b, 100)], Action::GetMessage).0,
        job(vec![acked(c, 200)], Action::AckMessage).0,
        job(
            vec![activity(me, 300), uses, message("d", 7)],
            Action::SendFile,
        )
        .0,
    ];
    let head = committed_in_one_trip(store, engine, &batch, &next).await;
    assert_eq!(marks(store, "a").await, (Some(100), None), "{engine:?}");
    assert_eq!(marks(store, "b").await, (Some(5), None), "{engine:?}");
    let c_marks = marks(store, "c").await;
    assert_eq!(c_marks, (Some(200), Some(200)), "{engine:?}");
    assert_eq!(scalar(store, USES).await, 300_300, "{engine:?}");
    let used = "SELECT last_used_at FROM mailboxes WHERE id = 7";
    assert_eq!(scalar(store, used).await, 400, "{engine:?}");
    assert_eq!(message_ids(store).await, ["a", "b", "c", "d"]);
    a_row_named_twice_goes_the_locked_way(store, engine, &head, (me, b)).await;
}

/// A row named twice, or twice the M-ID's row: the locked way, in order (`account`, `b`: the
/// M-ID's row and a message retrieved before).
async fn a_row_named_twice_goes_the_locked_way(
    store: &Store,
    engine: Engine,
    head: &Chain,
    (account, b): (i64, i64),
) {
    let pool = &store.pool;
    let twice = jobs(vec![retrieved(b, 500), acked(b, 600)]);
    assert_eq!(trip_on(pool, engine, &twice, head).await, "declined");
    let sign_in = Effect::RecordSignIn {
        account,
        at: at(700),
    };
    let both = jobs(vec![activity(account, 250), sign_in]);
    assert_eq!(trip_on(pool, engine, &both, head).await, "declined");
    for batch in [twice, both] {
        let results = commit_batch(pool, &mut Held::default(), &batch)
            .await
            .expect("locked");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    assert_eq!(marks(store, "b").await, (Some(5), Some(600)), "{engine:?}");
    // Uses only move forward: the older activity leaves the newer one.
    assert_eq!(scalar(store, USES).await, 300_700, "{engine:?}");
    assert_eq!(
        verify(pool).await.expect("verify"),
        Verdict::Intact { records: 10 }
    );
}

#[tokio::test]
async fn on_sqlite_retrievals_acknowledgements_and_uses_go_in_one_trip() {
    let (_dir, store) = fresh_store().await;
    updates_go_in_one_trip(&store, Engine::Sqlite).await;
}

#[tokio::test]
async fn on_postgres_retrievals_acknowledgements_and_uses_go_in_one_trip() {
    let Some((url, name)) = crate::store::test_databases::fresh("imax_updates").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&url, dir.path()).await.expect("store");
    updates_go_in_one_trip(&store, Engine::Postgres).await;
    store.close().await;
    crate::store::test_databases::drop(&name).await;
}
