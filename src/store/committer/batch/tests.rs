//! The group committer's batches against a real SQLite file: a failing job fails alone, the
//! chain holds, sessions are kept only after a commit, and new messages note their records.

use super::super::NewMessage;
use super::*;
use crate::audit::{Action, AuditEntry, Door, Verdict};
use crate::store::audit_log::verify;
use time::OffsetDateTime;
use tokio::sync::oneshot;

mod updates;

pub(super) fn job(
    effects: Vec<Effect>,
    action: Action,
) -> (Job, oneshot::Receiver<Result<(), CommitError>>) {
    let (reply, rx) = oneshot::channel();
    let audit = AuditEntry::new(
        OffsetDateTime::UNIX_EPOCH,
        "admin",
        action,
        Door::CommandLine,
    );
    (
        Job {
            effects,
            audit,
            reply,
        },
        rx,
    )
}

/// A store on a fresh SQLite file (kept while the directory is).
pub(super) async fn fresh_store() -> (tempfile::TempDir, crate::store::Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = crate::store::Store::open(&url, dir.path())
        .await
        .expect("store");
    (dir, store)
}

/// Mailbox 7, which the messages of some tests name.
pub(super) async fn mailbox_7(store: &crate::store::Store) {
    sqlx::query(
        "INSERT INTO mailboxes (id, imax_id, kind, name, password_hash, password_changed_at,
            created_at) VALUES (7, 'TRACM1', 'property', 'M', 'x', 0, 0)",
    )
    .execute(&store.pool)
    .await
    .expect("mailbox");
}

/// A message row naming a mailbox that does not exist (refused by the foreign key).
pub(super) fn bad_message() -> Effect {
    message("20260101-bad", 999_999)
}

/// A message `id` from and to the mailbox `mailbox`.
pub(super) fn message(id: &str, mailbox: i64) -> Effect {
    Effect::InsertMessage(Box::new(new_message(id, mailbox)))
}

fn new_message(id: &str, mailbox: i64) -> NewMessage {
    NewMessage {
        message_id: crate::directory::MessageId::stored(id.into()),
        from_mailbox: mailbox,
        to_mailbox: mailbox,
        sent_by: "M1".into(),
        file_name: "X.DAT".into(),
        size_bytes: 1,
        sha256: "00".into(),
        body_key: format!("k-{id}"),
        claim_upload: false,
        inline_body: None,
        received_at: OffsetDateTime::UNIX_EPOCH,
        tracs_key: None,
        routed_by: crate::mailbox::RoutedBy::Sender,
        resend: false,
        misrouted: false,
        in_reply_to: None,
        repeat_check: None,
    }
}

#[tokio::test]
async fn a_failing_job_fails_alone_and_the_chain_holds() {
    let (_dir, store) = fresh_store().await;
    let (a, _) = job(vec![], Action::SignIn);
    let (b, _) = job(vec![bad_message()], Action::SendFile);
    let (c, _) = job(vec![], Action::GetMessage);
    let results = commit_batch(&store.pool, &mut Held::default(), &[a, b, c])
        .await
        .expect("batch");
    assert!(results[0].is_ok());
    assert!(results[1].is_err());
    assert!(results[2].is_ok());
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(&store.pool)
        .await
        .expect("audit");
    assert_eq!(actions, ["SignIn", "GetMessage"]);
    assert_eq!(
        verify(&store.pool).await.expect("verify"),
        Verdict::Intact { records: 2 }
    );
    // A whole batch of good jobs: one transaction, every record chained.
    let jobs: Vec<Job> = (0..5).map(|n| job(vec![], Action::ALL[n]).0).collect();
    let results = commit_batch(&store.pool, &mut Held::default(), &jobs)
        .await
        .expect("batch");
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(
        verify(&store.pool).await.expect("verify"),
        Verdict::Intact { records: 7 }
    );
}

/// Each new message's row notes the sequence number of its own successful SendFile's
/// record (a receipt's proof reads it), whether the batch was written at once or job by
/// job after one failed; a message its job's record does not name notes none.
#[tokio::test]
async fn a_message_notes_the_record_of_the_sendfile_that_stored_it() {
    let (_dir, store) = fresh_store().await;
    mailbox_7(&store).await;
    let sent = |id: &str, named: bool| {
        let (mut j, _) = job(vec![message(id, 7)], Action::SendFile);
        j.audit = j.audit.clone().message(if named { id } else { "another" });
        j
    };
    let at_once = [sent("20260101-a", true), sent("20260101-b", false)];
    let one_by_one = [
        job(vec![], Action::SignIn).0,
        job(vec![bad_message()], Action::SendFile).0,
        sent("20260101-c", true),
    ];
    for batch in [&at_once[..], &one_by_one[..]] {
        let results = commit_batch(&store.pool, &mut Held::default(), batch)
            .await
            .expect("batch");
        let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(failed.len() <= 1, "{failed:?}");
    }
    let rows: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT m.message_id, m.audit_seq, a.seq FROM messages m
           LEFT JOIN audit_log a ON a.message_id = m.message_id AND a.action = 'SendFile'
          ORDER BY m.message_id",
    )
    .fetch_all(&store.pool)
    .await
    .expect("rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], ("20260101-a".into(), Some(1), Some(1)));
    assert_eq!(rows[1], ("20260101-b".into(), None, None));
    assert_eq!(rows[2], ("20260101-c".into(), Some(4), Some(4)));
}

/// The committer keeps its session from one batch to the next (no trip back to the pool,
/// where sqlx pings it), but never one whose transaction failed.
#[tokio::test]
async fn the_committer_keeps_its_session_only_after_a_batch_that_committed() {
    let (_dir, store) = fresh_store().await;
    let mut held = Held::default();
    let (a, _) = job(vec![], Action::SignIn);
    let results = commit_batch(&store.pool, &mut held, &[a])
        .await
        .expect("batch");
    assert!(results[0].is_ok());
    assert!(held.session.is_some(), "kept for the next batch");
    let (b, _) = job(vec![], Action::GetMessage);
    commit_batch(&store.pool, &mut held, &[b])
        .await
        .expect("batch");
    assert!(held.session.is_some());
    let (c, _) = job(vec![bad_message()], Action::SendFile);
    let results = commit_batch(&store.pool, &mut held, &[c])
        .await
        .expect("batch");
    assert!(results[0].is_err());
    assert!(
        held.session.is_none(),
        "a session whose transaction failed is closed"
    );
    assert_eq!(
        verify(&store.pool).await.expect("verify"),
        Verdict::Intact { records: 2 }
    );
}

/// After a session broke on `COMMIT`, the chain tells whether the batch landed: its last
/// record is there with its hash exactly when it committed (issue 25, item 7).
#[tokio::test]
async fn the_chain_tells_whether_a_batch_landed() {
    let (_dir, store) = fresh_store().await;
    let engine = Engine::of_pool(&store.pool);
    let jobs: Vec<Job> = (0..3).map(|n| job(vec![], Action::ALL[n]).0).collect();
    let mut conn = store.pool.acquire().await.expect("conn");
    let (mut tx, mut chain) = begin_batch(&mut conn, engine).await.expect("begin");
    apply_batch(
        &mut tx,
        engine,
        &jobs.iter().collect::<Vec<_>>(),
        &mut chain,
    )
    .await
    .expect("apply");
    let last = chain.last();
    // Not committed yet (rolled back): not there, so the batch is committed again.
    tx.rollback().await.expect("rollback");
    assert!(!landed(&mut conn, engine, &last).await.expect("asked"));
    let results = commit_on(&mut conn, engine, &jobs, &mut None)
        .await
        .expect("commit");
    assert!(results.iter().all(|r| r.is_ok()));
    // Committed: the same record, the same hash; any other hash is another batch's.
    assert!(landed(&mut conn, engine, &last).await.expect("asked"));
    let other = (last.0, "0".repeat(64));
    assert!(!landed(&mut conn, engine, &other).await.expect("asked"));
}

/// Files whose repeat was left to the commit (`repeats`): a repeat by key or, within its
/// window, by content is refused before anything of its job is written; the rest of its batch
/// commits, and a job failing beside it still fails alone.
#[tokio::test]
async fn a_repeat_left_to_the_commit_is_refused_there_and_the_rest_of_its_batch_commits() {
    let (_dir, store) = fresh_store().await;
    mailbox_7(&store).await;
    let sent = |id: &str, key: Option<&str>, sha: &str, since: Option<OffsetDateTime>| {
        let mut m = new_message(id, 7);
        m.tracs_key = key.map(str::to_string);
        m.sha256 = sha.into();
        m.repeat_check = Some(super::super::RepeatCheck { since });
        job(vec![Effect::InsertMessage(Box::new(m))], Action::SendFile).0
    };
    let originals = [
        sent("20260101-a", Some("TRACM1|01012026|120000"), "aa", None),
        sent("20260101-b", None, "bb", None),
    ];
    let results = commit_batch(&store.pool, &mut Held::default(), &originals)
        .await
        .expect("batch");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let window = Some(OffsetDateTime::UNIX_EPOCH);
    let batch = [
        sent("20260101-c", Some("TRACM1|01012026|120000"), "cc", window),
        sent("20260101-d", None, "bb", window),
        sent("20260101-e", None, "bb", None),
        job(vec![bad_message()], Action::SendFile).0,
        sent("20260101-f", Some("TRACM1|01012026|130000"), "ff", window),
    ];
    let results = commit_batch(&store.pool, &mut Held::default(), &batch)
        .await
        .expect("batch");
    use crate::store::messages::Duplicate;
    assert!(
        matches!(&results[0], Err(CommitError::Repeats(Duplicate::SameKey { id, .. })) if id == "20260101-a"),
        "{results:?}"
    );
    assert!(
        matches!(&results[1], Err(CommitError::Repeats(Duplicate::SameContent { id, .. })) if id == "20260101-b"),
        "{results:?}"
    );
    assert!(
        results[2].is_ok(),
        "no window, no repeat by content: {results:?}"
    );
    assert!(matches!(results[3], Err(CommitError::NotCommitted { .. })));
    assert!(results[4].is_ok(), "{results:?}");
    // A batch with no failing job: written at once, the repeat left out.
    let batch = [
        sent("20260101-g", Some("TRACM1|01012026|130000"), "gg", window),
        sent("20260101-h", Some("TRACM1|01012026|140000"), "hh", window),
    ];
    let results = commit_batch(&store.pool, &mut Held::default(), &batch)
        .await
        .expect("batch");
    assert!(
        matches!(&results[0], Err(CommitError::Repeats(Duplicate::SameKey { id, .. })) if id == "20260101-f"),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM messages ORDER BY message_id")
            .fetch_all(&store.pool)
            .await
            .expect("ids");
    let written = [
        "20260101-a",
        "20260101-b",
        "20260101-e",
        "20260101-f",
        "20260101-h",
    ];
    assert_eq!(ids, written);
    // The repeats' and the failed job's records are not written; the chain holds.
    assert_eq!(
        verify(&store.pool).await.expect("verify"),
        Verdict::Intact { records: 5 }
    );
}

/// A store `node` on the database `url` (a fresh one of the tests' PostgreSQL server).
async fn postgres_store(dir: &tempfile::TempDir, node: &str, url: &str) -> crate::store::Store {
    crate::store::Store::open(url, &dir.path().join(node))
        .await
        .expect("store")
}

pub(super) async fn message_ids(store: &crate::store::Store) -> Vec<String> {
    sqlx::query_scalar("SELECT message_id FROM messages ORDER BY message_id")
        .fetch_all(&store.pool)
        .await
        .expect("ids")
}

/// A committer on `store` (with mailbox 7) that committed one batch the locked way, and the
/// chain's head that batch left, from which the next may go in one trip.
pub(super) async fn started(store: &crate::store::Store) -> (Held, Chain) {
    mailbox_7(store).await;
    let mut held = Held::default();
    commit_batch(&store.pool, &mut held, &[job(vec![], Action::SignIn).0])
        .await
        .expect("locked");
    let head = held.head.clone().expect("the head the batch left");
    (held, head)
}

/// What became of `batch` offered to one trip from `head` on PostgreSQL.
pub(super) async fn trip(pool: &sqlx::AnyPool, batch: &[Job], head: &Chain) -> &'static str {
    trip_on(pool, Engine::Postgres, batch, head).await
}

/// What became of `batch` offered to one trip from `head` on `engine`.
pub(super) async fn trip_on(
    pool: &sqlx::AnyPool,
    engine: Engine,
    batch: &[Job],
    head: &Chain,
) -> &'static str {
    let mut conn = pool.acquire().await.expect("conn");
    match one_trip::commit(&mut conn, engine, batch, head).await {
        Ok(OneTrip::Refused) => "refused",
        Ok(OneTrip::Declined) => "declined",
        Ok(OneTrip::Committed(..)) => "committed",
        Err(_) => "failed",
    }
}

/// A TRACS file `id` with the key `key`, to mailbox 7, whose repeats its commit asks.
fn tracs_file(id: &str, key: &str) -> Job {
    let mut m = new_message(id, 7);
    m.tracs_key = Some(key.into());
    m.sha256 = id.into();
    m.inline_body = Some(id.as_bytes().to_vec());
    m.repeat_check = Some(super::super::RepeatCheck { since: None });
    let (mut j, _) = job(vec![Effect::InsertMessage(Box::new(m))], Action::SendFile);
    j.audit = j.audit.clone().message(id);
    j
}

/// PostgreSQL (issue 29): a batch goes in one statement from the head the committer's last
/// batch left. Refused, it writes nothing, whether the head moved (another node appended),
/// or a file repeats a transmission; a job that writes more than its message is not sent.
#[tokio::test]
async fn on_postgres_a_batch_goes_in_one_trip_from_the_head_its_committer_left() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((url, name)) = crate::store::test_databases::fresh("imax_trip").await else {
        return;
    };
    let store = postgres_store(&dir, "a", &url).await;
    let (mut held, head) = started(&store).await;
    let mut conn = store.pool.acquire().await.expect("conn");
    let batch = [
        tracs_file("20260101-a", "T|1"),
        tracs_file("20260101-b", "T|2"),
    ];
    let OneTrip::Committed(results, next) =
        one_trip::commit(&mut conn, Engine::Postgres, &batch, &head)
            .await
            .expect("sent")
    else {
        panic!("one trip")
    };
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(next.last().0, 3);
    let notes: Vec<Option<i64>> = sqlx::query_scalar("SELECT audit_seq FROM messages ORDER BY id")
        .fetch_all(&store.pool)
        .await
        .expect("notes");
    assert_eq!(notes, [Some(2), Some(3)], "each message notes its record");
    // The head it started from is gone; a file repeats one; a job changes an M-ID's status.
    assert_eq!(
        trip(&store.pool, &[tracs_file("20260101-c", "T|3")], &head).await,
        "refused"
    );
    assert_eq!(
        trip(&store.pool, &[tracs_file("20260101-d", "T|1")], &next).await,
        "refused"
    );
    let status = Effect::SetStatus {
        account: 1,
        status: crate::directory::AccountStatus::Active,
    };
    let status = [job(vec![status], Action::SendFile).0];
    assert_eq!(trip(&store.pool, &status, &next).await, "declined");
    assert_eq!(message_ids(&store).await, ["20260101-a", "20260101-b"]);
    drop(conn);
    held.head = Some(next);
    a_stale_head_is_refused_and_the_batch_commits_the_locked_way(&dir, &store, &url, held).await;
    store.close().await;
    crate::store::test_databases::drop(&name).await;
}

/// Another node appends; the committer's head is stale, its trip refused, and the batch
/// commits the locked way, the repeat answered there; the next batch goes the locked way.
async fn a_stale_head_is_refused_and_the_batch_commits_the_locked_way(
    dir: &tempfile::TempDir,
    store: &crate::store::Store,
    url: &str,
    mut held: Held,
) {
    let other = postgres_store(dir, "b", url).await;
    commit_batch(
        &other.pool,
        &mut Held::default(),
        &[tracs_file("20260101-f", "T|6")],
    )
    .await
    .expect("other node");
    other.close().await;
    let repeat = [
        tracs_file("20260101-d", "T|1"),
        tracs_file("20260101-e", "T|5"),
    ];
    let results = commit_batch(&store.pool, &mut held, &repeat)
        .await
        .expect("batch");
    assert!(
        matches!(results[0], Err(CommitError::Repeats(_))),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(held.refusals.wait, 1, "the next batch goes the locked way");
    assert_eq!(held.head.as_ref().map(|h| h.last().0), Some(5));
    let ids = ["20260101-a", "20260101-b", "20260101-e", "20260101-f"];
    assert_eq!(message_ids(store).await, ids);
    assert_eq!(
        verify(&store.pool).await.expect("verify"),
        Verdict::Intact { records: 5 }
    );
}
