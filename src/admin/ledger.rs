//! The TRACS round-trip ledger (issue 31, `docs/ledger.md`): for one contract and one month
//! (Washington time), what the property sent its administrator (tenant certifications,
//! vouchers: by file and record count), what came back (format errors, acknowledgements, fatal
//! errors, tied by `in_reply_to`) and what is missing (the month's voucher after its due day,
//! files unanswered past `tracs.answer_expected_hours`).
//!
//! Read from the stored messages and their bodies (each sent body is scanned again by the same
//! checker that read it at the door, for its kind and records), never from a copy that could
//! drift. Which files are a contract's: `store/ledger.rs`.

use super::{forbidden, invalid, missing, Actor, Admin, AdminOp, AdminResult};
use crate::calendar::{end_of_day, iso_date, start_of_day};
use crate::clock::rfc3339;
use crate::store::ledger::{ContractParties, ReplyFile, SentFile};
use crate::tracs::sandbox::Answer;
use crate::tracs::{FileKind, Scanner, Verdict};
use serde::Serialize;
use time::{Date, Duration, Month, OffsetDateTime};
use tokio::io::AsyncReadExt;

/// One contract's month.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ledger {
    pub contract: String,
    pub property: String,
    /// The mailbox the property sends from (empty: none).
    pub property_mailbox: String,
    pub administrator: String,
    /// `YYYY-MM`.
    pub month: String,
    /// When the ledger was read (RFC 3339): what is missing is missing as of then.
    pub as_of: String,
    /// The files sent in the month, oldest first, each with its replies.
    pub sent: Vec<SentEntry>,
    pub totals: Totals,
    /// The month's voucher: sent by its due day, or not.
    pub voucher: VoucherCheck,
    pub missing: Vec<Missing>,
    /// More files than `ledger.max_files`: the rest were left out.
    pub truncated: bool,
}

/// One file the property sent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SentEntry {
    pub message_id: String,
    pub file_name: String,
    /// `tenant`, `voucher`, `iSERS`, or `unknown` (a header the checker could not read).
    pub kind: String,
    pub release: String,
    pub batches: u64,
    /// Body records (certifications, voucher records), headers and trailers not counted.
    pub records: u64,
    pub size_bytes: u64,
    pub sent_at: String,
    pub status: Status,
    pub replies: Vec<ReplyEntry>,
}

/// Where a sent file stands.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// At least one reply came back.
    Answered,
    /// No reply yet, within `tracs.answer_expected_hours`.
    Awaiting,
    /// No reply, past `tracs.answer_expected_hours` (listed in `missing` too).
    Unanswered,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Answered => "answered",
            Status::Awaiting => "awaiting",
            Status::Unanswered => "unanswered",
        }
    }
}

/// One reply to a sent file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReplyEntry {
    pub message_id: String,
    pub file_name: String,
    pub answer: ReplyKind,
    pub from_mailbox: String,
    pub received_at: String,
    /// Fetched by the property.
    pub retrieved: bool,
}

/// What a reply is, by the name TRACS (or the sandbox's simulated TRACS) gives it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyKind {
    /// The format-error reply (`….TENER.txt`, `VCHER`, `ERRER`).
    FormatErrors,
    Acknowledgement,
    FatalErrors,
    Discrepancies,
    /// Any other answer (a CA's or HUD's own message).
    Other,
}

impl ReplyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::FormatErrors => "format-errors",
            ReplyKind::Acknowledgement => "acknowledgement",
            ReplyKind::FatalErrors => "fatal-errors",
            ReplyKind::Discrepancies => "discrepancies",
            ReplyKind::Other => "other",
        }
    }

    /// By file name: the format-error reply's (`tracs::reply::file_name`) or the simulated
    /// answers' suffixes (`tracs::sandbox::Answer`).
    pub fn of_file(name: &str) -> ReplyKind {
        let format_errors = FileKind::ALL
            .into_iter()
            .any(|k| name.ends_with(&format!(".{}ER.txt", k.prefix())));
        if format_errors {
            return ReplyKind::FormatErrors;
        }
        match Answer::of_file(name) {
            Some(Answer::Acknowledgement) => ReplyKind::Acknowledgement,
            Some(Answer::FatalErrors) => ReplyKind::FatalErrors,
            Some(Answer::Discrepancies) => ReplyKind::Discrepancies,
            None => ReplyKind::Other,
        }
    }
}

/// Files and records sent, and replies by kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub tenant_files: u64,
    pub tenant_records: u64,
    pub voucher_files: u64,
    pub voucher_records: u64,
    pub other_files: u64,
    pub format_errors: u64,
    pub acknowledgements: u64,
    pub fatal_errors: u64,
    pub discrepancies: u64,
    pub other_replies: u64,
}

/// The month's voucher: the first voucher file sent after the month's own due day ended (the
/// previous month's voucher is due then) through the due day of the following month
/// (`ledger.voucher_due_day`, Washington time). The windows of two months never overlap, so
/// a voucher counts for one month only; with no contract month in the stored rows (the body's
/// voucher fields are at positions not yet confirmed), the time it was sent decides.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VoucherCheck {
    /// `YYYY-MM-DD`: a voucher sent once this day ended counts.
    pub after: String,
    /// `YYYY-MM-DD`, the last day.
    pub due: String,
    pub status: VoucherStatus,
    /// The first voucher that counts, if any.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum VoucherStatus {
    Sent,
    /// None yet; its due day has not ended.
    NotYetDue,
    Missing,
}

impl VoucherStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VoucherStatus::Sent => "sent",
            VoucherStatus::NotYetDue => "not-yet-due",
            VoucherStatus::Missing => "missing",
        }
    }
}

/// Something that should be there and is not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum Missing {
    /// No voucher for the month by its due day.
    Voucher { due: String },
    /// A sent file without a reply past `tracs.answer_expected_hours`.
    Reply {
        message_id: String,
        file_name: String,
        sent_at: String,
    },
}

impl Missing {
    /// One line for people (the page, the table).
    pub fn describe(&self) -> String {
        match self {
            Missing::Voucher { due } => format!("the month's voucher (due {due})"),
            Missing::Reply {
                message_id,
                file_name,
                sent_at,
            } => format!("a reply to {message_id} {file_name} (sent {sent_at})"),
        }
    }
}

/// What a stored body says when scanned again.
struct Scanned {
    kind: Option<FileKind>,
    release: String,
    batches: u64,
    records: u64,
}

/// The instant the month `YYYY-MM` begins in Washington, and the first day of the next.
pub(super) fn parse_month(month: &str) -> Option<(Date, Date)> {
    let (y, m) = month.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let first = Date::from_calendar_date(y.parse().ok()?, month, 1).ok()?;
    let next = Date::from_calendar_date(
        if month == Month::December {
            first.year() + 1
        } else {
            first.year()
        },
        month.next(),
        1,
    )
    .ok()?;
    Some((first, next))
}

impl Admin {
    /// The ledger of `contract` for `month` (`YYYY-MM`): HUD's for any contract, a
    /// coordinator's for the contracts of its BPR properties (R3) and those its CA
    /// administers (R12).
    pub async fn ledger(&self, contract: &str, month: &str) -> AdminResult<Ledger> {
        self.permit(AdminOp::ReadLedger)?;
        if parse_month(month).is_none() {
            return Err(invalid(format!("month {month:?} is not YYYY-MM")));
        }
        let store = self.store.ledger();
        let Some(parties) = store.contract(contract.trim()).await? else {
            return Err(missing(format!("contract {}", contract.trim())));
        };
        self.may_read_ledger(&parties).await?;
        self.read_ledger(parties, month).await
    }

    /// The ledger of a contract the caller may read, for `month` (`YYYY-MM`).
    pub(super) async fn read_ledger(
        &self,
        parties: ContractParties,
        month: &str,
    ) -> AdminResult<Ledger> {
        let Some((first, next)) = parse_month(month) else {
            return Err(invalid(format!("month {month:?} is not YYYY-MM")));
        };
        let store = self.store.ledger();
        let due_day = self.config.ledger.voucher_due_day;
        let due = next
            .replace_day(due_day)
            .map_err(|_| invalid("ledger.voucher_due_day"))?;
        let after = first
            .replace_day(due_day)
            .map_err(|_| invalid("ledger.voucher_due_day"))?;
        let (start, month_end, due_end) =
            (start_of_day(first), start_of_day(next), end_of_day(due));
        // The voucher windows do not overlap, so that one voucher counts for one month.
        let opens = end_of_day(after);
        let now = self.clock.now();
        let limit = self.config.ledger.max_files;
        let (files, replies) = match &parties.property_mailbox {
            Some((from, _)) => {
                let (to, window) = (parties.administrator.0, (start, due_end));
                let files = store.sent(*from, to, window, limit + 1).await?;
                let replies = store.replies(*from, to, window, limit * 8).await?;
                (files, replies)
            }
            None => (Vec::new(), Vec::new()),
        };
        let truncated = files.len() > limit as usize;
        // What ledgers cost, and how often `ledger.max_files` cut one short.
        let read = files.len().min(limit as usize) as u64;
        metrics::counter!("imax_ledger_bodies_read_total").increment(read);
        metrics::counter!("imax_ledgers_total", "truncated" => if truncated { "yes" } else { "no" })
            .increment(1);
        let mut entries = Vec::new();
        let mut voucher = None;
        for f in files.iter().take(limit as usize) {
            let scanned = self.rescan(f).await?;
            let counts = f.received_at >= opens && voucher.is_none();
            if scanned.kind == Some(FileKind::Voucher) && counts {
                voucher = Some(f.message_id.clone());
            }
            if f.received_at < month_end {
                entries.push(self.ledger_entry(f, scanned, &replies, now));
            }
        }
        let status = match (&voucher, now >= due_end) {
            (Some(_), _) => VoucherStatus::Sent,
            (None, false) => VoucherStatus::NotYetDue,
            (None, true) => VoucherStatus::Missing,
        };
        let check = VoucherCheck {
            after: iso_date(after),
            due: iso_date(due),
            status,
            message_id: voucher,
        };
        Ok(assemble(parties, month, now, entries, check, truncated))
    }

    /// HUD reads every contract's ledger; a coordinator those of its BPR properties (R3: an
    /// owner's or agent's), and those administered by a CA it has a BPR with (R3: a CA's
    /// coordinator; R12, R25: the contract's administrator mailbox is the CA's), and no other
    /// CA's.
    async fn may_read_ledger(&self, parties: &ContractParties) -> AdminResult<()> {
        let Actor::Coordinator { id, mid } = &self.actor else {
            return Ok(());
        };
        let bpr = self.store.operators().bpr_properties(*id).await?;
        if bpr.contains(&parties.property_id) {
            return Ok(());
        }
        let ledger = self.store.ledger();
        if ledger.administered_for(&parties.contract, *id).await? {
            return Ok(());
        }
        Err(forbidden(format!(
            "{mid} has no Business Partner Relationship with property {} (R3), nor with the contract administrator of {} (R12)",
            parties.property, parties.contract
        )))
    }

    /// Scans a stored body again (the door's checker, fed as it reads).
    async fn rescan(&self, f: &SentFile) -> AdminResult<Scanned> {
        let mut reader = self.store.bodies.open(&f.body_key, f.size_bytes).await?;
        let mut scanner = Scanner::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            scanner.feed(&buf[..n]);
        }
        let report = scanner.finish();
        let (kind, release) = match report.verdict {
            Verdict::Tracs { kind, release } => (kind, release.unwrap_or_default()),
            _ => (None, ""),
        };
        Ok(Scanned {
            kind,
            release: release.to_string(),
            batches: report.batch_count,
            records: report.body_records,
        })
    }

    fn ledger_entry(
        &self,
        f: &SentFile,
        s: Scanned,
        replies: &[ReplyFile],
        now: OffsetDateTime,
    ) -> SentEntry {
        let replies: Vec<ReplyEntry> = replies
            .iter()
            .filter(|r| r.in_reply_to == f.message_id)
            .map(|r| ReplyEntry {
                message_id: r.message_id.clone(),
                file_name: r.file_name.clone(),
                answer: ReplyKind::of_file(&r.file_name),
                from_mailbox: r.from_mailbox.clone(),
                received_at: rfc3339(r.received_at),
                retrieved: r.retrieved,
            })
            .collect();
        let hours = self.config.tracs.answer_expected_hours;
        let status = if !replies.is_empty() {
            Status::Answered
        } else if hours > 0 && now - f.received_at > Duration::hours(hours) {
            Status::Unanswered
        } else {
            Status::Awaiting
        };
        SentEntry {
            message_id: f.message_id.clone(),
            file_name: f.file_name.clone(),
            kind: s.kind.map_or("unknown", FileKind::as_str).to_string(),
            release: s.release,
            batches: s.batches,
            records: s.records,
            size_bytes: f.size_bytes,
            sent_at: rfc3339(f.received_at),
            status,
            replies,
        }
    }
}

fn assemble(
    p: ContractParties,
    month: &str,
    now: OffsetDateTime,
    sent: Vec<SentEntry>,
    voucher: VoucherCheck,
    truncated: bool,
) -> Ledger {
    let mut totals = Totals::default();
    let mut missing = Vec::new();
    if voucher.status == VoucherStatus::Missing {
        missing.push(Missing::Voucher {
            due: voucher.due.clone(),
        });
    }
    for e in &sent {
        match e.kind.as_str() {
            "tenant" => (totals.tenant_files += 1, totals.tenant_records += e.records),
            "voucher" => (
                totals.voucher_files += 1,
                totals.voucher_records += e.records,
            ),
            _ => (totals.other_files += 1, ()),
        };
        for r in &e.replies {
            *match r.answer {
                ReplyKind::FormatErrors => &mut totals.format_errors,
                ReplyKind::Acknowledgement => &mut totals.acknowledgements,
                ReplyKind::FatalErrors => &mut totals.fatal_errors,
                ReplyKind::Discrepancies => &mut totals.discrepancies,
                ReplyKind::Other => &mut totals.other_replies,
            } += 1;
        }
        if e.status == Status::Unanswered {
            missing.push(Missing::Reply {
                message_id: e.message_id.clone(),
                file_name: e.file_name.clone(),
                sent_at: e.sent_at.clone(),
            });
        }
    }
    Ledger {
        contract: p.contract,
        property: p.property,
        property_mailbox: p.property_mailbox.map(|m| m.1).unwrap_or_default(),
        administrator: p.administrator.1,
        month: month.trim().to_string(),
        as_of: rfc3339(now),
        sent,
        totals,
        voucher,
        missing,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_reply_names() {
        let (a, b) = parse_month("2027-12").expect("month");
        assert_eq!(
            (iso_date(a), iso_date(b)),
            ("2027-12-01".into(), "2028-01-01".into())
        );
        assert!(parse_month("2027-13").is_none() && parse_month("27-03").is_none());
        assert_eq!(
            ReplyKind::of_file("V.DAT.VCHER.txt"),
            ReplyKind::FormatErrors
        );
        assert_eq!(
            ReplyKind::of_file("T.DAT.ACK.txt"),
            ReplyKind::Acknowledgement
        );
        assert_eq!(
            ReplyKind::of_file("T.DAT.FATAL.txt"),
            ReplyKind::FatalErrors
        );
        assert_eq!(ReplyKind::of_file("letter.pdf"), ReplyKind::Other);
    }
}
