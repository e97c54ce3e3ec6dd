//! The sender: every `notifications.poll_ms` it claims the notices that fell due (with a lease
//! of `notifications.lease_secs`, so that nodes on one database share the work without sending
//! a notice twice), mails them one mail per subscriber and kind (arrivals as one digest, or one
//! mail each when `digest_minutes` is 0), and settles them; a failed mail is tried again after
//! a doubling wait, and given up after `max_attempts`. Time is the gateway's clock.
//!
//! A notice is marked sent after the relay took its mail: a node that dies between the two
//! leaves it leased, and another sends it again once the lease runs out (at least once; the
//! window is one SMTP exchange). So that such a second copy is recognisably the same mail,
//! each mail is composed and recorded, with its own random Message-ID and its Date, before
//! its first try (`store::notices::ComposedMail`): every later try sends that very mail (the
//! same notices, recipient, Message-ID, Date and text), and mail software drops the copy.
//! Notices that fall due meanwhile go into the next mail.

use super::compose;
use crate::directory::AccountStatus;
use crate::gateway::Gateway;
use crate::store::notices::{Claimed, ComposedMail, NoticeKind, Outcome, Windows};
use crate::store::StoreError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Notices claimed in one round, at most.
const CLAIM_LIMIT: u32 = 500;

/// Runs the sender until the task is aborted.
pub async fn send_notices(gw: Gateway) {
    let every = Duration::from_millis(gw.config().notifications.poll_ms);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A name per round: what an earlier round still holds (its settling failed) is left
        // until its lease runs out, as another node's would be.
        let owner = lease_owner();
        if let Err(e) = gw.send_due_notices(&owner).await {
            tracing::warn!(error = %e, "the notices' sender could not read its queue");
        }
    }
}

/// A round's name on the leases it takes: random, so no two rounds or nodes share one.
fn lease_owner() -> String {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        b = std::process::id()
            .to_be_bytes()
            .repeat(2)
            .try_into()
            .unwrap_or([7; 8]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Gateway {
    fn lease(&self) -> time::Duration {
        let lease = self.inner.config.notifications.lease_secs;
        time::Duration::seconds(i64::try_from(lease).unwrap_or(300))
    }

    /// The settings' windows, in seconds.
    fn notice_windows(&self) -> Windows {
        let n = &self.inner.config.notifications;
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX / 4);
        Windows {
            arrival: secs(n.digest_minutes.saturating_mul(60)),
            not_retrieved: secs(n.not_retrieved_minutes.saturating_mul(60)),
            not_answered: secs(n.not_answered_days.saturating_mul(86_400)),
            digest: n.digest_minutes > 0,
        }
    }

    /// One round: claims what fell due, mails it, settles it; the queue's gauges.
    pub async fn send_due_notices(&self, owner: &str) -> Result<(), StoreError> {
        let now = self.inner.clock.now();
        let w = self.notice_windows();
        let until = now + self.lease();
        let notices = self.inner.store.notices();
        let claimed = notices.claim(owner, now, w, until, CLAIM_LIMIT).await?;
        for group in groups(&claimed, w.digest) {
            self.send_group(owner, &group).await?;
        }
        let (all, due) = notices.depth(now, w).await?;
        metrics::gauge!("imax_notifications_queue_depth").set(all as f64);
        metrics::gauge!("imax_notifications_due").set(due as f64);
        Ok(())
    }

    /// One mail's notices (one subscriber's, of one kind): a mail composed before is sent
    /// again as it is; otherwise those no longer owed are settled as moot, the rest composed
    /// into a mail, recorded, and mailed.
    async fn send_group(&self, owner: &str, group: &[&Claimed]) -> Result<(), StoreError> {
        let notices = self.inner.store.notices();
        let now = self.inner.clock.now();
        let Some(first) = group.first() else {
            return Ok(());
        };
        if let Some(mail_id) = first.mail_id {
            return self.send_composed(owner, mail_id, group).await;
        }
        let kind = first.kind;
        let (mut owed, mut moot, mut withdrawn) = (Vec::new(), Vec::new(), Vec::new());
        let mut opens = std::collections::HashMap::new();
        for &c in group {
            if !c.subscribed || !self.still_opens(c, &mut opens).await? {
                withdrawn.push(c);
            } else if self.still_owed(c) {
                owed.push(c);
            } else {
                moot.push(c);
            }
        }
        for (ended, outcome) in [(&moot, Outcome::Moot), (&withdrawn, Outcome::Withdrawn)] {
            if !ended.is_empty() {
                notices.settle(owner, &ids(ended), now, outcome).await?;
            }
        }
        if owed.is_empty() {
            return Ok(());
        }
        if first.email.trim().is_empty() {
            return notices
                .settle(owner, &ids(&owed), now, Outcome::NoAddress)
                .await;
        }
        // The lease is renewed just before the mail goes (it must outlast the relay's
        // timeout, which the settings check): a notice the round held too long and another
        // node took meanwhile is left to that node.
        let until = now + self.lease();
        if !notices.renew(owner, &ids(&owed), now, until).await? {
            return Ok(());
        }
        let text = compose::mail(kind, &owed, &self.public_base());
        let mail = ComposedMail {
            message_id: compose::message_id(&self.inner.config.smtp.from),
            recipient: first.email.clone(),
            subject: text.subject,
            body: text.body,
            composed_at: now,
        };
        // Recorded before the first try: from here on, these notices are this mail.
        let owed_ids = ids(&owed);
        let composed = notices.compose(owner, first.account_id, kind, &owed_ids, &mail);
        if composed.await?.is_none() {
            return Ok(());
        }
        self.try_mail(owner, &owed, kind, &mail).await
    }

    /// A mail composed before (its try failed, or its node died before settling): sent again
    /// as it is, the same Message-ID, Date and text. Not when a notice in it was withdrawn
    /// (R6: the person may no longer hear of that mailbox): that one is settled, the others
    /// composed anew. A round holding only part of the mail leaves it (the leases run out).
    async fn send_composed(
        &self,
        owner: &str,
        mail_id: i64,
        group: &[&Claimed],
    ) -> Result<(), StoreError> {
        let notices = self.inner.store.notices();
        let now = self.inner.clock.now();
        let Some((mail, size)) = notices.composed(mail_id).await? else {
            return Ok(());
        };
        if group.len() != size {
            return Ok(());
        }
        let mut withdrawn = Vec::new();
        let mut opens = std::collections::HashMap::new();
        for &c in group {
            if !c.subscribed || !self.still_opens(c, &mut opens).await? {
                withdrawn.push(c);
            }
        }
        if !withdrawn.is_empty() {
            notices
                .settle(owner, &ids(&withdrawn), now, Outcome::Withdrawn)
                .await?;
            return notices.recompose(owner, mail_id).await;
        }
        let until = now + self.lease();
        if !notices.renew(owner, &ids(group), now, until).await? {
            return Ok(());
        }
        let kind = group.first().map_or(NoticeKind::Arrival, |c| c.kind);
        self.try_mail(owner, group, kind, &mail).await
    }

    /// One try of a composed mail: settled as sent when the relay took it.
    async fn try_mail(
        &self,
        owner: &str,
        owed: &[&Claimed],
        kind: NoticeKind,
        mail: &ComposedMail,
    ) -> Result<(), StoreError> {
        let msg = crate::mail::Message {
            to: &mail.recipient,
            subject: &mail.subject,
            body: &mail.body,
            identity: Some(crate::mail::Identity {
                message_id: &mail.message_id,
                date: mail.composed_at.into(),
            }),
        };
        match crate::mail::send(&self.inner.config.smtp, &msg).await {
            Ok(()) => {
                metrics::counter!("imax_notifications_sent_total", "kind" => kind.as_str())
                    .increment(1);
                let now = self.inner.clock.now();
                let notices = self.inner.store.notices();
                notices.settle(owner, &ids(owed), now, Outcome::Sent).await
            }
            Err(e) => self.failed(owner, owed, kind, &e).await,
        }
    }

    /// A mail the relay did not take: tried again after the backoff, or given up.
    async fn failed(
        &self,
        owner: &str,
        owed: &[&Claimed],
        kind: NoticeKind,
        e: &crate::mail::MailError,
    ) -> Result<(), StoreError> {
        let cfg = &self.inner.config.notifications;
        let notices = self.inner.store.notices();
        let now = self.inner.clock.now();
        let attempts = owed.iter().map(|c| c.attempts).max().unwrap_or(0) + 1;
        metrics::counter!("imax_notifications_failed_total", "kind" => kind.as_str()).increment(1);
        // The subscriber's M-ID, never their address (logs carry no personal data beyond it).
        let mid = owed.first().map_or("", |c| c.mid.as_str());
        tracing::warn!(error = %e, mid, kind = kind.as_str(), attempts, "a notice could not be mailed");
        if attempts >= cfg.max_attempts {
            return notices
                .settle(owner, &ids(owed), now, Outcome::GaveUp)
                .await;
        }
        let wait = i64::try_from(cfg.backoff_secs(attempts)).unwrap_or(3600);
        let next = now + time::Duration::seconds(wait);
        notices.retry_later(owner, &ids(owed), next).await
    }

    /// Whether the mailbox subscribed to still opens to the subscriber (R6, the doors'
    /// decision): a person unassigned (or terminated) since hears no more of it. Asked once
    /// per mailbox.
    async fn still_opens(
        &self,
        c: &Claimed,
        known: &mut std::collections::HashMap<i64, bool>,
    ) -> Result<bool, StoreError> {
        if let Some(&opens) = known.get(&c.mailbox_id) {
            return Ok(opens);
        }
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let imax_id = match c.kind {
            NoticeKind::Arrival => &c.to_mailbox,
            // The ledger's: the mailbox that sent (or should have sent) what is missing.
            NoticeKind::NotRetrieved | NoticeKind::NotAnswered | NoticeKind::LedgerMissing => {
                &c.from_mailbox
            }
        };
        let account = match crate::directory::MId::parse(&c.mid) {
            Some(mid) => store.accounts().load(&mid).await?,
            None => None,
        };
        let opens = match (account, crate::directory::ImaxId::parse(imax_id)) {
            // A terminated M-ID (R16) hears of nothing any more.
            (Some(a), _) if a.status_at(now) == AccountStatus::Terminated => false,
            (Some(a), Some(id)) => {
                let affiliated = store.organizations().affiliated(a.id, c.mailbox_id).await?;
                crate::access::opens_to(&a, &id, affiliated).is_ok()
            }
            _ => false,
        };
        known.insert(c.mailbox_id, opens);
        Ok(opens)
    }

    /// Whether a claimed notice is still owed: a reminder is not once its message was
    /// retrieved (or answered), nor while its kind is turned off (window 0).
    fn still_owed(&self, c: &Claimed) -> bool {
        let n = &self.inner.config.notifications;
        match c.kind {
            NoticeKind::Arrival => true,
            NoticeKind::NotRetrieved => n.not_retrieved_minutes > 0 && !c.retrieved,
            NoticeKind::NotAnswered => n.not_answered_days > 0 && !c.answered,
            // Missing when the ledger's watch found it: told once, as found.
            NoticeKind::LedgerMissing => true,
        }
    }

    /// Where the pages are, for the mails' links: `public_url`, or the listening address.
    fn public_base(&self) -> String {
        let config = &self.inner.config;
        if !config.public_url.is_empty() {
            return config.public_url.trim_end_matches('/').to_string();
        }
        let listen = config.listen;
        if listen.ip().is_loopback() || listen.ip().is_unspecified() {
            format!("https://localhost:{}", listen.port())
        } else {
            format!("https://{listen}")
        }
    }
}

/// The claimed notices as mails: those composed before, their mail each; the others one per
/// subscriber and kind, except arrivals without a digest, one mail each.
fn groups(claimed: &[Claimed], digest: bool) -> Vec<Vec<&Claimed>> {
    let mut by: BTreeMap<(String, NoticeKind, i64, i64), Vec<&Claimed>> = BTreeMap::new();
    for c in claimed {
        let single = c.kind == NoticeKind::Arrival && !digest && c.mail_id.is_none();
        let key = (
            c.mid.clone(),
            c.kind,
            c.mail_id.unwrap_or(0),
            if single { c.id } else { 0 },
        );
        by.entry(key).or_default().push(c);
    }
    by.into_values().collect()
}

fn ids(notices: &[&Claimed]) -> Vec<i64> {
    notices.iter().map(|c| c.id).collect()
}
