//! Step 4: a mailbox's TRACSMail ID and password (R10, R11, R24): counted per (mailbox, M-ID)
//! before each check, freezes for one M-ID and, when several are frozen out at once, for
//! everyone who has not opened it lately; HUD's mailbox only for HUD's own people.

use super::authorize::Affiliation;
use super::{busy, Authorized, Credentials, Gateway, MailboxSession};
use crate::audit::AuditEntry;
use crate::clock::rfc3339;
use crate::directory::{ImaxId, Mailbox};
use crate::error::{Code, Refusal};
use crate::store::mailboxes::Attempt;
use crate::store::Effect;
use time::{Duration, OffsetDateTime};

impl Gateway {
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
        self.open_mailbox_loaded(auth, creds, id, mailbox, Affiliation::ToAsk)
            .await
    }

    /// [`Gateway::open_mailbox`] on a mailbox already read.
    pub(super) async fn open_mailbox_loaded(
        &self,
        auth: Authorized,
        creds: &Credentials,
        id: Option<ImaxId>,
        mailbox: Option<Mailbox>,
        r6: Affiliation,
    ) -> Result<MailboxSession, Refusal> {
        let caller = auth.caller;
        let entry = self
            .audit(auth.account.mid.as_str(), auth.op.action(), caller)
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
                self.affiliated(&auth, m, r6, &entry).await?;
                let m = m.clone();
                return Ok(MailboxSession {
                    auth,
                    mailbox: m,
                    directory_mark: None,
                });
            }
        }
        self.claim_for_client(caller).await?;
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
        self.check_mailbox_password(auth, creds, m, r6, entry).await
    }

    /// The full check of a mailbox's password (no remembered credential applied): counted for
    /// this M-ID before the hash is checked, refused while a freeze holds this M-ID out, and
    /// the freeze when this was its last wrong password allowed.
    async fn check_mailbox_password(
        &self,
        auth: Authorized,
        creds: &Credentials,
        m: Mailbox,
        r6: Affiliation,
        entry: AuditEntry,
    ) -> Result<MailboxSession, Refusal> {
        let (caller, store) = (auth.caller, &self.inner.store);
        let now = self.inner.clock.now();
        let cfg = &self.inner.config.accounts;
        let me = auth.account.id;
        let attempt = store.mailboxes().claim_attempt(m.id, me, now).await?;
        let n = attempt.n;
        let frozen = frozen_out(&attempt, &m, now, cfg.familiar_days);
        let Ok(verified) = self
            .inner
            .hasher
            .verify(&creds.password, &m.password_hash)
            .await
        else {
            // Not checked, so no failure: the attempt is given back.
            if attempt.frozen_until.is_none() {
                store
                    .mailboxes()
                    .attempt_succeeded(m.id, me, 1, None)
                    .await?;
            }
            return Err(busy());
        };
        let limit = cfg.mailbox_failed_limit;
        let code = || Refusal::from(Code::MailboxAuthenticationFailed);
        let refused = |detail: String| entry.clone().detail(detail);
        let principal = m.imax_id.as_str();
        match (verified, frozen) {
            (false, Some((until, whom))) => {
                let detail = format!(
                    "wrong password while frozen {whom} until {}",
                    rfc3339(until)
                );
                Err(self
                    .refuse_attempt(caller, principal, refused(detail), code())
                    .await)
            }
            (true, Some((until, whom))) => {
                let detail = format!(
                    "right password while frozen {whom} until {}: answered as a wrong one",
                    rfc3339(until)
                );
                Err(self.refuse(vec![], refused(detail), code()).await)
            }
            (false, None) if n >= limit => Err(self.freeze(&auth, &m, n, entry.clone()).await),
            (false, None) => {
                let detail = format!("wrong password (attempt {n}, limit {limit})");
                Err(self
                    .refuse_attempt(caller, principal, refused(detail), code())
                    .await)
            }
            (true, None) if n > limit || !m.active => {
                let why = if m.active {
                    "beyond the failure limit"
                } else {
                    "mailbox closed"
                };
                let detail = format!("right password, {why}: answered as a wrong one");
                Err(self.refuse(vec![], refused(detail), code()).await)
            }
            (true, None) => {
                // R6: the right password, and now whether the M-ID is one of its people.
                self.affiliated(&auth, &m, r6, &entry).await?;
                self.opened(auth, creds, m, n, entry).await
            }
        }
    }

    /// `auth`'s wrong password `n`, its last allowed at `m`: the mailbox freezes for that M-ID,
    /// and for everyone who has not opened it lately when `accounts.mailbox_freeze_mids`
    /// M-IDs are frozen out at once (R24).
    async fn freeze(&self, auth: &Authorized, m: &Mailbox, n: u32, entry: AuditEntry) -> Refusal {
        let now = self.inner.clock.now();
        let cfg = &self.inner.config.accounts;
        let limit = cfg.mailbox_failed_limit;
        let me = auth.account.id;
        let until = now + Duration::minutes(cfg.mailbox_freeze_minutes);
        let others = match self
            .inner
            .store
            .mailboxes()
            .frozen_mids(m.id, me, now)
            .await
        {
            Ok(n) => n,
            Err(e) => return e.into(),
        };
        let everyone = others.saturating_add(1) >= cfg.mailbox_freeze_mids;
        let scope = if everyone { "everyone" } else { "m-id" };
        metrics::counter!("imax_mailbox_freezes_total", "scope" => scope).increment(1);
        let mut detail = format!(
            "wrong password {n} of {limit}: mailbox frozen for {} until {}",
            auth.account.mid,
            rfc3339(until)
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
        let code = Code::MailboxAuthenticationFailed.into();
        self.refuse(effects, entry.detail(detail), code).await
    }

    /// The right password for attempt `n`: the M-ID opened the mailbox (its run of failures
    /// forgiven, the mailbox familiar to it from now), unless the mailbox went inactive, which
    /// is told only now, after its right password, so it tells a guesser nothing.
    async fn opened(
        &self,
        auth: Authorized,
        creds: &Credentials,
        m: Mailbox,
        n: u32,
        entry: AuditEntry,
    ) -> Result<MailboxSession, Refusal> {
        let now = self.inner.clock.now();
        let inactive_days = self.inner.config.accounts.mailbox_inactive_days;
        self.inner
            .store
            .mailboxes()
            .attempt_succeeded(m.id, auth.account.id, n, Some(now))
            .await?;
        self.forgive_client(auth.caller).await;
        if let Some(since) = m.inactive_since(now, inactive_days) {
            let detail = format!(
                "right password, mailbox inactive since {} (unused {inactive_days} days)",
                rfc3339(since)
            );
            return Err(self
                .refuse(vec![], entry.detail(detail), Code::MailboxInactive.into())
                .await);
        }
        self.inner.mailboxes_seen.remember(
            m.imax_id.as_str(),
            creds.password.expose(),
            m.auth_epoch,
        );
        Ok(MailboxSession {
            auth,
            mailbox: m,
            directory_mark: None,
        })
    }
}

/// Whether this M-ID is frozen out of `m` now, until when and for whom (R24): its own freeze
/// first; else the mailbox's freeze for everyone, which never holds out its own people (those
/// who opened it within `familiar_days`) so that others' failures cannot lock them out.
fn frozen_out(
    attempt: &Attempt,
    m: &Mailbox,
    now: OffsetDateTime,
    familiar_days: i64,
) -> Option<(OffsetDateTime, &'static str)> {
    let familiar = attempt
        .opened_at
        .is_some_and(|t| now - t < Duration::days(familiar_days));
    match attempt.frozen_until {
        Some(until) => Some((until, "for this M-ID")),
        None => m
            .frozen_until
            .filter(|t| *t > now && !familiar)
            .map(|until| (until, "for everyone")),
    }
}
