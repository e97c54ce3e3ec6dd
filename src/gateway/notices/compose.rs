//! The text of the notices' mails: per message its id, mailboxes, file name, size, time and a
//! link to its page, never its content.

use crate::clock::rfc3339;
use crate::store::notices::{Claimed, NoticeKind};

/// A mail: its subject and text.
pub(super) struct Mail {
    pub subject: String,
    pub body: String,
}

/// One mail for `notices` (one subscriber's, of one kind, at least one), linking to pages
/// under `base` (`public_url`).
pub(super) fn mail(kind: NoticeKind, notices: &[&Claimed], base: &str) -> Mail {
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
        NoticeKind::NotAnswered => (
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
