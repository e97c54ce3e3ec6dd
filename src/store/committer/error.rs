//! What the caller of a job is told when it was not (or may not have been) committed.

use super::{Effect, Job};
use crate::store::messages::Duplicate;
use sqlx::AnyConnection;

/// Why nothing of a job was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCommitted {
    /// The job's message broke the unique index of transmissions (a duplicate arriving at the
    /// same moment as its original).
    DuplicateTransmission,
    /// The database's disk is full (SQLite's SQLITE_FULL, PostgreSQL's disk_full).
    StorageFull,
    /// Its statements failed otherwise, the database could not be reached to begin, or the
    /// committer has stopped.
    Failed,
}

/// Why a job was not (or may not have been) committed. The difference matters: a body whose
/// row was certainly not committed may be deleted; one whose row may exist must be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Nothing of the job is in the database: its statements failed (the transaction was
    /// rolled back), or the database could not be reached to begin.
    #[error("not committed: {message}")]
    NotCommitted {
        reason: NotCommitted,
        message: String,
    },
    /// Nothing of the job is in the database: its message repeats this earlier transmission,
    /// found by the commit itself (`NewMessage::repeat_check`, `committer::repeats`).
    #[error("not committed: it repeats an earlier transmission")]
    Repeats(Duplicate),
    /// The connection failed while committing: the job may or may not be in the database.
    #[error("commit outcome unknown: {0}")]
    Unknown(String),
}

impl CommitError {
    pub(super) fn not_committed(e: &sqlx::Error) -> CommitError {
        let storage_full = match e {
            sqlx::Error::Database(d) => {
                matches!(d.code().as_deref(), Some("13") | Some("53100"))
                    || d.message().contains("disk is full")
            }
            sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        };
        CommitError::NotCommitted {
            reason: if storage_full {
                NotCommitted::StorageFull
            } else {
                NotCommitted::Failed
            },
            message: e.to_string(),
        }
    }

    /// A job's failure, on a connection still usable after its rollback: a unique violation
    /// whose TRACS key is in the table now is its transmission arriving at the same moment as
    /// its original (asked of the database, not read from the error's text).
    pub(super) async fn of_job(
        conn: &mut AnyConnection,
        job: &Job,
        e: &sqlx::Error,
    ) -> CommitError {
        let mut failure = CommitError::not_committed(e);
        let unique = matches!(e, sqlx::Error::Database(d) if d.is_unique_violation());
        let keys = job.effects.iter().filter_map(|effect| match effect {
            Effect::InsertMessage(m) => m.tracs_key.as_deref(),
            _ => None,
        });
        if unique {
            for key in keys {
                let found: Result<Option<i64>, _> =
                    sqlx::query_scalar("SELECT id FROM messages WHERE tracs_key = $1")
                        .bind(key)
                        .fetch_optional(&mut *conn)
                        .await;
                if let (Ok(Some(_)), CommitError::NotCommitted { reason, .. }) =
                    (found, &mut failure)
                {
                    *reason = NotCommitted::DuplicateTransmission;
                }
            }
        }
        failure
    }

    /// Whether the job failed because the database's storage is full.
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self,
            CommitError::NotCommitted {
                reason: NotCommitted::StorageFull,
                ..
            }
        )
    }
}
