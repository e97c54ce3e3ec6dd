//! Mailboxes as their users see them: the folders iMAX users know, message entries, receipts.
//!
//! "TRACS" is HUD's mailbox (`TRACMPROD`); "Others" is any other iMAX ID (R12). A folder is a
//! view over messages from the point of view of one mailbox:
//!
//! | folder | messages |
//! | --- | --- |
//! | `sentToTracs` | from this mailbox to HUD |
//! | `receivedFromTracs` | from HUD to this mailbox |
//! | `sentToOthers` | from this mailbox to any other |
//! | `receivedFromOthers` | from any other to this mailbox |
//! | `broadcasts` | notices posted by the Help Desk to everyone |

mod routing;

pub use routing::{choose_recipient, RoutedBy};

use crate::directory::MessageId;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    SentToTracs,
    ReceivedFromTracs,
    SentToOthers,
    ReceivedFromOthers,
    Broadcasts,
}

impl Folder {
    pub const ALL: [Folder; 5] = [
        Folder::SentToTracs,
        Folder::ReceivedFromTracs,
        Folder::SentToOthers,
        Folder::ReceivedFromOthers,
        Folder::Broadcasts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Folder::SentToTracs => "sentToTracs",
            Folder::ReceivedFromTracs => "receivedFromTracs",
            Folder::SentToOthers => "sentToOthers",
            Folder::ReceivedFromOthers => "receivedFromOthers",
            Folder::Broadcasts => "broadcasts",
        }
    }

    pub fn parse(s: &str) -> Option<Folder> {
        Folder::ALL.into_iter().find(|f| f.as_str() == s.trim())
    }

    /// Folders of messages this mailbox received (and so may acknowledge).
    pub fn is_inbound(self) -> bool {
        matches!(
            self,
            Folder::ReceivedFromTracs | Folder::ReceivedFromOthers | Folder::Broadcasts
        )
    }

    /// The iMAX status for an empty folder: 600 nothing sent to others, 601 nothing received
    /// from others, 602 no results from TRACS for the period asked, 603 nothing from TRACS,
    /// 604 no broadcasts. iMAX had no code for "nothing sent to TRACS"; that answers 200 with
    /// no entries.
    pub fn empty_status(self, period_given: bool) -> u16 {
        match self {
            Folder::SentToOthers => 600,
            Folder::ReceivedFromOthers => 601,
            Folder::ReceivedFromTracs if period_given => 602,
            Folder::ReceivedFromTracs => 603,
            Folder::Broadcasts => 604,
            Folder::SentToTracs => 200,
        }
    }
}

/// A message as listed or fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub row_id: i64,
    pub message_id: MessageId,
    pub from_mailbox: String,
    pub to_mailbox: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub received_at: OffsetDateTime,
    pub retrieved_at: Option<OffsetDateTime>,
    pub acked_at: Option<OffsetDateTime>,
    /// Where the body lives in the body store; `None` for broadcasts, whose text is inline.
    pub body_key: Option<String>,
    pub to_mailbox_id: i64,
    /// The message this one answers (a reply from TRACS, a CA's answer).
    pub in_reply_to: Option<MessageId>,
    /// When the first answer to this message arrived (read for the sender's folders and for
    /// one message; `None` otherwise, or while unanswered).
    pub answered_at: Option<OffsetDateTime>,
}

/// What the sender is told once a file is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: MessageId,
    /// The name the file was stored under (what a signed receipt states).
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: u64,
    pub from_mailbox: String,
    pub to_mailbox: String,
    pub received_at: OffsetDateTime,
    pub routed_by: RoutedBy,
    /// Accepted although addressed against the directory (`tracs.misrouted = "mark"`).
    pub misrouted: bool,
    /// The message this one answers.
    pub in_reply_to: Option<MessageId>,
    /// Problems found in fields whose layout is not confirmed: the file was accepted, and a
    /// format-error reply with this id waits in the sender's "Received from TRACS".
    pub format_errors: Option<FormatErrors>,
}

/// The gateway's own format-error reply to an accepted file (issue 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatErrors {
    /// The reply's message id.
    pub reply_id: MessageId,
    /// How many problems it names (those beyond its cap counted too).
    pub problems: u64,
}

/// A listing request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub folder: Folder,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub include_acknowledged: bool,
    pub after: Option<PageToken>,
    pub page_size: u32,
    pub order: Order,
}

/// The order of a listing. Pages are keyset-paged in any order, so a page never repeats or
/// skips an entry while new messages arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first: the system-to-system order, where clients fetch what is new.
    #[default]
    OldestFirst,
    NewestFirst,
    /// Received messages not yet retrieved first, each group newest first: the browser's
    /// inbox order.
    UnreadFirst,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::OldestFirst => "oldest",
            Order::NewestFirst => "newest",
            Order::UnreadFirst => "unread",
        }
    }
    pub fn parse(s: &str) -> Option<Order> {
        [Order::OldestFirst, Order::NewestFirst, Order::UnreadFirst]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Where the next page starts: after this position in the listing's sort key `(group,
/// received_at, row id)`, with the time and id negated when newest come first. The group is
/// 0 except in [`Order::UnreadFirst`] (0 unread, 1 retrieved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    pub group: i64,
    pub received_at: i64,
    pub row_id: i64,
}

impl PageToken {
    /// Before the first entry of any listing.
    pub const START: PageToken = PageToken {
        group: i64::MIN,
        received_at: i64::MIN,
        row_id: i64::MIN,
    };

    pub fn encode(&self) -> String {
        if self.group == 0 {
            format!("{}.{}", self.received_at, self.row_id)
        } else {
            format!("{}.{}.{}", self.group, self.received_at, self.row_id)
        }
    }
    pub fn decode(s: &str) -> Option<PageToken> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let n = |i: usize| parts.get(i)?.parse::<i64>().ok();
        match parts.len() {
            2 => Some(PageToken {
                group: 0,
                received_at: n(0)?,
                row_id: n(1)?,
            }),
            3 => Some(PageToken {
                group: n(0)?,
                received_at: n(1)?,
                row_id: n(2)?,
            }),
            _ => None,
        }
    }
}

/// One page of a folder.
#[derive(Debug, Clone)]
pub struct Page {
    pub entries: Vec<MessageInfo>,
    pub next: Option<PageToken>,
}

/// A new message ID: the date and 16 random hex digits, e.g. `20261122-3f9a0c1b7d2e4f60`.
pub fn new_message_id(now: OffsetDateTime) -> Result<MessageId, getrandom::Error> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b)?;
    Ok(MessageId::stored(format!(
        "{:04}{:02}{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        hex::encode(b)
    )))
}

/// A client-supplied file name, reduced to something safe to show and to send back in a
/// download header: no path, no control characters, at most 255 bytes. It is never used as a
/// path on disk.
pub fn clean_file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
    if cleaned.is_empty() {
        return None;
    }
    let mut end = cleaned.len().min(255);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    Some(cleaned[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(
            clean_file_name("C:\\tracs\\out\\TEN.dat").as_deref(),
            Some("TEN.dat")
        );
        assert_eq!(
            clean_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(clean_file_name("a\nb\"c.txt").as_deref(), Some("abc.txt"));
        assert_eq!(clean_file_name("..."), None);
        assert_eq!(clean_file_name(""), None);
        assert_eq!(
            clean_file_name(&"é".repeat(300)).map(|s| s.len() <= 255),
            Some(true)
        );
    }

    #[test]
    fn page_tokens_round_trip() {
        let t = PageToken {
            group: 0,
            received_at: 1_700_000_000,
            row_id: 42,
        };
        assert_eq!(t.encode(), "1700000000.42");
        assert_eq!(PageToken::decode(&t.encode()), Some(t));
        let t = PageToken {
            group: 1,
            received_at: -1_700_000_000,
            row_id: -42,
        };
        assert_eq!(PageToken::decode(&t.encode()), Some(t));
        assert_eq!(PageToken::decode("nonsense"), None);
    }
}
