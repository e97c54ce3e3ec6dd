//! The gateway's own format edits, answered the way TRACS answers them: a reply file of error
//! records (`TENER`, `VCHER`, `ERRER`, as the MAT Guide shapes them) naming each problem the
//! checker found in a field whose layout is not confirmed.
//!
//! Such a file is accepted (a guessed record length must never turn away a real vendor's
//! file), and the sender finds this reply in "Received from TRACS", tied to the file it answers.
//! The reply is itself a valid TRACS file of the same kind and release, built from the same
//! layout tables the checker reads: one header (the original's Project's and Sender's iMAX IDs,
//! so the reply names the transmission it answers, stamped with the reply's own date and time),
//! one error record per problem, the batch trailer and the file trailer.
//!
//! An error record holds, after the identifier, release and record number every record begins
//! with (columns 1–17), the gateway's own layout of the problem:
//!
//! | columns | what |
//! | --- | --- |
//! | 18–22 | the identifier of the record found wrong |
//! | 23–29 | its line in the original file |
//! | 30–59 | the field |
//! | 60–end | the problem: what was expected, what was found |

use super::layout::{self, FileKind, Record, Role};
use super::sample::{put, render};
use super::scan::{Problem, Report, Verdict};
use time::OffsetDateTime;

/// The columns of an error record's own fields (1-based, as in the table above).
const RECORD_AT: usize = 18;
const LINE_AT: usize = 23;
const LINE_LEN: usize = 7;
const FIELD_AT: usize = 30;
const FIELD_LEN: usize = 30;
const TEXT_AT: usize = 60;

/// A format-error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatErrors {
    /// The reply file (CRLF line endings).
    pub file: Vec<u8>,
    /// The problems it names, those beyond the checker's cap included (as one last record).
    pub problems: u64,
}

/// The reply to a file whose scan found only provisional problems, stamped `at`; `None` when
/// there is nothing to answer (no provisional problem, a certain one, or not a TRACS file of a
/// known kind and release).
pub fn format_errors(report: &Report, at: OffsetDateTime) -> Option<FormatErrors> {
    if report.provisional.is_empty() || !report.problems.is_empty() {
        return None;
    }
    let Verdict::Tracs {
        kind: Some(kind),
        release: Some(release),
    } = report.verdict
    else {
        return None;
    };
    let rel = layout::release(release.as_bytes())?;
    let of = |role: Role| rel.records_of(kind).find(|r| r.role == role);
    let (header, error, trailer, file_trailer) = (
        of(Role::Header)?,
        of(Role::Error)?,
        of(Role::BatchTrailer)?,
        of(Role::FileTrailer)?,
    );
    let first = report.batches.first()?;
    let (project, sender) = (first.project.clone()?, first.sender.clone()?);
    let date = format!("{:02}{:02}{:04}", u8::from(at.month()), at.day(), at.year());
    let time = format!("{:02}{:02}{:02}", at.hour(), at.minute(), at.second());
    let mut out = Vec::new();
    let end = |line: Vec<u8>, out: &mut Vec<u8>| {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    };
    let number = |n: u64, len: usize| format!("{n:0len$}");
    end(
        render(header, |f| match f.name {
            "Release/version" => Some(release.to_string()),
            "Record number" => Some(number(1, f.len)),
            "Date stamp" => Some(date.clone()),
            "Time stamp" => Some(time.clone()),
            "Project's iMAX ID" => Some(project.clone()),
            "Sender's iMAX ID" => Some(sender.clone()),
            _ => None,
        }),
        &mut out,
    );
    let mut records = 1u64;
    let more = more_problems(report);
    for p in report.provisional.iter().chain(more.iter()) {
        records += 1;
        end(error_record(error, release, records, p), &mut out);
    }
    records += 1;
    end(
        render(trailer, |f| match f.name {
            "Record number" => Some(number(records, f.len)),
            "Batch record count" => Some(number(records, f.len)),
            _ => None,
        }),
        &mut out,
    );
    end(
        render(file_trailer, |f| match f.name {
            "Batch count" => Some(number(1, f.len)),
            "Total record count" => Some(number(records + 1, f.len)),
            _ => None,
        }),
        &mut out,
    );
    Some(FormatErrors {
        file: out,
        problems: report.provisional.len() as u64 + report.more_provisional,
    })
}

/// The problems beyond the checker's cap, as one last problem (not listed one by one).
fn more_problems(report: &Report) -> Option<Problem> {
    (report.more_provisional > 0).then(|| Problem {
        line: 0,
        record: String::new(),
        field: String::new(),
        expected: format!(
            "{} more problems of the same kinds, not listed",
            report.more_provisional
        ),
        found: String::new(),
    })
}

/// The error record (number `records` of the reply) naming problem `p`, in the columns of
/// the module's table.
fn error_record(error: &Record, release: &str, records: u64, p: &Problem) -> Vec<u8> {
    let number = |n: u64, len: usize| format!("{n:0len$}");
    let mut line = render(error, |f| match f.name {
        "Release/version" => Some(release.to_string()),
        "Record number" => Some(number(records, f.len)),
        _ => None,
    });
    put(&mut line, RECORD_AT, ascii(&p.record).as_bytes());
    if p.line > 0 {
        put(&mut line, LINE_AT, number(p.line, LINE_LEN).as_bytes());
    }
    let field: String = ascii(&p.field).chars().take(FIELD_LEN).collect();
    put(&mut line, FIELD_AT, field.as_bytes());
    let mut text = format!("expected {}", p.expected);
    if !p.found.is_empty() {
        text.push_str(&format!(", found {}", p.found));
    }
    let room = error.length.saturating_sub(TEXT_AT - 1);
    let text: String = ascii(&text).chars().take(room).collect();
    put(&mut line, TEXT_AT, text.as_bytes());
    line
}

/// The reply's file name: the original's, marked as its error report.
pub fn file_name(original: &str, kind: Option<FileKind>) -> String {
    let id = kind
        .map(|k| format!("{}ER", k.prefix()))
        .unwrap_or_default();
    format!("{original}.{id}.txt")
}

/// Printable ASCII only (the checker quotes what it found; a record holds nothing else).
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '…' {
                '~'
            } else if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracs::{check, Sample};

    fn with_short_records(kind: FileKind) -> Vec<u8> {
        let file = Sample {
            records_per_batch: 4,
            ..Sample::new(kind, "TRACM10001")
        }
        .build();
        let mut lines: Vec<Vec<u8>> = file
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.to_vec())
            .collect();
        for l in lines.iter_mut().skip(1).take(2) {
            let n = l.len() - 6;
            l.truncate(n);
            l.push(b'\r');
        }
        lines.concat().iter().copied().fold(Vec::new(), |mut v, b| {
            v.push(b);
            if b == b'\r' {
                v.push(b'\n');
            }
            v
        })
    }

    /// Issue 16: the reply names every provisional problem and is itself a valid file of the
    /// same kind and release, for every kind.
    #[test]
    fn the_reply_names_each_problem_and_is_a_valid_file_itself() {
        let at = time::macros::datetime!(2026-03-02 14:05:09 UTC);
        for kind in FileKind::ALL {
            let report = check(&with_short_records(kind));
            assert!(report.problems.is_empty(), "{:?}", report.problems);
            assert_eq!(report.provisional.len(), 2, "{:?}", report.provisional);
            let reply = format_errors(&report, at).expect("a reply");
            assert_eq!(reply.problems, 2);
            let back = check(&reply.file);
            assert!(back.is_valid_tracs(), "{kind:?}: {:?}", back.problems);
            assert!(back.provisional.is_empty(), "{:?}", back.provisional);
            assert_eq!(
                back.transmission_key().as_deref(),
                Some("TRACM10001|03022026|140509")
            );
            let text = String::from_utf8(reply.file).expect("ascii");
            let errors: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{}ER", kind.prefix())))
                .collect();
            assert_eq!(errors.len(), 2);
            assert_eq!(&errors[0][22..29], "0000002", "the original's line");
            assert!(errors[0][29..59].starts_with("Record length"));
            assert!(errors[0][59..].contains("expected"), "{}", errors[0]);
        }
    }

    #[test]
    fn nothing_to_answer_without_provisional_problems_or_with_certain_ones() {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let valid = Sample::new(FileKind::Tenant, "TRACM10001").build();
        assert_eq!(format_errors(&check(&valid), at), None);
        let mut certain = with_short_records(FileKind::Tenant);
        certain[40] = 0x01;
        assert_eq!(format_errors(&check(&certain), at), None);
        assert_eq!(format_errors(&check(b"%PDF-1.7\n"), at), None);
    }

    #[test]
    fn problems_beyond_the_cap_are_counted_in_a_last_record() {
        let mut s = Sample::new(FileKind::Tenant, "TRACM10001");
        s.records_per_batch = 130;
        let file = s.build();
        let mut out = Vec::new();
        for (i, line) in file.split_inclusive(|&b| b == b'\n').enumerate() {
            out.extend_from_slice(line);
            if (1..=120).contains(&i) {
                let at = out.len() - 2;
                out.insert(at, b'X'); // one character too long
            }
        }
        let report = check(&out);
        assert_eq!(report.more_provisional, 20);
        let reply = format_errors(&report, time::OffsetDateTime::UNIX_EPOCH).expect("reply");
        assert_eq!(reply.problems, 120);
        let text = String::from_utf8(reply.file.clone()).expect("ascii");
        assert!(text.contains("20 more problems"));
        assert!(check(&reply.file).is_valid_tracs());
    }
}
