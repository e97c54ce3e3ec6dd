//! A second factor on the browser door (issue 30, item 3): enrolment (begun, then confirmed by
//! a current code, with ten recovery codes shown once), the check of a code after the password
//! at sign-in, and its removal.
//!
//! A code is checked only for someone who gave the M-ID's right password moments before (the
//! browser's half-signed-in session), so wrong codes never lock the M-ID: a stranger, who does
//! not know the password, cannot lock anyone out with them. Each code attempt is counted
//! against the client's throttle before it is checked and given back when right, as a password
//! attempt is (`gateway::throttling`); the browser ends the half-signed-in session after
//! `accounts.two_factor_attempts` wrong codes. A code's time step is accepted once, and no
//! earlier step after it; a recovery code once. The system-to-system door never asks for one.

use super::{busy, sealed, Caller, Gateway};
use crate::audit::{Action, AuditEntry, Door};
use crate::config::SecondFactorGroup;
use crate::directory::password::Secret;
use crate::directory::second_factor::{self, EnteredCode, TotpSecret};
use crate::directory::{Account, AccountKind, MId};
use crate::error::{Code, Refusal};

/// Where a second-factor operation comes from, for its audit record.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    Browser(Caller),
    /// `imax admin --as MID account two-factor …`: the operator's console, for that person.
    CommandLine,
}

/// What a sign-in still needs after the right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorNeed {
    /// Nothing more: no second factor, and none required.
    Nothing,
    /// A code from the enrolled authenticator (or a recovery code).
    Code,
    /// The person's group requires a second factor and it has none: enrol first.
    Enrol,
}

/// An enrolment begun: the secret (shown as text and as a QR code) and its `otpauth://` URI.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: TotpSecret,
    pub uri: String,
}

impl Gateway {
    fn second_factor_entry(&self, mid: &str, action: Action, via: Via) -> AuditEntry {
        match via {
            Via::Browser(caller) => self.audit(mid, action, caller),
            Via::CommandLine => {
                AuditEntry::new(self.inner.clock.now(), mid, action, Door::CommandLine)
            }
        }
    }

    async fn account_named(&self, mid: &str) -> Result<Account, Refusal> {
        let found = match MId::parse(mid) {
            Some(m) => self.inner.store.accounts().load(&m).await?,
            None => None,
        };
        found.ok_or_else(|| Refusal::with_detail(Code::NotFound, format!("No M-ID {mid}.")))
    }

    /// Whether `accounts.two_factor_required` names a group `account` belongs to.
    async fn second_factor_required(&self, account: &Account) -> Result<bool, Refusal> {
        for group in &self.inner.config.accounts.two_factor_required {
            let member = match group {
                SecondFactorGroup::Coordinator => account.kind == AccountKind::Coordinator,
                SecondFactorGroup::User => account.kind == AccountKind::User,
                SecondFactorGroup::Hud => account.affiliation.is_hud(),
                SecondFactorGroup::HelpDesk => {
                    self.inner
                        .store
                        .operators()
                        .is_help_desk(account.id)
                        .await?
                }
            };
            if member {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What a browser sign-in with the right password still needs.
    pub async fn second_factor_need(&self, account: &Account) -> Result<SecondFactorNeed, Refusal> {
        let row = self.inner.store.second_factors().load(account.id).await?;
        Ok(match row {
            Some(r) if r.enrolled => SecondFactorNeed::Code,
            // A passkey is a second factor too (it answers on the code's page).
            _ if self.passkey_count(account).await? > 0 => SecondFactorNeed::Code,
            _ if self.second_factor_required(account).await? => SecondFactorNeed::Enrol,
            _ => SecondFactorNeed::Nothing,
        })
    }

    /// Begins (or begins again) `mid`'s enrolment with a new secret. Refused while a confirmed
    /// second factor exists: it must be disabled first.
    pub async fn begin_enrolment(&self, mid: &str, via: Via) -> Result<Enrolment, Refusal> {
        let account = self.account_named(mid).await?;
        let store = self.inner.store.second_factors();
        if store.load(account.id).await?.is_some_and(|r| r.enrolled) {
            return Err(Refusal::with_detail(
                Code::AlreadyExists,
                "This M-ID has a second factor already; disable it first to enrol another.",
            ));
        }
        let secret = TotpSecret::generate();
        let stored = self.seal(account.id, &secret)?;
        let entry =
            self.second_factor_entry(account.mid.as_str(), Action::SecondFactorEnrolBegun, via);
        store
            .begin(account.id, &stored, self.inner.clock.now(), &entry)
            .await?;
        let uri = secret.uri(account.mid.as_str());
        Ok(Enrolment { secret, uri })
    }

    /// The enrolment `account` has begun and not confirmed, if any (the page shows it again).
    pub async fn pending_enrolment(&self, account: &Account) -> Result<Option<Enrolment>, Refusal> {
        let row = self.inner.store.second_factors().load(account.id).await?;
        let Some(row) = row.filter(|r| !r.enrolled) else {
            return Ok(None);
        };
        let secret = self.secret_of(account.id, &row.stored)?;
        let uri = secret.uri(account.mid.as_str());
        Ok(Some(Enrolment { secret, uri }))
    }

    /// Whether `account` has a confirmed second factor.
    pub async fn has_second_factor(&self, account: &Account) -> Result<bool, Refusal> {
        let row = self.inner.store.second_factors().load(account.id).await?;
        Ok(row.is_some_and(|r| r.enrolled))
    }

    /// Confirms `mid`'s pending enrolment with a current code; the ten recovery codes, to be
    /// shown once (only their argon2id hashes are kept).
    pub async fn confirm_enrolment(
        &self,
        mid: &str,
        code: &str,
        via: Via,
    ) -> Result<Vec<String>, Refusal> {
        let account = self.account_named(mid).await?;
        let row = self.inner.store.second_factors().load(account.id).await?;
        let Some(row) = row.filter(|r| !r.enrolled) else {
            return Err(Refusal::with_detail(
                Code::SecondFactorRequired,
                "No enrolment has been begun for this M-ID (enrol first, then confirm).",
            ));
        };
        let entry =
            self.second_factor_entry(account.mid.as_str(), Action::SecondFactorEnrolled, via);
        let step = match EnteredCode::parse(code) {
            EnteredCode::Totp(c) => self
                .secret_of(account.id, &row.stored)?
                .matching_step(&c, self.unix_now()),
            _ => None,
        };
        let Some(step) = step else {
            let entry = entry.detail("not the current code");
            return Err(self
                .refuse(vec![], entry, Code::SecondFactorFailed.into())
                .await);
        };
        let codes = second_factor::new_recovery_codes();
        let mut hashed = Vec::with_capacity(codes.len());
        for (slot, c) in (0_i64..).zip(&codes) {
            let secret = Secret::new(second_factor::normalized(c));
            match self.inner.hasher.hash(&secret).await {
                Ok(Ok(phc)) => hashed.push((slot, phc)),
                Ok(Err(e)) => return Err(Refusal::internal(format!("hashing: {e}"))),
                Err(_) => return Err(busy()),
            }
        }
        let now = self.inner.clock.now();
        let store = self.inner.store.second_factors();
        if !store
            .confirm(account.id, step, &hashed, now, &entry)
            .await?
        {
            return Err(Code::SecondFactorFailed.into());
        }
        Ok(codes)
    }

    /// Removes `mid`'s second factor (confirmed or pending), its recovery codes and passkeys.
    pub async fn disable_second_factor(&self, mid: &str, via: Via) -> Result<(), Refusal> {
        let account = self.account_named(mid).await?;
        let entry =
            self.second_factor_entry(account.mid.as_str(), Action::SecondFactorDisabled, via);
        let passkeys_entry = entry.clone().detail("passkeys");
        let passkeys = self.inner.store.passkeys();
        let keys = passkeys.remove_all(account.id, &passkeys_entry).await?;
        if self
            .inner
            .store
            .second_factors()
            .remove(account.id, &entry)
            .await?
            || keys > 0
        {
            Ok(())
        } else {
            Err(Refusal::with_detail(
                Code::NotFound,
                "This M-ID has no second factor.",
            ))
        }
    }

    /// The code given after the password at a browser sign-in: a current TOTP code of a step
    /// not used before, or an unused recovery code. Counted against the client's throttle
    /// before it is checked, given back when right; a wrong one is audited within the client's
    /// share, as a wrong password is.
    pub async fn check_second_factor(
        &self,
        caller: Caller,
        account: &Account,
        code: &str,
    ) -> Result<(), Refusal> {
        self.claim_for_client(caller).await?;
        let mid = account.mid.as_str();
        let entry = self.audit(mid, Action::SecondFactor, caller);
        let accepted = match EnteredCode::parse(code) {
            EnteredCode::Totp(c) => self.accept_totp(account, &c, &entry).await?,
            EnteredCode::Recovery { slot, code } => {
                self.accept_recovery(account, slot, code, &entry).await?
            }
            EnteredCode::Malformed => false,
        };
        if accepted {
            self.forgive_client(caller).await;
            metrics::counter!("imax_second_factor_total", "outcome" => "accepted").increment(1);
            // R16: only now is the sign-in one, and the M-ID used.
            return self.complete_sign_in(caller, account, "code").await;
        }
        metrics::counter!("imax_second_factor_total", "outcome" => "refused").increment(1);
        let entry = entry.detail("wrong, used or malformed code");
        Err(self
            .refuse_attempt(caller, mid, entry, Code::SecondFactorFailed.into())
            .await)
    }

    async fn accept_totp(
        &self,
        account: &Account,
        code: &str,
        entry: &AuditEntry,
    ) -> Result<bool, Refusal> {
        let store = self.inner.store.second_factors();
        let Some(row) = store.load(account.id).await?.filter(|r| r.enrolled) else {
            return Ok(false);
        };
        let secret = self.secret_of(account.id, &row.stored)?;
        let Some(step) = secret.matching_step(code, self.unix_now()) else {
            return Ok(false);
        };
        let entry = entry.clone().detail("authenticator code");
        Ok(store.use_step(account.id, step, &entry).await?)
    }

    async fn accept_recovery(
        &self,
        account: &Account,
        slot: i64,
        code: String,
        entry: &AuditEntry,
    ) -> Result<bool, Refusal> {
        let store = self.inner.store.second_factors();
        let secret = Secret::new(code);
        // A spent or unknown slot costs the same argon2 work as a live one.
        let verified = match store.recovery_hash(account.id, slot).await? {
            Some(phc) => self.inner.hasher.verify(&secret, &phc).await,
            None => self.inner.hasher.verify_dummy(&secret).await,
        };
        if !verified.map_err(|_| busy())? {
            return Ok(false);
        }
        let entry = entry
            .clone()
            .detail(format!("recovery code {slot} used (it is spent)"));
        let now = self.inner.clock.now();
        Ok(store.spend_recovery(account.id, slot, now, &entry).await?)
    }

    /// Seals TOTP secrets from now on under a key derived from `key` (the audit key, kept
    /// outside the database); set once, when the gateway is put together.
    pub fn seal_second_factors_with(&self, key: &crate::checkpoint::AuditKey) {
        let _ = self.inner.sealing.set(key.derive(sealed::PURPOSE));
    }

    /// `secret` as stored for `account`: sealed when the gateway has its key.
    fn seal(&self, account: i64, secret: &TotpSecret) -> Result<String, Refusal> {
        match self.inner.sealing.get() {
            Some(key) => sealed::seal(key, account, secret.expose())
                .ok_or_else(|| Refusal::internal("could not seal a second factor's secret")),
            None => Ok(secret.expose().to_string()),
        }
    }

    fn secret_of(&self, account: i64, stored: &str) -> Result<TotpSecret, Refusal> {
        sealed::open(self.inner.sealing.get(), account, stored)
            .map(TotpSecret::from_stored)
            .ok_or_else(|| {
                Refusal::internal(
                    "a second factor's secret does not open under this gateway's audit key (was audit.key changed?)",
                )
            })
    }

    fn unix_now(&self) -> u64 {
        u64::try_from(self.inner.clock.now().unix_timestamp()).unwrap_or(0)
    }
}
