//! Passkeys (WebAuthn, through `webauthn-rs`) as a second factor on the browser door (issue
//! 30, item 3), beside the authenticator app's codes.
//!
//! The relying party is the gateway as people reach it: its id is the host of `public_url`,
//! its origin `public_url` itself, so a passkey answers only pages served from there (a
//! look-alike site gets nothing it can replay). Without a `public_url` whose host is a domain
//! name (browsers refuse IP addresses as relying parties) passkeys are not offered.
//!
//! A ceremony's challenge and expectations are kept in the browser session's row and taken
//! once by the answer. An assertion at sign-in is counted against the client's throttle before
//! it is checked and given back when right, and a wrong one is audited and counted like a wrong
//! code (`gateway::second_factor`): the same `accounts.two_factor_attempts` end the session.

use super::{Caller, Gateway};
use crate::audit::Action;
use crate::directory::Account;
use crate::error::{Code, Refusal};
use crate::store::passkeys::PasskeyRow;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// A ceremony begun: the options the browser's `navigator.credentials` call takes (JSON), and
/// the state the answer is checked against (kept in the session, never sent).
#[derive(Debug)]
pub struct Ceremony {
    pub options: serde_json::Value,
    pub state: String,
}

impl Ceremony {
    /// The browser's options and the ceremony's state to keep, both as JSON.
    fn of(
        options: impl serde::Serialize,
        state: &impl serde::Serialize,
    ) -> Result<Ceremony, Refusal> {
        Ok(Ceremony {
            options: serde_json::to_value(options).map_err(internal)?,
            state: serde_json::to_string(state).map_err(internal)?,
        })
    }
}

fn failed(why: &str) -> Refusal {
    Refusal::with_detail(
        Code::SecondFactorFailed,
        format!("The passkey was not accepted: {why}."),
    )
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    Refusal::internal(format!("passkey: {e}"))
}

/// The stable user handle an account's passkeys carry: its row id, nothing secret or named.
fn user_handle(account: &Account) -> Uuid {
    Uuid::from_u64_pair(0, u64::try_from(account.id).unwrap_or(0))
}

fn credential_key(passkey: &Passkey) -> Result<String, Refusal> {
    match serde_json::to_value(passkey.cred_id()).map_err(internal)? {
        serde_json::Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

impl Gateway {
    /// The relying party, when `public_url` names a domain (see the module's comment).
    fn relying_party(&self) -> Option<Webauthn> {
        let origin = Url::parse(&self.inner.config.public_url).ok()?;
        let id = origin.domain()?.to_string();
        WebauthnBuilder::new(&id, &origin)
            .ok()?
            .rp_name("HUD Secure Systems")
            .build()
            .ok()
    }

    /// Whether this gateway offers passkeys at all (a `public_url` with a domain name).
    pub fn passkeys_offered(&self) -> bool {
        self.relying_party().is_some()
    }

    fn rp(&self) -> Result<Webauthn, Refusal> {
        self.relying_party().ok_or_else(|| {
            Refusal::with_detail(
                Code::Unavailable,
                "Passkeys need the gateway's public_url to name it by a domain name.",
            )
        })
    }

    async fn passkeys_of(&self, account: &Account) -> Result<Vec<(PasskeyRow, Passkey)>, Refusal> {
        let rows = self.inner.store.passkeys().of(account.id).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let key: Passkey = serde_json::from_str(&row.passkey).map_err(internal)?;
            keys.push((row, key));
        }
        Ok(keys)
    }

    /// How many passkeys `account` has registered.
    pub async fn passkey_count(&self, account: &Account) -> Result<usize, Refusal> {
        Ok(self.inner.store.passkeys().of(account.id).await?.len())
    }

    /// Begins registering a new passkey for `account` (its registered ones excluded).
    pub async fn begin_passkey_registration(&self, account: &Account) -> Result<Ceremony, Refusal> {
        let rp = self.rp()?;
        let known = self.passkeys_of(account).await?;
        let exclude = known.iter().map(|(_, k)| k.cred_id().clone()).collect();
        let mid = account.mid.as_str();
        let (options, state) = rp
            .start_passkey_registration(user_handle(account), mid, mid, Some(exclude))
            .map_err(internal)?;
        Ceremony::of(options, &state)
    }

    /// Registers the passkey the browser made (`credential`, JSON) against the ceremony's
    /// `state`; audited as `PasskeyRegistered`, refused ones too.
    pub async fn finish_passkey_registration(
        &self,
        caller: Caller,
        account: &Account,
        credential: &str,
        state: Option<&str>,
    ) -> Result<(), Refusal> {
        let rp = self.rp()?;
        let entry = self.audit(account.mid.as_str(), Action::PasskeyRegistered, caller);
        let made = (|| {
            let state: PasskeyRegistration = serde_json::from_str(state?).ok()?;
            let answer: RegisterPublicKeyCredential = serde_json::from_str(credential).ok()?;
            rp.finish_passkey_registration(&answer, &state).ok()
        })();
        let Some(passkey) = made else {
            let entry = entry.detail("no registration begun, or the answer did not verify");
            let refusal = failed("the browser's answer did not verify");
            return Err(self.refuse(vec![], entry, refusal).await);
        };
        let row = PasskeyRow {
            credential_id: credential_key(&passkey)?,
            passkey: serde_json::to_string(&passkey).map_err(internal)?,
        };
        let now = self.inner.clock.now();
        let store = self.inner.store.passkeys();
        match store.add(account.id, &row, now, &entry).await? {
            true => Ok(()),
            false => Err(Refusal::with_detail(
                Code::AlreadyExists,
                "This passkey is registered already.",
            )),
        }
    }

    /// Begins a sign-in's assertion with `account`'s passkeys.
    pub async fn begin_passkey_sign_in(&self, account: &Account) -> Result<Ceremony, Refusal> {
        let rp = self.rp()?;
        let keys: Vec<Passkey> = self
            .passkeys_of(account)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        if keys.is_empty() {
            return Err(Refusal::with_detail(
                Code::NotFound,
                "This M-ID has no passkey.",
            ));
        }
        let (options, state) = rp.start_passkey_authentication(&keys).map_err(internal)?;
        Ceremony::of(options, &state)
    }

    /// The passkey's answer after the password at a browser sign-in (`credential`, JSON),
    /// checked against the ceremony's `state`: throttled, counted and audited as a code is.
    pub async fn check_passkey(
        &self,
        caller: Caller,
        account: &Account,
        credential: &str,
        state: Option<&str>,
    ) -> Result<(), Refusal> {
        self.claim_for_client(caller).await?;
        let mid = account.mid.as_str();
        let entry = self.audit(mid, Action::SecondFactor, caller);
        if self
            .accept_passkey(account, credential, state, &entry)
            .await?
        {
            self.forgive_client(caller).await;
            metrics::counter!("imax_second_factor_total", "outcome" => "accepted").increment(1);
            // R16: only now is the sign-in one, and the M-ID used.
            return self.complete_sign_in(caller, account, "passkey").await;
        }
        metrics::counter!("imax_second_factor_total", "outcome" => "refused").increment(1);
        let entry = entry.detail("passkey: no assertion begun, or it did not verify");
        Err(self
            .refuse_attempt(
                caller,
                mid,
                entry,
                failed("the browser's answer did not verify"),
            )
            .await)
    }

    async fn accept_passkey(
        &self,
        account: &Account,
        credential: &str,
        state: Option<&str>,
        entry: &crate::audit::AuditEntry,
    ) -> Result<bool, Refusal> {
        let rp = self.rp()?;
        let verified = (|| {
            let state: PasskeyAuthentication = serde_json::from_str(state?).ok()?;
            let answer: PublicKeyCredential = serde_json::from_str(credential).ok()?;
            rp.finish_passkey_authentication(&answer, &state).ok()
        })();
        let Some(result) = verified else {
            return Ok(false);
        };
        let keys = self.passkeys_of(account).await?;
        let Some((mut row, mut key)) = keys
            .into_iter()
            .find(|(_, k)| k.cred_id() == result.cred_id())
        else {
            return Ok(false);
        };
        key.update_credential(&result);
        row.passkey = serde_json::to_string(&key).map_err(internal)?;
        let entry = entry.clone().detail("passkey");
        let now = self.inner.clock.now();
        let store = self.inner.store.passkeys();
        Ok(store
            .used(account.id, &row, result.counter(), now, &entry)
            .await?)
    }
}
