//! The text of the notices' mails: per message its id, mailboxes, file name, size, time and a
//! link to its page, never its content.

use crate::clock::rfc3339;
use crate::store::notices::{Claimed, LedgerItem, MissingWhat, NoticeKind};

/// A mail: its subject and text.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Mail {
    pub subject: String,
    pub body: String,
}

/// One mail for `notices` (one subscriber's, of one kind, at least one), linking to pages
/// under `base` (`public_url`). The text follows from the notices alone, in whatever order
/// they come (oldest message first), so the same notices always read the same.
pub(super) fn mail(kind: NoticeKind, notices: &[&Claimed], base: &str) -> Mail {
    let mut notices = notices.to_vec();
    notices.sort_by(|a, b| {
        (a.received_at, &a.message_id, a.id).cmp(&(b.received_at, &b.message_id, b.id))
    });
    if kind == NoticeKind::LedgerMissing {
        return ledger_mail(&notices, base);
    }
    let n = notices.len();
    let plural = if n == 1 { "" } else { "s" };
    let (subject, intro) = match kind {
        NoticeKind::Arrival => (
            format!("iMAX: {n} new message{plural}"),
            "arrived in an iMAX mailbox you subscribed to",
        ),
        NoticeKind::NotRetrieved => (
            format!("iMAX: {n} message{plural} sent and not retrieved"),
            "sent from an iMAX mailbox you subscribed to,\n\
             has not been retrieved by its recipient yet",
        ),
        NoticeKind::NotAnswered | NoticeKind::LedgerMissing => (
            format!("iMAX: no reply to {n} TRACS file{plural}"),
            "sent from an iMAX mailbox you subscribed to,\n\
             has had no reply from TRACS or its recipient yet",
        ),
    };
    let mid = notices.first().map_or("", |c| c.mid.as_str());
    let what = if n == 1 {
        format!("This message, {intro}")
    } else {
        format!("Each of these {n} messages, {intro}")
    };
    let mut body = format!("Dear {mid},\n\n{what}:\n");
    for c in &notices {
        body.push_str(&entry(c, base));
    }
    body.push_str(
        "\nThe files themselves are never mailed: open the mailbox in\n\
         iMAX to read them. To stop these notices, choose Notifications\n\
         in iMAX.\n",
    );
    Mail { subject, body }
}

/// The ledger's notices (issue 31): per item its contract, month, what is missing and a link
/// to the ledger's page; the file's id, name and time for a missing reply, never its content.
fn ledger_mail(notices: &[&Claimed], base: &str) -> Mail {
    let n = notices.len();
    let subject = if n == 1 {
        "iMAX: 1 item missing from the TRACS ledger".to_string()
    } else {
        format!("iMAX: {n} items missing from the TRACS ledger")
    };
    let mid = notices.first().map_or("", |c| c.mid.as_str());
    let mut body = format!(
        "Dear {mid},\n\nThe TRACS round-trip ledger finds missing what a mailbox you\n\
         subscribed to sent, or should have sent, its contract administrator:\n"
    );
    for c in notices {
        if let Some(item) = &c.ledger {
            body.push_str(&ledger_entry(c, item, base));
        }
    }
    body.push_str(
        "\nThe files themselves are never mailed: open the ledger in iMAX\n\
         to see what was sent and what came back. To stop these notices,\n\
         choose Notifications in iMAX.\n",
    );
    Mail { subject, body }
}

/// One missing item's lines.
fn ledger_entry(c: &Claimed, item: &LedgerItem, base: &str) -> String {
    let what = match item.what {
        MissingWhat::Voucher => format!("the month's voucher (due {})", plain(&item.due)),
        MissingWhat::Reply => format!(
            "a reply to message {} ({}, sent {})",
            plain(&c.message_id),
            plain(&c.file_name),
            rfc3339(c.received_at)
        ),
    };
    let (contract, month) = (plain(&item.contract), plain(&item.month));
    format!(
        "\nContract {contract}, month {month}\n  Missing:      {what}\n  \
         From mailbox: {from}\n  To mailbox:   {to}\n  Ledger:\n  \
         {base}/ledger?contract={contract}&month={month}\n",
        from = plain(&c.from_mailbox),
        to = plain(&c.to_mailbox),
    )
}

/// One message's lines.
fn entry(c: &Claimed, base: &str) -> String {
    format!(
        "\nMessage {id}\n  To mailbox:   {to}\n  From mailbox: {from}\n  File name:    {name}\n  \
         Size:         {size} bytes\n  Received:     {at}\n  Link:\n  {base}/mailbox/message/{id}\n",
        id = plain(&c.message_id),
        to = plain(&c.to_mailbox),
        from = plain(&c.from_mailbox),
        name = plain(&c.file_name),
        size = c.size_bytes,
        at = rfc3339(c.received_at),
    )
}

/// Text without control characters (a file name cannot break the mail's lines).
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A new mail's Message-ID (without its angle brackets): random, so that no two mails share
/// one, even across gateways (a sandbox and production mailing from one domain), at the
/// domain of `from` (`smtp.from`). It is recorded with the mail before the first try
/// (`store::notices::ComposedMail`), and every try carries it.
pub(super) fn message_id(from: &str) -> String {
    let mut b = [0u8; 16];
    // Without the system's randomness, the time and the process stand in (still unique).
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (t ^ u128::from(std::process::id())).to_be_bytes();
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let domain = from
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('>');
    let fits = !domain.is_empty()
        && from.contains('@')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let domain = if fits { domain } else { "imax-gateway.invalid" };
    format!("imax-notice.{hex}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: i64, message: &str, minute: i64) -> Claimed {
        Claimed {
            id,
            kind: NoticeKind::Arrival,
            attempts: 0,
            mid: "M20001".into(),
            email: "casey@baystate-pbca.example".into(),
            message_id: message.into(),
            file_name: format!("FILE{id}.DAT"),
            size_bytes: 30,
            received_at: time::macros::datetime!(2026-03-02 09:00 UTC)
                + time::Duration::minutes(minute),
            from_mailbox: "TRACM10001".into(),
            to_mailbox: "TRACM20001".into(),
            retrieved: false,
            answered: false,
            mailbox_id: 5,
            subscribed: true,
            account_id: 4,
            mail_id: None,
            ledger: None,
        }
    }

    /// Issue 30, item 1: a digest's text follows from its notices alone, whatever order they
    /// are read in, so the mail a retry sends is the first one's; another notice is another
    /// mail.
    #[test]
    fn a_digests_composition_is_stable() {
        let (a, b, c) = (
            notice(7, "MSGA", 0),
            notice(9, "MSGB", 5),
            notice(8, "MSGC", 9),
        );
        let base = "https://imax.example";
        let once = mail(NoticeKind::Arrival, &[&a, &b, &c], base);
        let again = mail(NoticeKind::Arrival, &[&c, &a, &b], base);
        assert_eq!(once, again);
        assert_eq!(once.subject, "iMAX: 3 new messages");
        let order: Vec<usize> = ["MSGA", "MSGB", "MSGC"]
            .iter()
            .map(|m| once.body.find(&format!("Message {m}")).expect(m))
            .collect();
        assert!(order.is_sorted(), "{}", once.body);
        let more = mail(NoticeKind::Arrival, &[&a, &b], base);
        assert_ne!(once, more);
    }

    /// Each mail gets its own Message-ID, at the sender's domain.
    #[test]
    fn message_ids_are_unique_and_at_the_senders_domain() {
        let one = message_id("iMAX <imax@notices.hud.example>");
        let two = message_id("imax@notices.hud.example");
        assert_ne!(one, two);
        assert!(
            one.starts_with("imax-notice.") && one.ends_with("@notices.hud.example"),
            "{one}"
        );
        assert_eq!(one.len(), two.len());
        assert!(message_id("nobody").ends_with("@imax-gateway.invalid"));
        assert!(message_id("x@bad domain>\r\n").ends_with("@imax-gateway.invalid"));
    }
}
