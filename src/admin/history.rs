//! Mailbox settings that TRACS checks use (who may send for whom, attachments) and the
//! history purge (R26).

use super::{forbidden, Admin, AdminResult};
use crate::store::BodyStore;
use time::Duration;

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub messages: u64,
    pub bytes: u64,
    pub oldest_kept_days: i64,
}

impl Admin {
    /// Lets `sender`'s iMAX ID stand as Sender's iMAX ID in TRACS files sent from `mailbox`
    /// (a service bureau preparing its clients' files, R11), or stops it. HUD's to decide.
    pub async fn set_mailbox_sender(
        &self,
        mailbox: &str,
        sender: &str,
        allowed: bool,
    ) -> AdminResult<()> {
        self.require_hud()?;
        let m = self.mailbox(&Self::imax_id(mailbox)?).await?;
        let s = self.mailbox(&Self::imax_id(sender)?).await?;
        let audit = self
            .entry("SetMailboxSender")
            .mailbox(m.imax_id.as_str())
            .detail(format!("sender={} allowed={allowed}", s.imax_id));
        self.store
            .mailboxes()
            .set_sender(m.id, s.id, allowed, &audit)
            .await?;
        Ok(())
    }

    /// Whether a mailbox accepts files that are not TRACS files (HUD's TRACS never should).
    pub async fn set_accepts_attachments(&self, mailbox: &str, accepts: bool) -> AdminResult<()> {
        self.require_hud()?;
        let m = self.mailbox(&Self::imax_id(mailbox)?).await?;
        let audit = self
            .entry("SetAcceptsAttachments")
            .mailbox(m.imax_id.as_str())
            .detail(format!("before={} after={accepts}", m.accepts_attachments));
        self.store
            .mailboxes()
            .set_accepts_attachments(m.id, accepts, &audit)
            .await?;
        Ok(())
    }

    /// R26: removes messages older than `history.retention_days`, bodies after rows, in
    /// batches of `history.purge_batch`, each batch one transaction with one audit record
    /// (audit records themselves are kept). `dry_run` only counts.
    pub async fn purge(&self, dry_run: bool) -> AdminResult<PurgeReport> {
        if !matches!(self.actor, super::Actor::Operator | super::Actor::System) {
            return Err(forbidden(
                "only the operator of the installation (or the gateway itself) purges history",
            ));
        }
        let h = &self.config.history;
        let cutoff = self.now() - Duration::days(h.retention_days);
        let store = &self.store;
        let mut report = PurgeReport {
            oldest_kept_days: h.retention_days,
            ..PurgeReport::default()
        };
        if dry_run {
            let (n, bytes) = store.messages().count_before(cutoff).await?;
            report.messages = n;
            report.bytes = bytes;
            return Ok(report);
        }
        loop {
            let audit = self.entry("PurgeHistory");
            let batch = store
                .messages()
                .purge_before(cutoff, h.purge_batch, audit)
                .await?;
            if batch.is_empty() {
                break;
            }
            for (key, size) in &batch {
                // Database bodies went with their rows. Body files go after the commit; one
                // left behind (a crash here) is never shown, and `imax admin check` lists it.
                if let BodyStore::Files(files) = &self.store.bodies {
                    if let Err(e) = files.remove(key) {
                        tracing::warn!(error = %e, "could not remove a purged body");
                    }
                }
                report.messages += 1;
                report.bytes += size;
            }
            tokio::task::yield_now().await;
        }
        Ok(report)
    }
}
