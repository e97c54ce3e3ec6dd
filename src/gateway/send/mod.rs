//! Sending a file (R12): the body came through the pump (`receive.rs`) while the TRACS
//! checker read it; then the file is judged without I/O ([`plan`]: valid TRACS, or an
//! attachment), its destination read from the directory ([`route`]: the sender's choice,
//! checked against the directory's administrator for the header's project; duplicates
//! refused), and the message committed ([`commit`]).

mod commit;
mod plan;
mod route;
mod sandbox;

use super::{Gateway, MailboxSession, Upload};
use crate::access::Operation;
use crate::directory::ImaxId;
use crate::error::Refusal;
use crate::mailbox::{self, Receipt};
use crate::store::{FileContext, NewMessage, StagedBody};
use commit::Commit;
use plan::SendPlan;

/// What the sender asks for, besides the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendRequest<'a> {
    /// `TRACS`, an iMAX ID, or nothing (the directory chooses).
    pub to: Option<&'a str>,
    pub file_name: &'a str,
    /// The SHA-256 the client computed, to be checked.
    pub expected_sha256: Option<&'a str>,
    /// A deliberate resend: not refused as a duplicate.
    pub resend: bool,
    /// The message (received by the sending mailbox) this file answers: it goes back to that
    /// message's sender, tied to it.
    pub in_reply_to: Option<&'a str>,
}

/// Who a format-error reply is sent by (no person: the gateway's own format edits).
pub const REPLY_SENDER: &str = "TRACS format edits";

/// A reply from TRACS (the format-error reply, or in the sandbox a simulated answer), staged,
/// waiting to be committed with the file it answers.
struct PendingReply {
    reply: NewMessage,
    body: StagedBody,
    /// The problems a format-error reply names (0: a simulated answer).
    problems: u64,
}

/// A property's TRACS file's context, read in one statement once the body is in
/// ([`Store::file_context`](crate::store::Store::file_context)): the header's project (`None`
/// when no such mailbox exists) and what the duplicate check needs. Routing and the duplicate
/// check use it instead of reading again.
struct Known {
    project: ImaxId,
    context: Option<FileContext>,
    /// The transmission key it looked for (none: a deliberate resend).
    key: Option<String>,
}

impl Gateway {
    /// Stores a received file and returns its receipt. The body is durable before the row is
    /// committed, and the row before the receipt is returned.
    #[tracing::instrument(name = "send_file", skip_all, fields(bytes = upload.size()))]
    pub async fn send_file(
        &self,
        s: &MailboxSession,
        req: SendRequest<'_>,
        upload: Upload,
    ) -> Result<Receipt, Refusal> {
        Self::expect_op(s, Operation::SendFile)?;
        let entry = self.session_audit(s);
        let refuse = |r: Refusal| self.refuse(vec![], entry.clone().detail(req.file_name), r);
        let Upload { body, scan, virus } = upload;
        // Issue 30: only a clean verdict lets the file commit; nothing is stored otherwise.
        if let Err(r) = self.virus_verdict(virus, body.size()).await {
            let why = r.detail().unwrap_or(r.code.as_str()).to_string();
            let entry = entry.clone().detail(format!("{}: {why}", req.file_name));
            return Err(self.refuse(vec![], entry, r).await);
        }
        let planned = SendPlan::new(&req, body.size(), body.sha256_hex(), scan.finish());
        let plan = match planned {
            Ok(p) => p,
            Err(r) => return Err(refuse(r).await),
        };
        let to = match self.destination(s, &plan).await {
            Ok(d) => d,
            Err(r) => return Err(refuse(r).await),
        };
        let now = self.inner.clock.now();
        let message_id = mailbox::new_message_id(now).map_err(Refusal::internal)?;
        let replies = self
            .tracs_replies(s, &plan.report, &plan.name, &message_id, now)
            .await?;
        let refused = entry.clone().detail(req.file_name);
        let entry = entry
            .message(message_id.as_str())
            .detail(plan.audit_detail(&to, &replies));
        let format_errors =
            replies
                .iter()
                .find(|f| f.problems > 0)
                .map(|f| mailbox::FormatErrors {
                    reply_id: f.reply.message_id.clone(),
                    problems: f.problems,
                });
        // Issue 31: the sandbox's answers (format errors and simulated ones), for the metric.
        let sandbox_answers = if s.mailbox.kind.is_sandbox() {
            replies.len() as u64
        } else {
            0
        };
        let commit = Commit {
            body,
            row: plan.message(s, &to, &message_id, now),
            replies,
            effects: self.uses(s),
            entry,
        };
        let done = self.commit_or_refuse(s, commit, &to, refused).await?;
        metrics::counter!("imax_received_bytes_total").increment(done.size);
        if s.mailbox.kind.is_sandbox() {
            metrics::counter!("imax_sandbox_files_total").increment(1);
            metrics::counter!("imax_sandbox_answers_total").increment(sandbox_answers);
        }
        Ok(Receipt {
            message_id,
            file_name: plan.name.clone(),
            sha256: done.sha256,
            size_bytes: done.size,
            from_mailbox: s.mailbox.imax_id.to_string(),
            to_mailbox: to.routing.to.imax_id.to_string(),
            received_at: now,
            routed_by: to.routing.by,
            misrouted: to.routing.misrouted,
            in_reply_to: to.answered.map(|m| m.message_id),
            format_errors,
        })
    }
}
