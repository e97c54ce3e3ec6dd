//! A batch in one round trip, when the committer knows the chain's head.
//!
//! The locked way (`commit_on`) takes five round trips: `BEGIN` with the chain's lock, the
//! head's read, the repeats' look-up, the batch's statement and `COMMIT`. On two shared cores
//! each trip waits for the database's backend and then for the committer's task to be run
//! again (200–500 µs under load, against an executor time of 10–30 µs), and the committer is
//! the node's one writer, so they are the batch's length and every request's wait (issue 29,
//! measured in `docs/performance.md`).
//!
//! Here the same batch is one statement, sent outside any transaction, so that PostgreSQL
//! commits it on its own as it ends: the chain's head the committer's last batch left (its
//! own, never read again), the records chained after it in memory as before, and in the
//! statement
//!
//! * the chain's lock, taken before any row is written: the first row of each part that
//!   writes is computed from a read of it (`(SELECT $n FROM l)`), so no part can write before
//!   it, whatever order PostgreSQL runs the parts in;
//! * the head's check: the record it names is there with its hash (`k`), and the next
//!   sequence number is free, which the audit log's primary key checks against every
//!   committed row (another appender that got there first makes the statement fail);
//! * the repeats' look-up (`r`, `repeats::look_up_sql`), and the listings' count (`d`);
//! * the batch's retrievals, acknowledgements and uses, one part per kind (`u0`…,
//!   `committer::updates`), each reading its first value through the lock too: their rows are
//!   locked only once the chain's lock is held, as a locked batch of another node's locks them.
//!   A batch that updates one row twice goes the locked way (one statement cannot).
//!
//! When a check fails the statement raises an error (a text that is not a number cast to
//! one), so nothing of it is written, and the batch goes the locked way, which reads the head
//! again and answers repeats and failures job by job. The statement's snapshot is taken before
//! the lock is held, and that is enough: if it succeeds, no appender committed since the
//! committer's last batch, so everything the repeats' look-up must see (every transmission is
//! stored with its record in the chain) committed before the snapshot.
//!
//! SQLite has no round trips but hand-offs: sqlx runs each connection on a thread of its own,
//! and each statement sent there waits for that thread and then for the committer's task, as
//! PostgreSQL's round trips do (four per batch: `BEGIN IMMEDIATE`, the head, the batch's
//! statements, `COMMIT`). There the batch is one string of statements in one hand-off
//! ([`statements`]): the write lock, the head's check (another process, `imax admin`, may have
//! appended), the batch's statements, `COMMIT`. One that fails stops its string inside the
//! transaction, which is then rolled back before the batch goes the locked way. SQLite asks
//! for repeats before the commit, so a batch that asks goes the locked way (none does today).

use super::{Committing, Failed, Job};
use crate::store::audit_log::{Chain, CHAIN_LOCK};
use crate::store::committer::rows::{
    ended_listings, receipt_record, AtOnce, NewRow, MAX_PARAMS_AT_ONCE,
};
use crate::store::committer::updates::Updates;
use crate::store::committer::{repeats, CommitError, Effect};
use crate::store::{reconnect, Engine};
use sqlx::AnyConnection;

/// What became of a batch offered to one trip.
pub(super) enum OneTrip {
    /// Committed: every job's answer, and the chain's head after the batch.
    Committed(Vec<Result<(), CommitError>>, Chain),
    /// Not one for a single trip (a job writes more than new messages, the updates a trip
    /// carries and its record, a row is updated twice, or the parameters are too many):
    /// nothing was sent.
    Declined,
    /// The database refused it (the head moved, a file repeats one, a listing was swept, a row
    /// failed): nothing of it was written.
    Refused,
}

/// Commits `batch` in one round trip (one hand-off to SQLite's thread), the chain continuing
/// from `head`.
pub(super) async fn commit(
    conn: &mut AnyConnection,
    engine: Engine,
    batch: &[Job],
    head: &Chain,
) -> Result<OneTrip, Failed> {
    let mut messages: Vec<NewRow> = Vec::new();
    for (seq, job) in (head.next_seq()..).zip(batch) {
        for effect in &job.effects {
            match effect {
                Effect::InsertMessage(m) => {
                    messages.push((&**m, receipt_record(m, &job.audit, seq)))
                }
                e if Updates::carries(e) => {}
                _ => return Ok(OneTrip::Declined),
            }
        }
    }
    let Some(updates) = Updates::of(batch) else {
        return Ok(OneTrip::Declined);
    };
    let entries: Vec<_> = batch.iter().map(|j| &j.audit).collect();
    let rows = AtOnce::new(&messages, head, &entries);
    let asked = repeats::asked(batch);
    let first = rows.params(engine) + 1;
    // The rows' parameters, the head's two, the repeats' five a file, then the updates'.
    let params = first + 1 + 5 * asked.len() + updates.params();
    if params > MAX_PARAMS_AT_ONCE {
        return Ok(OneTrip::Declined);
    }
    let sql = match engine {
        Engine::Postgres => statement(&rows, &asked, &updates, first),
        // SQLite asks for repeats before the commit, and lists no uploads.
        Engine::Sqlite if asked.is_empty() && rows.claims() == 0 => {
            Some(statements(&rows, &updates, first))
        }
        Engine::Sqlite => None,
    };
    let Some(sql) = sql else {
        return Ok(OneTrip::Declined);
    };
    let (seq, hash) = head.last();
    let query = rows
        .bind(engine, sqlx::query(&sql))
        .bind(seq)
        .bind(hash.as_str());
    let query = updates.bind(repeats::bind(query, &asked));
    let mut next = head.clone();
    rows.moved(&mut next);
    let stored = || batch.iter().map(|_| Ok(())).collect::<Vec<_>>();
    match query.execute(&mut *conn).await {
        Ok(_) => Ok(OneTrip::Committed(stored(), next)),
        // Sent, and maybe committed: the chain tells (`landed`), as after a broken `COMMIT`.
        Err(e) if engine == Engine::Postgres && reconnect::is_broken(&e) => Err(Failed::AtCommit {
            error: CommitError::Unknown(e.to_string()),
            committing: Committing {
                last: next.last(),
                results: stored(),
            },
        }),
        Err(e) => {
            tracing::debug!(error = %e, "a batch in one trip was refused; committing it under the lock");
            if engine == Engine::Sqlite {
                // The statements stopped at the one that failed, inside their transaction
                // (`COMMIT` is the last of them): end it. A session that cannot is closed,
                // which ends it too, and the batch is committed again on a fresh one.
                if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                    if !e.to_string().contains("no transaction is active") {
                        return Err(Failed::BeforeCommit(CommitError::not_committed(&e)));
                    }
                }
            }
            Ok(OneTrip::Refused)
        }
    }
}

/// SQLite: the batch as one string of statements, run in one hand-off to the connection's
/// thread: the write lock (`BEGIN IMMEDIATE`), the head's check (the record `$first` there with
/// the hash `$first + 1`, none after it; else an integer overflow, SQLite's one error a query
/// can raise at will), the batch's statements and its updates (from `$first + 2`), `COMMIT`.
fn statements(rows: &AtOnce<'_>, updates: &Updates, first: usize) -> String {
    let parts: Vec<String> = rows
        .parts(Engine::Sqlite)
        .into_iter()
        .map(|(_, part)| part)
        .chain(updates.parts(first + 2, false).into_iter().map(|(_, u)| u))
        .collect();
    format!(
        "BEGIN IMMEDIATE;\n\
         SELECT abs(CASE WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = ${first} AND hash = ${}) \
         AND NOT EXISTS (SELECT 1 FROM audit_log WHERE seq > ${first}) \
         THEN 0 ELSE -9223372036854775807 - 1 END);\n{};\nCOMMIT",
        first + 1,
        parts.join(";\n")
    )
}

/// Why a one-trip statement refuses to commit, as the error PostgreSQL raises names it.
const HEAD_MOVED: &str = "imax: the chain head moved";
const REPEATS: &str = "imax: a file repeats a transmission";
const SWEPT: &str = "imax: an upload was swept";

/// The one statement: the lock (`l`), the head's check (`k`, parameters `$first` and the one
/// after), the repeats' look-up (`r`, parameters after those), the batch's parts, its updates
/// (`u0`…, parameters after the repeats', each reading its first through the lock), and a
/// last `SELECT` that fails unless every check passed. None: a part is not of the shape
/// [`after_lock`] knows.
fn statement(
    rows: &AtOnce<'_>,
    asked: &repeats::Asked<'_>,
    updates: &Updates,
    first: usize,
) -> Option<String> {
    let mut with = vec![
        format!("l AS (SELECT {CHAIN_LOCK})"),
        format!(
            "k AS (SELECT 1 FROM audit_log WHERE seq = ${first} AND hash = ${})",
            first + 1
        ),
    ];
    let repeated = if asked.is_empty() {
        "FALSE"
    } else {
        let jobs = asked.iter().map(|(j, _, _)| *j);
        with.push(format!("r AS ({})", repeats::look_up_sql(jobs, first + 2)));
        "EXISTS (SELECT 1 FROM r)"
    };
    for (name, part) in rows.parts(Engine::Postgres) {
        let part = match name {
            "m" | "c" | "a" => after_lock(&part)?,
            _ => part,
        };
        with.push(format!("{name} AS ({part})"));
    }
    for (name, part) in updates.parts(first + 2 + 5 * asked.len(), true) {
        with.push(format!("{name} AS ({part})"));
    }
    let claims = rows.claims();
    let ended = ended_listings(claims);
    Some(format!(
        "WITH {} SELECT CAST(CASE WHEN NOT EXISTS (SELECT 1 FROM k) THEN '{HEAD_MOVED}' \
         WHEN {repeated} THEN '{REPEATS}' WHEN {ended} <> {claims} THEN '{SWEPT}' \
         ELSE '0' END AS BIGINT)",
        with.join(",\n")
    ))
}

/// `part` (an `INSERT ... VALUES ($n, ...` of [`AtOnce::parts`]) with its first value read
/// through the lock's part `l`, so that the part writes nothing before the lock is held.
fn after_lock(part: &str) -> Option<String> {
    let at = part.find("VALUES (")? + "VALUES (".len();
    let rest = &part[at..];
    let end = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(rest.len(), |(i, _)| i);
    if !rest.starts_with('$') || end < 2 {
        return None;
    }
    Some(format!(
        "{}(SELECT {} FROM l){}",
        &part[..at],
        &rest[..end],
        &rest[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bad_message, fresh_store, job, message, message_ids, started};
    use super::*;
    use crate::audit::{Action, Verdict};
    use crate::store::audit_log::verify;

    /// SQLite: a batch goes in one hand-off from the head the committer's last batch left. A
    /// stale head or a failing row is refused, the transaction it began ended, nothing of it
    /// written; the session goes on.
    #[tokio::test]
    async fn on_sqlite_a_batch_goes_in_one_trip_and_a_refused_one_leaves_nothing() {
        let (_dir, store) = fresh_store().await;
        let (_, head) = started(&store).await;
        let mut conn = store.pool.acquire().await.expect("conn");
        let sqlite = Engine::Sqlite;
        let one = [job(vec![message("20260101-a", 7)], Action::SendFile).0];
        let OneTrip::Committed(_, next) =
            commit(&mut conn, sqlite, &one, &head).await.expect("sent")
        else {
            panic!("one trip")
        };
        let stale = [job(vec![message("20260101-b", 7)], Action::SendFile).0];
        let refused = commit(&mut conn, sqlite, &stale, &head)
            .await
            .expect("sent");
        assert!(matches!(refused, OneTrip::Refused));
        let failing = [job(vec![bad_message()], Action::SendFile).0];
        let refused = commit(&mut conn, sqlite, &failing, &next)
            .await
            .expect("sent");
        assert!(matches!(refused, OneTrip::Refused));
        let later = [job(vec![message("20260101-c", 7)], Action::SendFile).0];
        let done = commit(&mut conn, sqlite, &later, &next)
            .await
            .expect("sent");
        assert!(
            matches!(done, OneTrip::Committed(..)),
            "the session goes on"
        );
        drop(conn);
        assert_eq!(message_ids(&store).await, ["20260101-a", "20260101-c"]);
        assert_eq!(
            verify(&store.pool).await.expect("verify"),
            Verdict::Intact { records: 3 }
        );
    }

    #[test]
    fn the_first_value_of_a_part_is_read_through_the_lock() {
        assert_eq!(
            after_lock("INSERT INTO t (a, b) VALUES ($12, $13), ($14, $15)").as_deref(),
            Some("INSERT INTO t (a, b) VALUES ((SELECT $12 FROM l), $13), ($14, $15)")
        );
        assert_eq!(
            after_lock("INSERT INTO t (a) VALUES ($7)").as_deref(),
            Some("INSERT INTO t (a) VALUES ((SELECT $7 FROM l))")
        );
        assert_eq!(after_lock("INSERT INTO t (a) SELECT 1"), None);
        assert_eq!(after_lock("INSERT INTO t (a) VALUES (1)"), None);
    }
}
