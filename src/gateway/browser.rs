//! The browser door's own steps (R10): sign in, accept the Rules of Behavior, open iMAX, and
//! come back on later requests with a session instead of a password.
//!
//! A browser sends its password once. Later requests carry a session, and
//! [`Gateway::resume`] rebuilds the caller from the account *as it is now*, through the same
//! [`access::decide`] as every other request: a lock, an expired password or a removed role
//! take effect on the very next click. A session remembers the account's and the mailbox's
//! `auth_epoch`; a password change, lock or rights change anywhere ends it.

use super::second_factor::SecondFactorNeed;
use super::{Authorized, Caller, Credentials, Gateway, MailboxSession};
use crate::access::Operation;
use crate::audit::Action;
use crate::directory::{Account, ImaxId, MId, Mailbox, MessageId};
use crate::error::{Code, Refusal};
use crate::mailbox::MessageInfo;
use crate::store::Effect;

impl Authorized {
    /// The operation this authorization was granted for.
    pub fn operation(&self) -> Operation {
        self.op
    }
}

impl Gateway {
    /// R10, first step: the M-ID and password. Succeeds for an expired password too (R15), so
    /// that the person can reach the password change; everything else is decided per page.
    /// Also says what the sign-in still needs: when a second factor is owed (enrolled, or
    /// required and to be enrolled), the password alone is no sign-in and no use of the M-ID
    /// (R16): only the accepted code, passkey or enrolment completes it
    /// ([`Gateway::complete_sign_in`]), so a stolen password cannot keep an M-ID alive.
    #[tracing::instrument(name = "sign_in", skip_all)]
    pub async fn sign_in(
        &self,
        caller: Caller,
        creds: &Credentials,
    ) -> Result<(Authorized, SecondFactorNeed), Refusal> {
        let auth = self.authorize(caller, creds, Operation::SignIn).await?;
        let need = self.second_factor_need(&auth.account).await?;
        if need == SecondFactorNeed::Nothing {
            self.complete_sign_in(caller, &auth.account, "password")
                .await?;
        } else {
            // R16: audited, but not recorded as a sign-in (`last_signin_at` stays).
            let entry = self
                .audit(auth.account.mid.as_str(), Action::SignIn, caller)
                .detail("right password; the second factor is still owed (R16: no use yet)");
            self.commit(vec![], entry).await?;
        }
        Ok((auth, need))
    }

    /// A browser sign-in is complete (R10, R16): the M-ID was used now. After the password
    /// alone when no second factor is owed; otherwise after the accepted code or passkey
    /// (`check_second_factor`, `check_passkey`) or the enrolment a required group must make
    /// first. `how` says which, for the audit record.
    pub async fn complete_sign_in(
        &self,
        caller: Caller,
        account: &Account,
        how: &str,
    ) -> Result<(), Refusal> {
        let effects = vec![Effect::RecordSignIn {
            account: account.id,
            at: self.inner.clock.now(),
        }];
        let entry = self
            .audit(account.mid.as_str(), Action::SignIn, caller)
            .detail(format!("signed in ({how})"));
        self.commit(effects, entry).await
    }

    /// A later request of a signed-in person: the account is read afresh and decided on for
    /// `op`. `auth_epoch` is the one the session began with.
    #[tracing::instrument(name = "resume", skip_all, fields(op = op.as_str()))]
    pub async fn resume(
        &self,
        caller: Caller,
        mid: &str,
        auth_epoch: i64,
        op: Operation,
    ) -> Result<Authorized, Refusal> {
        let account: Option<Account> = match MId::parse(mid) {
            Some(m) => self.inner.store.accounts().load(&m).await?,
            None => None,
        };
        let Some(account) = account.filter(|a| a.auth_epoch == auth_epoch) else {
            return Err(Code::SessionEnded.into());
        };
        let entry = self.audit(account.mid.as_str(), op.action(), caller);
        self.decide(account, caller, op, entry, false).await
    }

    /// R10, R13: opening iMAX counts as use of iMAX.
    pub async fn open_imax(&self, auth: &Authorized) -> Result<(), Refusal> {
        if auth.op != Operation::OpenImax {
            return Err(Refusal::internal("open_imax without its authorization"));
        }
        let effects = vec![Effect::RecordActivity {
            account: auth.account.id,
            at: self.inner.clock.now(),
        }];
        let entry = self.audit(auth.account.mid.as_str(), Action::OpenImax, auth.caller);
        self.commit(effects, entry).await
    }

    /// R21: the person accepts this year's Rules of Behavior.
    pub async fn accept_rules(&self, auth: &Authorized) -> Result<(), Refusal> {
        if auth.op != Operation::AcceptRules {
            return Err(Refusal::internal("accept_rules without its authorization"));
        }
        let entry = self.audit(auth.account.mid.as_str(), Action::AcceptRules, auth.caller);
        let now = self.inner.clock.now();
        self.inner
            .store
            .accounts()
            .accept_rules_of_behavior(auth.account.id, now, &entry)
            .await?;
        Ok(())
    }

    /// The mailbox a session opened earlier with its password: still active, and its password
    /// unchanged since (`auth_epoch`).
    pub async fn resume_mailbox(
        &self,
        auth: Authorized,
        mailbox_id: i64,
        auth_epoch: i64,
    ) -> Result<MailboxSession, Refusal> {
        match self.inner.store.mailboxes().load_by_id(mailbox_id).await? {
            Some(m) if m.active && m.auth_epoch == auth_epoch => Ok(MailboxSession {
                auth,
                mailbox: m,
                directory_mark: None,
            }),
            _ => Err(Refusal::with_detail(
                Code::SessionEnded,
                "The mailbox's password changed or it was closed; open it again.",
            )),
        }
    }

    /// The address book of the upload page: HUD (TRACS) and every Contract Administrator, and
    /// the one to preselect, the administrator of the contract of the mailbox's property
    /// (R12) when there is exactly one.
    pub async fn address_book(
        &self,
        s: &MailboxSession,
    ) -> Result<(Vec<Mailbox>, Option<ImaxId>), Refusal> {
        let store = &self.inner.store;
        let all = store.mailboxes().administrators().await?;
        let mine = store.mailboxes().administrators_for(s.mailbox.id).await?;
        let preselect = match mine.as_slice() {
            [one] => Some(one.imax_id.clone()),
            _ => None,
        };
        let all = all.into_iter().filter(|m| m.id != s.mailbox.id).collect();
        Ok((all, preselect))
    }

    /// A message's metadata, as the message page shows it (a listing: nothing is marked).
    pub async fn message_info(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<MessageInfo, Refusal> {
        Self::expect_op(s, Operation::ListMessages)?;
        self.find(s, message_id).await
    }

    /// The replies to a message this mailbox sent or received (at most 100, oldest first).
    pub async fn replies(
        &self,
        s: &MailboxSession,
        message_id: &MessageId,
    ) -> Result<Vec<MessageInfo>, Refusal> {
        Self::expect_op(s, Operation::ListMessages)?;
        let messages = self.inner.store.messages();
        Ok(messages.replies(s.mailbox.id, message_id, 100).await?)
    }

    /// Before this time, a sent file still without an answer is overdue
    /// (`tracs.answer_expected_hours`; `None` when the setting is 0).
    pub fn answer_overdue_before(&self) -> Option<time::OffsetDateTime> {
        let hours = self.inner.config.tracs.answer_expected_hours;
        (hours > 0).then(|| self.inner.clock.now() - time::Duration::hours(hours))
    }

    /// Received messages not yet retrieved: (from TRACS, from others).
    pub async fn unread_counts(&self, s: &MailboxSession) -> Result<(i64, i64), Refusal> {
        Self::expect_op(s, Operation::ListMessages)?;
        Ok(self
            .inner
            .store
            .messages()
            .unread_counts(s.mailbox.id)
            .await?)
    }
}
