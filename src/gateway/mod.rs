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

use crate::access::{self, CredentialCache, Door, Operation, Throttle, Turns};
use crate::audit::AuditEntry;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::directory::password::{Hasher, PasswordRules, Secret};
use crate::directory::{Account, AccountStatus, ImaxId, LockReason, MId, Mailbox};
use crate::error::{Code, Refusal};
use crate::mailbox::{ListQuery, MessageInfo, Page};
use crate::store::accounts::Side;
use crate::store::profiles::Profile;
use crate::store::{self, Effect, Store};

mod browser;
mod delivery;
mod failures;
pub mod profile;
mod refusals;
mod send;

pub use delivery::Delivery;

pub use send::{SendRequest, Upload};
use std::net::IpAddr;
use std::sync::Arc;
use time::Duration;

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
}

/// Counts a refusal that is not audited (so that a flood cannot fill the audit log).
fn unaudited(caller: Caller, code: Code) {
    metrics::counter!(
        "imax_requests_total",
        "door" => caller.door.as_str(),
        "operation" => "Authenticate",
        "outcome" => code.as_str(),
    )
    .increment(1);
}

/// The refusal of an attempt the bounded hasher had no room for (nothing was checked).
fn busy() -> Refusal {
    metrics::counter!(
        "imax_requests_total",
        "door" => "any",
        "operation" => "Authenticate",
        "outcome" => "PasswordCheckBusy",
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

    fn audit(&self, actor: &str, op: &str, caller: Caller) -> AuditEntry {
        AuditEntry::new(self.inner.clock.now(), actor, op, caller.door.as_str())
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
        let entry = entry.outcome(r.code.as_str());
        if let Err(e) = self.commit(effects, entry).await {
            return e;
        }
        r
    }

    /// [`Gateway::refuse`] for a refused attempt with nothing to change (a wrong password, an
    /// unknown ID): recorded on its own within the client's share of the window, otherwise
    /// counted for the window's summary record (`gateway::failures`), so that a stranger
    /// cannot grow the permanent audit log without bound.
    async fn refuse_attempt(
        &self,
        caller: Caller,
        principal: &str,
        entry: AuditEntry,
        r: Refusal,
    ) -> Refusal {
        let client = caller
            .addr
            .map(|a| self.inner.throttle.client_key(a))
            .unwrap_or_else(|| "-".into());
        let now = self.inner.clock.now();
        match self.inner.failures.admit(&client, principal, now) {
            failures::Admission::Record => self.refuse(vec![], entry, r).await,
            failures::Admission::Summarized => r,
        }
    }

    /// Writes the summary records of a window of refused attempts that has ended (`force`:
    /// whatever its age, at shutdown). Returns how many were written.
    pub async fn record_refusal_summaries(&self, force: bool) -> Result<usize, Refusal> {
        let now = self.inner.clock.now();
        let summaries = self.inner.failures.close_window(now, force);
        let n = summaries.len();
        for s in summaries {
            let entry = AuditEntry::new(now, "unknown", "Authenticate", "any")
                .client(Some(s.client.clone()))
                .outcome("RefusalsSummarized")
                .detail(format!(
                    "{} further refused password attempts from {} since {} (at {}{})",
                    s.refused,
                    s.client,
                    crate::clock::rfc3339(s.window_start),
                    s.principals.join(", "),
                    if s.principals.len() < 10 { "" } else { ", …" }
                ));
            self.commit(vec![], entry).await?;
        }
        Ok(n)
    }

    /// How often [`Gateway::record_refusal_summaries`] should run.
    pub fn refusal_window(&self) -> std::time::Duration {
        self.inner.failures.window()
    }

    async fn throttled(&self, caller: Caller) -> Result<(), Refusal> {
        self.throttled_given(caller, None).await
    }

    /// [`Gateway::throttled`], with the client's count when it was read already (`Some`).
    async fn throttled_given(
        &self,
        caller: Caller,
        known: Option<Option<(i64, i64)>>,
    ) -> Result<(), Refusal> {
        let blocked = |a| async move {
            match known {
                Some(row) => Ok::<_, Refusal>(self.inner.throttle.blocks(row)),
                None => Ok(self.inner.throttle.is_blocked(a).await?),
            }
        };
        match caller.addr {
            Some(a) if blocked(a).await? => {
                tracing::warn!(client = %a, "request refused by the throttle");
                unaudited(caller, Code::RateLimited);
                Err(Refusal::new(Code::RateLimited))
            }
            _ => Ok(()),
        }
    }

    /// Counts a password attempt against the client before the password is checked; over
    /// the limit, the attempt is refused unchecked (and unaudited: floods must not fill the
    /// audit log).
    async fn claim_for_client(&self, caller: Caller) -> Result<(), Refusal> {
        let Some(a) = caller.addr else { return Ok(()) };
        if self.inner.throttle.claim(a).await? {
            Ok(())
        } else {
            tracing::warn!(client = %self.inner.throttle.client_key(a), "password attempt refused by the throttle");
            unaudited(caller, Code::RateLimited);
            Err(Refusal::new(Code::RateLimited))
        }
    }

    /// A right password gives its client's attempt back.
    async fn forgive_client(&self, caller: Caller) {
        if let Some(a) = caller.addr {
            if let Err(e) = self.inner.throttle.forgive(a).await {
                tracing::warn!(error = %e, "could not give back a throttle count");
            }
        }
    }

    /// Forgets throttled addresses whose window has passed (hourly housekeeping).
    pub async fn forget_old_failures(&self) -> Result<u64, crate::store::StoreError> {
        self.inner.throttle.forget_old().await
    }

    /// Forgets the addresses where M-IDs have not signed in for `accounts.familiar_days`
    /// (hourly housekeeping: they are strangers' addresses again, R14).
    pub async fn forget_unfamiliar_addresses(&self) -> Result<u64, crate::store::StoreError> {
        let days = Duration::days(self.inner.config.accounts.familiar_days);
        self.inner
            .store
            .accounts()
            .forget_old_clients(self.inner.clock.now() - days)
            .await
    }

    /// The bounded argon2 pool (its counters, for operators and tests).
    pub fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    /// An attempt at a principal that does not exist: the same writes and argon2 work as one
    /// at a real principal, then the same answer as a wrong password.
    async fn refuse_unknown(
        &self,
        caller: Caller,
        kind: &str,
        creds: &Credentials,
        entry: AuditEntry,
        code: Code,
    ) -> Refusal {
        if let Err(e) = self
            .inner
            .throttle
            .claim_unknown(kind, &creds.principal)
            .await
        {
            return e.into();
        }
        if self
            .inner
            .hasher
            .verify_dummy(&creds.password)
            .await
            .is_err()
        {
            return busy();
        }
        let entry = entry.detail(format!("unknown {kind}"));
        self.refuse_attempt(caller, &creds.principal, entry, code.into())
            .await
    }

    /// Steps 1–3: authenticates the M-ID and asks the access decision about `op`.
    ///
    /// No answer before a right password tells more than a wrong password would: an unknown
    /// M-ID, a wrong password, a locked or terminated M-ID (whatever password is sent) and an
    /// attempt beyond the failure limit all answer `AuthenticationFailed`, after the same
    /// argon2 work and the same database writes. Each attempt is counted before its password
    /// is checked, in one statement, so parallel guesses are counted too: only attempts
    /// within the limit can succeed, and the one that reaches it with a wrong password locks
    /// the M-ID. A locked person learns why from their coordinator (who sees the lock in the
    /// User Last Login Report) — never from the sign-in answer, which would tell a guesser
    /// that the password was right (R14).
    #[tracing::instrument(name = "authorize", skip_all, fields(op = op.as_str()))]
    pub async fn authorize(
        &self,
        caller: Caller,
        creds: &Credentials,
        op: Operation,
    ) -> Result<Authorized, Refusal> {
        let mid = MId::parse(&creds.principal);
        let account = match &mid {
            Some(mid) => self.inner.store.accounts().load(mid).await?,
            None => None,
        };
        self.authorize_loaded(caller, creds, op, mid, account, None)
            .await
    }

    /// Steps 1–4 for a call that names its mailbox (system-to-system): the account, the
    /// client's throttle count and the mailbox read in one statement, then the same decisions
    /// as [`Gateway::authorize`] and [`Gateway::open_mailbox`].
    #[tracing::instrument(name = "authorize_mailbox", skip_all, fields(op = op.as_str()))]
    pub async fn authorize_mailbox(
        &self,
        caller: Caller,
        person: &Credentials,
        op: Operation,
        mailbox: &Credentials,
    ) -> Result<MailboxSession, Refusal> {
        let Some(mid) = MId::parse(&person.principal) else {
            let auth = self.authorize(caller, person, op).await?;
            return self.open_mailbox(auth, mailbox).await;
        };
        let id = ImaxId::parse(&mailbox.principal);
        let key = caller.addr.map(|a| self.inner.throttle.client_key(a));
        let ctx = self
            .inner
            .store
            .caller_context(&mid, key.as_deref(), id.as_ref())
            .await?;
        // The throttle's count is read along with an account that exists, and only then.
        let throttle = ctx.account.is_some().then_some(ctx.throttle);
        let auth = self
            .authorize_loaded(caller, person, op, Some(mid), ctx.account, throttle)
            .await?;
        match ctx.mailbox {
            Some(m) => self.open_mailbox_loaded(auth, mailbox, id, m).await,
            None => self.open_mailbox(auth, mailbox).await,
        }
    }

    /// [`Gateway::authorize`] on an account already read, with the client's throttle count
    /// when that was read too.
    async fn authorize_loaded(
        &self,
        caller: Caller,
        creds: &Credentials,
        op: Operation,
        mid: Option<MId>,
        account: Option<Account>,
        throttle: Option<Option<(i64, i64)>>,
    ) -> Result<Authorized, Refusal> {
        let store = &self.inner.store;
        let entry = self.audit(
            mid.as_ref().map(|m| m.as_str()).unwrap_or("unknown"),
            op.as_str(),
            caller,
        );
        let cache = &self.inner.accounts_seen;
        let now = self.inner.clock.now();
        // This exact password was verified at this epoch lately, so it is right: no hash and
        // no count (a lock or a password change bumps the epoch and forgets it). Otherwise the
        // attempt waits its turn at this M-ID, and looks again: the attempt before it may just
        // have verified the same password (`access::turns`). While strangers' addresses are
        // locked out, every attempt is checked in full: only then is it known whose it is.
        let cached = |a: &Account| {
            !a.strangers_locked_at(now)
                && cache.check(a.mid.as_str(), creds.password.expose(), a.auth_epoch)
        };
        let mut _turn = None;
        if let Some(a) = &account {
            if !cached(a) {
                _turn = Some(
                    self.inner
                        .turns
                        .take(a.mid.as_str())
                        .await
                        .ok_or_else(busy)?,
                );
            }
            if cached(a) {
                self.throttled_given(caller, throttle).await?;
                let mut auth = self.decide(a.clone(), caller, op, entry, true).await?;
                auth.throttle_checked = true;
                return Ok(auth);
            }
        }
        self.claim_for_client(caller).await?;
        let Some(account) = account else {
            return Err(self
                .refuse_unknown(caller, "M-ID", creds, entry, Code::AuthenticationFailed)
                .await);
        };
        // R14's smart lockout: attempts from an address the M-ID signed in from lately
        // (familiar) and from strangers' addresses count apart, and lock apart.
        let policy = &self.inner.config.accounts;
        let client = caller.addr.map(|a| self.inner.throttle.client_key(a));
        let familiar = match &client {
            Some(c) => {
                let since = now - Duration::days(policy.familiar_days);
                store.accounts().is_familiar(account.id, c, since).await?
            }
            None => false,
        };
        let side = if familiar {
            Side::Familiar
        } else {
            Side::Stranger
        };
        let n = store
            .accounts()
            .claim_attempt(account.id, side, now)
            .await?;
        let verified = match self
            .inner
            .hasher
            .verify(&creds.password, &account.password_hash)
            .await
        {
            Ok(v) => v,
            Err(_) => {
                // Not checked, so no failure: the attempt is given back.
                store
                    .accounts()
                    .forgive_attempts(account.id, side, 1)
                    .await?;
                return Err(busy());
            }
        };
        let limit = policy.failed_signin_limit;
        let status = account.status_at(now);
        // R13's lock for want of iMAX use leaves Secure Systems open (see `access::decide`);
        // a lock of strangers' addresses keeps only those out.
        let strangers_out = side == Side::Stranger && account.strangers_locked_at(now);
        let active = !strangers_out
            && (status == AccountStatus::Active
                || (status == AccountStatus::Locked(crate::directory::LockReason::Inactivity)
                    && !op.is_imax_use()));
        let from = side.as_str();
        if !verified {
            let entry = entry.detail(format!(
                "wrong password from a {from} address (attempt {n}, limit {limit})"
            ));
            if !(active && n >= limit) {
                return Err(self
                    .refuse_attempt(
                        caller,
                        account.mid.as_str(),
                        entry,
                        Code::AuthenticationFailed.into(),
                    )
                    .await);
            }
            let locks = match side {
                Side::Familiar => account.failure_locks,
                Side::Stranger => account.stranger_locks,
            };
            let until = now + policy.failure_lock_for(locks);
            metrics::counter!("imax_failure_locks_total", "side" => side.as_str()).increment(1);
            cache.forget(account.mid.as_str());
            let whom = match side {
                Side::Familiar => "M-ID locked",
                Side::Stranger => "M-ID locked for addresses it has not signed in from lately",
            };
            let entry = entry.detail(format!(
                "wrong password {n} of {limit} from a {from} address: {whom} until {} (lock {} in a row)",
                crate::clock::rfc3339(until),
                locks + 1
            ));
            let effects = vec![Effect::LockForFailures {
                account: account.id,
                side,
                at: now,
                until,
            }];
            return Err(self
                .refuse(effects, entry, Code::AuthenticationFailed.into())
                .await);
        }
        if !active || n > limit {
            // The right password, but the M-ID may not sign in now: answered exactly as a
            // wrong password. The audit record says what happened.
            let why = if strangers_out {
                format!("{from} address locked out")
            } else if status == AccountStatus::Active {
                format!("attempt {n} beyond the limit of {limit}")
            } else {
                format!("M-ID {}", status.to_columns().0)
            };
            let entry = entry.detail(format!("right password, {why}: answered as a wrong one"));
            return Err(self
                .refuse(vec![], entry, Code::AuthenticationFailed.into())
                .await);
        }
        store
            .accounts()
            .signed_in_from(account.id, side, n, client.as_deref(), now)
            .await?;
        self.forgive_client(caller).await;
        cache.remember(
            account.mid.as_str(),
            creds.password.expose(),
            account.auth_epoch,
        );
        let mut auth = self.decide(account, caller, op, entry, true).await?;
        auth.throttle_checked = true;
        Ok(auth)
    }

    /// Step 3: asks [`access::decide`], persisting any transition time brought about.
    /// With `password_door`, a locked or terminated M-ID (also one that time has just locked
    /// or terminated) is refused as `AuthenticationFailed`, like a wrong password; a browser
    /// session, which proved its password at sign-in, is told the state itself.
    async fn decide(
        &self,
        account: Account,
        caller: Caller,
        op: Operation,
        entry: AuditEntry,
        password_door: bool,
    ) -> Result<Authorized, Refusal> {
        let now = self.inner.clock.now();
        let mut account = account;
        if !password_door && account.status == AccountStatus::Locked(LockReason::FailedSignIns) {
            // A lock for failed sign-ins stops passwords, not a person already signed in:
            // nobody's open session ends for someone else's wrong passwords (R14).
            account.status = AccountStatus::Active;
        }
        let decision = access::decide(&account, caller.door, op, &self.inner.config.accounts, now);
        if let Err(code) = decision.verdict {
            let effects = decision
                .transition
                .map(|s| {
                    let (status, lock_reason) = s.to_columns();
                    vec![Effect::SetStatus {
                        account: account.id,
                        status,
                        lock_reason,
                    }]
                })
                .unwrap_or_default();
            if decision.transition.is_some() {
                self.inner.accounts_seen.forget(account.mid.as_str());
            }
            let hidden =
                password_door && matches!(code, Code::AccountLocked | Code::AccountTerminated);
            if hidden {
                let entry = entry.detail(format!(
                    "right password, {}: answered as a wrong one",
                    code.as_str()
                ));
                return Err(self
                    .refuse(effects, entry, Code::AuthenticationFailed.into())
                    .await);
            }
            return Err(self.refuse(effects, entry, code.into()).await);
        }
        Ok(Authorized {
            account,
            caller,
            op,
            throttle_checked: false,
        })
    }

    /// Step 4: the mailbox's iMAX ID and password.
    ///
    /// As for M-IDs, no answer tells more than a wrong password: an unknown iMAX ID, a wrong
    /// password, a closed or frozen mailbox all answer `MailboxAuthenticationFailed` after
    /// the same work. Wrong passwords are counted per (mailbox, M-ID) before each check:
    /// `accounts.mailbox_failed_limit` in a row freeze the mailbox for that M-ID only, for
    /// `accounts.mailbox_freeze_minutes`; when `accounts.mailbox_freeze_mids` M-IDs are frozen
    /// out at once, it freezes for everyone too, except M-IDs that opened it within
    /// `accounts.familiar_days` (its own people). The Help Desk's password reset ends every
    /// freeze (R24). No freeze ends an open session. Freezes are audited and shown on the
    /// coordinator's and Help Desk's pages.
    #[tracing::instrument(name = "open_mailbox", skip_all)]
    pub async fn open_mailbox(
        &self,
        auth: Authorized,
        creds: &Credentials,
    ) -> Result<MailboxSession, Refusal> {
        let id = ImaxId::parse(&creds.principal);
        let mailbox = match &id {
            Some(id) => self.inner.store.mailboxes().load(id).await?,
            None => None,
        };
        self.open_mailbox_loaded(auth, creds, id, mailbox).await
    }

    /// [`Gateway::open_mailbox`] on a mailbox already read.
    async fn open_mailbox_loaded(
        &self,
        auth: Authorized,
        creds: &Credentials,
        id: Option<ImaxId>,
        mailbox: Option<Mailbox>,
    ) -> Result<MailboxSession, Refusal> {
        let caller = auth.caller;
        let store = &self.inner.store;
        let entry = self
            .audit(auth.account.mid.as_str(), auth.op.as_str(), caller)
            .mailbox(id.as_ref().map(|i| i.as_str()).unwrap_or("invalid"));
        // HUD's mailbox is HUD's: an M-ID that HUD did not make its staff's or contractor's
        // (the account's affiliation, never the ID's letter) is refused before its password
        // is looked at, whatever it sends (which mailbox is HUD's is public: this tells
        // nothing), so it can neither guess nor freeze it.
        if mailbox.as_ref().is_some_and(|m| m.imax_id.is_hud())
            && !auth.account.affiliation.is_hud()
        {
            let entry = entry.detail("HUD's mailbox, and the M-ID is not HUD staff");
            return Err(self
                .refuse(vec![], entry, Code::HudMailboxOnly.into())
                .await);
        }
        let now = self.inner.clock.now();
        let cfg = &self.inner.config.accounts;
        let inactive_days = cfg.mailbox_inactive_days;
        let cache = &self.inner.mailboxes_seen;
        // As for M-IDs: attempts at one mailbox take turns, and look at the cache again in it.
        let cached =
            |m: &Mailbox| cache.check(m.imax_id.as_str(), creds.password.expose(), m.auth_epoch);
        let mut _turn = None;
        if let Some(m) = &mailbox {
            if !cached(m) {
                let key = format!("mailbox {}", m.imax_id);
                _turn = Some(self.inner.turns.take(&key).await.ok_or_else(busy)?);
            }
            // While any freeze is in force, whose attempt this is decides: checked in full.
            if m.active
                && !m.any_freeze_at(now)
                && m.inactive_since(now, inactive_days).is_none()
                && cached(m)
            {
                if !auth.throttle_checked {
                    self.throttled(caller).await?;
                }
                let m = m.clone();
                return Ok(MailboxSession { auth, mailbox: m });
            }
        }
        self.claim_for_client(caller).await?;
        let refused = |detail: String| entry.clone().detail(detail);
        let Some(m) = mailbox else {
            return Err(self
                .refuse_unknown(
                    caller,
                    "iMAX ID",
                    creds,
                    entry,
                    Code::MailboxAuthenticationFailed,
                )
                .await);
        };
        let me = auth.account.id;
        let attempt = store.mailboxes().claim_attempt(m.id, me, now).await?;
        let n = attempt.n;
        // Its own people (who opened it lately) are never frozen out by others' failures.
        let familiar = attempt
            .opened_at
            .is_some_and(|t| now - t < Duration::days(cfg.familiar_days));
        let frozen = match attempt.frozen_until {
            Some(until) => Some((until, "for this M-ID")),
            None => m
                .frozen_until
                .filter(|t| *t > now && !familiar)
                .map(|until| (until, "for everyone")),
        };
        let verified = match self
            .inner
            .hasher
            .verify(&creds.password, &m.password_hash)
            .await
        {
            Ok(v) => v,
            Err(_) => {
                if attempt.frozen_until.is_none() {
                    store
                        .mailboxes()
                        .attempt_succeeded(m.id, me, 1, None)
                        .await?;
                }
                return Err(busy());
            }
        };
        let limit = cfg.mailbox_failed_limit;
        let code = || Refusal::from(Code::MailboxAuthenticationFailed);
        let principal = m.imax_id.as_str();
        match (verified, frozen) {
            (false, Some((until, whom))) => {
                let detail = format!(
                    "wrong password while frozen {whom} until {}",
                    crate::clock::rfc3339(until)
                );
                Err(self
                    .refuse_attempt(caller, principal, refused(detail), code())
                    .await)
            }
            (true, Some((until, whom))) => {
                let detail = format!(
                    "right password while frozen {whom} until {}: answered as a wrong one",
                    crate::clock::rfc3339(until)
                );
                Err(self.refuse(vec![], refused(detail), code()).await)
            }
            (false, None) if n >= limit => {
                let until = now + Duration::minutes(cfg.mailbox_freeze_minutes);
                let others = store.mailboxes().frozen_mids(m.id, me, now).await?;
                let everyone = others.saturating_add(1) >= cfg.mailbox_freeze_mids;
                let scope = if everyone { "everyone" } else { "m-id" };
                metrics::counter!("imax_mailbox_freezes_total", "scope" => scope).increment(1);
                let mut detail = format!(
                    "wrong password {n} of {limit}: mailbox frozen for {} until {}",
                    auth.account.mid,
                    crate::clock::rfc3339(until)
                );
                if everyone {
                    detail.push_str(&format!(
                        "; {} M-IDs frozen out at once: frozen for everyone who has not opened it in {} days",
                        others.saturating_add(1),
                        cfg.familiar_days
                    ));
                }
                let effects = vec![Effect::FreezeMailbox {
                    mailbox: m.id,
                    account: me,
                    at: now,
                    until,
                    everyone,
                }];
                Err(self.refuse(effects, refused(detail), code()).await)
            }
            (false, None) => {
                let detail = format!("wrong password (attempt {n}, limit {limit})");
                Err(self
                    .refuse_attempt(caller, principal, refused(detail), code())
                    .await)
            }
            (true, None) if n > limit || !m.active => {
                let detail = format!(
                    "right password, {}: answered as a wrong one",
                    if m.active {
                        "beyond the failure limit"
                    } else {
                        "mailbox closed"
                    }
                );
                Err(self.refuse(vec![], refused(detail), code()).await)
            }
            (true, None) => {
                store
                    .mailboxes()
                    .attempt_succeeded(m.id, me, n, Some(now))
                    .await?;
                self.forgive_client(caller).await;
                // Told only after its right password, so it tells a guesser nothing.
                if let Some(since) = m.inactive_since(now, inactive_days) {
                    let detail = format!(
                        "right password, mailbox inactive since {} (unused {inactive_days} days)",
                        crate::clock::rfc3339(since)
                    );
                    return Err(self
                        .refuse(vec![], refused(detail), Code::MailboxInactive.into())
                        .await);
                }
                cache.remember(m.imax_id.as_str(), creds.password.expose(), m.auth_epoch);
                Ok(MailboxSession { auth, mailbox: m })
            }
        }
    }

    /// R13: a successful use counts as activity, written at most once per granularity period,
    /// not on every request.
    fn activity(&self, account: &Account) -> Option<Effect> {
        let now = self.inner.clock.now();
        let granularity = Duration::seconds(self.inner.config.accounts.activity_granularity_secs);
        let stale = account
            .last_activity_at
            .is_none_or(|t| now - t >= granularity)
            || account
                .last_signin_at
                .is_none_or(|t| now - t >= granularity);
        stale.then_some(Effect::RecordActivity {
            account: account.id,
            at: now,
        })
    }

    /// What a use of a mailbox records: the M-ID's activity (R13) and the mailbox's own use
    /// (its inactivity counts from it), each at most once per granularity period.
    fn uses(&self, s: &MailboxSession) -> Vec<Effect> {
        let now = self.inner.clock.now();
        let granularity = Duration::seconds(self.inner.config.accounts.activity_granularity_secs);
        let mailbox = &s.mailbox;
        let stale = mailbox.last_used_at.is_none_or(|t| now - t >= granularity);
        let mailbox_use = stale.then_some(Effect::RecordMailboxUse {
            mailbox: mailbox.id,
            at: now,
        });
        self.activity(&s.auth.account)
            .into_iter()
            .chain(mailbox_use)
            .collect()
    }

    fn session_audit(&self, s: &MailboxSession) -> AuditEntry {
        self.audit(
            s.auth.account.mid.as_str(),
            s.auth.op.as_str(),
            s.auth.caller,
        )
        .mailbox(s.mailbox.imax_id.as_str())
    }

    fn expect_op(s: &MailboxSession, op: Operation) -> Result<(), Refusal> {
        if s.auth.op == op {
            Ok(())
        } else {
            Err(Refusal::internal(format_args!(
                "session authorized for {} used for {}",
                s.auth.op.as_str(),
                op.as_str()
            )))
        }
    }

    /// Records that an upload authorised for `s` was refused while its body arrived (too
    /// large, malformed); nothing was stored.
    pub async fn abandon_send(&self, s: &MailboxSession, r: Refusal) -> Refusal {
        let entry = self.session_audit(s);
        self.refuse(vec![], entry, r).await
    }

    /// One page of a folder. An empty first page is reported by the caller with the folder's
    /// iMAX status (600–604).
    #[tracing::instrument(name = "list_messages", skip_all, fields(folder = q.folder.as_str()))]
    pub async fn list_messages(&self, s: &MailboxSession, q: &ListQuery) -> Result<Page, Refusal> {
        Self::expect_op(s, Operation::ListMessages)?;
        let page = self.inner.store.messages().list(s.mailbox.id, q).await?;
        let effects = self.uses(s);
        let entry = self.session_audit(s).detail(format!(
            "{} ({} entries)",
            q.folder.as_str(),
            page.entries.len()
        ));
        self.commit(effects, entry).await?;
        Ok(page)
    }

    async fn find(&self, s: &MailboxSession, message_id: &str) -> Result<MessageInfo, Refusal> {
        let store = &self.inner.store;
        if let Some(n) = message_id
            .strip_prefix("BC-")
            .and_then(|n| n.parse::<i64>().ok())
        {
            if let Some(m) = store.messages().find_broadcast(s.mailbox.id, n).await? {
                return Ok(m);
            }
        } else if let Some(m) = store
            .messages()
            .find(s.mailbox.id, message_id.trim())
            .await?
        {
            return Ok(m);
        }
        let entry = self.session_audit(s).message(message_id);
        Err(self
            .refuse(vec![], entry, Code::UnknownMessage.into())
            .await)
    }

    /// A message's metadata and body. The recipient's first fetch marks it retrieved, once the
    /// whole body has been handed over (see [`Delivery`]); the metadata already says when
    /// (`retrievedAt`), as the completed fetch records it.
    #[tracing::instrument(name = "get_message", skip_all, fields(message_id = message_id))]
    pub async fn get_message(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<(MessageInfo, Delivery), Refusal> {
        Self::expect_op(s, Operation::GetMessage)?;
        let mut info = self.find(s, message_id).await?;
        let now = self.inner.clock.now();
        let mut effects: Vec<Effect> = self.uses(s);
        if info.body_key.is_some()
            && info.to_mailbox_id == s.mailbox.id
            && info.retrieved_at.is_none()
        {
            effects.push(Effect::MarkRetrieved {
                message: info.row_id,
                at: now,
            });
            info.retrieved_at = Some(now);
        }
        let completion = delivery::Completion {
            gw: self.clone(),
            effects,
            entry: self.session_audit(s).message(&info.message_id),
        };
        let body = match &info.body_key {
            Some(key) => Delivery::stored(
                self.inner.store.bodies.open(key, info.size_bytes).await?,
                info.size_bytes,
                info.sha256.clone(),
                completion,
            ),
            None => {
                let text = self
                    .inner
                    .store
                    .messages()
                    .broadcast_body(info.row_id)
                    .await?
                    .map(|(_, b)| b)
                    .unwrap_or_default();
                Delivery::inline(text.into_bytes(), completion)
            }
        };
        Ok((info, body))
    }

    /// Removes a received message from the unread view; history keeps it.
    #[tracing::instrument(name = "ack_message", skip_all, fields(message_id = message_id))]
    pub async fn ack_message(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<MessageInfo, Refusal> {
        Self::expect_op(s, Operation::AckMessage)?;
        let mut info = self.find(s, message_id).await?;
        let entry = self.session_audit(s).message(&info.message_id);
        if info.body_key.is_none() || info.to_mailbox_id != s.mailbox.id {
            let r = Refusal::with_detail(
                Code::UnknownMessage,
                "Only a message this mailbox received can be acknowledged.",
            );
            return Err(self.refuse(vec![], entry, r).await);
        }
        let now = self.inner.clock.now();
        let mut effects: Vec<Effect> = self.uses(s);
        if info.acked_at.is_none() {
            effects.push(Effect::MarkAcked {
                message: info.row_id,
                at: now,
            });
            info.acked_at = Some(now);
            info.retrieved_at = info.retrieved_at.or(Some(now));
        }
        self.commit(effects, entry).await?;
        Ok(info)
    }

    /// Changes the caller's own password: the one thing an expired password allows (R15).
    #[tracing::instrument(name = "change_password", skip_all)]
    pub async fn change_password(
        &self,
        auth: Authorized,
        current: &Secret,
        new: Secret,
    ) -> Result<(), Refusal> {
        if auth.op != Operation::ChangePassword {
            return Err(Refusal::internal(
                "change_password without its authorization",
            ));
        }
        let cfg = &self.inner.config.accounts;
        let rules = PasswordRules::for_m_ids(cfg);
        let account = &auth.account;
        let entry = self.audit(account.mid.as_str(), "ChangePassword", auth.caller);
        let reject = |why: String| password_refusal(&rules, why);
        if let Err(why) = rules.check(account.mid.as_str(), new.expose()) {
            return Err(self.refuse(vec![], entry, reject(why)).await);
        }
        let mut previous = self
            .inner
            .store
            .accounts()
            .password_history(account.id, cfg.password_history.saturating_sub(1))
            .await?;
        previous.push(account.password_hash.clone());
        let reused = self
            .inner
            .hasher
            .verify_any(&new, previous)
            .await
            .map_err(|_| busy())?;
        if reused || new.expose() == current.expose() {
            return Err(self
                .refuse(vec![], entry, reject("It was used recently.".into()))
                .await);
        }
        let hash = self.hash_password(&new).await?;
        let now = self.inner.clock.now();
        self.inner
            .store
            .accounts()
            .set_password(account.id, &hash, true, now, &entry)
            .await?;
        self.inner.accounts_seen.forget(account.mid.as_str());
        Ok(())
    }
}

impl Gateway {
    /// The holder of an open mailbox changes its TRACSMail password (R23's self-service): the
    /// current password is checked as opening the mailbox checks it (counted, freezing after
    /// too many), the new one must meet the password rules and differ, and the change ends
    /// every session on the mailbox (its `auth_epoch` moves; the credential cache forgets
    /// it). Returns the mailbox's new epoch, for the caller's own session to go on.
    pub async fn change_mailbox_password(
        &self,
        auth: Authorized,
        imax_id: &ImaxId,
        current: &Secret,
        new: Secret,
    ) -> Result<i64, Refusal> {
        let creds = Credentials {
            principal: imax_id.to_string(),
            password: current.clone(),
        };
        // The current password, checked (and counted) as when opening the mailbox.
        let session = self.open_mailbox(auth, &creds).await?;
        let m = session.mailbox();
        let entry = self
            .audit(
                session.auth.account.mid.as_str(),
                "ChangeMailboxPassword",
                session.auth.caller,
            )
            .mailbox(m.imax_id.as_str());
        let rules = PasswordRules::for_mailboxes(&self.inner.config.accounts);
        let reject = |why: String| password_refusal(&rules, why);
        if let Err(why) = rules.check(m.imax_id.as_str(), new.expose()) {
            return Err(self.refuse(vec![], entry, reject(why)).await);
        }
        if new.expose() == current.expose() {
            let same = reject("It is the current password.".into());
            return Err(self.refuse(vec![], entry, same).await);
        }
        let hash = self.hash_password(&new).await?;
        let now = self.inner.clock.now();
        let store = &self.inner.store;
        store
            .mailboxes()
            .set_password(m.id, &hash, now, &entry)
            .await?;
        self.inner.mailboxes_seen.forget(m.imax_id.as_str());
        let changed = store.mailboxes().load_by_id(m.id).await?;
        Ok(changed.map_or(m.auth_epoch + 1, |m| m.auth_epoch))
    }

    /// The open mailbox's profile (R23), if it has one.
    pub async fn mailbox_profile(&self, s: &MailboxSession) -> Result<Option<Profile>, Refusal> {
        let loaded = self.inner.store.profiles().load(s.mailbox.id).await?;
        Ok(loaded.map(|(profile, _, _)| profile))
    }
}

impl Gateway {
    /// A new password or PIN hashed on the bounded hashing threads (busy: refused at once).
    async fn hash_password(&self, secret: &Secret) -> Result<String, Refusal> {
        self.inner
            .hasher
            .hash(secret)
            .await
            .map_err(|_| busy())?
            .map_err(Refusal::internal)
    }
}

/// A new password that breaks a password rule: the refusal says which, and lists them all.
fn password_refusal(rules: &PasswordRules, why: String) -> Refusal {
    Refusal::with_detail(
        Code::PasswordRejected,
        format!("{why} {}", rules.describe()),
    )
}

/// Re-exported for adapters that need the body store's error.
pub use store::bodies::StageError;
