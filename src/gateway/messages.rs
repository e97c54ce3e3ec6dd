//! Step 5 for a mailbox's folders: listing, fetching and acknowledging messages, with the use
//! they count as (R13) and their audit records.

use super::delivery::{self, Delivery};
use super::{Gateway, MailboxSession};
use crate::access::Operation;
use crate::audit::AuditEntry;
use crate::directory::{Account, MessageId};
use crate::error::{Code, Refusal};
use crate::mailbox::{ListQuery, MessageInfo, Page};
use crate::store::Effect;
use time::Duration;

impl Gateway {
    /// R13: a successful use counts as activity, written at most once per granularity period,
    /// not on every request.
    pub(super) fn activity(&self, account: &Account) -> Option<Effect> {
        let now = self.inner.clock.now();
        account
            .use_due(now, self.use_granularity())
            .then_some(Effect::RecordActivity {
                account: account.id,
                at: now,
            })
    }

    /// How often a use is recorded at most (`accounts.activity_granularity_secs`).
    pub(super) fn use_granularity(&self) -> Duration {
        Duration::seconds(self.inner.config.accounts.activity_granularity_secs)
    }

    /// Now, and how often a use is recorded at most: whether a remembered caller's context
    /// may serve a call (`store::context::remembered`).
    pub(super) fn uses_at(&self) -> crate::store::UsesAt {
        crate::store::UsesAt {
            now: self.inner.clock.now(),
            granularity: self.use_granularity(),
        }
    }

    /// What a use of a mailbox records: the M-ID's activity (R13) and the mailbox's own use
    /// (its inactivity counts from it), each at most once per granularity period.
    ///
    /// A sandbox mailbox's use (issue 31) is neither: testing software in the sandbox keeps no
    /// M-ID from its 90-day lock (R13, R16) and no mailbox from going inactive.
    pub(super) fn uses(&self, s: &MailboxSession) -> Vec<Effect> {
        if s.mailbox.kind.is_sandbox() {
            return Vec::new();
        }
        let now = self.inner.clock.now();
        let mailbox_use =
            s.mailbox
                .use_due(now, self.use_granularity())
                .then_some(Effect::RecordMailboxUse {
                    mailbox: s.mailbox.id,
                    at: now,
                });
        self.activity(&s.auth.account)
            .into_iter()
            .chain(mailbox_use)
            .collect()
    }

    pub(super) fn session_audit(&self, s: &MailboxSession) -> AuditEntry {
        self.audit(
            s.auth.account.mid.as_str(),
            s.auth.op.action(),
            s.auth.caller,
        )
        .mailbox(s.mailbox.imax_id.as_str())
    }

    pub(super) fn expect_op(s: &MailboxSession, op: Operation) -> Result<(), Refusal> {
        if s.auth.op == op {
            Ok(())
        } else {
            Err(Refusal::internal(format_args!(
                "session authorized for {} used for {}",
                s.auth.op.as_str(),
                op.as_str()
            )))
        }
    }

    /// Records that an upload authorised for `s` was refused while its body arrived (too
    /// large, malformed); nothing was stored.
    pub async fn abandon_send(&self, s: &MailboxSession, r: Refusal) -> Refusal {
        let entry = self.session_audit(s);
        self.refuse(vec![], entry, r).await
    }

    /// One page of a folder. An empty first page is reported by the caller with the folder's
    /// iMAX status (600–604).
    #[tracing::instrument(name = "list_messages", skip_all, fields(folder = q.folder.as_str()))]
    pub async fn list_messages(&self, s: &MailboxSession, q: &ListQuery) -> Result<Page, Refusal> {
        Self::expect_op(s, Operation::ListMessages)?;
        let page = self.inner.store.messages().list(s.mailbox.id, q).await?;
        let effects = self.uses(s);
        let entry = self.session_audit(s).detail(format!(
            "{} ({} entries)",
            q.folder.as_str(),
            page.entries.len()
        ));
        self.commit(effects, entry).await?;
        Ok(page)
    }

    pub(super) async fn find(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<MessageInfo, Refusal> {
        let store = &self.inner.store;
        // The ID the client gave is read here, once: one that cannot be an ID is unknown.
        let id = MessageId::parse(message_id);
        match id.as_ref().map(|id| (id, id.broadcast_number())) {
            Some((_, Some(n))) => {
                if let Some(m) = store.messages().find_broadcast(s.mailbox.id, n).await? {
                    return Ok(m);
                }
            }
            Some((id, None)) => {
                if let Some(m) = store.messages().find(s.mailbox.id, id).await? {
                    return Ok(m);
                }
            }
            None => {}
        }
        let entry = self.session_audit(s).message(message_id);
        Err(self
            .refuse(vec![], entry, Code::UnknownMessage.into())
            .await)
    }

    /// A message's metadata and body. The recipient's first fetch marks it retrieved, once the
    /// whole body has been handed over (see [`Delivery`]); the metadata already says when
    /// (`retrievedAt`), as the completed fetch records it.
    #[tracing::instrument(name = "get_message", skip_all, fields(message_id = message_id))]
    pub async fn get_message(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<(MessageInfo, Delivery), Refusal> {
        Self::expect_op(s, Operation::GetMessage)?;
        let mut info = self.find(s, message_id).await?;
        let now = self.inner.clock.now();
        let mut effects: Vec<Effect> = self.uses(s);
        if info.body_key.is_some()
            && info.to_mailbox_id == s.mailbox.id
            && info.retrieved_at.is_none()
        {
            effects.push(Effect::MarkRetrieved {
                message: info.row_id,
                at: now,
            });
            info.retrieved_at = Some(now);
        }
        let completion = delivery::Completion {
            gw: self.clone(),
            effects,
            entry: self.session_audit(s).message(info.message_id.as_str()),
        };
        let body = match &info.body_key {
            Some(key) => Delivery::stored(
                self.inner.store.bodies.open(key, info.size_bytes).await?,
                info.size_bytes,
                info.sha256.clone(),
                completion,
            ),
            None => {
                let text = self
                    .inner
                    .store
                    .messages()
                    .broadcast_body(info.row_id)
                    .await?
                    .map(|(_, b)| b)
                    .unwrap_or_default();
                Delivery::inline(text.into_bytes(), completion)
            }
        };
        Ok((info, body))
    }

    /// Removes a received message from the unread view; history keeps it.
    #[tracing::instrument(name = "ack_message", skip_all, fields(message_id = message_id))]
    pub async fn ack_message(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<MessageInfo, Refusal> {
        Self::expect_op(s, Operation::AckMessage)?;
        let mut info = self.find(s, message_id).await?;
        let entry = self.session_audit(s).message(info.message_id.as_str());
        if info.body_key.is_none() || info.to_mailbox_id != s.mailbox.id {
            let r = Refusal::with_detail(
                Code::UnknownMessage,
                "Only a message this mailbox received can be acknowledged.",
            );
            return Err(self.refuse(vec![], entry, r).await);
        }
        let now = self.inner.clock.now();
        let mut effects: Vec<Effect> = self.uses(s);
        if info.acked_at.is_none() {
            effects.push(Effect::MarkAcked {
                message: info.row_id,
                at: now,
            });
            info.acked_at = Some(now);
            info.retrieved_at = info.retrieved_at.or(Some(now));
        }
        self.commit(effects, entry).await?;
        Ok(info)
    }
}
