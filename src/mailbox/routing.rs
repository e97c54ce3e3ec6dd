//! Where a file goes (R12): to HUD's TRACS or to a Contract Administrator; replies from HUD or a
//! CA go back to any mailbox.

use crate::directory::{Mailbox, MailboxKind};
use crate::error::{Code, Refusal};

/// How the recipient was chosen, reported on the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutedBy {
    /// The sender named the recipient.
    Sender,
    /// The directory's property → contract → administrator table chose it, from the sending
    /// mailbox's properties.
    Directory,
    /// The directory chose it from the Project's iMAX ID in the TRACS header.
    Header,
    /// A reply: back to the sender of the message it answers.
    Reply,
}

impl RoutedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutedBy::Sender => "sender",
            RoutedBy::Directory => "directory",
            RoutedBy::Header => "header",
            RoutedBy::Reply => "reply",
        }
    }
}

/// Checks a recipient the sender named, or picks the single administrator of the sender's
/// properties' contracts (`administrators`) when none was named.
pub fn choose_recipient(
    sender: &Mailbox,
    named: Option<Mailbox>,
    administrators: Vec<Mailbox>,
) -> Result<(Mailbox, RoutedBy), Refusal> {
    match named {
        Some(to) => {
            if to.id == sender.id {
                return Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    "A mailbox cannot send a file to itself.",
                ));
            }
            // Issue 31: the sandbox and production never exchange a file, either way.
            if sender.kind.is_sandbox() != to.kind.is_sandbox() {
                return Err(Refusal::with_detail(
                    Code::SandboxOnly,
                    format!(
                        "{} and {} are not both in the sandbox.",
                        sender.imax_id, to.imax_id
                    ),
                ));
            }
            // R12: properties and service bureaus send to HUD or a CA; HUD and CAs answer anyone.
            if !sender.kind.is_administrator() && !to.kind.is_administrator() {
                return Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    format!(
                        "{} is not HUD's TRACS or a Contract Administrator; files go to TRACS or to a CA.",
                        to.imax_id
                    ),
                ));
            }
            if !to.active {
                return Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    format!("{} is not active.", to.imax_id),
                ));
            }
            Ok((to, RoutedBy::Sender))
        }
        None => {
            if sender.kind == MailboxKind::Hud || sender.kind == MailboxKind::ContractAdministrator
            {
                return Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    "Name the recipient (toMailbox): HUD and Contract Administrators answer a specific mailbox.",
                ));
            }
            let mut admins = administrators;
            match admins.len() {
                1 => Ok((admins.remove(0), RoutedBy::Directory)),
                0 => Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    "The directory has no contract administrator for this mailbox's properties; name the recipient (toMailbox).",
                )),
                _ => Err(Refusal::with_detail(
                    Code::UnknownRecipient,
                    format!(
                        "This mailbox's properties have several administrators ({}); name the recipient (toMailbox).",
                        admins.iter().map(|m| m.imax_id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::ImaxId;

    fn mb(id: i64, imax: &str, kind: MailboxKind) -> Mailbox {
        Mailbox {
            id,
            imax_id: ImaxId::parse(imax).expect("id"),
            kind,
            name: imax.into(),
            password_hash: String::new(),
            active: true,
            auth_epoch: 0,
            accepts_attachments: true,
            mid_frozen_until: None,
            frozen_until: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            last_used_at: None,
        }
    }

    #[test]
    fn r12_properties_send_to_hud_or_a_ca() {
        let prop = mb(1, "TRACM10001", MailboxKind::Property);
        let ca = mb(2, "TRACM20001", MailboxKind::ContractAdministrator);
        let other = mb(3, "TRACM10002", MailboxKind::Property);
        assert_eq!(
            choose_recipient(&prop, Some(ca.clone()), vec![]).map(|r| r.1),
            Ok(RoutedBy::Sender)
        );
        let e = choose_recipient(&prop, Some(other.clone()), vec![]).expect_err("refused");
        assert_eq!(e.code, Code::UnknownRecipient);
        assert!(
            choose_recipient(&ca, Some(other), vec![]).is_ok(),
            "a CA answers a property"
        );
        assert_eq!(
            choose_recipient(&prop, None, vec![ca.clone()]).map(|r| (r.0.id, r.1)),
            Ok((2, RoutedBy::Directory))
        );
        assert!(choose_recipient(&prop, None, vec![]).is_err());
        assert!(choose_recipient(
            &prop,
            None,
            vec![ca.clone(), mb(4, "TRACMPROD", MailboxKind::Hud)]
        )
        .is_err());
        assert!(choose_recipient(&ca, None, vec![]).is_err());
    }

    /// Issue 31: a sandbox never reaches production, nor production a sandbox, even an
    /// administrator who answers anyone.
    #[test]
    fn the_sandbox_and_production_never_meet() {
        let sandbox = mb(1, "TRACX00001", MailboxKind::Sandbox);
        let tracs = mb(2, "TRACXTRACS", MailboxKind::Sandbox);
        let hud = mb(3, "TRACMPROD", MailboxKind::Hud);
        let ca = mb(4, "TRACM20001", MailboxKind::ContractAdministrator);
        for (from, to) in [(&sandbox, &hud), (&ca, &sandbox), (&hud, &tracs)] {
            let e = choose_recipient(from, Some(to.clone()), vec![]).expect_err("refused");
            assert_eq!(
                e.code,
                Code::SandboxOnly,
                "{} -> {}",
                from.imax_id,
                to.imax_id
            );
        }
    }
}
