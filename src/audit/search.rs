//! Searching the chain (issue 30 item 2): which records to find, and a record found with its
//! place in the chain (sequence number and hash), as CSV and JSON. `imax audit search` and the
//! Help Desk's audit page read the same [`AuditQuery`] through `Store::audit_log().search`.

use super::AuditEntry;
use crate::calendar::{end_of_day, start_of_day};
use crate::clock::rfc3339;
use time::{Date, OffsetDateTime};

/// What to look for; every filter given must hold. Days are calendar days in Washington (R17),
/// as every day of the rules is: `since` from its midnight there, `until` through its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The actor: an M-ID (or `admin`, `system`).
    pub actor: Option<String>,
    /// The TRACSMail ID the record names.
    pub mailbox: Option<String>,
    /// The action's name as stored (`SendFile`, `SignIn`, …).
    pub action: Option<String>,
    pub since: Option<Date>,
    pub until: Option<Date>,
}

impl AuditQuery {
    /// The first instant a record may have been written at.
    pub fn from_instant(&self) -> Option<OffsetDateTime> {
        self.since.map(start_of_day)
    }
    /// The instant records must precede (the end of `until`'s day in Washington).
    pub fn to_instant(&self) -> Option<OffsetDateTime> {
        self.until.map(end_of_day)
    }
}

/// A record and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub hash: String,
    pub entry: AuditEntry,
}

/// What a search found: the records in chain order, and whether more matched than the limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub records: Vec<AuditRecord>,
    /// More records match: narrow the search or raise its limit.
    pub more: bool,
}

impl AuditRecord {
    pub const CSV_HEADER: &'static str =
        "seq,at,actor,action,door,mailbox,message_id,client_addr,outcome,request_id,detail,hash";

    /// The record as one CSV line (without its end): the instant in UTC (RFC 3339).
    pub fn csv(&self) -> String {
        let e = &self.entry;
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let fields = [
            self.seq.to_string(),
            rfc3339(e.at),
            e.actor.clone(),
            e.action.clone(),
            e.door.clone(),
            opt(&e.mailbox),
            opt(&e.message_id),
            opt(&e.client_addr),
            e.outcome.clone(),
            opt(&e.request_id),
            e.detail.clone(),
            self.hash.clone(),
        ];
        crate::ground::csv::line(fields.iter().map(String::as_str))
    }

    /// The record as one JSON object (absent values as `null`).
    pub fn json(&self) -> serde_json::Value {
        let e = &self.entry;
        serde_json::json!({
            "seq": self.seq,
            "at": rfc3339(e.at),
            "actor": e.actor,
            "action": e.action,
            "door": e.door,
            "mailbox": e.mailbox,
            "message_id": e.message_id,
            "client_addr": e.client_addr,
            "outcome": e.outcome,
            "request_id": e.request_id,
            "detail": e.detail,
            "hash": self.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Door};
    use time::macros::{date, datetime};

    #[test]
    fn days_are_washington_days() {
        let q = AuditQuery {
            since: Some(date!(2026 - 01 - 01)),
            until: Some(date!(2026 - 07 - 04)),
            ..AuditQuery::default()
        };
        assert_eq!(q.from_instant(), Some(datetime!(2026-01-01 05:00 UTC)));
        // Summer time: the day ends at 04:00 UTC the next day.
        assert_eq!(q.to_instant(), Some(datetime!(2026-07-05 04:00 UTC)));
    }

    #[test]
    fn a_record_as_csv_and_json() {
        let entry = AuditEntry::new(
            datetime!(2026-03-02 09:00 UTC),
            "M10002",
            Action::SendFile,
            Door::SystemToSystem,
        )
        .mailbox("TRACM10001")
        .detail("=cmd, \"quoted\"");
        let r = AuditRecord {
            seq: 7,
            hash: "ab".into(),
            entry,
        };
        assert_eq!(
            r.csv(),
            "7,2026-03-02T09:00:00Z,M10002,SendFile,s2s,TRACM10001,,,ok,,\"'=cmd, \"\"quoted\"\"\",ab"
        );
        assert_eq!(
            AuditRecord::CSV_HEADER.split(',').count(),
            r.csv().split(',').count() - 1
        );
        assert_eq!(r.json()["mailbox"], "TRACM10001");
        assert_eq!(r.json()["message_id"], serde_json::Value::Null);
    }
}
