//! Builds TRACS files from the layout tables: the test corpus, the benchmark's input and
//! `imax tracs sample`. Because both the builder and the checker read the same tables, a
//! corrected position changes both at once.

use super::layout::{self, Field, FileKind, Format, Record, Role};

/// What a sample file holds.
#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: FileKind,
    pub release: &'static str,
    /// The Project's iMAX ID of every header.
    pub project: String,
    /// The Sender's iMAX ID of every header.
    pub sender: String,
    /// Date stamp `MMDDYYYY` and time stamp `HHMMSS`.
    pub date: String,
    pub time: String,
    pub batches: usize,
    pub records_per_batch: usize,
}

impl Sample {
    pub fn new(kind: FileKind, project: &str) -> Sample {
        Sample {
            kind,
            release: "2.0.2.D",
            project: project.into(),
            sender: project.into(),
            date: "03022026".into(),
            time: "090000".into(),
            batches: 1,
            records_per_batch: 3,
        }
    }

    /// The file, CRLF line endings.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let Some(rel) = layout::release(self.release.as_bytes()) else {
            return out;
        };
        let of = |role: Role| rel.records_of(self.kind).filter(move |r| r.role == role);
        let (Some(header), Some(trailer), Some(file_trailer)) = (
            of(Role::Header).next(),
            of(Role::BatchTrailer).next(),
            of(Role::FileTrailer).next(),
        ) else {
            return out;
        };
        let bodies: Vec<&Record> = of(Role::Body).collect();
        let mut total = 0u64;
        for _ in 0..self.batches {
            let mut number = 1u64;
            out.extend(self.record(header, number, 0));
            for i in 0..self.records_per_batch {
                number += 1;
                out.extend(self.record(bodies[i % bodies.len()], number, 0));
            }
            number += 1;
            out.extend(self.record(trailer, number, number));
            total += number;
        }
        out.extend(self.record(file_trailer, self.batches as u64, total + 1));
        out
    }

    fn record(&self, layout: &Record, number: u64, count: u64) -> Vec<u8> {
        let mut line = render(layout, |f| match f.name {
            "Release/version" => Some(self.release.to_string()),
            "Record number" | "Batch count" => Some(format!("{number:0width$}", width = f.len)),
            "Date stamp" => Some(self.date.clone()),
            "Time stamp" => Some(self.time.clone()),
            "Sender ZIP code" => Some("01101".into()),
            "Project's iMAX ID" => Some(self.project.clone()),
            "Sender's iMAX ID" => Some(self.sender.clone()),
            "Batch record count" | "Total record count" => {
                Some(format!("{count:0width$}", width = f.len))
            }
            _ => None,
        });
        // Body records carry some text after their fixed fields, like real certifications.
        if layout.role == Role::Body && layout.length > 40 {
            put(&mut line, 31, b"TENANT 01");
        }
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// One record of `layout`, blank-filled to its length: the identifier, then each field's
/// `value` (zeros for a digits field without one), without its line ending.
pub(super) fn render(layout: &Record, value: impl Fn(&Field) -> Option<String>) -> Vec<u8> {
    let mut line = vec![b' '; layout.length];
    for f in layout.fields {
        let v = match f.name {
            "Record identifier" => layout.id.to_string(),
            _ => value(f).unwrap_or_else(|| filler(f)),
        };
        let v: Vec<u8> = v.bytes().take(f.len).collect();
        put(&mut line, f.start, &v);
    }
    line
}

fn filler(f: &Field) -> String {
    match f.format {
        Format::Digits => "0".repeat(f.len),
        _ => String::new(),
    }
}

/// Writes `value` from 1-based column `start`, as far as the line reaches.
pub(super) fn put(line: &mut [u8], start: usize, value: &[u8]) {
    for (i, b) in value.iter().enumerate() {
        if let Some(slot) = line.get_mut(start - 1 + i) {
            *slot = *b;
        }
    }
}
