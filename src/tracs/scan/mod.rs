//! A streaming, push-style checker of TRACS files: fed the bytes as they arrive, it holds one
//! line at a time (at most [`MAX_LINE`] bytes) and a bounded summary, never the file; it never
//! panics, whatever the input (property-tested and fuzzed).

mod records;
mod values;

use super::layout::{self, FileKind, Record, Release, Role};
use std::fmt;

/// Longer than any TRACS record; a longer line is reported, not buffered.
pub const MAX_LINE: usize = 1024;
/// Problems kept for the refusal (the rest are counted).
pub const MAX_PROBLEMS: usize = 20;
/// Provisional problems kept for the format-error reply (the rest are counted); a cap of their
/// own, so that they never crowd out a certain one.
pub const MAX_PROVISIONAL: usize = 100;
/// Batches whose header details are kept (more are counted).
pub const MAX_BATCHES: usize = 10_000;
/// Sandbox-marked records kept (issue 31; more are ignored: a test file needs a few).
pub const MAX_MARKED: usize = 100;

/// What a vendor asks the sandbox's simulated TRACS to answer a body record with (issue 31,
/// `docs/sandbox.md`): the record holds the marker's text anywhere after its first 17
/// columns, e.g. as the tenant's last name. Production ignores marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `SANDBOXFATAL`: a fatal error, as TRACS rejects a record.
    Fatal,
    /// `SANDBOXDISCREP`: a discrepancy, as TRACS warns of a record it accepts.
    Discrepancy,
}

impl Mark {
    pub const ALL: [Mark; 2] = [Mark::Fatal, Mark::Discrepancy];

    /// The text that marks a record.
    pub fn marker(self) -> &'static str {
        match self {
            Mark::Fatal => "SANDBOXFATAL",
            Mark::Discrepancy => "SANDBOXDISCREP",
        }
    }
}

/// A body record a vendor marked for the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub line: u64,
    pub record: String,
    pub mark: Mark,
}

/// One thing wrong with a file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number (0 when the problem is about the file as a whole).
    pub line: u64,
    pub record: String,
    pub field: String,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if !self.record.is_empty() {
            write!(f, ", {}", self.record)?;
        }
        if !self.field.is_empty() {
            write!(f, ", {}", self.field)?;
        }
        write!(f, ": expected {}", self.expected)?;
        if !self.found.is_empty() {
            write!(f, ", found {}", self.found)?;
        }
        Ok(())
    }
}

/// What one header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub line: u64,
    /// The Project's iMAX ID (position 220), when well-formed.
    pub project: Option<String>,
    /// The Sender's iMAX ID (position 273), when well-formed.
    pub sender: Option<String>,
    /// Date stamp `MMDDYYYY` and time stamp `HHMMSS` as written.
    pub date: String,
    pub time: String,
}

/// What kind of file it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing was fed.
    Empty,
    /// It does not begin like a TRACS file (a PDF, a spreadsheet…).
    NotTracs,
    /// A TRACS file (possibly with problems); the release when the header named a known one.
    Tracs {
        kind: Option<FileKind>,
        release: Option<&'static str>,
    },
}

/// The outcome of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub verdict: Verdict,
    pub batches: Vec<Batch>,
    pub batch_count: u64,
    pub records: u64,
    /// Of those, the body records in their batches (certifications, voucher records: what the
    /// round-trip ledger counts, issue 31).
    pub body_records: u64,
    /// What is certainly wrong: confirmed positions, structure, unreadable bytes. A file with
    /// any is refused (`InvalidTracsFile`).
    pub problems: Vec<Problem>,
    /// Problems beyond [`MAX_PROBLEMS`].
    pub more_problems: u64,
    /// What disagrees with a layout this gateway has not confirmed (record lengths, body
    /// records' fields, trailer counts; `layout`'s provisional marks). The file is accepted and
    /// the sender gets a format-error reply naming each (`tracs::reply`).
    pub provisional: Vec<Problem>,
    /// Provisional problems beyond [`MAX_PROVISIONAL`].
    pub more_provisional: u64,
    /// Body records marked for the sandbox's simulated fatal errors and discrepancies (at
    /// most [`MAX_MARKED`]).
    pub marked: Vec<Marked>,
}

impl Report {
    pub fn is_tracs(&self) -> bool {
        matches!(self.verdict, Verdict::Tracs { .. })
    }
    pub fn is_valid_tracs(&self) -> bool {
        self.is_tracs() && self.problems.is_empty()
    }
    /// The transmission's identity (MAT Guide: unique per sender): the first header's
    /// Sender's iMAX ID, date stamp and time stamp.
    pub fn transmission_key(&self) -> Option<String> {
        let b = self.batches.first()?;
        Some(format!("{}|{}|{}", b.sender.as_deref()?, b.date, b.time))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first line.
    Start,
    /// Between batches: a header or the file trailer comes next.
    BetweenBatches,
    /// After a header: body records until the batch trailer.
    InBatch { records: u64 },
    /// After the file trailer: only a control record may follow.
    Done,
    /// Not a TRACS file, or a problem that stops the check (an unknown release).
    Stopped,
}

/// The push checker. Feed it with [`Scanner::feed`], then call [`Scanner::finish`].
#[derive(Debug)]
pub struct Scanner {
    state: State,
    line: Vec<u8>,
    overlong: bool,
    line_no: u64,
    kind: Option<FileKind>,
    release: Option<&'static Release>,
    /// After a missing header, lines are skipped until the next header (one problem, not one
    /// per line).
    skipping: bool,
    /// The records of this file's kind and release, looked up by identifier on every line.
    table: Vec<&'static Record>,
    report: Report,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner {
            state: State::Start,
            line: Vec::with_capacity(512),
            overlong: false,
            line_no: 0,
            kind: None,
            release: None,
            skipping: false,
            table: Vec::new(),
            report: Report {
                verdict: Verdict::Empty,
                batches: Vec::new(),
                batch_count: 0,
                records: 0,
                body_records: 0,
                problems: Vec::new(),
                more_problems: 0,
                provisional: Vec::new(),
                more_provisional: 0,
                marked: Vec::new(),
            },
        }
    }

    /// Feeds the next bytes of the file.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            if self.state == State::Stopped {
                return;
            }
            match memchr::memchr(b'\n', chunk) {
                // A whole line inside the chunk: checked in place, not copied.
                Some(i) if self.line.is_empty() && !self.overlong && i <= MAX_LINE => {
                    let line = &chunk[..i];
                    chunk = &chunk[i + 1..];
                    self.line_in_place(line);
                }
                Some(i) => {
                    self.push(&chunk[..i]);
                    chunk = &chunk[i + 1..];
                    self.end_line();
                }
                None => {
                    self.push(chunk);
                    // A first line long enough to judge may already say "not TRACS".
                    if self.state == State::Start && self.line.len() >= 5 {
                        self.judge_start();
                    }
                    return;
                }
            }
        }
    }

    /// A complete line found inside a chunk (the common case).
    fn line_in_place(&mut self, raw: &[u8]) {
        if self.state == State::Start {
            // The rare first line goes the general way (which strips the `\r` itself).
            self.line.extend_from_slice(raw);
            self.end_line();
            return;
        }
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        self.line_no += 1;
        self.record(line, false);
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        if self.line.len() + bytes.len() > MAX_LINE {
            self.overlong = true;
            let room = MAX_LINE - self.line.len();
            self.line.extend_from_slice(&bytes[..room.min(bytes.len())]);
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    /// Ends the check and returns the report.
    pub fn finish(mut self) -> Report {
        if !self.line.is_empty() || self.overlong {
            self.end_line();
        }
        if self.report.is_tracs() && !matches!(self.state, State::Done | State::Stopped) {
            let trailer = self
                .kind
                .map(|k| format!("its file trailer {}TR", k.prefix()))
                .unwrap_or_else(|| "its file trailer".into());
            self.problem(self.line_no, "", "", trailer, "the end of the file".into());
        }
        self.report
    }

    /// Something certainly wrong.
    fn problem(&mut self, line: u64, record: &str, field: &str, expected: String, found: String) {
        let p = Problem {
            line,
            record: record.to_string(),
            field: field.to_string(),
            expected,
            found,
        };
        let r = &mut self.report;
        if r.problems.len() < MAX_PROBLEMS {
            r.problems.push(p);
        } else {
            r.more_problems += 1;
        }
    }

    /// A body record's sandbox mark, if any (issue 31): looked for only in body records,
    /// after the columns every record begins with.
    fn mark(&mut self, line: &[u8], layout: &Record) {
        if self.report.marked.len() >= MAX_MARKED {
            return;
        }
        let rest = line.get(17..).unwrap_or_default();
        // One search for the common prefix keeps unmarked records (all of production) cheap.
        if memchr::memmem::find(rest, b"SANDBOX").is_none() {
            return;
        }
        let found = Mark::ALL
            .into_iter()
            .find(|m| memchr::memmem::find(rest, m.marker().as_bytes()).is_some());
        if let Some(mark) = found {
            self.report.marked.push(Marked {
                line: self.line_no,
                record: layout.id.to_string(),
                mark,
            });
        }
    }

    /// A disagreement with a provisional layout: reported back, never refused.
    fn doubt(&mut self, line: u64, record: &str, field: &str, expected: String, found: String) {
        let r = &mut self.report;
        if r.provisional.len() < MAX_PROVISIONAL {
            r.provisional.push(Problem {
                line,
                record: record.to_string(),
                field: field.to_string(),
                expected,
                found,
            });
        } else {
            r.more_provisional += 1;
        }
    }

    /// A problem with `layout`'s field: certain in a header (HUD's published positions),
    /// provisional elsewhere.
    fn field_problem(&mut self, layout: &Record, field: &str, expected: String, found: String) {
        if layout.role == Role::Header {
            self.problem(self.line_no, layout.id, field, expected, found);
        } else {
            self.doubt(self.line_no, layout.id, field, expected, found);
        }
    }

    /// Decides from the first record identifier whether this is a TRACS file at all.
    fn judge_start(&mut self) {
        let id = self.line.get(..5).unwrap_or(&self.line);
        if layout::looks_like_record_id(id) {
            self.report.verdict = Verdict::Tracs {
                kind: None,
                release: None,
            };
            self.state = State::BetweenBatches;
        } else {
            self.report.verdict = Verdict::NotTracs;
            self.state = State::Stopped;
        }
    }

    fn end_line(&mut self) {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let overlong = std::mem::replace(&mut self.overlong, false);
        if self.state == State::Start {
            if self.line.is_empty() && !overlong {
                return; // leading blank lines are not records
            }
            self.judge_start();
        }
        self.line_no += 1;
        if self.state != State::Stopped {
            let line = std::mem::take(&mut self.line);
            self.record(&line, overlong);
            self.line = line;
        }
        self.line.clear();
    }
}

/// Checks a whole byte string (tests, the command line).
pub fn check(bytes: &[u8]) -> Report {
    let mut s = Scanner::new();
    s.feed(bytes);
    s.finish()
}
