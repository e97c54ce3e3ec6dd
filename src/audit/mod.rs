//! The audit log: an append-only hash chain in the database.
//!
//! Every record stores the SHA-256 of the previous record (`prev_hash`) and its own `hash`,
//! computed over its sequence number, `prev_hash` and every field. [`verify`] walks the chain
//! and reports the first record that was edited, removed or reordered. Records are appended
//! inside the same transaction as the change they describe ([`append`]), so a change and its
//! record stand or fall together.
//!
//! An attacker who can write the database could recompute every hash after an edit, or cut
//! the chain's end; [`crate::checkpoint`] signs the head with a key kept outside the database and
//! exports it on a schedule, so that `imax audit verify` sees that too.

mod action;
mod search;

pub use action::{Action, Door, Outcome, UnknownName};
pub use search::{AuditQuery, AuditRecord, Found};

use crate::clock::to_epoch;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One thing that happened: who, what, on which mailbox/message, from where, with what outcome.
///
/// The record as stored and hashed: its action, door and outcome are written from the
/// vocabulary ([`Action`], [`Door`], [`Outcome`]) and read back as the names they were stored
/// under (a chain is data: a record edited by hand may hold any name, and verification must
/// still say which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// An M-ID, `admin` for the command line, or `system` for scheduled transitions.
    pub actor: String,
    /// An [`Action`]'s name.
    pub action: String,
    /// A [`Door`]'s name: `s2s`, `web`, `cli`, `system` or `any`.
    pub door: String,
    pub mailbox: Option<String>,
    pub message_id: Option<String>,
    pub client_addr: Option<String>,
    /// An [`Outcome`]'s name: `ok` or a refusal code, mostly.
    pub outcome: String,
    /// Free text: before/after of admin changes, reasons. Never a secret.
    pub detail: String,
    /// The request's id (its `X-Request-Id`), when a request through a door made the record.
    pub request_id: Option<String>,
}

impl AuditEntry {
    pub fn new(at: OffsetDateTime, actor: &str, action: Action, door: Door) -> Self {
        Self {
            at,
            actor: actor.to_string(),
            action: action.as_str().to_string(),
            door: door.as_str().to_string(),
            mailbox: None,
            message_id: None,
            client_addr: None,
            outcome: Outcome::Ok.as_str().to_string(),
            detail: String::new(),
            request_id: None,
        }
    }
    pub fn mailbox(mut self, m: impl Into<String>) -> Self {
        self.mailbox = Some(m.into());
        self
    }
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.message_id = Some(m.into());
        self
    }
    pub fn client(mut self, addr: Option<String>) -> Self {
        self.client_addr = addr;
        self
    }
    pub fn request(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }
    pub fn outcome(mut self, o: impl Into<Outcome>) -> Self {
        self.outcome = o.into().as_str().to_string();
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }
}

fn field(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of a record: unambiguous (length-prefixed fields) and covering everything.
pub fn record_hash(seq: i64, prev_hash: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(seq.to_be_bytes());
    field(&mut h, prev_hash);
    h.update(to_epoch(e.at).to_be_bytes());
    for f in [&e.actor, &e.action, &e.door, &e.outcome, &e.detail] {
        field(&mut h, f);
    }
    for f in [&e.mailbox, &e.message_id, &e.client_addr] {
        match f {
            Some(s) => {
                h.update([1]);
                field(&mut h, s);
            }
            None => h.update([0]),
        }
    }
    // Added with schema version 10: records without one hash as they always did.
    if let Some(id) = &e.request_id {
        h.update([2]);
        field(&mut h, id);
    }
    hex::encode(h.finalize())
}

/// What walking the chain found (`Store::audit_log().verify()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        records: i64,
    },
    /// The first record at which the chain breaks, and why.
    Broken {
        seq: i64,
        reason: String,
    },
}
