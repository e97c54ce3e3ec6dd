//! A TRACS file's context: the project's mailbox with its contracts' administrators (which a
//! node remembers while the directory is unchanged, `remembered`) and the transmission the
//! file would repeat (read on every file).

use super::remembered::Project;
use crate::clock::{from_epoch, to_epoch};
use crate::directory::{ImaxId, Mailbox};
use crate::store::columns::Columns;
use crate::store::mailboxes::{distinct_mailboxes, mailbox_from, prefixed_columns};
use crate::store::messages::Duplicate;
use crate::store::{Store, StoreError};
use rusqlite::types::Value;
use std::sync::LazyLock;

/// What [`Store::file_context`] looks for besides the project: a transmission this one
/// repeats.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateQuery<'a> {
    /// The TRACS transmission key (Sender's iMAX ID, date and time stamps).
    pub key: Option<&'a str>,
    /// The sending mailbox, for the same-content check.
    pub from: i64,
    pub sha256: &'a str,
    /// The start of the same-content window (`None`: no such check).
    pub since: Option<time::OffsetDateTime>,
}

/// The mailbox a TRACS header's Project's iMAX ID names, the administrators of its
/// contracts, and the transmission this file repeats, as far as one statement can tell.
#[derive(Debug, Clone)]
pub struct FileContext {
    pub project: Mailbox,
    /// Each once, by id.
    pub administrators: Vec<Mailbox>,
    /// What was found of the transmission the file would repeat.
    duplicate: Repeat,
    /// The directory's mark when `project` and `administrators` were read.
    mark: Option<i64>,
}

/// What a file's context says of the transmission the file would repeat.
#[derive(Debug, Clone)]
enum Repeat {
    /// Read with the context: the newest earlier transmission with the same key, or else with
    /// the same content from the sender to one of the administrators (with the recipient it
    /// went to); none found.
    Read(Option<(Duplicate, i64)>),
    /// Not read: the project was remembered, under the mark the caller's own read had just
    /// found, so the file's commit asks instead (`NewMessage::repeat_check`).
    AtCommit,
}

impl FileContext {
    /// The transmission a file sent to `to` repeats, if this context can tell: it can when
    /// `to` is one of the project's administrators (where a property's files go). `None`:
    /// ask [`Messages::find_duplicate`](super::messages::Messages::find_duplicate), or, when
    /// [`FileContext::repeat_at_commit`], leave it to the commit.
    pub fn duplicate_for(&self, to: i64) -> Option<Option<Duplicate>> {
        if !self.administrators.iter().any(|a| a.id == to) {
            return None;
        }
        match &self.duplicate {
            Repeat::AtCommit => None,
            Repeat::Read(None) => Some(None),
            Repeat::Read(Some((d @ Duplicate::SameKey { .. }, _))) => Some(Some(d.clone())),
            Repeat::Read(Some((d @ Duplicate::SameContent { .. }, went_to))) if *went_to == to => {
                Some(Some(d.clone()))
            }
            // The newest same content went to another administrator; an older one may have
            // gone to `to`.
            Repeat::Read(Some(_)) => None,
        }
    }

    /// Whether the file's repeat is left to its commit: nothing was read for this file.
    pub fn repeat_at_commit(&self) -> bool {
        matches!(self.duplicate, Repeat::AtCommit)
    }
}

/// The newest earlier transmission this file repeats, at most one row: `$1` the project's iMAX
/// ID, `$2` the TRACS key, `$3` the sender's mailbox, `$4` the digest, `$5` the start of the
/// same-content window (see [`Store::file_context`] on its `+`s).
const DUPLICATE_SQL: &str = "SELECT why, message_id, received_at, to_mailbox FROM (
                   SELECT 2 AS why, message_id, received_at, to_mailbox FROM messages
                    WHERE tracs_key = $2 AND resend = 0
                   UNION ALL
                   SELECT 1 AS why, m.message_id, m.received_at, m.to_mailbox FROM messages m
                    WHERE $5 IS NOT NULL AND m.sha256 = $4 AND +m.from_mailbox = $3
                      AND +m.received_at >= $5
                      AND +m.to_mailbox IN (
                        SELECT c2.administrator_mailbox FROM mailboxes p2
                          JOIN properties pr2 ON pr2.mailbox_id = p2.id
                          JOIN contracts c2 ON c2.property_id = pr2.id
                         WHERE p2.imax_id = $1)
                 ) x ORDER BY why DESC, received_at DESC LIMIT 1";

/// The duplicate's columns and the directory's mark, read in the same statement.
const DUPLICATE_COLUMNS: &str = "d.why AS d_why, d.message_id AS d_message_id,
    d.received_at AS d_received_at, d.to_mailbox AS d_to,
    (SELECT mark FROM directory_changes WHERE id = 1) AS directory_mark";

/// [`Store::file_context`]'s whole statement: the project with its administrators, a row per
/// administrator, and the duplicate on each (parameters as [`DUPLICATE_SQL`]'s).
pub(super) static FILE_CONTEXT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {DUPLICATE_COLUMNS}
               FROM mailboxes p
               LEFT JOIN properties pr ON pr.mailbox_id = p.id
               LEFT JOIN contracts c ON c.property_id = pr.id
               LEFT JOIN mailboxes a ON a.id = c.administrator_mailbox
               LEFT JOIN ({DUPLICATE_SQL}) d ON 1 = 1
              WHERE p.imax_id = $1 ORDER BY a.id",
        prefixed_columns("p", "p_"),
        prefixed_columns("a", "a_")
    )
});

/// The statement for a project the node remembers: only the duplicate and the mark, one row.
pub(super) static DUPLICATE_ONLY_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {DUPLICATE_COLUMNS} FROM (SELECT 1 AS one) o LEFT JOIN ({DUPLICATE_SQL}) d ON 1 = 1")
});

impl Store {
    /// The mailbox `project` with the administrators of its contracts, and the transmission
    /// `dup` describes; `None` if there is no such mailbox. One statement: while the directory
    /// has not changed since this node read the project, it reads only the duplicate and the
    /// mark (`remembered`), else the whole context.
    ///
    /// On PostgreSQL, none at all when `confirmed`, the mark the caller's read found earlier in
    /// the same call, is the one the project was remembered under: the project was then as it
    /// was read, so the whole call decides on the directory as of that one read. Whether the
    /// file repeats a transmission is then asked by its commit (`committer::repeats`: the
    /// same rule and statement as
    /// [`Messages::find_duplicate`](super::messages::Messages::find_duplicate), one statement
    /// for a batch of files rather than one read per file).
    ///
    /// The same-content look-up is an equality on the digest, the head of the
    /// `messages_same_content` index (migration 32), whatever any mailbox's history. Only that
    /// equality may choose an index: the sender, the recipient and the time are written
    /// `+m.from_mailbox`, `+m.to_mailbox` and `+m.received_at` (a unary plus leaves a value
    /// alone and only stops an index from matching it), so the rows read are the copies of
    /// this content and no more, on either engine. Left bare, each engine found a worse way
    /// in: PostgreSQL, on some pooled sessions, through `messages_to` (every message the
    /// administrator received in the window: a generic plan made while the table had no
    /// statistics, 330 pages read instead of 13, 3.4 ms instead of 0.06 ms and growing with the
    /// table), and with the sender bare, through `messages_from` (every message the sender
    /// ever sent, 1,404 pages a file in a batch's look-ups); SQLite, once the recipient alone
    /// was wrapped, through `messages_from` too.
    pub async fn file_context(
        &self,
        project: &ImaxId,
        dup: DuplicateQuery<'_>,
        confirmed: Option<i64>,
    ) -> Result<Option<FileContext>, StoreError> {
        let count = |read: &'static str| {
            metrics::counter!("imax_file_contexts_total", "read" => read).increment(1);
        };
        if let Some(known) = self.remembered.projects.get(project.as_str()) {
            // PostgreSQL only: SQLite's read, on the asking thread, costs less than the same
            // look-up inside its one writer's transaction (that build served 88 % of this one,
            // `docs/performance.md`, stop 42).
            if confirmed == Some(known.mark) && self.engine == crate::store::Engine::Postgres {
                count("confirmed");
                return Ok(Some(FileContext {
                    project: known.mailbox,
                    administrators: known.administrators,
                    duplicate: Repeat::AtCommit,
                    mark: Some(known.mark),
                }));
            }
            if let Some(context) = self.file_read(project, dup, Some(&known)).await? {
                count("remembered");
                return Ok(Some(context));
            }
            count("changed");
        } else {
            count("whole");
        }
        let context = self.file_read(project, dup, None).await?;
        if let Some(c) = &context {
            if let Some(mark) = c.mark {
                let kept = Project {
                    mailbox: c.project.clone(),
                    administrators: c.administrators.clone(),
                    mark,
                };
                self.remembered
                    .projects
                    .keep(project.as_str().to_string(), kept);
            }
        }
        Ok(context)
    }

    /// With `known`: the context from it and the duplicate read now, if the mark has not
    /// moved (else `None`); without: the whole context, read now.
    async fn file_read(
        &self,
        project: &ImaxId,
        dup: DuplicateQuery<'_>,
        known: Option<&Project>,
    ) -> Result<Option<FileContext>, StoreError> {
        let sql = match known {
            Some(_) => DUPLICATE_ONLY_SQL.as_str(),
            None => FILE_CONTEXT_SQL.as_str(),
        };
        if let Some(direct) = self.reads.direct() {
            let params = [
                Value::Text(project.as_str().to_string()),
                dup.key.map_or(Value::Null, |k| Value::Text(k.to_string())),
                Value::Integer(dup.from),
                Value::Text(dup.sha256.to_string()),
                dup.since
                    .map_or(Value::Null, |t| Value::Integer(to_epoch(t))),
            ];
            if let Ok(rows) = direct.rows(sql, &params) {
                return file_context_from(&rows, known);
            }
        }
        let rows = crate::store::reconnect::once_more("read", || async move {
            let query = sqlx::query(sql)
                .bind(project.as_str())
                .bind(dup.key)
                .bind(dup.from)
                .bind(dup.sha256)
                .bind(dup.since.map(to_epoch));
            let mut session = self.reads.lend().await?;
            let rows = query.fetch_all(&mut *session).await?;
            session.done();
            Ok::<_, sqlx::Error>(rows)
        })
        .await?;
        file_context_from(&rows, known)
    }
}

/// A file's context from the rows of [`FILE_CONTEXT_SQL`] (`known`: `None`), or of
/// [`DUPLICATE_ONLY_SQL`] with the project `known` (`None` if the mark has moved since).
fn file_context_from<R: Columns>(
    rows: &[R],
    known: Option<&Project>,
) -> Result<Option<FileContext>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let found = found_from(first)?;
    Ok(match known {
        Some(k) => with_known(k, found),
        None => Some(FileContext {
            project: mailbox_from(first, "p_")?,
            administrators: distinct_mailboxes(rows, "a_")?,
            duplicate: Repeat::Read(found.duplicate),
            mark: found.mark,
        }),
    })
}

/// The context of a file to the project `known`, with what was read for it now, if the
/// directory's mark has not moved since `known` was read.
fn with_known(known: &Project, found: Found) -> Option<FileContext> {
    (found.mark == Some(known.mark)).then(|| FileContext {
        project: known.mailbox.clone(),
        administrators: known.administrators.clone(),
        duplicate: Repeat::Read(found.duplicate),
        mark: found.mark,
    })
}

/// The duplicate and the directory's mark, as a row of [`DUPLICATE_COLUMNS`] has them.
#[derive(Debug)]
struct Found {
    duplicate: Option<(Duplicate, i64)>,
    mark: Option<i64>,
}

fn found_from<R: Columns>(row: &R) -> Result<Found, StoreError> {
    let duplicate = match row.opt_int("d_why")? {
        None => None,
        Some(why) => {
            let id = row.text("d_message_id")?;
            let at = from_epoch(row.int("d_received_at")?);
            let to = row.int("d_to")?;
            let d = if why == 2 {
                Duplicate::SameKey { id, at }
            } else {
                Duplicate::SameContent { id, at }
            };
            Some((d, to))
        }
    };
    Ok(Found {
        duplicate,
        mark: row.opt_int("directory_mark")?,
    })
}
