//! Sign-in attempts and the directory's mark (migration 31): counting wrong passwords moves
//! no mark, so a stranger guessing never makes the nodes read every caller's context again;
//! a lock, and a right password that starts the locks in a row again, do.

use super::*;
use crate::audit::{Action, AuditEntry, Door};
use crate::store::accounts::Side;
use crate::store::Effect;

async fn account_id(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT id FROM accounts")
        .fetch_one(&store.pool)
        .await
        .expect("account")
}

/// The account's counts of wrong passwords in a row: (familiar, strangers').
async fn counts(store: &Store) -> (i64, i64) {
    sqlx::query_as("SELECT failed_signins, stranger_failures FROM accounts")
        .fetch_one(&store.pool)
        .await
        .expect("counts")
}

/// Strangers' addresses locked out of `account` until `until`, by the committer's effect as
/// R14 locks them.
async fn lock_strangers_out(
    store: &Store,
    account: i64,
    now: OffsetDateTime,
    until: OffsetDateTime,
) {
    let lock = Effect::LockForFailures {
        account,
        side: Side::Stranger,
        at: now,
        until,
    };
    let entry = AuditEntry::new(now, MID, Action::SignIn, Door::Browser);
    store
        .committer
        .commit(vec![lock], entry)
        .await
        .expect("lock");
}

async fn attempts_move_no_mark(engine: &str) {
    let Some((_dir, a, b, db)) = two_nodes(engine).await else {
        return;
    };
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("now");
    directory(&b, now).await;
    let id = account_id(&b).await;
    let remembered = read(&a, now).await.mark;
    assert_eq!(remembered, Some(mark(&a).await));

    // A stranger's guesses, counted on node B (one given back as unchecked), and a familiar
    // address's wrong password: the counts are written, the mark stays.
    let accounts = b.accounts();
    for _ in 0..3 {
        accounts
            .claim_attempt(id, Side::Stranger, now)
            .await
            .expect("stranger");
    }
    accounts
        .forgive_attempts(id, Side::Stranger, 1)
        .await
        .expect("forgive");
    let n = accounts
        .claim_attempt(id, Side::Familiar, now)
        .await
        .expect("familiar");
    assert_eq!(counts(&b).await, (1, 2), "{engine}");
    // The right password next, with no lock to lift and no locks in a row: only the count.
    accounts
        .signed_in_from(id, Side::Familiar, n, Some("client-1"), now)
        .await
        .expect("signed in");
    assert_eq!(counts(&b).await, (0, 2), "{engine}");
    assert_eq!(Some(mark(&a).await), remembered, "{engine}: no mark moved");
    // Node A serves its context as remembered: a use written meanwhile does not show.
    exec(&b, "UPDATE accounts SET last_activity_at = 7").await;
    assert_eq!(activity(&read(&a, now).await), Some(now.unix_timestamp()));

    // The strangers' side locked: marked, and node A reads the lock at its next call.
    let locked_until = now + Duration::minutes(15);
    lock_strangers_out(&b, id, now, locked_until).await;
    let after_lock = read(&a, now).await;
    assert_ne!(
        after_lock.mark, remembered,
        "{engine}: a lock moves the mark"
    );
    let account = after_lock.account.expect("account");
    assert_eq!(
        account.stranger_locked_until,
        Some(locked_until),
        "{engine}"
    );
    assert_eq!(account.stranger_locks, 1, "{engine}");

    // A right password from a stranger's address once the lock ended starts the locks in a
    // row again: that is marked too.
    let marked = mark(&a).await;
    let later = locked_until + Duration::minutes(1);
    let n = accounts
        .claim_attempt(id, Side::Stranger, later)
        .await
        .expect("again");
    accounts
        .signed_in_from(id, Side::Stranger, n, None, later)
        .await
        .expect("signed in");
    assert_ne!(
        mark(&a).await,
        marked,
        "{engine}: the locks in a row start again"
    );
    let account = read(&a, later).await.account.expect("account");
    assert_eq!(account.stranger_locks, 0, "{engine}");
    a.close().await;
    b.close().await;
    drop_database(db).await;
}

#[tokio::test]
async fn on_sqlite_sign_in_attempts_move_no_mark_and_a_lock_does() {
    attempts_move_no_mark("sqlite").await;
}

#[tokio::test]
async fn on_postgres_sign_in_attempts_move_no_mark_and_a_lock_does() {
    attempts_move_no_mark("postgres").await;
}
