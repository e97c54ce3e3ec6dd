//! Identifiers with their formats checked once, at the edge.

use std::fmt;

/// HUD's own TRACS mailbox.
pub const HUD_MAILBOX: &str = "TRACMPROD";

/// The sandbox's simulated TRACS (issue 31): what a sandbox mailbox's files go to, and what its
/// simulated replies come from (made by migration 0024; nobody can open it).
pub const SANDBOX_TRACS: &str = "TRACXTRACS";

/// The prefix of sandbox iMAX IDs (HUD's TRACX test mailboxes).
const SANDBOX_PREFIX: &str = "TRACX";

/// A person's Secure Systems user ID: `M` (industry), `H` (HUD staff) or `C` (contractor)
/// followed by 4 to 8 digits, e.g. `M12345`. Stored upper case. Whose authority an ID
/// carries is the account's affiliation (`directory::Affiliation`), never its letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MId(String);

impl MId {
    pub fn parse(s: &str) -> Option<MId> {
        let s = s.trim().to_ascii_uppercase();
        let mut chars = s.chars();
        let first = chars.next()?;
        let digits = chars.as_str();
        let ok = matches!(first, 'M' | 'H' | 'C')
            && (4..=8).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(MId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An iMAX (TRACSMail) ID: `TRACM` followed by five digits, or HUD's `TRACMPROD`; in the
/// sandbox (issue 31), `TRACX` followed by five digits, or the simulated TRACS `TRACXTRACS`.
/// HUD's own edits accept nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImaxId(String);

impl ImaxId {
    pub fn parse(s: &str) -> Option<ImaxId> {
        let s = s.trim().to_ascii_uppercase();
        if s == HUD_MAILBOX || s == SANDBOX_TRACS {
            return Some(ImaxId(s));
        }
        let digits = s
            .strip_prefix("TRACM")
            .or_else(|| s.strip_prefix(SANDBOX_PREFIX))?;
        (digits.len() == 5 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(ImaxId(s))
    }

    pub fn hud() -> ImaxId {
        ImaxId(HUD_MAILBOX.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_hud(&self) -> bool {
        self.0 == HUD_MAILBOX
    }

    /// The sandbox's simulated TRACS.
    pub fn sandbox_tracs() -> ImaxId {
        ImaxId(SANDBOX_TRACS.to_string())
    }

    /// A sandbox ID (`TRACX…`): only sandbox mailboxes have one, and they have no other.
    pub fn is_sandbox(&self) -> bool {
        self.0.starts_with(SANDBOX_PREFIX)
    }
}

impl fmt::Display for ImaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A property's number (TRACS's, e.g. `800012345`): 1 to 32 characters, without the spaces
/// around it. The number of the store's rows, of forms and of the command line alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropertyNumber(String);

impl PropertyNumber {
    pub fn parse(s: &str) -> Option<PropertyNumber> {
        let s = s.trim();
        (!s.is_empty() && s.len() <= 32).then(|| PropertyNumber(s.to_string()))
    }

    /// A number as the store holds it (checked when it was written).
    pub fn stored(s: String) -> PropertyNumber {
        PropertyNumber(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PropertyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message's public ID. The gateway makes them from the day and 16 random hex digits
/// (`20261122-3f9a0c1b7d2e4f60`, `mailbox::new_message_id`); a broadcast's is `BC-` and its
/// number. One a client names is read with [`MessageId::parse`], so a lookup carries nothing
/// else: 1 to 64 characters without the spaces around it, none a control character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    pub fn parse(s: &str) -> Option<MessageId> {
        let s = s.trim();
        let ok = !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control);
        ok.then(|| MessageId(s.to_string()))
    }

    /// An ID as the gateway made it, or as the store holds it.
    pub fn stored(s: String) -> MessageId {
        MessageId(s)
    }

    /// The ID of broadcast `n`.
    pub fn broadcast(n: i64) -> MessageId {
        MessageId(format!("BC-{n}"))
    }

    /// The broadcast's number, if this names one.
    pub fn broadcast_number(&self) -> Option<i64> {
        self.0.strip_prefix("BC-").and_then(|n| n.parse().ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a sender asks a file to go: HUD's TRACS (written `TRACS` or `TRACMPROD`) or another
/// iMAX ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Tracs,
    Mailbox(ImaxId),
}

impl Recipient {
    pub fn parse(s: &str) -> Option<Recipient> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("TRACS") || t.eq_ignore_ascii_case(HUD_MAILBOX) {
            return Some(Recipient::Tracs);
        }
        ImaxId::parse(t).map(Recipient::Mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imax_ids_are_tracm_and_five_digits() {
        assert!(ImaxId::parse("TRACM16004").is_some());
        assert_eq!(
            ImaxId::parse(" tracm16004 ").map(|i| i.0),
            Some("TRACM16004".into())
        );
        assert!(ImaxId::parse("TRACMPROD").is_some_and(|i| i.is_hud()));
        assert!(ImaxId::parse("tracx00001").is_some_and(|i| i.is_sandbox() && !i.is_hud()));
        assert!(ImaxId::parse("TRACXTRACS").is_some_and(|i| i.is_sandbox()));
        assert!(ImaxId::parse("TRACM00001").is_some_and(|i| !i.is_sandbox()));
        for bad in [
            "TRACM1600",
            "TRACM160045",
            "TRACY16004",
            "TRACX1600",
            "TRACM1600A",
            "",
            "TRACM",
        ] {
            assert!(ImaxId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn m_ids() {
        assert!(MId::parse("M12345").is_some());
        assert!(MId::parse("h1234").is_some());
        for bad in ["12345", "M12", "MX1234", "M123456789", "Q12345"] {
            assert!(MId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn property_numbers() {
        assert_eq!(
            PropertyNumber::parse(" 800012345 ").map(|p| p.0),
            Some("800012345".into())
        );
        for bad in ["", "   ", &"9".repeat(33)] {
            assert!(PropertyNumber::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn message_ids() {
        let id = MessageId::parse(" 20261122-3f9a0c1b7d2e4f60 ").expect("an id");
        assert_eq!(id.as_str(), "20261122-3f9a0c1b7d2e4f60");
        assert_eq!(id.broadcast_number(), None);
        assert_eq!(MessageId::broadcast(7).broadcast_number(), Some(7));
        assert_eq!(MessageId::parse("BC-7"), Some(MessageId::broadcast(7)));
        for bad in ["", "  ", "a\nb", &"x".repeat(65)] {
            assert!(MessageId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn recipients() {
        assert_eq!(Recipient::parse("TRACS"), Some(Recipient::Tracs));
        assert_eq!(Recipient::parse("TRACMPROD"), Some(Recipient::Tracs));
        assert!(matches!(
            Recipient::parse("TRACM20001"),
            Some(Recipient::Mailbox(_))
        ));
        assert_eq!(Recipient::parse("HUD"), None);
    }
}
