//! The vendor sandbox's simulated TRACS (issue 31): what HUD's TRACS1 test server would answer
//! a TRACS file sent from a sandbox mailbox (`TRACX…`), computed from the checker's report
//! alone, so the same file always gets the same answers.
//!
//! A file the gateway's format edits found problems in gets their format-error reply
//! ([`super::reply`]) and nothing else, as TRACS stops there. Any other TRACS file gets a
//! simulated acknowledgement, and, for body records a vendor marked ([`Mark`]: the text
//! `SANDBOXFATAL` or `SANDBOXDISCREP` after column 17, e.g. as a tenant's last name), one
//! message of simulated fatal errors and one of simulated discrepancies, each naming the marked
//! records by line. Every answer says it is simulated, and its file name ends in its
//! [`Answer`]'s suffix, by which the certification report reads it back.

use super::layout::FileKind;
use super::scan::{Mark, Report, Verdict};

/// The kinds of simulated answers, each with the suffix its file name ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The file was received and accepted for processing.
    Acknowledgement,
    /// Marked records were rejected.
    FatalErrors,
    /// Marked records were accepted with warnings.
    Discrepancies,
}

impl Answer {
    pub const ALL: [Answer; 3] = [
        Answer::Acknowledgement,
        Answer::FatalErrors,
        Answer::Discrepancies,
    ];

    /// The end of the answer's file name (after the original's name).
    pub fn suffix(self) -> &'static str {
        match self {
            Answer::Acknowledgement => ".ACK.txt",
            Answer::FatalErrors => ".FATAL.txt",
            Answer::Discrepancies => ".DISCREP.txt",
        }
    }

    /// Its name in the certification report.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Acknowledgement => "acknowledgement",
            Answer::FatalErrors => "fatal-errors",
            Answer::Discrepancies => "discrepancies",
        }
    }

    /// The answer a file name ends in, if any.
    pub fn of_file(name: &str) -> Option<Answer> {
        Answer::ALL.into_iter().find(|a| name.ends_with(a.suffix()))
    }

    fn mark(self) -> Option<Mark> {
        match self {
            Answer::Acknowledgement => None,
            Answer::FatalErrors => Some(Mark::Fatal),
            Answer::Discrepancies => Some(Mark::Discrepancy),
        }
    }
}

/// One simulated answer: its file name and content (ASCII, CRLF line endings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulated {
    pub answer: Answer,
    pub file_name: String,
    pub file: Vec<u8>,
}

/// The first line of every simulated answer.
const BANNER: &str = "TRACS SANDBOX - SIMULATED MESSAGE, NOT FROM HUD";

/// The simulated answers to a TRACS file named `name`, stored as `message_id` (none for a
/// file that is not TRACS, or that has format problems: those are the format-error reply's).
pub fn answers(report: &Report, name: &str, message_id: &str) -> Vec<Simulated> {
    let Verdict::Tracs { kind, .. } = report.verdict else {
        return Vec::new();
    };
    if !report.problems.is_empty() || !report.provisional.is_empty() {
        return Vec::new();
    }
    let what = kind.map_or("TRACS", FileKind::as_str);
    let mut out = Vec::new();
    for answer in Answer::ALL {
        let text = match answer.mark() {
            None => acknowledgement(report, what, name, message_id),
            Some(mark) => match marked(report, mark, what, name, message_id) {
                Some(t) => t,
                None => continue,
            },
        };
        out.push(Simulated {
            answer,
            file_name: format!("{name}{}", answer.suffix()),
            file: text.replace('\n', "\r\n").into_bytes(),
        });
    }
    out
}

fn acknowledgement(report: &Report, what: &str, name: &str, message_id: &str) -> String {
    let mut text = format!(
        "{BANNER}\nTA005 {what} file {name} received and accepted for processing.\nMessage ID: {message_id}\n"
    );
    if let Some(b) = report.batches.first() {
        text.push_str(&format!(
            "Sender's iMAX ID: {}  Date stamp: {}  Time stamp: {}\n",
            b.sender.as_deref().unwrap_or("?"),
            b.date,
            b.time
        ));
    }
    text.push_str(&format!(
        "Batches: {}  Records: {}\n",
        report.batch_count, report.records
    ));
    text
}

fn marked(report: &Report, mark: Mark, what: &str, name: &str, id: &str) -> Option<String> {
    let lines: Vec<String> = report
        .marked
        .iter()
        .filter(|m| m.mark == mark)
        .map(|m| {
            format!(
                "Line {:07} {}: simulated {} (the record holds {})",
                m.line,
                m.record,
                match mark {
                    Mark::Fatal => "fatal error, record rejected",
                    Mark::Discrepancy => "discrepancy, record accepted",
                },
                mark.marker()
            )
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let title = match mark {
        Mark::Fatal => "Fatal errors",
        Mark::Discrepancy => "Discrepancies",
    };
    Some(format!(
        "{BANNER}\n{title} in {what} file {name} (message {id}):\n{}\n",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracs::{check, Sample};

    fn marked_file(marks: &[(usize, &str)]) -> Vec<u8> {
        let s = Sample {
            records_per_batch: 4,
            ..Sample::new(FileKind::Tenant, "TRACM10001")
        };
        let mut lines: Vec<Vec<u8>> = s
            .build()
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        for (i, m) in marks {
            let l = &mut lines[*i];
            l[40..40 + m.len()].copy_from_slice(m.as_bytes());
        }
        lines.concat()
    }

    /// Issue 31: an unmarked file gets the acknowledgement only; marked records get their
    /// simulated fatal errors and discrepancies, the same for the same file.
    #[test]
    fn marked_records_get_their_simulated_answers() {
        let plain = check(&marked_file(&[]));
        let a = answers(&plain, "T.TXT", "M1");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].answer, Answer::Acknowledgement);
        assert_eq!(a[0].file_name, "T.TXT.ACK.txt");
        let text = String::from_utf8(a[0].file.clone()).expect("ascii");
        assert!(text.starts_with(BANNER) && text.contains("TA005 tenant file T.TXT"));

        let file = marked_file(&[
            (1, "SANDBOXFATAL"),
            (2, "SANDBOXDISCREP"),
            (3, "SANDBOXFATAL"),
        ]);
        let report = check(&file);
        assert!(report.problems.is_empty() && report.provisional.is_empty());
        let a = answers(&report, "T.TXT", "M2");
        let kinds: Vec<Answer> = a.iter().map(|s| s.answer).collect();
        assert_eq!(kinds, Answer::ALL);
        let fatal = String::from_utf8(a[1].file.clone()).expect("ascii");
        assert!(
            fatal.contains("Line 0000002") && fatal.contains("Line 0000004"),
            "{fatal}"
        );
        assert!(!fatal.contains("Line 0000003"));
        assert_eq!(answers(&check(&file), "T.TXT", "M2"), a, "deterministic");
        assert_eq!(
            Answer::of_file("T.TXT.FATAL.txt"),
            Some(Answer::FatalErrors)
        );
        assert!(answers(&check(b"%PDF-1.7\n"), "x.pdf", "M3").is_empty());
    }
}
