//! A batch's new rows (messages, their inline bodies, the end of their uploads' listings, the
//! audit records) written together.

use super::NewMessage;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use crate::store::audit_log::{Chain, Records, MAX_ROWS_PER_INSERT};
use crate::store::Engine;
use sqlx::{AnyConnection, Row};

/// Parameters of one [`write_at_once`] at most (PostgreSQL allows 65,535 per statement,
/// SQLite numbers them up to 32,766).
pub(super) const MAX_PARAMS_AT_ONCE: usize = 30_000;

/// A batch's new rows in one round trip (new messages, their inline bodies, the end of their
/// uploads' listings, the audit records), while the committer, the one writer, holds the
/// write lock: one statement of data-modifying `WITH` parts on PostgreSQL, one string of
/// statements on SQLite (each a hand-off to sqlx's SQLite worker thread, which cost more than
/// the statements themselves). Parameters are numbered across the whole text, so both engines
/// bind them alike. The listings it ended are counted, as [`write_messages`] counts them.
pub(super) async fn write_at_once(
    conn: &mut AnyConnection,
    engine: Engine,
    messages: &[NewRow<'_>],
    chain: &mut Chain,
    entries: &[&AuditEntry],
) -> Result<(), sqlx::Error> {
    let rows = AtOnce::new(messages, chain, entries);
    let parts = rows.parts(engine);
    if parts.is_empty() {
        return Ok(());
    }
    let sql = at_once_sql(engine, &parts, rows.claims());
    let query = rows.bind(engine, sqlx::query(&sql));
    if engine == Engine::Postgres {
        let claimed: i64 = query.fetch_one(&mut *conn).await?.try_get(0)?;
        all_claimed(claimed as u64, rows.claims())?;
    } else {
        // No listings here (see `apply_batch`): nothing to count.
        query.execute(&mut *conn).await?;
    }
    rows.moved(chain);
    Ok(())
}

/// A batch's new rows, chained after a head, to be written by one statement: its parts
/// ([`AtOnce::parts`]) and their parameters ([`AtOnce::bind`], numbered from `$1`).
pub(super) struct AtOnce<'a> {
    messages: &'a [NewRow<'a>],
    inline: Vec<(&'a str, &'a [u8])>,
    claims: Vec<&'a str>,
    records: Records<'a>,
}

impl<'a> AtOnce<'a> {
    pub(super) fn new(
        messages: &'a [NewRow<'a>],
        chain: &Chain,
        entries: &[&'a AuditEntry],
    ) -> AtOnce<'a> {
        AtOnce {
            messages,
            inline: inline_bodies(messages),
            claims: claims(messages),
            records: chain.chained(entries),
        }
    }

    /// The statements' parts, named ([`at_once_parts`]).
    pub(super) fn parts(&self, engine: Engine) -> Vec<(&'static str, String)> {
        let counts = [
            self.messages.len(),
            self.inline.len(),
            self.claims.len(),
            self.records.len(),
        ];
        at_once_parts(engine, counts)
    }

    /// The parameters [`AtOnce::bind`] binds on `engine` (on SQLite the notices' statement
    /// takes the messages' ids besides).
    pub(super) fn params(&self, engine: Engine) -> usize {
        let ids = match engine {
            Engine::Postgres => 0,
            Engine::Sqlite => self.messages.len(),
        };
        self.messages.len() * MESSAGE_PARAMS
            + self.inline.len() * 2
            + self.claims.len()
            + self.records.len() * Records::PARAMS
            + ids
    }

    /// How many uploads' listings the rows end.
    pub(super) fn claims(&self) -> usize {
        self.claims.len()
    }

    /// Binds the parts' parameters, in their order.
    pub(super) fn bind<'q>(&'q self, engine: Engine, query: AnyQuery<'q>) -> AnyQuery<'q> {
        let mut query = bind_messages(query, self.messages);
        for (key, data) in &self.inline {
            query = query.bind(*key).bind(*data);
        }
        for key in &self.claims {
            query = query.bind(*key);
        }
        let mut query = self.records.bind(query);
        if engine == Engine::Sqlite {
            // The notices' statement finds the new rows by their message ids.
            for (m, _) in self.messages {
                query = query.bind(m.message_id.as_str());
            }
        }
        query
    }

    /// Moves `chain` to the head these rows leave once written.
    pub(super) fn moved(&self, chain: &mut Chain) {
        chain.moved_to(&self.records);
    }
}

/// The statements of one [`write_at_once`], named, their parameters numbered across all of
/// them: `m` new messages, `c` their inline bodies, `d` the end of their uploads' listings
/// (returning a row per listing ended), `a` the audit records, `n` the notices their
/// subscribers are owed (issue 30: in the same transaction as the messages, so a crash
/// neither loses nor invents one). `counts`: messages, inline bodies, listings, records.
fn at_once_parts(engine: Engine, counts: [usize; 4]) -> Vec<(&'static str, String)> {
    let [messages, inline, claims, records] = counts;
    let mut parts = Vec::new();
    let mut next = 1;
    if messages > 0 {
        // PostgreSQL's other parts do not see this part's rows but through what it returns.
        let returning = match engine {
            Engine::Postgres => {
                " RETURNING id, from_mailbox, to_mailbox, received_at, tracs_key, in_reply_to"
            }
            Engine::Sqlite => "",
        };
        let sql = match engine {
            Engine::Postgres => format!(
                "INSERT INTO messages {}{returning}",
                message_values(next, messages)
            ),
            Engine::Sqlite => {
                one_row_each("messages", next, messages, MESSAGE_PARAMS, message_values)
            }
        };
        parts.push(("m", sql));
        next += messages * MESSAGE_PARAMS;
    }
    if inline > 0 {
        let values = |first, n| {
            let rows =
                crate::store::placeholders_at(first, n, 2, |p| format!("({}, 0, {})", p[0], p[1]));
            format!("(body_key, seq, data) VALUES {rows}")
        };
        let sql = match engine {
            Engine::Postgres => format!("INSERT INTO body_chunks {}", values(next, inline)),
            Engine::Sqlite => one_row_each("body_chunks", next, inline, 2, values),
        };
        parts.push(("c", sql));
        next += inline * 2;
    }
    if claims > 0 {
        let list = crate::store::placeholders_at(next, claims, 1, |p| p[0].clone());
        parts.push((
            "d",
            format!("DELETE FROM body_uploads WHERE body_key IN ({list}) RETURNING 1"),
        ));
        next += claims;
    }
    if records > 0 {
        let sql = match engine {
            Engine::Postgres => format!("INSERT INTO audit_log {}", Records::values(next, records)),
            Engine::Sqlite => {
                one_row_each("audit_log", next, records, Records::PARAMS, Records::values)
            }
        };
        parts.push(("a", sql));
        next += records * Records::PARAMS;
    }
    if messages > 0 {
        let new_rows = match engine {
            Engine::Postgres => "m".to_string(),
            Engine::Sqlite => new_messages_by_id(next, messages),
        };
        parts.push(("n", notices_sql(&new_rows)));
    }
    parts
}

/// `n` rows into `table` as `n` single-row statements (SQLite), the row `r`'s parameters from
/// `$first + r * per_row`; `values(first, rows)` gives the columns and `VALUES` of `rows` rows.
/// Not one multi-row statement: inside a transaction SQLite keeps a statement journal (a
/// copy of each page the statement changes) for a statement that writes several rows, so that
/// one failing half-way undoes only itself — issue 29 measured it at about two pages per
/// message, and most of the writer's allocations. A single-row `INSERT` checks every
/// constraint before it writes anything and needs none; a failure still fails the batch as
/// before (rolled back whole, then done again job by job).
fn one_row_each(
    table: &str,
    first: usize,
    n: usize,
    per_row: usize,
    values: impl Fn(usize, usize) -> String,
) -> String {
    (0..n)
        .map(|r| format!("INSERT INTO {table} {}", values(first + r * per_row, 1)))
        .collect::<Vec<_>>()
        .join(";\n")
}

/// The new messages whose message ids are the parameters from `$first` (`n` of them), with the
/// columns [`notices_sql`] reads.
fn new_messages_by_id(first: usize, n: usize) -> String {
    let list = crate::store::placeholders_at(first, n, 1, |p| p[0].clone());
    format!(
        "(SELECT id, from_mailbox, to_mailbox, received_at, tracs_key, in_reply_to
            FROM messages WHERE message_id IN ({list}))"
    )
}

/// The outbox rows (`notices`) that new messages (`new_rows`: id, from_mailbox, to_mailbox,
/// received_at, tracs_key, in_reply_to) owe the subscribers of their mailboxes (issue 30): an
/// arrival to the recipient's, a reminder should it stay unretrieved to the sender's, and for
/// a TRACS file (not itself a reply) one should no reply come. When each falls due, and whether
/// it is still owed then, the sender decides (`gateway::notices`).
fn notices_sql(new_rows: &str) -> String {
    format!(
        "INSERT INTO notices (kind, account_id, message_id, event_at)
         SELECT 'arrival', s.account_id, x.id, x.received_at
           FROM {new_rows} x JOIN subscriptions s ON s.mailbox_id = x.to_mailbox
         UNION ALL
         SELECT 'not_retrieved', s.account_id, x.id, x.received_at
           FROM {new_rows} x JOIN subscriptions s ON s.mailbox_id = x.from_mailbox
         UNION ALL
         SELECT 'not_answered', s.account_id, x.id, x.received_at
           FROM {new_rows} x JOIN subscriptions s ON s.mailbox_id = x.from_mailbox
          WHERE x.tracs_key IS NOT NULL AND x.in_reply_to IS NULL"
    )
}

/// The parts as one statement of data-modifying `WITH` parts on PostgreSQL (answering how many
/// listings `d` ended), as one string of statements on SQLite.
fn at_once_sql(engine: Engine, parts: &[(&str, String)], claims: usize) -> String {
    match engine {
        Engine::Postgres => {
            let ended = ended_listings(claims);
            let parts: Vec<String> = parts
                .iter()
                .map(|(name, part)| format!("{name} AS ({part})"))
                .collect();
            format!("WITH {} SELECT CAST({ended} AS BIGINT)", parts.join(", "))
        }
        Engine::Sqlite => parts
            .iter()
            .map(|(_, part)| part.as_str())
            .collect::<Vec<_>>()
            .join(";\n"),
    }
}

/// How many listings the part `d` of a statement of [`at_once_parts`] ended, as an expression.
pub(super) fn ended_listings(claims: usize) -> &'static str {
    if claims > 0 {
        "(SELECT COUNT(*) FROM d)"
    } else {
        "0"
    }
}

/// The inline bodies among `messages`: (body key, bytes).
fn inline_bodies<'m>(messages: &[NewRow<'m>]) -> Vec<(&'m str, &'m [u8])> {
    messages
        .iter()
        .filter_map(|(m, _)| {
            m.inline_body
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| (m.body_key.as_str(), d))
        })
        .collect()
}

/// The uploads whose listings `messages`' transaction ends (database bodies).
fn claims<'m>(messages: &[NewRow<'m>]) -> Vec<&'m str> {
    messages
        .iter()
        .filter(|(m, _)| m.claim_upload)
        .map(|(m, _)| m.body_key.as_str())
        .collect()
}

/// The rows and the end of their uploads' listings commit together; an upload a sweep took as
/// abandoned has lost its body, and its row must not exist.
fn all_claimed(ended: u64, claims: usize) -> Result<(), sqlx::Error> {
    if ended == claims as u64 {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(
            "an upload was swept as abandoned before its message was stored".into(),
        ))
    }
}

/// New messages, with their inline bodies and the end of their uploads' listings (database
/// bodies), in one statement each per [`MAX_ROWS_PER_INSERT`] rows.
pub(super) async fn write_messages(
    conn: &mut AnyConnection,
    messages: &[NewRow<'_>],
) -> Result<(), sqlx::Error> {
    for part in messages.chunks(MAX_ROWS_PER_INSERT) {
        let sql = format!("INSERT INTO messages {}", message_values(1, part.len()));
        bind_messages(sqlx::query(&sql), part)
            .execute(&mut *conn)
            .await?;
    }
    let inline = inline_bodies(messages);
    for part in inline.chunks(MAX_ROWS_PER_INSERT) {
        let values =
            crate::store::placeholders(part.len(), 2, |p| format!("({}, 0, {})", p[0], p[1]));
        let sql = format!("INSERT INTO body_chunks (body_key, seq, data) VALUES {values}");
        let mut query = sqlx::query(&sql);
        for (key, data) in part {
            query = query.bind(*key).bind(*data);
        }
        query.execute(&mut *conn).await?;
    }
    let claims = claims(messages);
    for part in claims.chunks(MAX_ROWS_PER_INSERT) {
        let list = crate::store::placeholders(part.len(), 1, |p| p[0].clone());
        let sql = format!("DELETE FROM body_uploads WHERE body_key IN ({list})");
        let mut query = sqlx::query(&sql);
        for key in part {
            query = query.bind(*key);
        }
        let ended = query.execute(&mut *conn).await?;
        all_claimed(ended.rows_affected(), part.len())?;
    }
    for part in messages.chunks(MAX_ROWS_PER_INSERT) {
        let sql = notices_sql(&new_messages_by_id(1, part.len()));
        let mut query = sqlx::query(&sql);
        for (m, _) in part {
            query = query.bind(m.message_id.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A new message and the sequence number of the audit record that stores it, which its row
/// notes ([`receipt_record`]).
pub(super) type NewRow<'m> = (&'m NewMessage, Option<i64>);

/// The sequence number a new message's `audit_seq` holds: `seq`, that of its job's audit
/// record, when that record is the successful `SendFile` of this very message (what a receipt's
/// inclusion proof proves, `AuditLog::stored_file_record`); else none.
pub(super) fn receipt_record(m: &NewMessage, audit: &AuditEntry, seq: i64) -> Option<i64> {
    let stores_it = audit.action == crate::audit::Action::SendFile.as_str()
        && audit.outcome == crate::audit::Outcome::Ok.as_str()
        && audit.message_id.as_deref() == Some(m.message_id.as_str());
    stores_it.then_some(seq)
}

/// Parameters per new message.
pub(super) const MESSAGE_PARAMS: usize = 15;

/// The columns and `VALUES` of `n` new messages whose parameters start at `$first`.
fn message_values(first: usize, n: usize) -> String {
    let values =
        crate::store::placeholders_at(first, n, MESSAGE_PARAMS, |p| format!("({})", p.join(", ")));
    format!(
        "(message_id, from_mailbox, to_mailbox, sent_by, file_name, size_bytes, sha256,
          body_key, received_at, tracs_key, routed_by, resend, misrouted, in_reply_to,
          audit_seq)
         VALUES {values}"
    )
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds new messages' parameters, in the order of [`message_values`].
fn bind_messages<'q>(mut query: AnyQuery<'q>, rows: &[NewRow<'q>]) -> AnyQuery<'q> {
    for (m, seq) in rows {
        query = query
            .bind(m.message_id.as_str())
            .bind(m.from_mailbox)
            .bind(m.to_mailbox)
            .bind(&m.sent_by)
            .bind(&m.file_name)
            .bind(m.size_bytes as i64)
            .bind(&m.sha256)
            .bind(&m.body_key)
            .bind(to_epoch(m.received_at))
            .bind(&m.tracs_key)
            .bind(m.routed_by.as_str())
            .bind(i64::from(m.resend))
            .bind(i64::from(m.misrouted))
            .bind(m.in_reply_to.as_ref().map(|r| r.as_str()))
            .bind(*seq);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 29: on SQLite every row of a batch is its own single-row `INSERT` (no statement
    /// journal), numbered on across the statements; PostgreSQL keeps one multi-row part each.
    #[test]
    fn sqlite_writes_a_batch_one_row_per_statement() {
        let parts = at_once_parts(Engine::Sqlite, [3, 3, 0, 4]);
        let sql = at_once_sql(Engine::Sqlite, &parts, 0);
        let inserts: Vec<&str> = sql
            .split(";\n")
            .filter(|s| s.trim_start().starts_with("INSERT INTO") && s.contains("VALUES"))
            .collect();
        assert_eq!(inserts.len(), 3 + 3 + 4);
        assert!(inserts.iter().all(|s| s.matches("), (").count() == 0));
        let audit = Records::PARAMS;
        let first_record = 1 + 3 * MESSAGE_PARAMS + 3 * 2;
        assert!(inserts[6].contains(&format!("(${first_record}, ")));
        assert!(inserts[9].contains(&format!("(${}, ", first_record + 3 * audit)));
        let parts = at_once_parts(Engine::Postgres, [3, 3, 0, 4]);
        let m = &parts.iter().find(|(n, _)| *n == "m").expect("m").1;
        assert_eq!(m.matches("INSERT INTO").count(), 1);
        assert_eq!(m.matches("), (").count(), 2);
    }
}
