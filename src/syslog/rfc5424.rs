//! An audit record as one syslog message (RFC 5424), and its frame on a TCP stream (RFC 6587
//! octet counting). Pure functions of the record, unit-tested.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME imax PROCID MSGID [imax@32473 …] DETAIL`: facility 13 ("log
//! audit"), severity informational for `ok` and notice for a refusal; MSGID the action; the
//! structured data the record's place in the chain (`seq`, `hash`) and its fields (action,
//! actor, door, outcome, mailbox, message, client, request); the message the record's detail,
//! which never holds a secret (`AuditEntry::detail`). 32473 is the private enterprise number
//! RFC 5612 reserves for documentation: the gateway has none of its own.

use crate::audit::AuditRecord;
use crate::clock::rfc3339;

/// The structured data's ID.
pub const SD_ID: &str = "imax@32473";
/// Facility 13: log audit.
const FACILITY: u8 = 13;

/// The record as an RFC 5424 message, from `host` (an RFC 5424 HOSTNAME) and process `pid`.
pub fn message(r: &AuditRecord, host: &str, pid: u32) -> String {
    let e = &r.entry;
    let severity = if e.outcome == "ok" { 6 } else { 5 };
    let mut sd = format!("[{SD_ID}");
    let mut param = |name: &str, value: &str| {
        sd.push_str(&format!(" {name}=\"{}\"", escape(value)));
    };
    param("seq", &r.seq.to_string());
    param("hash", &r.hash);
    param("action", &e.action);
    param("actor", &e.actor);
    param("door", &e.door);
    param("outcome", &e.outcome);
    for (name, value) in [
        ("mailbox", &e.mailbox),
        ("message", &e.message_id),
        ("client", &e.client_addr),
        ("request", &e.request_id),
    ] {
        if let Some(v) = value {
            param(name, v);
        }
    }
    sd.push(']');
    let mut m = format!(
        "<{}>1 {} {} imax {pid} {} {sd}",
        u16::from(FACILITY) * 8 + severity,
        rfc3339(e.at),
        header_field(host, 255),
        header_field(&e.action, 32),
    );
    if !e.detail.is_empty() {
        m.push(' ');
        m.push_str(&e.detail);
    }
    m
}

/// A header field: printable US-ASCII without spaces, at most `max` characters; `-` when
/// nothing is left.
fn header_field(s: &str, max: usize) -> String {
    let f: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if f.is_empty() {
        "-".into()
    } else {
        f
    }
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The message framed for a TCP stream: its length in octets, a space, the message.
pub fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, AuditEntry, Door, Outcome};
    use time::macros::datetime;

    fn record(outcome: Outcome) -> AuditRecord {
        AuditRecord {
            seq: 42,
            hash: "00ff".into(),
            entry: AuditEntry::new(
                datetime!(2026-03-02 09:00 UTC),
                "M10002",
                Action::SendFile,
                Door::SystemToSystem,
            )
            .mailbox("TRACM10001")
            .outcome(outcome)
            .detail("file \"X]\\\" sent"),
        }
    }

    #[test]
    fn a_record_as_rfc5424() {
        assert_eq!(
            message(&record(Outcome::Ok), "gw1", 7),
            "<110>1 2026-03-02T09:00:00Z gw1 imax 7 SendFile [imax@32473 seq=\"42\" \
             hash=\"00ff\" action=\"SendFile\" actor=\"M10002\" door=\"s2s\" outcome=\"ok\" \
             mailbox=\"TRACM10001\"] file \"X]\\\" sent"
        );
        assert!(message(
            &record(Outcome::Refused(crate::error::Code::NotPermitted)),
            "",
            7
        )
        .starts_with("<109>1 2026-03-02T09:00:00Z - imax"));
    }

    #[test]
    fn values_are_escaped_and_frames_count_octets() {
        assert_eq!(escape("a\"b\\c]d"), "a\\\"b\\\\c\\]d");
        assert_eq!(octet_counted("é"), "2 é");
        assert_eq!(header_field("a b\u{e9}c", 32), "abc");
    }
}
