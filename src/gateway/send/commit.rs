//! The commit of a planned file: its replies from TRACS staged (R12, `tracs::reply`; in the
//! sandbox `tracs::sandbox`), then the
//! body sealed (durable) and its row committed with the audit record, or nothing left behind.

use super::super::{Gateway, MailboxSession};
use super::plan::{self, Destination};
use super::{PendingReply, REPLY_SENDER};
use crate::audit::AuditEntry;
use crate::directory::{ImaxId, MessageId};
use crate::error::{Code, Refusal};
use crate::mailbox::{self, RoutedBy};
use crate::store::bodies::{SealedBody, StageError};
use crate::store::messages::Duplicate;
use crate::store::{CommitError, Effect, NewMessage, StagedBody, Store};
use crate::tracs::{self, Report};

/// What one commit holds: the file's body and row, its reply if any, the effects and the
/// audit record that go with them.
pub(super) struct Commit {
    pub body: StagedBody,
    pub row: NewMessage,
    pub replies: Vec<PendingReply>,
    pub effects: Vec<Effect>,
    pub entry: AuditEntry,
}

impl Gateway {
    /// What TRACS answers the file with, staged now and sealed with it: the format-error reply
    /// to a TRACS file with problems only in fields whose layout is not confirmed; from a
    /// sandbox mailbox (issue 31), otherwise the simulated TRACS's answers
    /// (`tracs::sandbox`). HUD's own files (iSERS files it sends back) get none: TRACS does
    /// not answer itself, and they are accepted as they are.
    pub(super) async fn tracs_replies(
        &self,
        s: &MailboxSession,
        report: &Report,
        name: &str,
        message_id: &MessageId,
        now: time::OffsetDateTime,
    ) -> Result<Vec<PendingReply>, Refusal> {
        if s.mailbox.imax_id.is_hud() {
            return Ok(Vec::new());
        }
        let sandbox = s.mailbox.kind.is_sandbox();
        let mut files: Vec<(String, Vec<u8>, u64)> = Vec::new();
        if let Some(errors) = tracs::reply::format_errors(report, now) {
            let kind = match report.verdict {
                tracs::Verdict::Tracs { kind, .. } => kind,
                _ => None,
            };
            let file_name = tracs::reply::file_name(name, kind);
            files.push((file_name, errors.file, errors.problems));
        } else if sandbox {
            for a in tracs::sandbox::answers(report, name, message_id.as_str()) {
                files.push((a.file_name, a.file, 0));
            }
        }
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let tracs_id = if sandbox {
            ImaxId::sandbox_tracs()
        } else {
            ImaxId::hud()
        };
        let store = &self.inner.store;
        let Some(tracs) = store.mailboxes().load(&tracs_id).await? else {
            tracing::warn!(mailbox = %tracs_id, "no TRACS mailbox to send a reply from");
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(files.len());
        for (file_name, file, problems) in files {
            let mut body = store.bodies.stage(file.len() as u64)?;
            body.write(&file).await?;
            let reply = NewMessage {
                message_id: mailbox::new_message_id(now).map_err(Refusal::internal)?,
                from_mailbox: tracs.id,
                to_mailbox: s.mailbox.id,
                sent_by: REPLY_SENDER.into(),
                file_name,
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
                repeat_check: None,
            };
            out.push(PendingReply {
                reply,
                body,
                problems,
            });
        }
        Ok(out)
    }

    /// [`Gateway::commit_send`]; a repeat the commit found (the file's read was left to it,
    /// `committer::repeats`) is refused with the read's wording and audited as `refused`, as
    /// the read would have.
    pub(super) async fn commit_or_refuse(
        &self,
        s: &MailboxSession,
        commit: Commit,
        to: &Destination,
        refused: AuditEntry,
    ) -> Result<SealedBody, Refusal> {
        match self.commit_send(commit).await {
            Ok(done) => Ok(done),
            Err(NotStored::Refused(r)) => Err(r),
            Err(NotStored::Repeats(d)) => {
                let (key, recipient) = (to.tracs_key.as_deref(), &to.routing.to.imax_id);
                let r = plan::duplicate_refusal(d, key, &s.mailbox.imax_id, recipient);
                Err(self.refuse(vec![], refused, r).await)
            }
        }
    }

    /// Seals the bodies and commits the rows. This runs to completion even if the client goes
    /// away meanwhile, so that no body is left without its row.
    async fn commit_send(&self, commit: Commit) -> Result<SealedBody, NotStored> {
        let store = self.inner.store.clone();
        tokio::spawn(crate::ground::within_request(commit.run(store)))
            .await
            .map_err(|e| NotStored::Refused(Refusal::internal(e)))?
    }
}

/// Why a file's commit stored nothing (its bodies are removed).
enum NotStored {
    /// The commit found the transmission the file repeats (`NewMessage::repeat_check`): the
    /// sending door words the refusal as it does when its read finds it.
    Repeats(Duplicate),
    Refused(Refusal),
}

impl Commit {
    async fn run(self, store: Store) -> Result<SealedBody, NotStored> {
        let Commit {
            body,
            row,
            replies,
            mut effects,
            entry,
        } = self;
        let staged = |e: std::io::Error| NotStored::Refused(StageError::from(e).into());
        let mut sealed = body.seal().await.map_err(staged)?;
        effects.push(Effect::InsertMessage(Box::new(NewMessage {
            body_key: sealed.key.clone(),
            claim_upload: sealed.claim,
            inline_body: sealed.inline.take(),
            ..row
        })));
        // The replies commit with the file they answer, or not at all.
        let mut keys = vec![sealed.key.clone()];
        for f in replies {
            let mut reply = match f.body.seal().await {
                Ok(r) => r,
                Err(e) => {
                    forget(&store, &keys).await;
                    return Err(staged(e));
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

/// Removes the bodies `keys`, whose rows were certainly not committed.
async fn forget(store: &Store, keys: &[String]) {
    for key in keys {
        let _ = store.bodies.remove(key).await;
    }
}

/// Why the rows did not commit; the bodies are removed unless the rows may exist.
async fn not_committed(store: &Store, e: CommitError, keys: &[String]) -> NotStored {
    match e {
        CommitError::Repeats(d) => {
            forget(store, keys).await;
            NotStored::Repeats(d)
        }
        // Two identical transmissions at the same moment: the unique index on the
        // transmission key lets one in.
        CommitError::NotCommitted {
            reason: crate::store::committer::error::NotCommitted::DuplicateTransmission,
            ..
        } => {
            forget(store, keys).await;
            NotStored::Refused(Refusal::with_detail(
                Code::DuplicateFile,
                "Another file with the same Sender's iMAX ID, date stamp and time stamp arrived at the same moment.",
            ))
        }
        e @ CommitError::NotCommitted { .. } => {
            forget(store, keys).await;
            NotStored::Refused(e.into())
        }
        // The row may have been committed: its body stays (`imax admin check` reports it if
        // the row is not there; on PostgreSQL the upload sweep takes it).
        e @ CommitError::Unknown(_) => {
            let key = keys.first().map(String::as_str).unwrap_or_default();
            tracing::error!(key = %key, error = %e, "kept a body whose row may exist");
            NotStored::Refused(Refusal::with_detail(
                Code::Unavailable,
                "The file may or may not have been stored: the database failed while committing it. List Sent to TRACS or Sent to Others before sending it again.",
            ))
        }
    }
}
