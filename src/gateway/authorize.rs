//! Steps 1–3 of every request: the client must not be throttled, the M-ID and password are
//! authenticated (R14's smart lockout: attempts counted before they are checked, timed locks
//! counted apart for familiar and strangers' addresses), and [`crate::access::decide`] rules
//! on the account's state for this door and operation. Refused attempts reach the audit log
//! within each client's share (`gateway::failures`).

use super::{busy, Authorized, Caller, Credentials, Gateway, MailboxSession};
use crate::access::{self, Door, Operation};
use crate::audit::AuditEntry;
use crate::directory::password::Hasher;
use crate::directory::{Account, AccountStatus, ImaxId, LockReason, MId, Mailbox};
use crate::error::{Code, Refusal};
use crate::store::accounts::Side;
use crate::store::Effect;
use time::Duration;

/// R6's answer for a person and a mailbox: read along with both (the system-to-system
/// caller's context, `store::context`), or still to be asked of the store (the browser door,
/// which opens a mailbox apart from signing in).
#[derive(Debug, Clone, Copy)]
pub(super) enum Affiliation {
    Read(bool),
    ToAsk,
}

impl Gateway {
    /// The bounded argon2 pool (its counters, for operators and tests).
    pub fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    /// An attempt at a principal that does not exist: the same writes and argon2 work as one
    /// at a real principal, then the same answer as a wrong password.
    pub(super) async fn refuse_unknown(
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
        if let (Some(a), Door::SystemToSystem) = (&account, caller.door) {
            let lists = self.employer_allow_list(a.id).await?;
            self.within_allow_lists(caller, creds, op, &lists).await?;
        }
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
            .caller_context(&mid, key.as_deref(), id.as_ref(), self.uses_at())
            .await?;
        let mark = ctx.mark();
        // Issue 30: from outside an allow-list, answered as a wrong password.
        if ctx.account.is_some() {
            self.within_allow_lists(caller, person, op, &ctx.allow_lists)
                .await?;
        }
        // The throttle's count is read along with an account that exists, and only then.
        let throttle = ctx.account.is_some().then_some(ctx.throttle);
        let auth = self
            .authorize_loaded(caller, person, op, Some(mid), ctx.account, throttle)
            .await?;
        let session = match ctx.mailbox {
            Some(m) => {
                let r6 = Affiliation::Read(ctx.affiliated);
                self.open_mailbox_loaded(auth, mailbox, id, m, r6).await?
            }
            None => self.open_mailbox(auth, mailbox).await?,
        };
        Ok(MailboxSession {
            directory_mark: mark,
            ..session
        })
    }

    /// [`Gateway::authorize`] on an account already read, with the client's throttle count
    /// when that was read too.
    pub(super) async fn authorize_loaded(
        &self,
        caller: Caller,
        creds: &Credentials,
        op: Operation,
        mid: Option<MId>,
        account: Option<Account>,
        throttle: Option<Option<(i64, i64)>>,
    ) -> Result<Authorized, Refusal> {
        let entry = self.audit(
            mid.as_ref().map(|m| m.as_str()).unwrap_or("unknown"),
            op.action(),
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
        self.check_password(caller, creds, op, account, entry).await
    }

    /// The full check of an M-ID's password (no remembered credential applied), R14's smart
    /// lockout: attempts from an address the M-ID signed in from lately (familiar) and from
    /// strangers' addresses count apart, and lock apart; each attempt is counted on its side
    /// before its hash is checked.
    async fn check_password(
        &self,
        caller: Caller,
        creds: &Credentials,
        op: Operation,
        account: Account,
        entry: AuditEntry,
    ) -> Result<Authorized, Refusal> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let policy = &self.inner.config.accounts;
        let (client, side) = self.side_of(caller, &account, now).await?;
        let n = store
            .accounts()
            .claim_attempt(account.id, side, now)
            .await?;
        let Ok(verified) = self
            .inner
            .hasher
            .verify(&creds.password, &account.password_hash)
            .await
        else {
            // Not checked, so no failure: the attempt is given back.
            store
                .accounts()
                .forgive_attempts(account.id, side, 1)
                .await?;
            return Err(busy());
        };
        let limit = policy.failed_signin_limit;
        let status = account.status_at(now);
        // R13's lock for want of iMAX use leaves Secure Systems open (see `access::decide`);
        // a lock of strangers' addresses keeps only those out.
        let strangers_out = side == Side::Stranger && account.strangers_locked_at(now);
        let active = !strangers_out
            && (status == AccountStatus::Active
                || (status == AccountStatus::Locked(LockReason::Inactivity) && !op.is_imax_use()));
        let from = side.as_str();
        if !verified {
            let entry = entry.detail(format!(
                "wrong password from a {from} address (attempt {n}, limit {limit})"
            ));
            let refusal = if active && n >= limit {
                self.lock_for_failures(&account, side, n, entry).await
            } else {
                let code = Code::AuthenticationFailed.into();
                self.refuse_attempt(caller, account.mid.as_str(), entry, code)
                    .await
            };
            return Err(refusal);
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
        self.signed_in(caller, creds, op, account, entry).await
    }

    /// R14's smart lockout: the caller's client key, and whether the M-ID signed in from it
    /// within `accounts.familiar_days` (familiar) or not (a stranger's address).
    async fn side_of(
        &self,
        caller: Caller,
        account: &Account,
        now: time::OffsetDateTime,
    ) -> Result<(Option<String>, Side), Refusal> {
        let client = caller.addr.map(|a| self.inner.throttle.client_key(a));
        let familiar = match &client {
            Some(c) => {
                let policy = &self.inner.config.accounts;
                let since = now - Duration::days(policy.familiar_days);
                let accounts = self.inner.store.accounts();
                accounts.is_familiar(account.id, c, since).await?
            }
            None => false,
        };
        let side = if familiar {
            Side::Familiar
        } else {
            Side::Stranger
        };
        Ok((client, side))
    }

    /// The right password, and the M-ID may sign in: the client's throttle count is given
    /// back, the password remembered at this epoch (`access::cache`), and the access decision
    /// asked.
    async fn signed_in(
        &self,
        caller: Caller,
        creds: &Credentials,
        op: Operation,
        account: Account,
        entry: AuditEntry,
    ) -> Result<Authorized, Refusal> {
        self.forgive_client(caller).await;
        self.inner.accounts_seen.remember(
            account.mid.as_str(),
            creds.password.expose(),
            account.auth_epoch,
        );
        let mut auth = self.decide(account, caller, op, entry, true).await?;
        auth.throttle_checked = true;
        Ok(auth)
    }

    /// Wrong password `n`, the last one allowed on `side`: that side locks for a time that
    /// doubles with each lock in a row (R14). From a familiar address the M-ID itself locks;
    /// from a stranger's, only strangers' addresses.
    async fn lock_for_failures(
        &self,
        account: &Account,
        side: Side,
        n: u32,
        entry: AuditEntry,
    ) -> Refusal {
        let now = self.inner.clock.now();
        let policy = &self.inner.config.accounts;
        let locks = match side {
            Side::Familiar => account.failure_locks,
            Side::Stranger => account.stranger_locks,
        };
        let until = now + policy.failure_lock_for(locks);
        metrics::counter!("imax_failure_locks_total", "side" => side.as_str()).increment(1);
        self.inner.accounts_seen.forget(account.mid.as_str());
        let whom = match side {
            Side::Familiar => "M-ID locked",
            Side::Stranger => "M-ID locked for addresses it has not signed in from lately",
        };
        let entry = entry.detail(format!(
            "wrong password {n} of {} from a {} address: {whom} until {} (lock {} in a row)",
            policy.failed_signin_limit,
            side.as_str(),
            crate::clock::rfc3339(until),
            locks + 1
        ));
        let effects = vec![Effect::LockForFailures {
            account: account.id,
            side,
            at: now,
            until,
        }];
        self.refuse(effects, entry, Code::AuthenticationFailed.into())
            .await
    }

    /// R6 (issue 27): a mailbox opens only to its own people, at both doors: M-IDs assigned
    /// to its property, or to the organization that owns, manages or services it (or the
    /// coordinators with a BPR with either); a CA's or a service bureau's mailbox to its own
    /// staff. HUD's mailbox has its own rule (`HudMailboxOnly`). Asked once the mailbox
    /// password is known to be right (checked now, or remembered), so that the answer tells
    /// nobody whether a mailbox exists or a guess was wrong; knowing the password is no
    /// longer enough. `accounts.affiliation_required = false` gives iMAX's behaviour.
    pub(super) async fn affiliated(
        &self,
        auth: &Authorized,
        mailbox: &Mailbox,
        r6: Affiliation,
        entry: &AuditEntry,
    ) -> Result<(), Refusal> {
        if !self.inner.config.accounts.affiliation_required || mailbox.imax_id.is_hud() {
            return Ok(());
        }
        let affiliated = match r6 {
            Affiliation::Read(affiliated) => affiliated,
            Affiliation::ToAsk => {
                let orgs = self.inner.store.organizations();
                orgs.affiliated(auth.account.id, mailbox.id).await?
            }
        };
        if affiliated {
            return Ok(());
        }
        metrics::counter!("imax_not_affiliated_total").increment(1);
        let entry = entry.clone().detail(
            "the M-ID is assigned neither to the mailbox's property nor to its organization (R6)",
        );
        Err(self.refuse(vec![], entry, Code::NotAffiliated.into()).await)
    }

    /// Step 3: asks [`access::decide`], persisting any transition time brought about.
    /// With `password_door`, a locked or terminated M-ID (also one that time has just locked
    /// or terminated) is refused as `AuthenticationFailed`, like a wrong password; a browser
    /// session, which proved its password at sign-in, is told the state itself.
    pub(super) async fn decide(
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
                    vec![Effect::SetStatus {
                        account: account.id,
                        status: s,
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
}
