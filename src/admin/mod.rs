//! Provisioning the directory without a server: the operations behind `imax admin …`.
//!
//! Each operation checks that its [`Actor`] may do it, validates its input, applies the change
//! and appends an audit record (actor, subject, before and after) in one transaction. The
//! rules of who may do what live here, in the core, not in the command line or the web pages
//! that call it.

mod actor;
mod history;
mod import;
mod people;
mod resets;
mod views;

pub use crate::store::mailboxes::MailboxState;
pub use actor::Actor;
pub use history::PurgeReport;
pub use import::{import_file, ImportReport};
pub use people::{status_text, NewPerson, ReportLine, MAX_COORDINATORS};
pub use resets::{ProfileInput, ResetRequest, RESET_FAILURE_LIMIT};
pub use views::{PersonView, PropertyChoice};

use crate::audit::AuditEntry;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::directory::password::{self, Secret};
use crate::directory::{AccountKind, ImaxId, MId, MailboxKind, Recipient, Right};
use crate::error::{Code, Refusal};
use crate::store::{mailboxes, Store};
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
    /// `cli`, `web` or `system`: written into every audit record.
    door: &'static str,
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
            door: "cli",
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

    fn entry(&self, action: &str) -> AuditEntry {
        AuditEntry::new(self.now(), &self.actor.name(), action, self.door)
            .client(self.caller.and_then(|c| c.addr).map(|a| a.to_string()))
            .request(self.caller.and_then(|c| c.request).map(|r| r.to_string()))
    }

    fn hash(&self, pw: &Secret) -> AdminResult<String> {
        password::hash(pw.expose(), &self.config.argon2)
            .map_err(|e| Refusal::internal(format_args!("password hashing: {e}")))
    }

    fn mid(s: &str) -> AdminResult<MId> {
        MId::parse(s).ok_or_else(|| {
            invalid(format!(
                "{s:?} is not an M-ID (M, H or C followed by 4 to 8 digits)"
            ))
        })
    }

    fn imax_id(s: &str) -> AdminResult<ImaxId> {
        ImaxId::parse(s).ok_or_else(|| {
            invalid(format!(
                "{s:?} is not an iMAX ID (TRACM followed by five digits, or TRACMPROD)"
            ))
        })
    }

    async fn account_id(&self, mid: &MId) -> AdminResult<crate::directory::Account> {
        self.store
            .accounts()
            .load(mid)
            .await?
            .ok_or_else(|| missing(mid.to_string()))
    }

    pub async fn create_mailbox(
        &self,
        imax_id: &str,
        kind: MailboxKind,
        name: &str,
        email: &str,
        password: &Secret,
    ) -> AdminResult<()> {
        self.require_hud()?;
        let id = Self::imax_id(imax_id)?;
        if id.is_hud() != (kind == MailboxKind::Hud) {
            return Err(invalid(
                "HUD's mailbox is TRACMPROD, and TRACMPROD is HUD's",
            ));
        }
        if password.expose().len() < 8 {
            return Err(invalid(
                "a mailbox password must have at least 8 characters",
            ));
        }
        let m = mailboxes::NewMailbox {
            imax_id: id.clone(),
            kind,
            name: name.to_string(),
            email: email.to_string(),
            password_hash: self.hash(password)?,
        };
        let audit = self
            .entry("CreateMailbox")
            .mailbox(id.as_str())
            .detail(format!("kind={} name={name}", kind.as_str()));
        match self.store.mailboxes().create(&m, self.now(), &audit).await {
            Err(e) if unique_violation(&e) => Err(exists(id.to_string())),
            r => r.map(|_| ()).map_err(Into::into),
        }
    }

    /// The mailbox with this iMAX ID, or `Missing`.
    pub(super) async fn mailbox(&self, id: &ImaxId) -> AdminResult<crate::directory::Mailbox> {
        self.store
            .mailboxes()
            .load(id)
            .await?
            .ok_or_else(|| missing(id.to_string()))
    }

    pub async fn set_mailbox_password(&self, imax_id: &str, password: &Secret) -> AdminResult<()> {
        self.require_hud()?;
        let id = Self::imax_id(imax_id)?;
        let m = self.mailbox(&id).await?;
        let audit = self.entry("SetMailboxPassword").mailbox(id.as_str());
        self.store
            .mailboxes()
            .set_password(m.id, &self.hash(password)?, self.now(), &audit)
            .await?;
        Ok(())
    }

    pub async fn create_property(
        &self,
        number: &str,
        name: &str,
        mailbox: Option<&str>,
    ) -> AdminResult<()> {
        self.require_hud()?;
        if number.trim().is_empty() || number.len() > 32 {
            return Err(invalid("a property number is 1 to 32 characters"));
        }
        let mailbox_id = match mailbox {
            Some(m) => Some(self.mailbox(&Self::imax_id(m)?).await?.id),
            None => None,
        };
        let audit = self.entry("UpsertProperty").detail(format!(
            "property={number} name={name} mailbox={}",
            mailbox.unwrap_or("-")
        ));
        self.store
            .mailboxes()
            .upsert_property(number.trim(), name, mailbox_id, &audit)
            .await?;
        Ok(())
    }

    /// Records that `administrator` (`TRACS` for HUD, or a CA's iMAX ID) administers a contract.
    pub async fn create_contract(
        &self,
        number: &str,
        property: &str,
        administrator: &str,
    ) -> AdminResult<()> {
        self.require_hud()?;
        if number.trim().is_empty() || number.len() > 32 {
            return Err(invalid("a contract number is 1 to 32 characters"));
        }
        let prop = self
            .store
            .mailboxes()
            .property_id(property)
            .await?
            .ok_or_else(|| missing(format!("property {property}")))?;
        let admin_id = match Recipient::parse(administrator) {
            Some(Recipient::Tracs) => ImaxId::hud(),
            Some(Recipient::Mailbox(id)) => id,
            None => {
                return Err(invalid(format!(
                    "{administrator:?} is neither TRACS nor an iMAX ID"
                )))
            }
        };
        let m = self.mailbox(&admin_id).await?;
        if !m.kind.is_administrator() {
            return Err(invalid(format!(
                "{admin_id} is not HUD or a Contract Administrator"
            )));
        }
        let audit = self
            .entry("UpsertContract")
            .mailbox(admin_id.as_str())
            .detail(format!("contract={number} property={property}"));
        self.store
            .mailboxes()
            .upsert_contract(number.trim(), prop, m.id, &audit)
            .await?;
        Ok(())
    }

    /// Links a coordinator to a property it has a Business Partner Relationship with (R3).
    pub async fn add_business_partner(&self, mid: &str, property: &str) -> AdminResult<()> {
        self.require_hud()?;
        let account = self.account_id(&Self::mid(mid)?).await?;
        if account.kind != AccountKind::Coordinator {
            return Err(invalid(format!(
                "{} is not a coordinator (R3)",
                account.mid
            )));
        }
        let prop = self
            .store
            .mailboxes()
            .property_id(property)
            .await?
            .ok_or_else(|| missing(format!("property {property}")))?;
        let audit = self
            .entry("AddBusinessPartner")
            .detail(format!("mid={} property={property}", account.mid));
        self.store
            .mailboxes()
            .add_business_partner(account.id, prop, &audit)
            .await?;
        Ok(())
    }

    pub async fn post_broadcast(&self, title: &str, body: &str) -> AdminResult<i64> {
        self.require_hud()?;
        if title.trim().is_empty() || title.len() > 200 || body.len() > 64 * 1024 {
            return Err(invalid(
                "a broadcast has a title of 1 to 200 characters and at most 64 KiB of text",
            ));
        }
        let audit = self.entry("PostBroadcast").detail(title.to_string());
        Ok(self
            .store
            .messages()
            .post_broadcast(title, body, &self.actor.name(), self.now(), &audit)
            .await?)
    }

    /// A one-screen description of an M-ID (never its password or hash).
    ///
    /// A coordinator sees only its own users and never the Rules of Behavior date (R21).
    pub async fn describe_account(&self, mid: &str) -> AdminResult<String> {
        let a = self.account_id(&Self::mid(mid)?).await?;
        self.may_manage(&a).await?;
        let rights: Vec<&str> = Right::ALL
            .into_iter()
            .filter(|r| a.rights.has(*r))
            .map(|r| r.as_str())
            .collect();
        let t = |o: Option<OffsetDateTime>| {
            o.map(crate::clock::rfc3339)
                .unwrap_or_else(|| "never".into())
        };
        Ok(format!(
            "{mid} ({kind}) {name} <{email}>\n  status: {status:?}, failed sign-ins: {fails}\n  rights: {rights}\n  working group since: {wg}\n  password changed: {pw}\n  last activity: {act}, last sign-in: {si}\n  Rules of Behavior accepted: {rob}\n",
            mid = a.mid,
            kind = a.kind.as_str(),
            name = a.full_name,
            email = a.email,
            status = a.status,
            fails = a.failed_signins,
            rights = if rights.is_empty() { "none".into() } else { rights.join(", ") },
            wg = t(a.working_group_since),
            pw = crate::clock::rfc3339(a.password_changed_at),
            act = t(a.last_activity_at),
            si = t(a.last_signin_at),
            rob = if self.actor.is_hud() {
                t(a.rob_accepted_at)
            } else {
                "(not shown to coordinators)".into()
            },
        ))
    }
}
