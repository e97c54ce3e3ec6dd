//! Reading the audit chain by what records say (issue 30 item 2): the search behind
//! `imax audit search` and the Help Desk's audit page, and the records after a sequence number
//! that the syslog forwarder sends on. Every value is a bound parameter.

use super::audit_log::AuditLog;
use super::StoreError;
use crate::audit::{AuditQuery, AuditRecord, Found};
use crate::clock::to_epoch;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The columns every read of whole records selects, in [`record_of`]'s terms.
const COLUMNS: &str = "seq, at, actor, action, door, mailbox, message_id, client_addr, \
     outcome, detail, hash, request_id";

/// A row of [`COLUMNS`] as a record.
pub(super) fn record_of(row: &AnyRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
        entry: super::audit_log::entry_of(row)?,
    })
}

/// A parameter of the search: text or an instant.
enum Value {
    Text(String),
    Epoch(i64),
}

impl AuditLog<'_> {
    /// The records `q` matches, in chain order, at most `limit` of them (and whether more
    /// matched).
    pub async fn search(&self, q: &AuditQuery, limit: u32) -> Result<Found, StoreError> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let mut when = |sql: &str, v: Value| {
            values.push(v);
            conditions.push(format!("{sql} ${}", values.len()));
        };
        if let Some(a) = &q.actor {
            when("actor =", Value::Text(a.clone()));
        }
        if let Some(m) = &q.mailbox {
            when("mailbox =", Value::Text(m.clone()));
        }
        if let Some(a) = &q.action {
            when("action =", Value::Text(a.clone()));
        }
        if let Some(t) = q.from_instant() {
            when("at >=", Value::Epoch(to_epoch(t)));
        }
        if let Some(t) = q.to_instant() {
            when("at <", Value::Epoch(to_epoch(t)));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log {filter} ORDER BY seq LIMIT ${}",
            values.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for v in values {
            query = match v {
                Value::Text(s) => query.bind(s),
                Value::Epoch(e) => query.bind(e),
            };
        }
        let rows = query
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await?;
        let mut records = rows.iter().map(record_of).collect::<Result<Vec<_>, _>>()?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        Ok(Found { records, more })
    }

    /// Up to `limit` records after record `seq`, in chain order (what a forwarder sends next).
    pub async fn after(&self, seq: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(seq)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(record_of).collect::<Result<Vec<_>, _>>()?)
    }
}
