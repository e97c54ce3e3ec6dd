//! A request's context in as few statements as it can be read.
//!
//! * The caller's ([`Store::caller_context`]): a system-to-system call names an M-ID, a
//!   mailbox and comes from a client address, and the gateway needs the account with its
//!   rights, the mailbox, and the client's throttle count before anything else. One round trip
//!   instead of three on every call (`gateway::Gateway::authorize_mailbox`), shared by
//!   concurrent calls (`callers`), and only a short one while the directory has not changed
//!   since the node last read it (`remembered`).
//! * A TRACS file's ([`Store::file_context`]): once the body has arrived, routing needs the
//!   mailbox the header's project names with its contracts' administrators, and the duplicate
//!   check needs the earlier transmission this one would repeat. One round trip instead of two
//!   on every file a property sends (`gateway::send`).

use super::read_sessions::Kept;
use super::{Store, StoreError};
use crate::directory::{Account, AllowListOf, AllowedNetworks, ImaxId, MId, Mailbox};
use batch::Batcher;
use callers::{Asked, Mark, Reading};
use std::sync::Arc;

mod batch;
mod callers;
mod files;
#[cfg(test)]
mod plans;
mod remembered;
#[cfg(test)]
mod tests;

pub use files::{DuplicateQuery, FileContext};
pub(super) use remembered::Remembered;
pub use remembered::UsesAt;

/// Reads shared by concurrent requests (`batch`): callers' contexts and marks (every
/// system-to-system call starts with one). On SQLite each is read on the asking thread
/// (`store::direct`) and comes here only when that failed.
#[derive(Debug, Clone)]
pub(in crate::store) struct SharedReads {
    contexts: Batcher<Asked, CallerContext>,
    marks: Batcher<Asked, Mark>,
}

impl SharedReads {
    pub(in crate::store) fn start(sessions: Arc<Kept>) -> SharedReads {
        let callers = "imax_caller_read_batch_size";
        SharedReads {
            contexts: Batcher::start(sessions.clone(), callers::read_batch, callers),
            marks: Batcher::start(sessions, callers::read_batch, callers),
        }
    }
}

/// What one statement read for a call.
#[derive(Debug, Clone)]
pub struct CallerContext {
    pub account: Option<Account>,
    /// The client's failed attempts and the start of their window, if it has any.
    pub throttle: Option<(i64, i64)>,
    /// `None` when the account does not exist (then nothing else was read).
    pub mailbox: Option<Option<Mailbox>>,
    /// The allow-lists that bear on the call (issue 30), those that are not empty: the
    /// organization the person works for, the mailbox, and the mailbox's organization.
    pub allow_lists: Vec<(AllowListOf, AllowedNetworks)>,
    /// R6: whether `mailbox` opens to the account by affiliation, read with both by the
    /// condition the browser door asks apart (`organizations::affiliated_sql`), so that the
    /// call needs no statement of its own for it. False when there is no such mailbox.
    pub affiliated: bool,
    /// The directory's mark when this was read (`remembered`; none: not to be remembered).
    mark: Option<i64>,
}

impl CallerContext {
    /// The directory's mark this context was read under (or, remembered, found unchanged
    /// at): what a file's remembered project is confirmed by (`Store::file_context`).
    pub fn mark(&self) -> Option<i64> {
        self.mark
    }
}

impl Store {
    /// The account `mid` (with its rights), the count under `client_key`, and the mailbox
    /// `imax_id`, as of now. An unknown M-ID reads nothing else: its call is refused before
    /// the mailbox matters. A context this node read before is served again when the
    /// directory's mark has not moved since and a call at `uses` records no use (`remembered`);
    /// otherwise it is read whole, in a statement concurrent callers share (`callers`).
    pub async fn caller_context(
        &self,
        mid: &MId,
        client_key: Option<&str>,
        imax_id: Option<&ImaxId>,
        uses: UsesAt,
    ) -> Result<CallerContext, StoreError> {
        if let Some(known) = self.remembered.caller(mid, imax_id, uses) {
            let read = self.caller_read(&self.shared.marks, mid, client_key, imax_id);
            let Mark { mark, throttle } = read.await?;
            if mark.is_some() && mark == known.mark {
                metrics::counter!("imax_caller_contexts_total", "read" => "remembered")
                    .increment(1);
                return Ok(CallerContext { throttle, ..known });
            }
            metrics::counter!("imax_caller_contexts_total", "read" => "changed").increment(1);
        } else {
            metrics::counter!("imax_caller_contexts_total", "read" => "whole").increment(1);
        }
        let read = self.caller_read(&self.shared.contexts, mid, client_key, imax_id);
        let context: CallerContext = read.await?;
        self.remembered.keep_caller(mid, imax_id, &context);
        Ok(context)
    }

    /// One caller's read of what `batcher` reads. On SQLite it is made here and now: with no
    /// trip to a connection's thread to share, a batch would only add the trips to and from
    /// the batching task.
    async fn caller_read<T: Reading>(
        &self,
        batcher: &Batcher<Asked, T>,
        mid: &MId,
        client_key: Option<&str>,
        imax_id: Option<&ImaxId>,
    ) -> Result<T, StoreError> {
        let imax = imax_id.map(ImaxId::as_str);
        if let Some(direct) = self.reads.direct() {
            let params = callers::direct_params(T::KIND, mid.as_str(), client_key, imax);
            if let Ok(rows) = direct.rows(callers::sql(T::KIND, 1), &params) {
                let mut reads = callers::reads_from(&rows, &[client_key.is_some()])?;
                return reads.pop().ok_or_else(|| sqlx::Error::RowNotFound.into());
            }
        }
        batcher
            .read(Asked {
                mid: mid.as_str().to_string(),
                client_key: client_key.map(str::to_string),
                imax_id: imax.map(str::to_string),
            })
            .await
    }
}
