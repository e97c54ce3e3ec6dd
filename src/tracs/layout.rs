//! The record layouts of TRACS files, as data: one table per record type and release.
//!
//! Positions are 1-based, as HUD's MAT User Guide gives them. The first fields of every
//! header (identifier, release, record number, date and time stamps), the sender ZIP code, the
//! Project's iMAX ID (220) and the Sender's iMAX ID (273) are HUD's published positions
//! (`../shared/reference/tracs-format.md`). Record lengths, the counts in batch and file
//! trailers and the body records' own fields are *not yet confirmed*: they are this gateway's
//! reading, kept here and nowhere else, so that correcting a position or adding a release is
//! an edit of this file only. The test suite generates its sample files from these same tables.

/// What a field must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Any printable ASCII, blanks allowed.
    Text,
    /// Digits only.
    Digits,
    /// A date `MMDDYYYY`.
    Date,
    /// A time `HHMMSS`.
    Time,
    /// An iMAX ID: `TRACM` followed by five digits (HUD's edits "K" and "S").
    ImaxId,
}

impl Format {
    /// What is expected, for a problem report.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Text => "printable text",
            Format::Digits => "digits",
            Format::Date => "a date MMDDYYYY",
            Format::Time => "a time HHMMSS",
            Format::ImaxId => "an iMAX ID: TRACM and five digits",
        }
    }
}

/// One field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// 1-based first column.
    pub start: usize,
    pub len: usize,
    pub format: Format,
}

const fn f(name: &'static str, start: usize, len: usize, format: Format) -> Field {
    Field {
        name,
        start,
        len,
        format,
    }
}

/// The part a record plays in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Header,
    Body,
    /// An error record (`TENER`, …) as HUD's edits return them.
    Error,
    BatchTrailer,
    FileTrailer,
    /// A record after the file trailer (the voucher's transaction control `VCHVC`).
    Control,
}

/// The layout of one record type in one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub id: &'static str,
    pub role: Role,
    /// The record's length without its line ending.
    pub length: usize,
    pub fields: &'static [Field],
}

/// The kinds of TRACS file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Tenant,
    Voucher,
    Iser,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Tenant, FileKind::Voucher, FileKind::Iser];

    pub fn header(self) -> &'static str {
        match self {
            FileKind::Tenant => "TENHR",
            FileKind::Voucher => "VCHHR",
            FileKind::Iser => "ERRHR",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Tenant => "tenant",
            FileKind::Voucher => "voucher",
            FileKind::Iser => "iSERS",
        }
    }
    pub fn from_header(id: &[u8]) -> Option<FileKind> {
        FileKind::ALL
            .into_iter()
            .find(|k| k.header().as_bytes() == id)
    }
    /// The prefix shared by the kind's own records (`TEN`, `VCH`, `ERR`).
    pub fn prefix(self) -> &'static str {
        &self.header()[..3]
    }
}

/// The fields every header begins with, in every release (HUD's published positions).
const HEADER_START: [Field; 5] = [
    f("Record identifier", 1, 5, Format::Text),
    f("Release/version", 6, 7, Format::Text),
    f("Record number", 13, 5, Format::Digits),
    f("Date stamp", 18, 8, Format::Date),
    f("Time stamp", 26, 6, Format::Time),
];

/// The header fields this gateway reads: the first ones plus the iMAX IDs.
const HEADER: [Field; 8] = [
    HEADER_START[0],
    HEADER_START[1],
    HEADER_START[2],
    HEADER_START[3],
    HEADER_START[4],
    f("Sender ZIP code", 104, 5, Format::Digits),
    f("Project's iMAX ID", 220, 10, Format::ImaxId),
    f("Sender's iMAX ID", 273, 10, Format::ImaxId),
];

/// Fields every other record begins with (provisional).
const BODY: [Field; 2] = [
    f("Record identifier", 1, 5, Format::Text),
    f("Record number", 13, 5, Format::Digits),
];

/// A batch trailer: the records of its batch, header and trailer included (provisional).
const BATCH_TRAILER: [Field; 3] = [
    f("Record identifier", 1, 5, Format::Text),
    f("Record number", 13, 5, Format::Digits),
    f("Batch record count", 18, 7, Format::Digits),
];

/// A file trailer: batches in the file and records in it, trailer included (provisional).
const FILE_TRAILER: [Field; 3] = [
    f("Record identifier", 1, 5, Format::Text),
    f("Batch count", 13, 5, Format::Digits),
    f("Total record count", 18, 7, Format::Digits),
];

const fn rec(id: &'static str, role: Role, length: usize) -> Record {
    let fields: &'static [Field] = match role {
        Role::Header => &HEADER,
        Role::BatchTrailer => &BATCH_TRAILER,
        Role::FileTrailer => &FILE_TRAILER,
        Role::Body | Role::Error | Role::Control => &BODY,
    };
    Record {
        id,
        role,
        length,
        fields,
    }
}

/// One release: its name as headers carry it, and its record layouts.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub name: &'static str,
    pub records: &'static [Record],
}

impl Release {
    pub fn record(&self, id: &[u8]) -> Option<&'static Record> {
        self.records.iter().find(|r| r.id.as_bytes() == id)
    }

    /// The records a file of `kind` may hold, in the role they play.
    pub fn records_of(&self, kind: FileKind) -> impl Iterator<Item = &'static Record> + '_ {
        let own = kind.prefix();
        let bodies: &'static [&'static str] = match kind {
            FileKind::Tenant => &[
                "MAT10", "MAT15", "MAT40", "MAT65", "MAT70", "MAT90", "MAT91", "MAT92",
            ],
            FileKind::Voucher => &["MAT30", "MAT31"],
            FileKind::Iser => &["MAT80"],
        };
        self.records
            .iter()
            .filter(move |r| r.id.starts_with(own) || bodies.contains(&r.id))
    }
}

/// Records common to 2.0.2.C and 2.0.2.D (lengths provisional).
const R202: [Record; 24] = [
    rec("TENHR", Role::Header, 300),
    rec("MAT10", Role::Body, 400),
    rec("MAT15", Role::Body, 200),
    rec("MAT40", Role::Body, 150),
    rec("MAT65", Role::Body, 150),
    rec("MAT70", Role::Body, 200),
    rec("MAT90", Role::Body, 200),
    rec("MAT91", Role::Body, 200),
    rec("MAT92", Role::Body, 200),
    rec("TENER", Role::Error, 250),
    rec("TENND", Role::BatchTrailer, 30),
    rec("TENTR", Role::FileTrailer, 30),
    rec("VCHHR", Role::Header, 300),
    rec("MAT30", Role::Body, 350),
    rec("MAT31", Role::Body, 100),
    rec("VCHER", Role::Error, 250),
    rec("VCHND", Role::BatchTrailer, 30),
    rec("VCHTR", Role::FileTrailer, 30),
    rec("VCHVC", Role::Control, 50),
    rec("ERRHR", Role::Header, 300),
    rec("MAT80", Role::Body, 250),
    rec("ERRER", Role::Error, 250),
    rec("ERRND", Role::BatchTrailer, 30),
    rec("ERRTR", Role::FileTrailer, 30),
];

/// 2.0.3.A: longer certification and voucher records (provisional).
const R203A: [Record; 24] = {
    let mut r = R202;
    r[0] = rec("TENHR", Role::Header, 320);
    r[1] = rec("MAT10", Role::Body, 450);
    r[12] = rec("VCHHR", Role::Header, 320);
    r[13] = rec("MAT30", Role::Body, 380);
    r[19] = rec("ERRHR", Role::Header, 320);
    r
};

/// The releases this gateway knows.
pub static RELEASES: [Release; 3] = [
    Release {
        name: "2.0.2.C",
        records: &R202,
    },
    Release {
        name: "2.0.2.D",
        records: &R202,
    },
    Release {
        name: "2.0.3.A",
        records: &R203A,
    },
];

pub fn release(name: &[u8]) -> Option<&'static Release> {
    RELEASES.iter().find(|r| r.name.as_bytes() == name)
}

/// Whether five bytes look like a TRACS record identifier (so a file starting with one is a
/// TRACS file, however broken).
pub fn looks_like_record_id(id: &[u8]) -> bool {
    RELEASES
        .iter()
        .flat_map(|r| r.records.iter())
        .any(|r| r.id.as_bytes() == id)
        || (id.len() == 5 && id.starts_with(b"MAT") && id[3..].iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_consistent() {
        for rel in &RELEASES {
            for r in rel.records {
                assert_eq!(r.id.len(), 5);
                for f in r.fields {
                    assert!(
                        f.start >= 1 && f.start + f.len - 1 <= r.length,
                        "{} {}",
                        r.id,
                        f.name
                    );
                }
                // Fields do not overlap.
                for (i, a) in r.fields.iter().enumerate() {
                    for b in &r.fields[i + 1..] {
                        assert!(
                            a.start + a.len <= b.start || b.start + b.len <= a.start,
                            "{} {} {}",
                            r.id,
                            a.name,
                            b.name
                        );
                    }
                }
            }
            for k in FileKind::ALL {
                let roles: Vec<Role> = rel.records_of(k).map(|r| r.role).collect();
                for needed in [
                    Role::Header,
                    Role::Body,
                    Role::BatchTrailer,
                    Role::FileTrailer,
                ] {
                    assert!(
                        roles.contains(&needed),
                        "{} {k:?} lacks {needed:?}",
                        rel.name
                    );
                }
            }
        }
    }
}
