//! Each record in its place: a header opens a batch (and names the file's kind and release),
//! body records follow, a batch trailer closes it, the file trailer closes the file; and each
//! record's length, fields and counts.

use super::values::{field, number, printable, shown, text, valid};
use super::{Batch, Scanner, State, Verdict, MAX_BATCHES, MAX_LINE};
use crate::tracs::layout::{self, FileKind, Format, Record, Release, Role};

impl Scanner {
    /// One line of the file (without its line ending).
    pub(super) fn record(&mut self, line: &[u8], overlong: bool) {
        let n = self.line_no;
        let Some(id) = self.identifier(line, overlong) else {
            return;
        };
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
                    &text(id),
                    "",
                    "a header (TENHR, VCHHR or ERRHR) first".into(),
                    shown(id),
                );
            }
            return;
        };
        let layout = self.table.iter().copied().find(|r| r.id.as_bytes() == id);
        let Some(layout) = layout else {
            self.unknown(id, kind, rel);
            return;
        };
        if self.skipping && layout.role != Role::FileTrailer {
            return;
        }
        self.report.records += 1;
        self.in_place(line, id, layout, kind);
    }

    /// The line's record identifier, after the checks of the whole line (its length, empty,
    /// printable); `None` when the line has no record to read further.
    fn identifier<'l>(&mut self, line: &'l [u8], overlong: bool) -> Option<&'l [u8]> {
        let n = self.line_no;
        if overlong {
            self.problem(
                n,
                &text(line.get(..5).unwrap_or(line)),
                "Record length",
                format!("at most {MAX_LINE} characters"),
                "a longer line".into(),
            );
            return None;
        }
        if line.is_empty() {
            if self.state != State::Done {
                self.problem(n, "", "", "a record".into(), "an empty line".into());
            }
            return None;
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
                return None;
            }
        }
        let id = line.get(..5);
        if id.is_none() {
            self.problem(
                n,
                "",
                "Record identifier",
                "a record identifier of 5 characters".into(),
                shown(line),
            );
        }
        id
    }

    /// A record identifier not of this file's kind and release: counted, and reported.
    fn unknown(&mut self, id: &[u8], kind: FileKind, rel: &Release) {
        let known: Vec<&str> = rel.records_of(kind).map(|r| r.id).collect();
        self.problem(
            self.line_no,
            &text(id),
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
    }

    /// A known record where the file's order puts it, or a problem saying what was expected.
    fn in_place(&mut self, line: &[u8], id: &[u8], layout: &Record, kind: FileKind) {
        let expected = match (layout.role, self.state) {
            (Role::Body | Role::Error, State::InBatch { records }) => {
                self.fields(line, layout, Some(records + 1));
                if layout.role == Role::Body {
                    self.report.body_records += 1;
                    self.mark(line, layout);
                }
                self.state = State::InBatch {
                    records: records + 1,
                };
                return;
            }
            (Role::BatchTrailer, State::InBatch { records }) => {
                let count = records + 1;
                self.fields(line, layout, Some(count));
                self.count(line, layout, "Batch record count", count);
                self.report.batch_count += 1;
                self.state = State::BetweenBatches;
                return;
            }
            (Role::FileTrailer, State::InBatch { .. } | State::BetweenBatches) => {
                self.file_trailer(line, id, layout, kind);
                return;
            }
            (Role::Control, State::Done) if kind == FileKind::Voucher => {
                self.fields(line, layout, None);
                return;
            }
            (_, State::Done) => "nothing after the file trailer".into(),
            (_, State::BetweenBatches) => format!(
                "a header {} or the file trailer {}TR",
                kind.header(),
                kind.prefix()
            ),
            (role, _) => format!("a record in its place (not a {role:?} here)"),
        };
        self.problem(self.line_no, &text(id), "", expected, shown(id));
    }

    /// The file trailer (ending a batch left open, which is a problem) and its counts.
    fn file_trailer(&mut self, line: &[u8], id: &[u8], layout: &Record, kind: FileKind) {
        if let State::InBatch { .. } = self.state {
            self.problem(
                self.line_no,
                &text(id),
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

    /// A batch header: it ends a batch left open (a problem), names the file's kind and
    /// release (one of each per file), and opens a batch.
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
        let Some(rel) = self.release_of(line, kind) else {
            return;
        };
        self.skipping = false;
        self.report.records += 1;
        let Some(layout) = rel.record(id.as_bytes()) else {
            return;
        };
        self.fields(line, layout, Some(1));
        let batch = batch(line, layout, n);
        if self.report.batches.len() < MAX_BATCHES {
            self.report.batches.push(batch);
        }
        self.state = State::InBatch { records: 1 };
    }

    /// The release a header names; an unknown one stops the check (`None`), and every header
    /// must name the first header's.
    fn release_of(&mut self, line: &[u8], kind: FileKind) -> Option<&'static Release> {
        let (n, id) = (self.line_no, kind.header());
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
            return None;
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
        Some(rel)
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

/// What a header says of its batch (line `n`): project, sender, date and time stamps.
fn batch(line: &[u8], layout: &Record, n: u64) -> Batch {
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
    Batch {
        line: n,
        project: imax("Project's iMAX ID"),
        sender: imax("Sender's iMAX ID"),
        date: get("Date stamp").map(|(v, _)| text(v)).unwrap_or_default(),
        time: get("Time stamp").map(|(v, _)| text(v)).unwrap_or_default(),
    }
}
