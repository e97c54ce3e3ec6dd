//! Passwords: an M-ID's own change (R15), a mailbox holder's change of its TRACSMail password
//! (R23), and hashing new ones on the bounded hashing threads.

use super::{busy, Authorized, Credentials, Gateway, MailboxSession};
use crate::access::Operation;
use crate::audit::Action;
use crate::directory::password::{PasswordRules, Secret};
use crate::directory::ImaxId;
use crate::error::{Code, Refusal};
use crate::store::profiles::Profile;

impl Gateway {
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
        let entry = self.audit(account.mid.as_str(), Action::ChangePassword, auth.caller);
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
                Action::ChangeMailboxPassword,
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
    pub(super) async fn hash_password(&self, secret: &Secret) -> Result<String, Refusal> {
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
