//! Sending a file (R12): the body streams into the store while the TRACS checker reads it;
//! then the file is judged (valid TRACS, or an attachment the recipient accepts), the
//! recipient chosen (the sender's choice, checked against the directory's administrator for
//! the header's project), duplicates refused, and the message committed.

use super::{Gateway, MailboxSession};
use crate::access::Operation;
use crate::config::Misrouted;
use crate::directory::{ImaxId, Mailbox, MailboxKind, Recipient};
use crate::error::{Code, Refusal};
use crate::mailbox::{self, MessageInfo, Receipt, RoutedBy};
use crate::store::bodies::StageError;
use crate::store::messages::Duplicate;
use crate::store::CommitError;
use crate::store::{DuplicateQuery, Effect, FileContext, NewMessage, StagedBody};
use crate::tracs::{self, FileKind, Report, Scanner};
use time::Duration;

/// A file body being received: staged to disk and read by the TRACS checker on the way, so
/// the check needs no second read.
#[derive(Debug)]
pub struct Upload {
    body: StagedBody,
    scan: Scanner,
}

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.body.write(chunk).await?;
        self.scan.feed(chunk);
        Ok(())
    }
    pub fn size(&self) -> u64 {
        self.body.size()
    }
}

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

/// A format-error reply, staged, waiting to be committed with the file it answers.
struct PendingReply {
    reply: NewMessage,
    body: StagedBody,
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

/// The recipient and how it was chosen.
struct Routing {
    to: Mailbox,
    by: RoutedBy,
    misrouted: bool,
    /// A CA passing a property's file on to TRACS (its transmission key is then the
    /// forward's own, so that the original and its forward are not one another's duplicate).
    forwarded: bool,
}

impl Routing {
    /// The file's transmission key as this routing stores it.
    fn transmission_key(&self, report: &Report, from: &Mailbox) -> Option<String> {
        let key = report.transmission_key()?;
        Some(if self.forwarded {
            format!("{key}|forwarded by {}", from.imax_id)
        } else {
            key
        })
    }
}

fn problems(report: &Report) -> Vec<String> {
    let mut items: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    if report.more_problems > 0 {
        items.push(format!("… and {} more problems", report.more_problems));
    }
    items
}

impl Gateway {
    /// Starts receiving a file body, bounded by the size limit.
    pub fn stage_body(&self) -> Result<Upload, Refusal> {
        Ok(Upload {
            body: self
                .inner
                .store
                .bodies
                .stage(self.inner.config.limits.max_file_bytes)?,
            scan: Scanner::new(),
        })
    }

    /// Stores a received file and returns its receipt. The body is durable before the row is
    /// committed, and the row before the receipt is returned.
    #[tracing::instrument(name = "send_file", skip_all, fields(bytes = upload.body.size()))]
    pub async fn send_file(
        &self,
        s: &MailboxSession,
        req: SendRequest<'_>,
        upload: Upload,
    ) -> Result<Receipt, Refusal> {
        Self::expect_op(s, Operation::SendFile)?;
        let entry = self.session_audit(s);
        let refuse = |r: Refusal| self.refuse(vec![], entry.clone().detail(req.file_name), r);
        let Upload { body, scan } = upload;
        if body.size() == 0 {
            return Err(refuse(Code::MissingFile.into()).await);
        }
        let Some(name) = mailbox::clean_file_name(req.file_name) else {
            return Err(refuse(Refusal::with_detail(
                Code::MalformedRequest,
                "The file name is empty.",
            ))
            .await);
        };
        let sha256 = body.sha256_hex();
        if let Some(expected) = req.expected_sha256 {
            if !expected.trim().eq_ignore_ascii_case(&sha256) {
                return Err(refuse(Code::ChecksumMismatch.into()).await);
            }
        }
        let report = scan.finish();
        if report.is_tracs() && !report.problems.is_empty() {
            let n = report.problems.len() as u64 + report.more_problems;
            let r = Refusal::with_detail(
                Code::InvalidTracsFile,
                format!("{n} problem{} found:", if n == 1 { "" } else { "s" }),
            )
            .with_items(problems(&report));
            return Err(refuse(r).await);
        }
        let answered = match req.in_reply_to.map(str::trim).filter(|i| !i.is_empty()) {
            None => None,
            Some(id) => match self.answered(s, id).await {
                Ok(m) => Some(m),
                Err(r) => return Err(refuse(r).await),
            },
        };
        let known = match self.known(s, &report, &sha256, req.resend).await {
            Ok(k) => k,
            Err(r) => return Err(refuse(r).await),
        };
        let routed = match &answered {
            Some(original) => {
                self.route_reply(s, req.to, &report, original, known.as_ref())
                    .await
            }
            None => self.route(s, req.to, &report, known.as_ref()).await,
        };
        let routing = match routed {
            Ok(r) => r,
            Err(r) => return Err(refuse(r).await),
        };
        let tracs_key = routing.transmission_key(&report, &s.mailbox);
        if !req.resend {
            let key = tracs_key.as_deref();
            let known = known.as_ref().filter(|k| k.key.as_deref() == key);
            if let Err(r) = self
                .not_a_duplicate(s, &routing.to, key, &sha256, known)
                .await
            {
                return Err(refuse(r).await);
            }
        }
        let now = self.inner.clock.now();
        let message_id = mailbox::new_message_id(now).map_err(Refusal::internal)?;
        let format_errors = self
            .format_errors(s, &report, &name, &message_id, now)
            .await?;
        let recipient = routing.to;
        let row = NewMessage {
            message_id: message_id.clone(),
            from_mailbox: s.mailbox.id,
            to_mailbox: recipient.id,
            sent_by: s.auth.account.mid.to_string(),
            file_name: name.clone(),
            size_bytes: body.size(),
            sha256: sha256.clone(),
            body_key: String::new(),
            claim_upload: false,
            inline_body: None,
            received_at: now,
            tracs_key,
            routed_by: routing.by,
            resend: req.resend,
            misrouted: routing.misrouted,
            in_reply_to: answered.as_ref().map(|m| m.message_id.clone()),
        };
        let mut effects: Vec<Effect> = self.uses(s);
        let kind = match report.verdict {
            tracs::Verdict::Tracs {
                kind: Some(k),
                release: Some(r),
            } => format!("TRACS {} {r}", k.as_str()),
            _ => "not TRACS".into(),
        };
        let entry = entry.message(&message_id).detail(format!(
            "{name} -> {} ({} bytes, {kind}, routed by {}{}{}{}{})",
            recipient.imax_id,
            body.size(),
            routing.by.as_str(),
            if routing.misrouted { ", misrouted" } else { "" },
            if req.resend { ", resend" } else { "" },
            answered
                .as_ref()
                .map(|m| format!(", in reply to {}", m.message_id))
                .unwrap_or_default(),
            format_errors
                .as_ref()
                .map(|f| format!(
                    ", {} format problems answered by {}",
                    f.problems, f.reply.message_id
                ))
                .unwrap_or_default(),
        ));
        let receipt_errors = format_errors.as_ref().map(|f| mailbox::FormatErrors {
            reply_id: f.reply.message_id.clone(),
            problems: f.problems,
        });
        // Sealing and committing run to completion even if the client goes away meanwhile, so
        // that no body is left without its row.
        let store = self.inner.store.clone();
        let done = tokio::spawn(crate::ground::within_request(async move {
            let mut sealed = body.seal().await.map_err(StageError::from)?;
            effects.push(Effect::InsertMessage(Box::new(NewMessage {
                body_key: sealed.key.clone(),
                claim_upload: sealed.claim,
                inline_body: sealed.inline.take(),
                ..row
            })));
            // The format-error reply commits with the file it answers, or not at all.
            let mut reply_key = None;
            if let Some(f) = format_errors {
                let mut reply = match f.body.seal().await {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = store.bodies.remove(&sealed.key).await;
                        return Err(StageError::from(e).into());
                    }
                };
                reply_key = Some(reply.key.clone());
                effects.push(Effect::InsertMessage(Box::new(NewMessage {
                    body_key: reply.key.clone(),
                    claim_upload: reply.claim,
                    inline_body: reply.inline.take(),
                    ..f.reply
                })));
            }
            let forget = async |store: &crate::store::Store| {
                let _ = store.bodies.remove(&sealed.key).await;
                if let Some(k) = &reply_key {
                    let _ = store.bodies.remove(k).await;
                }
            };
            match store.committer.commit(effects, entry).await {
                Ok(()) => Ok(sealed),
                // Two identical transmissions at the same moment: the unique index on the
                // transmission key lets one in.
                Err(CommitError::NotCommitted {
                    reason: crate::store::committer::error::NotCommitted::DuplicateTransmission,
                    ..
                }) => {
                    forget(&store).await;
                    Err(Refusal::with_detail(
                        Code::DuplicateFile,
                        "Another file with the same Sender's iMAX ID, date stamp and time stamp arrived at the same moment.",
                    ))
                }
                Err(e @ CommitError::NotCommitted { .. }) => {
                    forget(&store).await;
                    Err(e.into())
                }
                // The row may have been committed: its body stays (`imax admin check` reports
                // it if the row is not there; on PostgreSQL the upload sweep takes it).
                Err(e @ CommitError::Unknown(_)) => {
                    tracing::error!(key = %sealed.key, error = %e, "kept a body whose row may exist");
                    Err(Refusal::with_detail(
                        Code::Unavailable,
                        "The file may or may not have been stored: the database failed while committing it. List Sent to TRACS or Sent to Others before sending it again.",
                    ))
                }
            }
        }))
        .await
        .map_err(Refusal::internal)??;
        metrics::counter!("imax_received_bytes_total").increment(done.size);
        Ok(Receipt {
            message_id,
            sha256: done.sha256,
            size_bytes: done.size,
            from_mailbox: s.mailbox.imax_id.to_string(),
            to_mailbox: recipient.imax_id.to_string(),
            received_at: now,
            routed_by: routing.by,
            misrouted: routing.misrouted,
            in_reply_to: answered.map(|m| m.message_id),
            format_errors: receipt_errors,
        })
    }

    /// The message `id` answers: one the sending mailbox received (a message it sent, or one
    /// it cannot see, is no message to answer; the refusal does not say which).
    async fn answered(&self, s: &MailboxSession, id: &str) -> Result<MessageInfo, Refusal> {
        let found = self.inner.store.messages().find(s.mailbox.id, id).await?;
        match found {
            Some(m) if m.to_mailbox_id == s.mailbox.id => Ok(m),
            _ => Err(Refusal::with_detail(
                Code::UnknownMessage,
                "inReplyTo names no message this mailbox received; a reply answers a received message.",
            )),
        }
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
        if let Some(named) = to.map(str::trim).filter(|t| !t.is_empty()) {
            let same = match Recipient::parse(named) {
                Some(Recipient::Tracs) => ImaxId::hud().as_str() == back,
                Some(Recipient::Mailbox(id)) => id.as_str() == back,
                None => false,
            };
            if !same {
                return Err(Refusal::with_detail(
                    Code::Misrouted,
                    format!(
                        "A reply goes to the sender of the message it answers, {back}; it was addressed to {named}."
                    ),
                ));
            }
        }
        let mut routing = self.route(s, Some(back), report, known).await?;
        routing.by = RoutedBy::Reply;
        Ok(routing)
    }

    /// The format-error reply to a TRACS file with problems only in fields whose layout is not
    /// confirmed: from TRACS to the sender, tied to `message_id`, its body staged now and
    /// sealed with the file's. HUD's own files (iSERS files it sends back) get none: TRACS
    /// does not answer itself, and they are accepted as they are.
    async fn format_errors(
        &self,
        s: &MailboxSession,
        report: &Report,
        name: &str,
        message_id: &str,
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
            in_reply_to: Some(message_id.to_string()),
        };
        Ok(Some(PendingReply {
            reply,
            body,
            problems: errors.problems,
        }))
    }

    /// The context of a property's TRACS file in one statement (see [`Known`]): the first
    /// project its header names, and the transmission it would repeat. `None` for other files
    /// and for administrators' (whose routing rarely needs the project's administrators).
    async fn known(
        &self,
        s: &MailboxSession,
        report: &Report,
        sha256: &str,
        resend: bool,
    ) -> Result<Option<Known>, Refusal> {
        if !report.is_tracs() || s.mailbox.kind.is_administrator() {
            return Ok(None);
        }
        let Some(project) = report
            .batches
            .iter()
            .find_map(|b| b.project.as_deref().and_then(ImaxId::parse))
        else {
            return Ok(None);
        };
        let key = (!resend).then(|| report.transmission_key()).flatten();
        let since = if resend { None } else { self.duplicate_since() };
        let query = DuplicateQuery {
            key: key.as_deref(),
            from: s.mailbox.id,
            sha256,
            since,
        };
        let context = self.inner.store.file_context(&project, query).await?;
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
        let named = match to.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => {
                let id = match Recipient::parse(t) {
                    Some(Recipient::Tracs) => ImaxId::hud(),
                    Some(Recipient::Mailbox(id)) => id,
                    None => {
                        return Err(Refusal::with_detail(
                            Code::UnknownRecipient,
                            format!(
                                "{t:?} is neither TRACS nor an iMAX ID (TRACM and five digits)."
                            ),
                        ))
                    }
                };
                // The header's administrator, named as well: already read.
                let read = known
                    .and_then(|k| k.context.as_ref())
                    .and_then(|c| c.administrators.iter().find(|a| a.imax_id == id).cloned());
                let found = match read {
                    Some(m) => Some(m),
                    None => store.mailboxes().load(&id).await?,
                };
                match found {
                    Some(m) => Some(m),
                    None => {
                        return Err(Refusal::with_detail(
                            Code::UnknownRecipient,
                            format!("No mailbox {id} exists."),
                        ))
                    }
                }
            }
        };
        let header = if report.is_tracs() {
            self.check_senders(s, report).await?;
            self.header_recipient(s, report, known).await?
        } else {
            None
        };
        // A CA's file goes to TRACS by its header only when the CA forwards a property's file.
        let forwarded = s.mailbox.kind == MailboxKind::ContractAdministrator
            && header.as_ref().is_some_and(|h| h.imax_id.is_hud());
        let (chosen, by, misrouted) = match (named, header) {
            (None, Some(h)) => (Some(h), RoutedBy::Header, false),
            (Some(n), Some(h)) if n.id == h.id => (Some(n), RoutedBy::Sender, false),
            (Some(n), Some(h)) => {
                if self.inner.config.tracs.misrouted == Misrouted::Refuse {
                    return Err(Refusal::with_detail(
                        Code::Misrouted,
                        format!(
                            "The header names project {}, whose contract {} administers; the file was addressed to {}.",
                            report.batches.first().and_then(|b| b.project.as_deref()).unwrap_or("?"),
                            h.imax_id,
                            n.imax_id
                        ),
                    ));
                }
                (Some(n), RoutedBy::Sender, true)
            }
            (Some(n), None) => (Some(n), RoutedBy::Sender, false),
            (None, None) => (None, RoutedBy::Directory, false),
        };
        let admins = if chosen.is_none() {
            store.mailboxes().administrators_for(s.mailbox.id).await?
        } else {
            Vec::new()
        };
        let (to, _) = mailbox::choose_recipient(&s.mailbox, chosen, admins)?;
        if !report.is_tracs() && !to.accepts_attachments {
            return Err(Refusal::with_detail(
                Code::InvalidTracsFile,
                format!(
                    "{} accepts TRACS files only, and this file does not begin with a TRACS header (TENHR, VCHHR or ERRHR).",
                    to.imax_id
                ),
            ));
        }
        Ok(Routing {
            to,
            by,
            misrouted,
            forwarded,
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
        let store = &self.inner.store;
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
                return Ok(store.mailboxes().load(&ImaxId::hud()).await?);
            }
            return Ok(None);
        }
        let mut target: Option<Mailbox> = None;
        for b in &report.batches {
            let Some(project) = b.project.as_deref().and_then(ImaxId::parse) else {
                continue;
            };
            let read = match known.filter(|k| k.project == project) {
                Some(k) => k
                    .context
                    .as_ref()
                    .map(|c| (c.project.clone(), c.administrators.clone())),
                None => store.mailboxes().with_administrators(&project).await?,
            };
            let Some((project_mailbox, mut admins)) = read else {
                return Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    format!(
                        "Line {}: the Project's iMAX ID {project} is not a mailbox in the directory.",
                        b.line
                    ),
                ));
            };
            let this = if iser && s.mailbox.kind.is_administrator() {
                project_mailbox
            } else {
                match admins.len() {
                    1 => admins.remove(0),
                    0 => {
                        return Err(Refusal::with_detail(
                            Code::UnknownRecipient,
                            format!(
                                "Line {}: the directory has no contract administrator for project {project}.",
                                b.line
                            ),
                        ))
                    }
                    _ => return Ok(None),
                }
            };
            match &target {
                Some(t) if t.id != this.id => {
                    return Err(Refusal::with_detail(
                        Code::Misrouted,
                        format!(
                            "The batches are for projects with different recipients ({} and {}); send one file per recipient.",
                            t.imax_id, this.imax_id
                        ),
                    ))
                }
                Some(_) => {}
                None => target = Some(this),
            }
        }
        Ok(target)
    }

    /// A transmission is refused when its TRACS key (sender, date and time stamps) or, within
    /// the window, its content from this mailbox to this recipient, was already received.
    /// `known`, read with the same key, answers when it can.
    async fn not_a_duplicate(
        &self,
        s: &MailboxSession,
        to: &Mailbox,
        key: Option<&str>,
        sha256: &str,
        known: Option<&Known>,
    ) -> Result<(), Refusal> {
        let read = known
            .and_then(|k| k.context.as_ref())
            .and_then(|c| c.duplicate_for(to.id));
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
            None => {}
            Some(Duplicate::SameKey { id, at }) => {
                let key = key.unwrap_or_default();
                let mut parts = key.split('|');
                let (who, date, time) = (
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                return Err(Refusal::with_detail(
                    Code::DuplicateFile,
                    format!(
                        "Message {id} (received {}) has the same Sender's iMAX ID {who}, date stamp {date} and time stamp {time}.",
                        crate::clock::rfc3339(at)
                    ),
                ));
            }
            Some(Duplicate::SameContent { id, at }) => {
                return Err(Refusal::with_detail(
                    Code::DuplicateFile,
                    format!(
                        "Message {id} (received {}) had the same content (SHA-256) from {} to {}.",
                        crate::clock::rfc3339(at),
                        s.mailbox.imax_id,
                        to.imax_id
                    ),
                ));
            }
        }
        Ok(())
    }
}
