//! The transport-free core that both doors share.
//!
//! A request goes through the same steps whichever door it came in by:
//!
//! 1. the client address must not be throttled;
//! 2. the M-ID and password are authenticated ([`Gateway::authorize`]): a wrong password and an
//!    unknown M-ID look the same; failures count towards the lock and the throttle;
//! 3. [`access::decide`] rules on the account's state for this door and operation;
//! 4. for mailbox operations, the mailbox's iMAX ID and password are checked
//!    ([`Gateway::open_mailbox`]); any M-ID holding the iMAX role may act for a mailbox whose
//!    password it presents (R11);
//! 5. the operation runs, and its effects, the activity it counts as (R13) and its audit record
//!    are committed together.
//!
//! The types [`Authorized`] and [`MailboxSession`] can only be obtained through those checks,
//! so an operation cannot be called without them.

use crate::access::{CredentialCache, Door, Operation, Throttle, Turns};
use crate::audit::{Action, AuditEntry, Outcome};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::directory::password::{Hasher, Secret};
use crate::directory::{Account, Mailbox};
use crate::error::{Code, Refusal};
use crate::store::{self, Effect, Store};

mod allow_lists;
mod authorize;
mod browser;
mod delivery;
mod failures;
mod mailbox;
mod messages;
pub mod notices;
pub mod passkeys;
mod passwords;
pub mod profile;
mod receipts;
mod receive;
mod refusals;
mod sealed;
pub mod second_factor;
mod send;
mod throttling;
mod virus;

pub use delivery::Delivery;

pub use receive::{Content, Upload};
pub use send::SendRequest;
use std::net::IpAddr;
use std::sync::Arc;

/// Who is calling, from where, through which door.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub addr: Option<IpAddr>,
    pub door: Door,
    /// The request's id, recorded with its audit records (`X-Request-Id`, SOAP faults).
    pub request: Option<crate::ground::RequestId>,
}

/// An M-ID and the password presented with it.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub principal: String,
    pub password: Secret,
}

/// A person who passed authentication and the access decision for one operation.
#[derive(Debug, Clone)]
pub struct Authorized {
    account: Account,
    caller: Caller,
    op: Operation,
    /// The client address passed the throttle in this same request (system-to-system: the
    /// mailbox is opened moments later), so opening the mailbox need not ask again.
    throttle_checked: bool,
}

impl Authorized {
    pub fn account(&self) -> &Account {
        &self.account
    }
    /// Where the request came from (door, address, request id).
    pub fn caller(&self) -> Caller {
        self.caller
    }
}

/// An authorized person acting for a mailbox whose password they presented.
#[derive(Debug, Clone)]
pub struct MailboxSession {
    auth: Authorized,
    mailbox: Mailbox,
    /// The directory's mark the caller's context was read under in this call (system-to-system;
    /// none on the browser door): a project remembered under it needs no read of its own
    /// (`Store::file_context`).
    directory_mark: Option<i64>,
}

impl MailboxSession {
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }
    pub fn authorized(&self) -> &Authorized {
        &self.auth
    }
}

/// The shared core. Cheap to clone (everything inside is shared).
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: SharedClock,
    config: Arc<Config>,
    accounts_seen: CredentialCache,
    mailboxes_seen: CredentialCache,
    throttle: Throttle,
    hasher: Hasher,
    /// Attempts at one M-ID or mailbox take turns (`access::turns`).
    turns: Turns,
    /// How many refused attempts per client reach the audit log (`gateway::failures`).
    failures: failures::FailureLedger,
    /// The key TOTP secrets are sealed with (`gateway::sealed`), from the audit key.
    sealing: std::sync::OnceLock<[u8; 32]>,
    /// The keys SendFile receipts are signed with (`gateway::receipts`).
    receipts: crate::receipt::ReceiptKeys,
    /// The checkpoints signed with the receipt key: receipts' inclusion proofs.
    published: crate::checkpoint::published::Published,
}

/// Counts a refusal that is not audited (so that a flood cannot fill the audit log).
fn unaudited(caller: Caller, code: Code) {
    metrics::counter!(
        "imax_requests_total",
        "door" => caller.door.as_str(),
        "operation" => Action::Authenticate.as_str(),
        "outcome" => Outcome::Refused(code).as_str(),
    )
    .increment(1);
}

/// The refusal of an attempt the bounded hasher had no room for (nothing was checked).
fn busy() -> Refusal {
    metrics::counter!(
        "imax_requests_total",
        "door" => crate::audit::Door::Any.as_str(),
        "operation" => Action::Authenticate.as_str(),
        "outcome" => Outcome::PasswordCheckBusy.as_str(),
    )
    .increment(1);
    Refusal::with_detail(
        Code::Unavailable,
        "The gateway is checking too many passwords at once; nothing was checked. Try again in a few seconds.",
    )
}

impl Gateway {
    pub fn new(store: Store, clock: SharedClock, config: Arc<Config>) -> Gateway {
        let ttl = config.accounts.credential_cache_secs;
        Gateway {
            inner: Arc::new(Inner {
                accounts_seen: CredentialCache::new(ttl, clock.clone()),
                mailboxes_seen: CredentialCache::new(ttl, clock.clone()),
                throttle: Throttle::new(&config.throttle, clock.clone(), store.clone()),
                hasher: Hasher::new(&config.argon2),
                turns: Turns::new(std::time::Duration::from_millis(config.argon2.max_wait_ms)),
                failures: failures::FailureLedger::new(&config.audit),
                sealing: std::sync::OnceLock::new(),
                receipts: crate::receipt::ReceiptKeys::from_config(&config),
                published: crate::checkpoint::published::Published::from_config(&config),
                store,
                clock,
                config,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    fn audit(&self, actor: &str, action: Action, caller: Caller) -> AuditEntry {
        AuditEntry::new(self.inner.clock.now(), actor, action, caller.door.audited())
            .client(caller.addr.map(|a| a.to_string()))
            .request(caller.request.map(|r| r.to_string()))
    }

    async fn commit(&self, effects: Vec<Effect>, entry: AuditEntry) -> Result<(), Refusal> {
        self.inner
            .store
            .committer
            .commit(effects, entry)
            .await
            .map_err(Refusal::from)
    }

    /// Records a refusal in the audit log (and any state change time brought about), then
    /// returns it.
    async fn refuse(&self, effects: Vec<Effect>, entry: AuditEntry, r: Refusal) -> Refusal {
        let entry = entry.outcome(r.code);
        if let Err(e) = self.commit(effects, entry).await {
            return e;
        }
        r
    }
}

/// Re-exported for adapters that need the body store's error.
pub use store::bodies::StageError;
