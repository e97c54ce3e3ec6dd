//! A streaming, push-style checker of TRACS files: fed the bytes as they arrive, it holds one
//! line at a time (at most [`MAX_LINE`] bytes) and a bounded summary, never the file; it never
//! panics, whatever the input (property-tested and fuzzed).

use super::layout::{self, Field, FileKind, Format, Record, Release, Role};
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

fn shown(bytes: &[u8]) -> String {
    let s: String = bytes
        .iter()
        .take(24)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    if bytes.len() > 24 {
        format!("{s:?}…")
    } else {
        format!("{s:?}")
    }
}

/// Printable ASCII: space to tilde.
fn printable(b: u8) -> bool {
    b.wrapping_sub(b' ') < 0x5F
}

/// A run of digits as a number (no allocation); `None` if any byte is not a digit.
fn number(v: &[u8]) -> Option<u64> {
    v.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
    })
}

fn valid(format: Format, v: &[u8]) -> bool {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let num = |s: &[u8]| {
        s.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    match format {
        Format::Text => v.iter().all(|&b| printable(b)),
        Format::Digits => digits(v),
        Format::Date => {
            if v.len() != 8 || !digits(v) {
                return false;
            }
            let (m, d, y) = (num(&v[0..2]), num(&v[2..4]), num(&v[4..8]));
            match (m, d, y) {
                (Some(m), Some(d), Some(y)) if (1900..=2199).contains(&y) => {
                    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
                    let days = match m {
                        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                        4 | 6 | 9 | 11 => 30,
                        2 if leap => 29,
                        2 => 28,
                        _ => 0,
                    };
                    d >= 1 && d <= days
                }
                _ => false,
            }
        }
        Format::Time => {
            v.len() == 6
                && digits(v)
                && matches!((num(&v[0..2]), num(&v[2..4]), num(&v[4..6])),
                    (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60)
        }
        Format::ImaxId => v.len() == 10 && v.starts_with(b"TRACM") && digits(&v[5..]),
    }
}

fn field<'a>(line: &'a [u8], f: &Field) -> Option<&'a [u8]> {
    line.get(f.start - 1..f.start - 1 + f.len)
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).trim().to_string()
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
                problems: Vec::new(),
                more_problems: 0,
                provisional: Vec::new(),
                more_provisional: 0,
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

    fn record(&mut self, line: &[u8], overlong: bool) {
        let n = self.line_no;
        if overlong {
            self.problem(
                n,
                &text(line.get(..5).unwrap_or(line)),
                "Record length",
                format!("at most {MAX_LINE} characters"),
                "a longer line".into(),
            );
            return;
        }
        if line.is_empty() {
            if self.state != State::Done {
                self.problem(n, "", "", "a record".into(), "an empty line".into());
            }
            return;
        }
        // One pass the compiler vectorises; the column is looked for only when needed.
        let clean = line.iter().fold(true, |ok, &b| ok & printable(b));
        if let Some(col) = (!clean)
            .then(|| line.iter().position(|&b| !printable(b)))
            .flatten()
        {
            self.problem(
                n,
                &text(line.get(..5).unwrap_or(line)),
                &format!("column {}", col + 1),
                "printable ASCII".into(),
                format!("byte 0x{:02X}", line[col]),
            );
            if line.len() < 5 {
                return;
            }
        }
        let Some(id) = line.get(..5) else {
            self.problem(
                n,
                "",
                "Record identifier",
                "a record identifier of 5 characters".into(),
                shown(line),
            );
            return;
        };
        // The identifier as text, only when a problem needs it.
        let id_text = || text(id);
        // The header names the file's kind and release; every later record is read with them.
        if let Some(kind) = FileKind::from_header(id) {
            self.header(line, kind);
            return;
        }
        let (Some(kind), Some(rel)) = (self.kind, self.release) else {
            if !self.skipping {
                self.skipping = true;
                self.problem(
                    n,
                    &id_text(),
                    "",
                    "a header (TENHR, VCHHR or ERRHR) first".into(),
                    shown(id),
                );
            }
            return;
        };
        let layout = self.table.iter().copied().find(|r| r.id.as_bytes() == id);
        let Some(layout) = layout else {
            let known: Vec<&str> = rel.records_of(kind).map(|r| r.id).collect();
            self.problem(
                n,
                &id_text(),
                "Record identifier",
                format!("a {} file record ({})", kind.as_str(), known.join(", ")),
                shown(id),
            );
            if let State::InBatch { records } = self.state {
                self.state = State::InBatch {
                    records: records + 1,
                };
            }
            self.report.records += 1;
            return;
        };
        if self.skipping && layout.role != Role::FileTrailer {
            return;
        }
        self.report.records += 1;
        match (layout.role, self.state) {
            (Role::Body | Role::Error, State::InBatch { records }) => {
                self.fields(line, layout, Some(records + 1));
                self.state = State::InBatch {
                    records: records + 1,
                };
            }
            (Role::BatchTrailer, State::InBatch { records }) => {
                let count = records + 1;
                self.fields(line, layout, Some(count));
                self.count(line, layout, "Batch record count", count);
                self.report.batch_count += 1;
                self.state = State::BetweenBatches;
            }
            (Role::FileTrailer, State::InBatch { .. } | State::BetweenBatches) => {
                if let State::InBatch { .. } = self.state {
                    self.problem(
                        n,
                        &id_text(),
                        "",
                        format!(
                            "the batch trailer {}ND before the file trailer",
                            kind.prefix()
                        ),
                        shown(id),
                    );
                    self.report.batch_count += 1;
                }
                self.skipping = false;
                self.fields(line, layout, None);
                let batches = self.report.batch_count;
                let total = self.report.records;
                self.count(line, layout, "Batch count", batches);
                self.count(line, layout, "Total record count", total);
                self.state = State::Done;
            }
            (Role::Control, State::Done) if kind == FileKind::Voucher => {
                self.fields(line, layout, None);
            }
            (_, State::Done) => {
                self.problem(
                    n,
                    &id_text(),
                    "",
                    "nothing after the file trailer".into(),
                    shown(id),
                );
            }
            (_, State::BetweenBatches) => {
                self.problem(
                    n,
                    &id_text(),
                    "",
                    format!(
                        "a header {} or the file trailer {}TR",
                        kind.header(),
                        kind.prefix()
                    ),
                    shown(id),
                );
            }
            (role, _) => {
                self.problem(
                    n,
                    &id_text(),
                    "",
                    format!("a record in its place (not a {role:?} here)"),
                    shown(id),
                );
            }
        }
    }

    fn header(&mut self, line: &[u8], kind: FileKind) {
        let n = self.line_no;
        let id = kind.header();
        if let State::InBatch { .. } = self.state {
            self.problem(
                n,
                id,
                "",
                format!(
                    "the batch trailer {}ND before the next header",
                    kind.prefix()
                ),
                id.into(),
            );
            self.report.batch_count += 1;
        }
        if self.state == State::Done {
            self.problem(
                n,
                id,
                "",
                "nothing after the file trailer".into(),
                id.into(),
            );
            return;
        }
        match self.kind {
            Some(k) if k != kind => {
                self.problem(
                    n,
                    id,
                    "Record identifier",
                    format!("{} (one kind of file)", k.header()),
                    id.into(),
                );
                return;
            }
            _ => self.kind = Some(kind),
        }
        let rel_bytes = line.get(5..12).unwrap_or(&[]);
        let Some(rel) = layout::release(rel_bytes) else {
            let known: Vec<&str> = layout::RELEASES.iter().map(|r| r.name).collect();
            self.problem(
                n,
                id,
                "Release/version",
                format!("a release this gateway knows ({})", known.join(", ")),
                shown(rel_bytes),
            );
            self.report.verdict = Verdict::Tracs {
                kind: Some(kind),
                release: None,
            };
            self.state = State::Stopped;
            return;
        };
        if let Some(r) = self.release {
            if r.name != rel.name {
                self.problem(
                    n,
                    id,
                    "Release/version",
                    format!("{} (one release per file)", r.name),
                    rel.name.into(),
                );
            }
        } else {
            self.release = Some(rel);
            self.table = rel.records_of(kind).collect();
        }
        self.report.verdict = Verdict::Tracs {
            kind: Some(kind),
            release: Some(self.release.map(|r| r.name).unwrap_or(rel.name)),
        };
        self.skipping = false;
        self.report.records += 1;
        let Some(layout) = rel.record(id.as_bytes()) else {
            return;
        };
        self.fields(line, layout, Some(1));
        let get = |name: &str| {
            layout
                .fields
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| field(line, f).map(|v| (v, f.format)))
        };
        let imax = |name: &str| {
            get(name)
                .filter(|(v, fmt)| valid(*fmt, v))
                .map(|(v, _)| text(v))
        };
        let batch = Batch {
            line: n,
            project: imax("Project's iMAX ID"),
            sender: imax("Sender's iMAX ID"),
            date: get("Date stamp").map(|(v, _)| text(v)).unwrap_or_default(),
            time: get("Time stamp").map(|(v, _)| text(v)).unwrap_or_default(),
        };
        if self.report.batches.len() < MAX_BATCHES {
            self.report.batches.push(batch);
        }
        self.state = State::InBatch { records: 1 };
    }

    /// Length and field formats of a record; `number` is the record number it must carry.
    /// Record lengths are provisional for every record (`layout`); a header's fields are
    /// HUD's published positions, so a header too short to hold one is certainly wrong.
    fn fields(&mut self, line: &[u8], layout: &Record, number: Option<u64>) {
        let n = self.line_no;
        if line.len() != layout.length {
            self.doubt(
                n,
                layout.id,
                "Record length",
                format!("{} characters", layout.length),
                format!("{}", line.len()),
            );
        }
        for f in layout.fields {
            let Some(v) = field(line, f) else {
                if layout.role == Role::Header {
                    self.problem(
                        n,
                        layout.id,
                        f.name,
                        format!("columns {}-{}", f.start, f.start + f.len - 1),
                        format!("a record of {} characters", line.len()),
                    );
                }
                continue;
            };
            // Text fields need nothing beyond the printable check of the whole line.
            if f.format == Format::Text {
                continue;
            }
            if !valid(f.format, v) {
                self.field_problem(layout, f.name, f.format.describe().into(), shown(v));
            } else if f.name == "Record number" {
                if let Some(want) = number {
                    let got = self::number(v).unwrap_or(u64::MAX);
                    if got != want {
                        let expected = format!("{want:0width$}", width = f.len);
                        self.field_problem(layout, f.name, expected, shown(v));
                    }
                }
            }
        }
    }

    fn count(&mut self, line: &[u8], layout: &Record, name: &str, want: u64) {
        let Some(f) = layout.fields.iter().find(|f| f.name == name) else {
            return;
        };
        let Some(v) = field(line, f) else { return };
        if !valid(Format::Digits, v) {
            return; // already reported by `fields`
        }
        if number(v) != Some(want) {
            // Trailer counts are provisional (`layout::BATCH_TRAILER`, `FILE_TRAILER`).
            let expected = format!("{want:0width$}", width = f.len);
            self.doubt(self.line_no, layout.id, name, expected, shown(v));
        }
    }
}

/// Checks a whole byte string (tests, the command line).
pub fn check(bytes: &[u8]) -> Report {
    let mut s = Scanner::new();
    s.feed(bytes);
    s.finish()
}
