//! The text of the notices' mails: per message its id, mailboxes, file name, size, time and a
//! link to its page, never its content.

use crate::clock::rfc3339;
use crate::store::notices::{Claimed, LedgerItem, MissingWhat, NoticeKind};

/// A mail: its subject and text.
pub(super) struct Mail {
    pub subject: String,
    pub body: String,
}

/// One mail for `notices` (one subscriber's, of one kind, at least one), linking to pages
/// under `base` (`public_url`).
pub(super) fn mail(kind: NoticeKind, notices: &[&Claimed], base: &str) -> Mail {
    if kind == NoticeKind::LedgerMissing {
        return ledger_mail(notices, base);
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
    for c in notices {
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
