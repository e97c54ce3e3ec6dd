//! Callers' contexts a node remembers, served again only while the directory has not changed.
//!
//! A system-to-system call's context (the account with its rights, the mailbox, the
//! allow-lists, R6's affiliation) is the same from one call to the next unless someone changed
//! the directory, and reading it was most of what the database did for a call (on PostgreSQL
//! three times the statement that asks only whether anything changed, `docs/performance.md`).
//! So a node keeps the context it read, with the directory's mark read in the same statement,
//! and on the next call reads only the mark (with the client's throttle count, which is never
//! remembered): the same mark, the same rows. Every write to a table the context is read from
//! gives the mark a new random value in its own transaction (migration 30's triggers), on
//! whichever node or tool writes it, so a lock, a new password, a right taken away or an
//! assignment ended is seen by the next call on every node, as before.
//!
//! Not marked: the columns a call writes as its use (R13's activity, a mailbox's use). A
//! remembered context is not served when the call would record a use
//! ([`Account::use_due`](crate::directory::Account::use_due),
//! [`Mailbox::use_due`](crate::directory::Mailbox::use_due)): then it is read again, so its use
//! times are never older than the activity granularity, and every rule that counts from them
//! (R13's 90 days, a mailbox's inactivity) decides as on the row itself.
//!
//! Not marked either: the counts of wrong passwords in a row (`accounts.failed_signins`,
//! `stranger_failures`; migration 31). Every attempt checked in full counts itself on the row
//! and decides from the count that statement returns, never from a remembered one; marked,
//! they let anyone with an M-ID and a wrong password make every node read every context again.
//! A lock, and a right password that lifts one or starts the locks in a row again, are marked.

use super::CallerContext;
use crate::directory::{ImaxId, MId, Mailbox};
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// When a call is made and how often a use is recorded at most: what decides whether a
/// remembered context may serve it.
#[derive(Debug, Clone, Copy)]
pub struct UsesAt {
    pub now: OffsetDateTime,
    pub granularity: Duration,
}

/// What a node remembers, each kind at most `limits.remembered_callers` entries: callers'
/// contexts (of known M-IDs, with the mailbox asked for found, `imax_remembered_callers`) and
/// the projects' mailboxes with their administrators (`imax_remembered_projects`). Which entry
/// goes when one is full is not tracked: an arbitrary one, so nothing a stranger sends can do
/// more than make calls read their contexts whole, as without it.
#[derive(Debug)]
pub(in crate::store) struct Remembered {
    callers: Memory<CallerContext>,
    pub(super) projects: Memory<Project>,
}

/// A project's mailbox and the administrators of its contracts, as `files` read them, under
/// the mark read with them. The mailboxes' use times are those of that read: routing never
/// asks them (the sending mailbox's own use is the caller's context's).
#[derive(Debug, Clone)]
pub(super) struct Project {
    pub mailbox: Mailbox,
    pub administrators: Vec<Mailbox>,
    pub mark: i64,
}

impl Remembered {
    pub(in crate::store) fn new(limit: usize) -> Remembered {
        Remembered {
            callers: Memory::new(limit, "imax_remembered_callers"),
            projects: Memory::new(limit, "imax_remembered_projects"),
        }
    }

    /// An M-ID and an iMAX ID, neither of which has a space.
    fn key(mid: &MId, imax_id: Option<&ImaxId>) -> String {
        format!("{} {}", mid.as_str(), imax_id.map_or("", |i| i.as_str()))
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.callers.len()
    }

    /// The remembered context of `mid` at `imax_id`, unless a call at `uses` would record a
    /// use (then it must be read again).
    pub(super) fn caller(
        &self,
        mid: &MId,
        imax_id: Option<&ImaxId>,
        uses: UsesAt,
    ) -> Option<CallerContext> {
        let known = self.callers.get(&Self::key(mid, imax_id))?;
        let account = known.account.as_ref()?;
        let mailbox_due =
            matches!(&known.mailbox, Some(Some(m)) if m.use_due(uses.now, uses.granularity));
        if account.use_due(uses.now, uses.granularity) || mailbox_due {
            return None;
        }
        Some(known)
    }

    /// Keeps `context`, just read whole, if it may be served again: a known M-ID, with the
    /// mailbox asked for found (or none asked), under a mark.
    pub(super) fn keep_caller(&self, mid: &MId, imax_id: Option<&ImaxId>, context: &CallerContext) {
        let mailbox_found = imax_id.is_none() || matches!(context.mailbox, Some(Some(_)));
        if context.account.is_none() || context.mark.is_none() || !mailbox_found {
            return;
        }
        let mut kept = context.clone();
        // Always read afresh with the mark.
        kept.throttle = None;
        self.callers.keep(Self::key(mid, imax_id), kept);
    }
}

/// Entries by key, at most `limit` of them (0: none), their number in the gauge `gauge`.
#[derive(Debug)]
pub(super) struct Memory<V> {
    entries: Mutex<HashMap<String, V>>,
    limit: usize,
    gauge: &'static str,
}

impl<V: Clone> Memory<V> {
    fn new(limit: usize, gauge: &'static str) -> Memory<V> {
        Memory {
            entries: Mutex::new(HashMap::new()),
            limit,
            gauge,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, V>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    pub(super) fn get(&self, key: &str) -> Option<V> {
        if self.limit == 0 {
            return None;
        }
        self.lock().get(key).cloned()
    }

    pub(super) fn keep(&self, key: String, value: V) {
        if self.limit == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.limit && !entries.contains_key(&key) {
            if let Some(any) = entries.keys().next().cloned() {
                entries.remove(&any);
            }
        }
        entries.insert(key, value);
        metrics::gauge!(self.gauge).set(entries.len() as f64);
    }
}
