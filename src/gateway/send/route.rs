//! Where a file goes (R11, R12), decided from its [`SendPlan`] and what the directory says:
//! the message it answers, the sender's right to send what the header says, the recipient,
//! and the transmission it must not repeat. These functions read; the decisions themselves
//! are the plan's pure functions (`plan.rs`).

use super::super::{Gateway, MailboxSession};
use super::plan::{self, Destination, Routing, SendPlan};
use super::Known;
use crate::directory::{ImaxId, Mailbox, MailboxKind, MessageId};
use crate::error::{Code, Refusal};
use crate::mailbox::{self, MessageInfo, RoutedBy};
use crate::store::{DuplicateQuery, RepeatCheck};
use crate::tracs::{self, FileKind, Report};
use time::Duration;

impl Gateway {
    /// Where the file goes: to the sender of the message it answers, or as the sender, the
    /// header and the directory say; refused if it repeats a transmission (unless a resend).
    pub(super) async fn destination(
        &self,
        s: &MailboxSession,
        plan: &SendPlan,
    ) -> Result<Destination, Refusal> {
        if s.mailbox.kind.is_sandbox() {
            return self.sandbox_destination(s, plan).await;
        }
        let answered = match plan.in_reply_to.as_deref() {
            None => None,
            Some(id) => Some(self.answered(s, id).await?),
        };
        let known = self.known(s, plan).await?;
        let to = plan.to.as_deref();
        let routing = match &answered {
            Some(original) => {
                self.route_reply(s, to, &plan.report, original, known.as_ref())
                    .await?
            }
            None => self.route(s, to, &plan.report, known.as_ref()).await?,
        };
        let tracs_key = routing.transmission_key(&plan.report, &s.mailbox);
        let repeat_check = if plan.resend {
            None
        } else {
            let key = tracs_key.as_deref();
            let known = known.as_ref().filter(|k| k.key.as_deref() == key);
            self.not_a_duplicate(s, &routing.to, key, &plan.sha256, known)
                .await?
        };
        Ok(Destination {
            routing,
            answered,
            tracs_key,
            repeat_check,
        })
    }

    /// The message `id` answers: one the sending mailbox received (a message it sent, or one
    /// it cannot see, is no message to answer; the refusal does not say which).
    async fn answered(&self, s: &MailboxSession, id: &str) -> Result<MessageInfo, Refusal> {
        let found = match MessageId::parse(id) {
            Some(id) => self.inner.store.messages().find(s.mailbox.id, &id).await?,
            None => None,
        };
        match found {
            Some(m) if m.to_mailbox_id == s.mailbox.id => Ok(m),
            _ => Err(Refusal::with_detail(
                Code::UnknownMessage,
                "inReplyTo names no message this mailbox received; a reply answers a received message.",
            )),
        }
    }

    /// The context of a property's TRACS file in one statement (see [`Known`]): the first
    /// project its header names, and the transmission it would repeat. `None` for other files
    /// and for administrators' (whose routing rarely needs the project's administrators).
    async fn known(&self, s: &MailboxSession, plan: &SendPlan) -> Result<Option<Known>, Refusal> {
        if !plan.report.is_tracs() || s.mailbox.kind.is_administrator() {
            return Ok(None);
        }
        let Some(project) = plan.header_project() else {
            return Ok(None);
        };
        let key = plan.lookup_key();
        let since = if plan.resend {
            None
        } else {
            self.duplicate_since()
        };
        let query = DuplicateQuery {
            key: key.as_deref(),
            from: s.mailbox.id,
            sha256: &plan.sha256,
            since,
        };
        let store = &self.inner.store;
        let context = store
            .file_context(&project, query, s.directory_mark)
            .await?;
        Ok(Some(Known {
            project,
            context,
            key,
        }))
    }

    /// The start of the same-content duplicate window (`None`: no such check).
    fn duplicate_since(&self) -> Option<time::OffsetDateTime> {
        let days = self.inner.config.tracs.duplicate_window_days;
        (days > 0).then(|| self.inner.clock.now() - Duration::days(days))
    }

    /// A reply goes back to the sender of the message it answers, checked like any file
    /// addressed there (R12, the TRACS header), and nowhere else.
    async fn route_reply(
        &self,
        s: &MailboxSession,
        to: Option<&str>,
        report: &Report,
        original: &MessageInfo,
        known: Option<&Known>,
    ) -> Result<Routing, Refusal> {
        let back = original.from_mailbox.as_str();
        plan::check_reply_address(to, back)?;
        let mut routing = self.route(s, Some(back), report, known).await?;
        routing.by = RoutedBy::Reply;
        Ok(routing)
    }

    /// Chooses the recipient (R12). For a TRACS file the header's Sender's iMAX ID must be the
    /// sending mailbox or one allowed to send for it, and the header's Project's iMAX ID names
    /// the property whose contract administrator receives it; a recipient the sender named
    /// must agree. Other files go where the sender says, if the recipient takes attachments.
    async fn route(
        &self,
        s: &MailboxSession,
        to: Option<&str>,
        report: &Report,
        known: Option<&Known>,
    ) -> Result<Routing, Refusal> {
        let store = &self.inner.store;
        let named = match to {
            None => None,
            Some(t) => Some(self.named(t, known).await?),
        };
        if let Some(n) = &named {
            plan::check_sandbox(&s.mailbox, n)?;
        }
        let header = if report.is_tracs() {
            self.check_senders(s, report).await?;
            self.header_recipient(s, report, known).await?
        } else {
            None
        };
        let forwarded = plan::forwarded(&s.mailbox, header.as_ref());
        let policy = self.inner.config.tracs.misrouted;
        let (chosen, by, misrouted) = plan::choose(named, header, policy, report)?;
        let admins = if chosen.is_none() {
            store.mailboxes().administrators_for(s.mailbox.id).await?
        } else {
            Vec::new()
        };
        let (to, _) = mailbox::choose_recipient(&s.mailbox, chosen, admins)?;
        plan::check_attachment(report, &to)?;
        Ok(Routing {
            to,
            by,
            misrouted,
            forwarded,
        })
    }

    /// The mailbox the sender named, which must exist.
    async fn named(&self, to: &str, known: Option<&Known>) -> Result<Mailbox, Refusal> {
        let id = plan::named_id(to)?;
        // The header's administrator, named as well: already read.
        let read = known
            .and_then(|k| k.context.as_ref())
            .and_then(|c| c.administrators.iter().find(|a| a.imax_id == id).cloned());
        let found = match read {
            Some(m) => Some(m),
            None => self.inner.store.mailboxes().load(&id).await?,
        };
        found.ok_or_else(|| {
            Refusal::with_detail(Code::UnknownRecipient, format!("No mailbox {id} exists."))
        })
    }

    /// Every header's Sender's iMAX ID is the sending mailbox, one allowed to send for it (a
    /// service bureau, R11), or, for a CA, a property whose contract the CA administers (it
    /// forwards that property's file to TRACS).
    async fn check_senders(&self, s: &MailboxSession, report: &Report) -> Result<(), Refusal> {
        let store = &self.inner.store;
        let me = s.mailbox.imax_id.as_str();
        let mut checked: Vec<&str> = Vec::new();
        for b in &report.batches {
            let Some(sender) = b.sender.as_deref() else {
                continue;
            };
            if sender == me || checked.contains(&sender) {
                continue;
            }
            let forwarding_for = async {
                let ca = s.mailbox.kind == MailboxKind::ContractAdministrator;
                Ok::<_, Refusal>(ca && store.mailboxes().administers(s.mailbox.id, sender).await?)
            };
            if !store.mailboxes().may_send_for(s.mailbox.id, sender).await?
                && !forwarding_for.await?
            {
                return Err(Refusal::with_detail(
                    Code::SenderNotAllowed,
                    format!(
                        "Line {}: the Sender's iMAX ID is {sender}, but the file is sent from {me}.",
                        b.line
                    ),
                ));
            }
            checked.push(sender);
        }
        Ok(())
    }

    /// Whether every project the header names has its contract administered by the sending
    /// mailbox (and there is at least one).
    async fn administers_every_project(
        &self,
        s: &MailboxSession,
        report: &Report,
    ) -> Result<bool, Refusal> {
        let store = &self.inner.store;
        let mut any = false;
        for b in &report.batches {
            let Some(project) = b.project.as_deref() else {
                continue;
            };
            if !store.mailboxes().administers(s.mailbox.id, project).await? {
                return Ok(false);
            }
            any = true;
        }
        Ok(any)
    }

    /// The recipient the header implies: the administrator of the contract of the header's
    /// project (the same for every batch); for an iSERS file from HUD or a CA, the project's
    /// own mailbox. `None` when the header implies none (an administrator's other files).
    async fn header_recipient(
        &self,
        s: &MailboxSession,
        report: &Report,
        known: Option<&Known>,
    ) -> Result<Option<Mailbox>, Refusal> {
        let iser = matches!(
            report.verdict,
            tracs::Verdict::Tracs {
                kind: Some(FileKind::Iser),
                ..
            }
        );
        if s.mailbox.kind.is_administrator() && !iser {
            // A CA passes a property's file it received on to TRACS on the property's behalf:
            // every project the header names is one whose contract the CA administers.
            if s.mailbox.kind == MailboxKind::ContractAdministrator
                && self.administers_every_project(s, report).await?
            {
                return Ok(self.inner.store.mailboxes().load(&ImaxId::hud()).await?);
            }
            return Ok(None);
        }
        let mut target: Option<Mailbox> = None;
        for b in &report.batches {
            let Some(project) = b.project.as_deref().and_then(ImaxId::parse) else {
                continue;
            };
            let (project_mailbox, admins) = self.project(&project, b.line, known).await?;
            let this = if iser && s.mailbox.kind.is_administrator() {
                project_mailbox
            } else {
                match plan::batch_recipient(admins, &project, b.line)? {
                    Some(admin) => admin,
                    None => return Ok(None),
                }
            };
            target = Some(plan::same_recipient(&target, this)?);
        }
        Ok(target)
    }

    /// A project's mailbox and its contract's administrators (from `known` when it read them).
    async fn project(
        &self,
        project: &ImaxId,
        line: u64,
        known: Option<&Known>,
    ) -> Result<(Mailbox, Vec<Mailbox>), Refusal> {
        let read = match known.filter(|k| k.project == *project) {
            Some(k) => k
                .context
                .as_ref()
                .map(|c| (c.project.clone(), c.administrators.clone())),
            None => {
                self.inner
                    .store
                    .mailboxes()
                    .with_administrators(project)
                    .await?
            }
        };
        read.ok_or_else(|| {
            Refusal::with_detail(
                Code::UnknownRecipient,
                format!(
                    "Line {line}: the Project's iMAX ID {project} is not a mailbox in the directory."
                ),
            )
        })
    }

    /// A transmission is refused when its TRACS key (sender, date and time stamps) or, within
    /// the window, its content from this mailbox to this recipient, was already received.
    /// `known`, read with the same key, answers when it can; when nothing was read for the
    /// file (a project remembered under the caller's mark), the commit asks instead: the
    /// check it is given (`Some`), whose answer is [`plan::duplicate_refusal`]'s as here.
    pub(super) async fn not_a_duplicate(
        &self,
        s: &MailboxSession,
        to: &Mailbox,
        key: Option<&str>,
        sha256: &str,
        known: Option<&Known>,
    ) -> Result<Option<RepeatCheck>, Refusal> {
        let context = known.and_then(|k| k.context.as_ref());
        if context.is_some_and(|c| c.repeat_at_commit()) {
            let since = self.duplicate_since();
            return Ok(Some(RepeatCheck { since }));
        }
        let read = context.and_then(|c| c.duplicate_for(to.id));
        let found = match read {
            Some(found) => found,
            None => {
                let since = self.duplicate_since();
                self.inner
                    .store
                    .messages()
                    .find_duplicate(key, s.mailbox.id, to.id, sha256, since)
                    .await?
            }
        };
        match found {
            None => Ok(None),
            Some(d) => Err(plan::duplicate_refusal(
                d,
                key,
                &s.mailbox.imax_id,
                &to.imax_id,
            )),
        }
    }
}
