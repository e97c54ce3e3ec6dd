//! Repeats found by the commit: a file whose context the node remembered was not read before
//! its commit (`Store::file_context`), so whether it repeats an earlier transmission is asked
//! here, in the batch's transaction, for every such file of the batch in one statement. The
//! rule and its statement are [`Messages::find_duplicate`]'s, unchanged; only the moment
//! differs. Asked under the audit chain's lock (every node's writers take turns at it), the
//! answer also holds for a transmission another node committed a moment ago.
//!
//! A file found to repeat one is left out of the batch before anything is written, so the
//! others commit as if it had never been there, and its job is answered
//! [`CommitError::Repeats`]. Two repeats of each other in the same batch are not seen here
//! (neither is written yet): the unique index on transmission keys lets one of them in
//! ([`CommitError::of_job`]), as it did for two reads before their commits.
//!
//! [`Messages::find_duplicate`]: crate::store::messages::Messages::find_duplicate

use super::rows::AnyQuery;
use super::{Effect, Job, NewMessage, RepeatCheck};
use crate::clock::{from_epoch, to_epoch};
use crate::store::messages::{find_duplicate_sql, Duplicate};
use sqlx::{AnyConnection, Row};

/// The files of `batch` whose repeats are asked here: (the job's index, its message, the check).
pub(super) type Asked<'b> = Vec<(usize, &'b NewMessage, RepeatCheck)>;

/// The files of `batch` whose repeats its commit asks ([`NewMessage::repeat_check`]).
pub(super) fn asked(batch: &[Job]) -> Asked<'_> {
    batch
        .iter()
        .enumerate()
        .flat_map(|(j, job)| {
            job.effects.iter().filter_map(move |e| match e {
                Effect::InsertMessage(m) => m.repeat_check.map(|c| (j, &**m, c)),
                _ => None,
            })
        })
        .collect()
}

/// Binds the parameters of [`look_up_sql`] for `asked`, in its order.
pub(super) fn bind<'q>(mut query: AnyQuery<'q>, asked: &Asked<'q>) -> AnyQuery<'q> {
    for (_, m, check) in asked {
        query = query
            .bind(m.tracs_key.as_deref())
            .bind(m.from_mailbox)
            .bind(m.to_mailbox)
            .bind(m.sha256.as_str())
            .bind(check.since.map(to_epoch));
    }
    query
}

/// Per job of `batch`, the earlier transmission its message repeats (none: nothing asked, or
/// nothing found). One statement for the whole batch, none when no job asks.
pub(super) async fn look_up(
    conn: &mut AnyConnection,
    batch: &[Job],
) -> Result<Vec<Option<Duplicate>>, sqlx::Error> {
    let mut found = vec![None; batch.len()];
    let asked = asked(batch);
    if asked.is_empty() {
        return Ok(found);
    }
    let sql = look_up_sql(asked.iter().map(|(j, _, _)| *j), 1);
    for row in bind(sqlx::query(&sql), &asked)
        .fetch_all(&mut *conn)
        .await?
    {
        let job = usize::try_from(row.try_get::<i64, _>("job")?).unwrap_or(usize::MAX);
        let (id, at) = (row.try_get("message_id")?, row.try_get("received_at")?);
        let at = from_epoch(at);
        let duplicate = if row.try_get::<i64, _>("why")? == 2 {
            Duplicate::SameKey { id, at }
        } else {
            Duplicate::SameContent { id, at }
        };
        if let Some(slot) = found.get_mut(job) {
            slot.get_or_insert(duplicate);
        }
    }
    Ok(found)
}

/// [`find_duplicate_sql`] once per asking job (`jobs`, their indexes in the batch), each
/// answering at most one row tagged with its job, parameters numbered from `$first` on, five a
/// job.
pub(in crate::store) fn look_up_sql(jobs: impl Iterator<Item = usize>, first: usize) -> String {
    jobs.enumerate()
        .map(|(i, job)| {
            format!(
                "SELECT CAST({job} AS BIGINT) AS job, CAST(why AS BIGINT) AS why, message_id, \
                 received_at FROM ({}) r{i}",
                find_duplicate_sql(first + 5 * i)
            )
        })
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n")
}
