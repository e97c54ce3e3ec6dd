//! The commit of a planned file: its format-error reply staged (R12, `tracs::reply`), then the
//! body sealed (durable) and its row committed with the audit record, or nothing left behind.

use super::super::{Gateway, MailboxSession};
use super::{PendingReply, REPLY_SENDER};
use crate::audit::AuditEntry;
use crate::directory::{ImaxId, MessageId};
use crate::error::{Code, Refusal};
use crate::mailbox::{self, RoutedBy};
use crate::store::bodies::{SealedBody, StageError};
use crate::store::{CommitError, Effect, NewMessage, StagedBody, Store};
use crate::tracs::{self, Report};

/// What one commit holds: the file's body and row, its reply if any, the effects and the
/// audit record that go with them.
pub(super) struct Commit {
    pub body: StagedBody,
    pub row: NewMessage,
    pub reply: Option<PendingReply>,
    pub effects: Vec<Effect>,
    pub entry: AuditEntry,
}

impl Gateway {
    /// The format-error reply to a TRACS file with problems only in fields whose layout is not
    /// confirmed: from TRACS to the sender, tied to `message_id`, its body staged now and
    /// sealed with the file's. HUD's own files (iSERS files it sends back) get none: TRACS
    /// does not answer itself, and they are accepted as they are.
    pub(super) async fn format_errors(
        &self,
        s: &MailboxSession,
        report: &Report,
        name: &str,
        message_id: &MessageId,
        now: time::OffsetDateTime,
    ) -> Result<Option<PendingReply>, Refusal> {
        if s.mailbox.imax_id.is_hud() {
            return Ok(None);
        }
        let Some(errors) = tracs::reply::format_errors(report, now) else {
            return Ok(None);
        };
        let store = &self.inner.store;
        let Some(hud) = store.mailboxes().load(&ImaxId::hud()).await? else {
            tracing::warn!("no TRACS mailbox to send a format-error reply from");
            return Ok(None);
        };
        let mut body = store.bodies.stage(errors.file.len() as u64)?;
        body.write(&errors.file).await?;
        let kind = match report.verdict {
            tracs::Verdict::Tracs { kind, .. } => kind,
            _ => None,
        };
        let reply = NewMessage {
            message_id: mailbox::new_message_id(now).map_err(Refusal::internal)?,
            from_mailbox: hud.id,
            to_mailbox: s.mailbox.id,
            sent_by: REPLY_SENDER.into(),
            file_name: tracs::reply::file_name(name, kind),
            size_bytes: body.size(),
            sha256: body.sha256_hex(),
            body_key: String::new(),
            claim_upload: false,
            inline_body: None,
            received_at: now,
            tracs_key: None,
            routed_by: RoutedBy::Reply,
            resend: false,
            misrouted: false,
            in_reply_to: Some(message_id.clone()),
        };
        Ok(Some(PendingReply {
            reply,
            body,
            problems: errors.problems,
        }))
    }

    /// Seals the bodies and commits the rows. This runs to completion even if the client goes
    /// away meanwhile, so that no body is left without its row.
    pub(super) async fn commit_send(&self, commit: Commit) -> Result<SealedBody, Refusal> {
        let store = self.inner.store.clone();
        tokio::spawn(crate::ground::within_request(commit.run(store)))
            .await
            .map_err(Refusal::internal)?
    }
}

impl Commit {
    async fn run(self, store: Store) -> Result<SealedBody, Refusal> {
        let Commit {
            body,
            row,
            reply,
            mut effects,
            entry,
        } = self;
        let mut sealed = body.seal().await.map_err(StageError::from)?;
        effects.push(Effect::InsertMessage(Box::new(NewMessage {
            body_key: sealed.key.clone(),
            claim_upload: sealed.claim,
            inline_body: sealed.inline.take(),
            ..row
        })));
        // The format-error reply commits with the file it answers, or not at all.
        let mut keys = vec![sealed.key.clone()];
        if let Some(f) = reply {
            let mut reply = match f.body.seal().await {
                Ok(r) => r,
                Err(e) => {
                    let _ = store.bodies.remove(&sealed.key).await;
                    return Err(StageError::from(e).into());
                }
            };
            keys.push(reply.key.clone());
            effects.push(Effect::InsertMessage(Box::new(NewMessage {
                body_key: reply.key.clone(),
                claim_upload: reply.claim,
                inline_body: reply.inline.take(),
                ..f.reply
            })));
        }
        match store.committer.commit(effects, entry).await {
            Ok(()) => Ok(sealed),
            Err(e) => Err(not_committed(&store, e, &keys).await),
        }
    }
}

/// Why the rows did not commit; the bodies are removed unless the rows may exist.
async fn not_committed(store: &Store, e: CommitError, keys: &[String]) -> Refusal {
    let forget = async {
        for key in keys {
            let _ = store.bodies.remove(key).await;
        }
    };
    match e {
        // Two identical transmissions at the same moment: the unique index on the
        // transmission key lets one in.
        CommitError::NotCommitted {
            reason: crate::store::committer::error::NotCommitted::DuplicateTransmission,
            ..
        } => {
            forget.await;
            Refusal::with_detail(
                Code::DuplicateFile,
                "Another file with the same Sender's iMAX ID, date stamp and time stamp arrived at the same moment.",
            )
        }
        e @ CommitError::NotCommitted { .. } => {
            forget.await;
            e.into()
        }
        // The row may have been committed: its body stays (`imax admin check` reports it if
        // the row is not there; on PostgreSQL the upload sweep takes it).
        e @ CommitError::Unknown(_) => {
            let key = keys.first().map(String::as_str).unwrap_or_default();
            tracing::error!(key = %key, error = %e, "kept a body whose row may exist");
            Refusal::with_detail(
                Code::Unavailable,
                "The file may or may not have been stored: the database failed while committing it. List Sent to TRACS or Sent to Others before sending it again.",
            )
        }
    }
}
