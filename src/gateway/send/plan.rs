//! What a received file asks for, and what can be decided of it without reading anything
//! (issue 26, item 2): the [`SendPlan`] judges the file from what the pump measured (its
//! name, size, SHA-256 and TRACS report), and, once the directory was read
//! (`route.rs`), says where it goes ([`Destination`]), what row records it and what its audit
//! record says. Values only, so every rule here is unit-tested without a database.

use super::super::MailboxSession;
use super::{PendingReply, SendRequest};
use crate::config::Misrouted;
use crate::directory::{ImaxId, Mailbox, MailboxKind, MessageId, Recipient};
use crate::error::{Code, Refusal};
use crate::mailbox::{self, MessageInfo, RoutedBy};
use crate::store::messages::Duplicate;
use crate::store::{NewMessage, RepeatCheck};
use crate::tracs::{self, Report};
use time::OffsetDateTime;

/// A received file, judged: what is certainly wrong with it was refused.
#[derive(Debug)]
pub(in crate::gateway) struct SendPlan {
    /// The file name as stored (its path and unsafe characters removed).
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub report: Report,
    /// The recipient the sender named (`TRACS` or an iMAX ID), if any.
    pub to: Option<String>,
    /// The received message this file answers, if any.
    pub in_reply_to: Option<String>,
    /// A deliberate resend: not refused as a duplicate.
    pub resend: bool,
}

/// The recipient and how it was chosen.
#[derive(Debug, Clone)]
pub(in crate::gateway) struct Routing {
    pub to: Mailbox,
    pub by: RoutedBy,
    pub misrouted: bool,
    /// A CA passing a property's file on to TRACS (its transmission key is then the
    /// forward's own, so that the original and its forward are not one another's duplicate).
    pub forwarded: bool,
}

/// Where a file goes, decided from the plan and the directory.
#[derive(Debug)]
pub(in crate::gateway) struct Destination {
    pub routing: Routing,
    /// The message it answers.
    pub answered: Option<MessageInfo>,
    /// The transmission key the row records (TRACS files).
    pub tracs_key: Option<String>,
    /// Whether the file repeats a transmission, when that is left to its commit.
    pub repeat_check: Option<RepeatCheck>,
}

fn trimmed(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

impl SendPlan {
    /// Judges a file from what the pump measured, in this order: it has content, a name, the
    /// checksum the client computed (if any), and no problem the TRACS checker is sure of.
    pub fn new(
        req: &SendRequest<'_>,
        size: u64,
        sha256: String,
        report: Report,
    ) -> Result<SendPlan, Refusal> {
        if size == 0 {
            return Err(Code::MissingFile.into());
        }
        let Some(name) = mailbox::clean_file_name(req.file_name) else {
            return Err(Refusal::with_detail(
                Code::MalformedRequest,
                "The file name is empty.",
            ));
        };
        if let Some(expected) = req.expected_sha256 {
            if !expected.trim().eq_ignore_ascii_case(&sha256) {
                return Err(Code::ChecksumMismatch.into());
            }
        }
        if report.is_tracs() && !report.problems.is_empty() {
            let n = report.problems.len() as u64 + report.more_problems;
            return Err(Refusal::with_detail(
                Code::InvalidTracsFile,
                format!("{n} problem{} found:", if n == 1 { "" } else { "s" }),
            )
            .with_items(problems(&report)));
        }
        Ok(SendPlan {
            name,
            sha256,
            size,
            report,
            to: trimmed(req.to),
            in_reply_to: trimmed(req.in_reply_to),
            resend: req.resend,
        })
    }

    /// The first project a property's TRACS file names in its header, whose context
    /// (`Store::file_context`) is read in one statement.
    pub fn header_project(&self) -> Option<ImaxId> {
        self.report
            .batches
            .iter()
            .find_map(|b| b.project.as_deref().and_then(ImaxId::parse))
    }

    /// The transmission key a duplicate is looked for by (none: a deliberate resend).
    pub fn lookup_key(&self) -> Option<String> {
        (!self.resend)
            .then(|| self.report.transmission_key())
            .flatten()
    }

    /// The message row that records the file (its body's key is filled in once sealed).
    pub fn message(
        &self,
        s: &MailboxSession,
        to: &Destination,
        message_id: &MessageId,
        now: OffsetDateTime,
    ) -> NewMessage {
        NewMessage {
            message_id: message_id.clone(),
            from_mailbox: s.mailbox.id,
            to_mailbox: to.routing.to.id,
            sent_by: s.auth.account.mid.to_string(),
            file_name: self.name.clone(),
            size_bytes: self.size,
            sha256: self.sha256.clone(),
            body_key: String::new(),
            claim_upload: false,
            inline_body: None,
            received_at: now,
            tracs_key: to.tracs_key.clone(),
            routed_by: to.routing.by,
            resend: self.resend,
            misrouted: to.routing.misrouted,
            in_reply_to: to.answered.as_ref().map(|m| m.message_id.clone()),
            repeat_check: to.repeat_check,
        }
    }

    /// What the audit record says of the file.
    pub(super) fn audit_detail(&self, to: &Destination, replies: &[PendingReply]) -> String {
        let replied = replies.iter().find(|f| f.problems > 0);
        let simulated = replies.iter().filter(|f| f.problems == 0).count();
        let kind = match self.report.verdict {
            tracs::Verdict::Tracs {
                kind: Some(k),
                release: Some(r),
            } => format!("TRACS {} {r}", k.as_str()),
            _ => "not TRACS".into(),
        };
        let routing = &to.routing;
        format!(
            "{} -> {} ({} bytes, {kind}, routed by {}{}{}{}{}{})",
            self.name,
            routing.to.imax_id,
            self.size,
            routing.by.as_str(),
            if routing.misrouted { ", misrouted" } else { "" },
            if self.resend { ", resend" } else { "" },
            to.answered
                .as_ref()
                .map(|m| format!(", in reply to {}", m.message_id))
                .unwrap_or_default(),
            replied
                .map(|f| format!(
                    ", {} format problems answered by {}",
                    f.problems, f.reply.message_id
                ))
                .unwrap_or_default(),
            if simulated > 0 {
                format!(", {simulated} simulated answers")
            } else {
                String::new()
            },
        )
    }
}

impl Routing {
    /// The file's transmission key as this routing stores it.
    pub fn transmission_key(&self, report: &Report, from: &Mailbox) -> Option<String> {
        let key = report.transmission_key()?;
        Some(if self.forwarded {
            format!("{key}|forwarded by {}", from.imax_id)
        } else {
            key
        })
    }
}

/// The certain problems as the refusal lists them.
fn problems(report: &Report) -> Vec<String> {
    let mut items: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    if report.more_problems > 0 {
        items.push(format!("… and {} more problems", report.more_problems));
    }
    items
}

/// The iMAX ID of the recipient the sender named.
pub(super) fn named_id(to: &str) -> Result<ImaxId, Refusal> {
    match Recipient::parse(to) {
        Some(Recipient::Tracs) => Ok(ImaxId::hud()),
        Some(Recipient::Mailbox(id)) => Ok(id),
        None => Err(Refusal::with_detail(
            Code::UnknownRecipient,
            format!("{to:?} is neither TRACS nor an iMAX ID (TRACM and five digits)."),
        )),
    }
}

/// A reply goes back to `back`, the sender of the message it answers (R12): a recipient the
/// sender named must be that one.
pub(super) fn check_reply_address(to: Option<&str>, back: &str) -> Result<(), Refusal> {
    let Some(named) = to else {
        return Ok(());
    };
    let same = match Recipient::parse(named) {
        Some(Recipient::Tracs) => ImaxId::hud().as_str() == back,
        Some(Recipient::Mailbox(id)) => id.as_str() == back,
        None => false,
    };
    if same {
        return Ok(());
    }
    Err(Refusal::with_detail(
        Code::Misrouted,
        format!(
            "A reply goes to the sender of the message it answers, {back}; it was addressed to {named}."
        ),
    ))
}

/// The recipient, from the one the sender named and the one the TRACS header implies (R12):
/// they must agree, unless the operator chose to accept and mark such files; with neither,
/// the directory chooses (`None`).
pub(super) fn choose(
    named: Option<Mailbox>,
    header: Option<Mailbox>,
    policy: Misrouted,
    report: &Report,
) -> Result<(Option<Mailbox>, RoutedBy, bool), Refusal> {
    Ok(match (named, header) {
        (None, Some(h)) => (Some(h), RoutedBy::Header, false),
        (Some(n), Some(h)) if n.id == h.id => (Some(n), RoutedBy::Sender, false),
        (Some(n), Some(h)) => {
            if policy == Misrouted::Refuse {
                let project = report.batches.first().and_then(|b| b.project.as_deref());
                return Err(Refusal::with_detail(
                    Code::Misrouted,
                    format!(
                        "The header names project {}, whose contract {} administers; the file was addressed to {}.",
                        project.unwrap_or("?"),
                        h.imax_id,
                        n.imax_id
                    ),
                ));
            }
            (Some(n), RoutedBy::Sender, true)
        }
        (Some(n), None) => (Some(n), RoutedBy::Sender, false),
        (None, None) => (None, RoutedBy::Directory, false),
    })
}

/// A CA's file goes to TRACS by its header only when the CA forwards a property's file.
pub(super) fn forwarded(sender: &Mailbox, header: Option<&Mailbox>) -> bool {
    sender.kind == MailboxKind::ContractAdministrator && header.is_some_and(|h| h.imax_id.is_hud())
}

/// Issue 31: a named recipient is in the sandbox exactly when the sender is (the sandbox's
/// own routing, `sandbox.rs`, never names a production mailbox; this refuses the other way).
pub(super) fn check_sandbox(sender: &Mailbox, named: &Mailbox) -> Result<(), Refusal> {
    if sender.kind.is_sandbox() == named.kind.is_sandbox() {
        return Ok(());
    }
    Err(Refusal::with_detail(
        Code::SandboxOnly,
        format!(
            "{} is a sandbox mailbox; {} is not.",
            named.imax_id, sender.imax_id
        ),
    ))
}

/// A file that is not TRACS goes only to a recipient that takes attachments.
pub(super) fn check_attachment(report: &Report, to: &Mailbox) -> Result<(), Refusal> {
    if report.is_tracs() || to.accepts_attachments {
        return Ok(());
    }
    Err(Refusal::with_detail(
        Code::InvalidTracsFile,
        format!(
            "{} accepts TRACS files only, and this file does not begin with a TRACS header (TENHR, VCHHR or ERRHR).",
            to.imax_id
        ),
    ))
}

/// Of a header's batch: the recipient of project `project` (line `line`) from its contract's
/// administrators; `None` when several administer it (the header then decides nothing).
pub(super) fn batch_recipient(
    mut admins: Vec<Mailbox>,
    project: &ImaxId,
    line: u64,
) -> Result<Option<Mailbox>, Refusal> {
    match admins.len() {
        1 => Ok(Some(admins.remove(0))),
        0 => Err(Refusal::with_detail(
            Code::UnknownRecipient,
            format!(
                "Line {line}: the directory has no contract administrator for project {project}."
            ),
        )),
        _ => Ok(None),
    }
}

/// Every batch of one file goes to the same recipient.
pub(super) fn same_recipient(target: &Option<Mailbox>, this: Mailbox) -> Result<Mailbox, Refusal> {
    match target {
        Some(t) if t.id != this.id => Err(Refusal::with_detail(
            Code::Misrouted,
            format!(
                "The batches are for projects with different recipients ({} and {}); send one file per recipient.",
                t.imax_id, this.imax_id
            ),
        )),
        _ => Ok(this),
    }
}

/// The refusal of a duplicate transmission: the same TRACS key (sender, date and time
/// stamps), or, within the window, the same content from `from` to `to`.
pub(super) fn duplicate_refusal(
    found: Duplicate,
    key: Option<&str>,
    from: &ImaxId,
    to: &ImaxId,
) -> Refusal {
    match found {
        Duplicate::SameKey { id, at } => {
            let mut parts = key.unwrap_or_default().split('|');
            let mut part = || parts.next().unwrap_or("");
            let (who, date, time) = (part(), part(), part());
            Refusal::with_detail(
                Code::DuplicateFile,
                format!(
                    "Message {id} (received {}) has the same Sender's iMAX ID {who}, date stamp {date} and time stamp {time}.",
                    crate::clock::rfc3339(at)
                ),
            )
        }
        Duplicate::SameContent { id, at } => Refusal::with_detail(
            Code::DuplicateFile,
            format!(
                "Message {id} (received {}) had the same content (SHA-256) from {from} to {to}.",
                crate::clock::rfc3339(at),
            ),
        ),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
