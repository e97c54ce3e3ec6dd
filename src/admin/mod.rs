//! Administering the directory: the operations behind `imax admin …` and the coordinator's
//! and Help Desk's pages.
//!
//! Each operation checks that its [`Actor`] may do it (its rule in [`RULES`],
//! `permissions.rs`), validates its input, applies the change and appends an audit record
//! (actor, subject, before and after) in one transaction. The rules of who may do what live
//! here, in the core, not in the command line or the web pages that call it. By subject:
//!
//! * `mailboxes.rs`: TRACSMail IDs, properties, contracts, BPRs (HUD's);
//! * `people.rs`: M-IDs, their passwords, states and property assignments;
//! * `rights.rs`: actions and roles, the working group, the Rules of Behavior;
//! * `recertification.rs`: staff, flags, recertification and its deadline;
//! * `profiles.rs`: mailbox profiles (R23);
//! * `resets.rs`: the Help Desk's mailbox password resets (R24);
//! * `history.rs`: broadcasts and the history purge;
//! * `views.rs`: what the pages show; `import.rs`: a directory file;
//! * `audit.rs`: searching the audit chain;
//! * `ledger.rs`: the TRACS round-trip ledger of a contract's month (issue 31).
//! * `ledger_watch.rs`: the ledgers' watch, noticing subscribers of what goes missing.

mod actor;
mod allow_lists;
mod audit;
mod history;
mod import;
mod internal;
mod ledger;
mod ledger_watch;
mod mailboxes;
mod organizations;
mod people;
mod permissions;
mod portfolio;
mod profiles;
mod reac_tac;
mod receipt_keys;
mod recertification;
mod resets;
mod rights;
mod sandbox;
mod subscriptions;
mod training;
mod views;

pub use crate::store::mailboxes::MailboxState;
pub use actor::Actor;
pub use history::{Purge, PurgeReport};
pub use import::{import_file, ImportReport};
pub use internal::StaffLine;
pub use ledger::{Ledger, Missing, ReplyKind, Status, VoucherStatus};
pub use ledger_watch::Watched;
pub use people::{NewPerson, MAX_COORDINATORS};
pub use permissions::{AdminOp, Who, RULES};
pub use portfolio::{FoundPerson, PortfolioLine};
pub use profiles::ProfileInput;
pub use receipt_keys::ROTATE_RECEIPT_KEY;
pub use resets::{ResetChannel, ResetRequest, RESET_FAILURE_LIMIT};
pub use sandbox::SandboxReport;
pub use training::{ComplianceLine, RulesOfBehaviorRecord};
pub use views::{status_text, PersonView, PropertyChoice, ReportLine};

use crate::audit::{Action, AuditEntry, Door};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::directory::password::{self, Secret};
use crate::directory::{ImaxId, MId, PropertyNumber};
use crate::error::{Code, Refusal};
use crate::store::Store;
use time::OffsetDateTime;

/// Administration refuses as the doors do: a [`Refusal`] with a stable [`Code`]
/// (`NotPermitted`, `InvalidInput`, `AlreadyExists`, `NotFound`, `MailUnavailable`,
/// `PasswordRejected`, `Unavailable`) and the specifics in its detail, so the pages, the command
/// line and the tests tell refusals apart by code, never by their text.
pub type AdminResult<T> = Result<T, Refusal>;

/// What was entered is not acceptable; `why` says what.
fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::because(Code::InvalidInput, why)
}

/// The actor may not do this; `why` says why and who may.
fn forbidden(why: impl Into<String>) -> Refusal {
    Refusal::because(Code::NotPermitted, why)
}

/// `what` does not exist.
fn missing(what: impl std::fmt::Display) -> Refusal {
    Refusal::because(Code::NotFound, format!("{what} does not exist"))
}

/// `what` exists already.
fn exists(what: impl std::fmt::Display) -> Refusal {
    Refusal::because(Code::AlreadyExists, format!("{what} already exists"))
}

fn unique_violation(e: &crate::store::StoreError) -> bool {
    e.is_unique_violation()
}

/// The directory administration service, acting for one actor. Its fields are private: an
/// `Admin` is made for the installation's operator ([`Admin::new`], the command line), and
/// narrowed from there to a signed-in person only with proof of their sign-in
/// ([`Admin::for_signed_in`], the browser door), to an M-ID by the operator
/// ([`Admin::acting_as`], `imax admin --as`), or to the system ([`Admin::as_system`], the
/// hourly jobs). Every audit record it writes names that door.
#[derive(Debug, Clone)]
pub struct Admin {
    store: Store,
    clock: SharedClock,
    config: Config,
    actor: Actor,
    /// The command line, the browser or the system: written into every audit record.
    door: Door,
    /// The request behind a browser action: its client address and request id go into the
    /// audit records.
    caller: Option<crate::gateway::Caller>,
}

impl Admin {
    /// The installation's operator at the command line: allowed everything.
    pub fn new(store: Store, clock: SharedClock, config: Config) -> Self {
        Admin {
            store,
            clock,
            config,
            actor: Actor::Operator,
            door: Door::CommandLine,
            caller: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
    /// Who is acting.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn entry(&self, action: Action) -> AuditEntry {
        AuditEntry::new(self.now(), &self.actor.name(), action, self.door)
            .client(self.caller.and_then(|c| c.addr).map(|a| a.to_string()))
            .request(self.caller.and_then(|c| c.request).map(|r| r.to_string()))
    }

    /// argon2 on a blocking thread, never on the async runtime's (a hash takes tens of
    /// milliseconds of CPU and its memory block).
    async fn hash(&self, pw: &Secret) -> AdminResult<String> {
        let (pw, cfg) = (pw.clone(), self.config.argon2.clone());
        tokio::task::spawn_blocking(move || password::hash(pw.expose(), &cfg))
            .await
            .map_err(|e| Refusal::internal(format_args!("password hashing: {e}")))?
            .map_err(|e| Refusal::internal(format_args!("password hashing: {e}")))
    }

    fn mid(s: &str) -> AdminResult<MId> {
        MId::parse(s).ok_or_else(|| {
            invalid(format!(
                "{s:?} is not an M-ID (M, H or C followed by 4 to 8 digits)"
            ))
        })
    }

    fn property(s: &str) -> AdminResult<PropertyNumber> {
        PropertyNumber::parse(s).ok_or_else(|| invalid("a property number is 1 to 32 characters"))
    }

    fn imax_id(s: &str) -> AdminResult<ImaxId> {
        ImaxId::parse(s).ok_or_else(|| {
            invalid(format!(
                "{s:?} is not an iMAX ID (TRACM followed by five digits, or TRACMPROD; TRACX and five digits in the sandbox)"
            ))
        })
    }

    /// The person an operation names, or `NotFound`.
    pub(super) async fn subject(&self, mid: &str) -> AdminResult<crate::directory::Account> {
        self.account_id(&Self::mid(mid)?).await
    }

    pub(super) async fn account_id(&self, mid: &MId) -> AdminResult<crate::directory::Account> {
        self.store
            .accounts()
            .load(mid)
            .await?
            .ok_or_else(|| missing(mid.to_string()))
    }
}
