//! Searching the audit chain (issue 30 item 2): HUD's (the Help Desk's and the operator's),
//! by the rule of [`AdminOp::SearchAudit`]. Reading records changes nothing, so a search is
//! not itself recorded; it is counted (`imax_audit_searches_total`).

use super::{invalid, Admin, AdminOp, AdminResult};
use crate::audit::{AuditQuery, Found};
use crate::directory::{ImaxId, MId};

impl Admin {
    /// The records `q` matches in chain order, at most `limit` (itself at most
    /// `audit.search_max_records`). An M-ID or TRACSMail ID is read as the directory writes
    /// it (`m10002` finds `M10002`).
    pub async fn audit_search(&self, q: &AuditQuery, limit: u32) -> AdminResult<Found> {
        self.permit(AdminOp::SearchAudit)?;
        let max = self.config.audit.search_max_records;
        if limit == 0 || limit > max {
            return Err(invalid(format!(
                "the limit is 1 to {max} records (audit.search_max_records)"
            )));
        }
        let mut q = q.clone();
        let blank = |o: &Option<String>| o.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&q.actor) {
            q.actor = None;
        }
        if blank(&q.mailbox) {
            q.mailbox = None;
        }
        if blank(&q.action) {
            q.action = None;
        }
        q.actor = q
            .actor
            .map(|a| MId::parse(&a).map_or(a.trim().to_string(), |m| m.to_string()));
        q.mailbox = q
            .mailbox
            .map(|m| ImaxId::parse(&m).map_or(m.trim().to_string(), |i| i.to_string()));
        q.action = q.action.map(|a| a.trim().to_string());
        if let (Some(since), Some(until)) = (q.since, q.until) {
            if until < since {
                return Err(invalid("the search ends (until) before it begins (since)"));
            }
        }
        metrics::counter!("imax_audit_searches_total").increment(1);
        Ok(self.store.audit_log().search(&q, limit).await?)
    }
}
