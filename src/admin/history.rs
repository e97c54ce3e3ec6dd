//! What HUD posts to every mailbox (broadcasts) and the history purge (R26).

use super::{invalid, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::store::messages::Cutoffs;
use time::Duration;

/// Whether a purge removes what it finds or only counts it (`imax admin purge --dry-run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    Remove,
    DryRun,
}

impl Purge {
    /// `--dry-run` given or not.
    pub fn dry_run(dry_run: bool) -> Purge {
        if dry_run {
            Purge::DryRun
        } else {
            Purge::Remove
        }
    }
}

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub messages: u64,
    pub bytes: u64,
    pub oldest_kept_days: i64,
}

impl Admin {
    /// R26: removes messages older than `history.retention_days` (the sandbox's older than
    /// `sandbox.retention_days`, issue 31), bodies after rows, in
    /// batches of `history.purge_batch`, each batch one transaction with one audit record
    /// (audit records themselves are kept). [`Purge::DryRun`] only counts.
    pub async fn purge(&self, how: Purge) -> AdminResult<PurgeReport> {
        self.permit(AdminOp::PurgeHistory)?;
        let h = &self.config.history;
        let cutoff = Cutoffs {
            history: self.now() - Duration::days(h.retention_days),
            // Issue 31: the sandbox's files go sooner.
            sandbox: self.now() - Duration::days(self.config.sandbox.retention_days),
        };
        let store = &self.store;
        let mut report = PurgeReport {
            oldest_kept_days: h.retention_days,
            ..PurgeReport::default()
        };
        if how == Purge::DryRun {
            let (n, bytes) = store.messages().count_before(cutoff).await?;
            report.messages = n;
            report.bytes = bytes;
            return Ok(report);
        }
        loop {
            let audit = self.entry(Action::PurgeHistory);
            let batch = store
                .messages()
                .purge_before(cutoff, h.purge_batch, audit)
                .await?;
            if batch.is_empty() {
                break;
            }
            for (key, size) in &batch {
                if let Err(e) = self.store.bodies.remove_purged(key).await {
                    tracing::warn!(error = %e, "could not remove a purged body");
                }
                report.messages += 1;
                report.bytes += size;
            }
            tokio::task::yield_now().await;
        }
        Ok(report)
    }

    pub async fn post_broadcast(&self, title: &str, body: &str) -> AdminResult<i64> {
        self.permit(AdminOp::PostBroadcast)?;
        if title.trim().is_empty() || title.len() > 200 || body.len() > 64 * 1024 {
            return Err(invalid(
                "a broadcast has a title of 1 to 200 characters and at most 64 KiB of text",
            ));
        }
        let audit = self.entry(Action::PostBroadcast).detail(title.to_string());
        Ok(self
            .store
            .messages()
            .post_broadcast(title, body, &self.actor.name(), self.now(), &audit)
            .await?)
    }
}
