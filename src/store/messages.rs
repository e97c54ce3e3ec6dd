//! Reading messages: folder listings (keyset-paged) and single messages.

use super::StoreError;
use crate::clock::{from_epoch, to_epoch};
use crate::directory::{MessageId, HUD_MAILBOX, SANDBOX_TRACS};
use crate::mailbox::{Folder, ListQuery, MessageInfo, Order, Page, PageToken};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use std::sync::LazyLock;

#[cfg(test)]
mod plans;
mod purge;
pub use purge::Cutoffs;

/// [`Messages::find_duplicate`]'s statement: `$1` the TRACS key, `$2` the sender's mailbox, `$3`
/// the recipient's, `$4` the digest, `$5` the start of the same-content window.
pub(super) static FIND_DUPLICATE_SQL: LazyLock<String> = LazyLock::new(|| find_duplicate_sql(1));

/// [`FIND_DUPLICATE_SQL`] with its five parameters numbered from `$first`, so that a batch's
/// look-ups can share one statement (`committer::repeats`).
pub(crate) fn find_duplicate_sql(first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "SELECT why, message_id, received_at FROM (
       SELECT 2 AS why, message_id, received_at FROM messages
        WHERE tracs_key = {key} AND resend = 0
       UNION ALL
       SELECT 1 AS why, message_id, received_at FROM messages
        WHERE {since} IS NOT NULL AND sha256 = {sha} AND +from_mailbox = {from} AND +to_mailbox = {to}
          AND +received_at >= {since}
    ) d ORDER BY why DESC, received_at DESC LIMIT 1",
        key = p(0),
        from = p(1),
        to = p(2),
        sha = p(3),
        since = p(4),
    )
}

/// A message row, decoded by these names (`query_as::<_, MessageInfo>`); `{ANSWERED}` is
/// replaced by [`ANSWERED`] where the sender's view needs it, by `NULL` elsewhere (a received
/// message's answer is the reader's own business, and the lookup costs an index probe a row).
const SELECT: &str =
    "SELECT m.id AS row_id, m.message_id, f.imax_id AS from_imax_id, t.imax_id AS to_imax_id,
        m.file_name, m.size_bytes, m.sha256, m.received_at, m.retrieved_at, m.acked_at, m.body_key,
        m.to_mailbox AS to_mailbox_id, m.in_reply_to, {ANSWERED} AS answered_at
   FROM messages m JOIN mailboxes f ON f.id = m.from_mailbox JOIN mailboxes t ON t.id =
   m.to_mailbox";

/// When the first reply to `m` arrived, from the partial index on `in_reply_to` (its few
/// rows). `+r.received_at`: given `MIN(r.received_at)`, PostgreSQL's generic plan walked
/// `messages_age` from the oldest message looking for a reply, and read every message when
/// there was none (5 ms of each download and acknowledgement at 7,000 messages, most of
/// PostgreSQL's CPU; `plans`).
const ANSWERED: &str =
    "(SELECT MIN(+r.received_at) FROM messages r WHERE r.in_reply_to = m.message_id)";

/// [`Messages::find`]'s statement: a message by its public ID (`$1`) that the mailbox `$2`
/// sent or received, with the time of its first answer.
static FIND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} WHERE m.message_id = $1 AND (m.to_mailbox = $2 OR m.from_mailbox = $2)",
        select(true)
    )
});

/// [`SELECT`], with or without the time of the first answer.
fn select(answered: bool) -> String {
    SELECT.replace("{ANSWERED}", if answered { ANSWERED } else { "NULL" })
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for MessageInfo {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        Ok(MessageInfo {
            row_id: row.try_get("row_id")?,
            message_id: MessageId::stored(row.try_get("message_id")?),
            from_mailbox: row.try_get("from_imax_id")?,
            to_mailbox: row.try_get("to_imax_id")?,
            file_name: row.try_get("file_name")?,
            size_bytes: row.try_get::<i64, _>("size_bytes")?.max(0) as u64,
            sha256: row.try_get("sha256")?,
            received_at: from_epoch(row.try_get("received_at")?),
            retrieved_at: row
                .try_get::<Option<i64>, _>("retrieved_at")?
                .map(from_epoch),
            acked_at: row.try_get::<Option<i64>, _>("acked_at")?.map(from_epoch),
            body_key: Some(row.try_get("body_key")?),
            to_mailbox_id: row.try_get("to_mailbox_id")?,
            in_reply_to: row
                .try_get::<Option<String>, _>("in_reply_to")?
                .map(MessageId::stored),
            answered_at: row
                .try_get::<Option<i64>, _>("answered_at")?
                .map(from_epoch),
        })
    }
}

/// The sort key of a listing as SQL over `time` and `id` columns, and `unread` (a boolean
/// expression, for [`Order::UnreadFirst`]): `(group, ±time, ±id)`, compared and ordered
/// ascending (see [`PageToken`]). Returns the key and the ORDER BY list (a constant group is
/// left out of it: SQL reads a constant there as a column number).
fn sort_key(order: Order, time: &str, id: &str, unread: &str) -> (String, String) {
    let (k0, k1, k2) = match order {
        Order::OldestFirst => ("0".to_string(), time.to_string(), id.to_string()),
        Order::NewestFirst => ("0".into(), format!("-{time}"), format!("-{id}")),
        Order::UnreadFirst => (
            format!("(CASE WHEN {unread} THEN 0 ELSE 1 END)"),
            format!("-{time}"),
            format!("-{id}"),
        ),
    };
    let order_by = if k0 == "0" {
        format!("{k1}, {k2}")
    } else {
        format!("{k0}, {k1}, {k2}")
    };
    (format!("({k0}, {k1}, {k2})"), order_by)
}

/// An earlier message a new one repeats ([`Messages::find_duplicate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duplicate {
    /// The same Sender's iMAX ID, date stamp and time stamp.
    SameKey {
        id: String,
        at: time::OffsetDateTime,
    },
    /// The same content between the same mailboxes within the duplicate window.
    SameContent {
        id: String,
        at: time::OffsetDateTime,
    },
}

/// This part of the store (`Store::messages()`).
#[derive(Clone, Copy)]
pub struct Messages<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Messages<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Messages { pool, writer }
    }

    /// One page of `q.folder` as seen by `mailbox`, in `q.order`.
    pub async fn list(&self, mailbox: i64, q: &ListQuery) -> Result<Page, StoreError> {
        let pool = self.pool;
        if q.folder == Folder::Broadcasts {
            return Ok(list_broadcasts(pool, mailbox, q).await?);
        }
        // "TRACS" is HUD's (`$7`), or for a sandbox mailbox the simulated one (issue 31).
        let hud = format!(
            "(SELECT id FROM mailboxes WHERE imax_id = CASE WHEN (SELECT kind FROM mailboxes
               WHERE id = $1) = 'sandbox' THEN '{SANDBOX_TRACS}' ELSE $7 END)"
        );
        let filter = match q.folder {
            Folder::SentToTracs => format!("m.from_mailbox = $1 AND m.to_mailbox = {hud}"),
            Folder::ReceivedFromTracs => format!("m.to_mailbox = $1 AND m.from_mailbox = {hud}"),
            Folder::SentToOthers => format!("m.from_mailbox = $1 AND m.to_mailbox <> {hud}"),
            _ => format!("m.to_mailbox = $1 AND m.from_mailbox <> {hud}"),
        };
        let unread_only = q.folder.is_inbound() && !q.include_acknowledged;
        let (key, order_by) = sort_key(q.order, "m.received_at", "m.id", "m.retrieved_at IS NULL");
        let select = select(!q.folder.is_inbound());
        // Where the page starts, in a form the index on (mailbox, received_at, id) serves: a
        // plain row-value range in either direction, so that a page costs the same however
        // long the history (a computed key is compared row by row from the start, and sorted).
        let after = q.after.unwrap_or(PageToken::START);
        let range = match (q.order, q.after) {
            (Order::UnreadFirst, Some(_)) => format!("{key} > ($5, $6, $9)"),
            // The first page: no start (the token's parameters stay bound, unused).
            (_, None) => "$5 = $5 AND $6 = $6 AND $9 = $9".to_string(),
            (Order::OldestFirst, Some(_)) => "$5 = 0 AND (m.received_at, m.id) > ($6, $9)".into(),
            (Order::NewestFirst, Some(_)) => "$5 = 0 AND (m.received_at, m.id) < (-$6, -$9)".into(),
        };
        let order_by = match q.order {
            Order::OldestFirst => "m.received_at, m.id".to_string(),
            Order::NewestFirst => "m.received_at DESC, m.id DESC".to_string(),
            Order::UnreadFirst => order_by,
        };
        let unread = if unread_only {
            "AND m.acked_at IS NULL AND $4 = 1"
        } else {
            "AND $4 = 0"
        };
        let sql = format!(
            "{select} WHERE {filter}
           AND ($2 IS NULL OR m.received_at >= $2) AND ($3 IS NULL OR m.received_at < $3)
           {unread} AND {range}
         ORDER BY {order_by} LIMIT $8"
        );
        let mut entries: Vec<MessageInfo> = sqlx::query_as(&sql)
            .bind(mailbox)
            .bind(q.since.map(to_epoch))
            .bind(q.until.map(to_epoch))
            .bind(unread_only as i64)
            .bind(after.group)
            .bind(after.received_at)
            .bind(HUD_MAILBOX)
            .bind(q.page_size as i64 + 1)
            .bind(after.row_id)
            .fetch_all(pool)
            .await?;
        Ok(paginate(&mut entries, q.page_size, q.order))
    }
    /// One broadcast (`BC-<n>`) as `mailbox` sees it.
    pub async fn find_broadcast(
        &self,
        mailbox: i64,
        id: i64,
    ) -> Result<Option<MessageInfo>, StoreError> {
        let pool = self.pool;
        let sql = format!("{BROADCAST} WHERE b.id = $2");
        match sqlx::query(&sql)
            .bind(mailbox)
            .bind(id)
            .fetch_optional(pool)
            .await?
        {
            Some(row) => Ok(Some(broadcast_info(&row, mailbox)?)),
            None => Ok(None),
        }
    }
    /// A message that `mailbox` sent or received, by its public ID.
    pub async fn find(
        &self,
        mailbox: i64,
        message_id: &MessageId,
    ) -> Result<Option<MessageInfo>, StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_as(&FIND_SQL)
            .bind(message_id.as_str())
            .bind(mailbox)
            .fetch_optional(pool)
            .await?)
    }
    /// The replies to `message_id` that `mailbox` sent or received, oldest first (at most
    /// `limit`).
    pub async fn replies(
        &self,
        mailbox: i64,
        message_id: &MessageId,
        limit: u32,
    ) -> Result<Vec<MessageInfo>, StoreError> {
        let select = select(false);
        let sql = format!(
            "{select} WHERE m.in_reply_to = $1 AND (m.to_mailbox = $2 OR m.from_mailbox = $2)
             ORDER BY m.received_at, m.id LIMIT $3"
        );
        Ok(sqlx::query_as(&sql)
            .bind(message_id.as_str())
            .bind(mailbox)
            .bind(i64::from(limit))
            .fetch_all(self.pool)
            .await?)
    }
    /// An earlier transmission this one repeats, in one statement: the same TRACS key
    /// (Sender's iMAX ID, date and time stamps; not a deliberate resend), or else, when `since`
    /// is given, the same content from `from` to `to` since then. `+from_mailbox`,
    /// `+to_mailbox`, `+received_at`: as in
    /// [`Store::file_context`](crate::store::Store::file_context), the rows are reached by the
    /// digest only.
    pub async fn find_duplicate(
        &self,
        key: Option<&str>,
        from: i64,
        to: i64,
        sha256: &str,
        since: Option<time::OffsetDateTime>,
    ) -> Result<Option<Duplicate>, StoreError> {
        let row: Option<(i64, String, i64)> = sqlx::query_as(FIND_DUPLICATE_SQL.as_str())
            .bind(key)
            .bind(from)
            .bind(to)
            .bind(sha256)
            .bind(since.map(to_epoch))
            .fetch_optional(self.pool)
            .await?;
        Ok(row.map(|(why, id, at)| {
            let at = from_epoch(at);
            if why == 2 {
                Duplicate::SameKey { id, at }
            } else {
                Duplicate::SameContent { id, at }
            }
        }))
    }
    /// Messages received by `mailbox` and not yet retrieved: (from HUD, from others).
    pub async fn unread_counts(&self, mailbox: i64) -> Result<(i64, i64), StoreError> {
        let pool = self.pool;
        Ok(sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN f.imax_id = $2 THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN f.imax_id <> $2 THEN 1 ELSE 0 END), 0) AS BIGINT)
           FROM messages m JOIN mailboxes f ON f.id = m.from_mailbox
          WHERE m.to_mailbox = $1 AND m.retrieved_at IS NULL",
        )
        .bind(mailbox)
        .bind(HUD_MAILBOX)
        .fetch_one(pool)
        .await?)
    }
    /// The newest broadcasts: id, title, posted at, text.
    pub async fn latest_broadcasts(
        &self,
        n: u32,
    ) -> Result<Vec<(i64, String, time::OffsetDateTime, String)>, StoreError> {
        let pool = self.pool;
        let rows = sqlx::query(
            "SELECT id, title, posted_at, body FROM broadcasts ORDER BY posted_at DESC, id DESC
            LIMIT $1",
        )
        .bind(n as i64)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("title")?,
                    from_epoch(r.try_get("posted_at")?),
                    r.try_get("body")?,
                ))
            })
            .collect()
    }
    /// The text of a broadcast (`BC-<n>`).
    pub async fn broadcast_body(&self, id: i64) -> Result<Option<(String, String)>, StoreError> {
        let pool = self.pool;
        let row = sqlx::query("SELECT title, body FROM broadcasts WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        match row {
            Some(r) => Ok(Some((r.try_get("title")?, r.try_get("body")?))),
            None => Ok(None),
        }
    }
    /// Posts a broadcast (Help Desk).
    pub async fn post_broadcast(
        &self,
        title: &str,
        body: &str,
        by: &str,
        at: time::OffsetDateTime,
        audit: &crate::audit::AuditEntry,
    ) -> Result<i64, StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                let id = sqlx::query_scalar(
                "INSERT INTO broadcasts (title, body, posted_by, posted_at) VALUES ($1, $2, $3, $4)
                RETURNING id",
            )
            .bind(title)
            .bind(body)
            .bind(by)
            .bind(to_epoch(at))
            .fetch_one(&mut *tx)
            .await?;
                Ok(id)
            })
            .await
    }
}

fn paginate(entries: &mut Vec<MessageInfo>, page_size: u32, order: Order) -> Page {
    let more = entries.len() > page_size as usize;
    entries.truncate(page_size as usize);
    let next = if more {
        entries.last().map(|e| {
            let (t, id) = (to_epoch(e.received_at), e.row_id);
            match order {
                Order::OldestFirst => PageToken {
                    group: 0,
                    received_at: t,
                    row_id: id,
                },
                Order::NewestFirst | Order::UnreadFirst => PageToken {
                    group: i64::from(order == Order::UnreadFirst && e.retrieved_at.is_some()),
                    received_at: -t,
                    row_id: -id,
                },
            }
        })
    } else {
        None
    };
    Page {
        entries: std::mem::take(entries),
        next,
    }
}

fn broadcast_info(row: &sqlx::any::AnyRow, mailbox: i64) -> Result<MessageInfo, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    Ok(MessageInfo {
        row_id: id,
        message_id: MessageId::broadcast(id),
        from_mailbox: HUD_MAILBOX.to_string(),
        to_mailbox: row
            .try_get::<Option<String>, _>("to_imax_id")?
            .unwrap_or_default(),
        file_name: row.try_get("title")?,
        size_bytes: body.len() as u64,
        sha256: hex::encode(Sha256::digest(body.as_bytes())),
        received_at: from_epoch(row.try_get("posted_at")?),
        retrieved_at: None,
        acked_at: None,
        body_key: None,
        to_mailbox_id: mailbox,
        in_reply_to: None,
        answered_at: None,
    })
}

const BROADCAST: &str =
    "SELECT b.id, b.title, b.body, b.posted_at, (SELECT imax_id FROM mailboxes WHERE id = $1)
        AS to_imax_id
   FROM broadcasts b";

/// Broadcasts are listed as messages from HUD with IDs `BC-<n>`.
async fn list_broadcasts(pool: &AnyPool, mailbox: i64, q: &ListQuery) -> Result<Page, sqlx::Error> {
    let after = q.after.unwrap_or(PageToken::START);
    let order = match q.order {
        Order::UnreadFirst => Order::NewestFirst,
        o => o,
    };
    let (key, order_by) = sort_key(order, "b.posted_at", "b.id", "1 = 1");
    let sql = format!(
        "{BROADCAST}
          WHERE ($2 IS NULL OR b.posted_at >= $2) AND ($3 IS NULL OR b.posted_at < $3)
            AND {key} > ($4, $5, $7)
          ORDER BY {order_by} LIMIT $6"
    );
    let rows = sqlx::query(&sql)
        .bind(mailbox)
        .bind(q.since.map(to_epoch))
        .bind(q.until.map(to_epoch))
        .bind(after.group)
        .bind(after.received_at)
        .bind(q.page_size as i64 + 1)
        .bind(after.row_id)
        .fetch_all(pool)
        .await?;
    let mut entries = rows
        .iter()
        .map(|r| broadcast_info(r, mailbox))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(&mut entries, q.page_size, order))
}
