//! A vendor's certification report (issue 31): which operations, on which door, and which
//! TRACS file kinds its software exercised in its sandbox mailboxes, and what the simulated
//! TRACS answered. Read from the audit log and the messages (`store::sandbox`), so it says
//! what happened, and nothing a copy could have drifted from.

use super::{invalid, Admin, AdminOp, AdminResult};
use crate::directory::OrganizationKind;
use crate::tracs::sandbox::Answer;
use crate::tracs::FileKind;
use serde::Serialize;

/// The report of one vendor.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SandboxReport {
    pub organization: String,
    pub name: String,
    pub mailboxes: Vec<String>,
    pub operations: Vec<OperationUse>,
    pub file_kinds: Vec<FileKindUse>,
    pub answers: Vec<AnswerUse>,
}

/// One operation on one door.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperationUse {
    /// The iMAX operation as the audit log names it (`SendFile`, `ListMessages`, …).
    pub operation: String,
    /// `s2s` (vendor software) or `web` (the browser).
    pub door: String,
    /// What a vendor calls it (`SendFile (SOAP)`, `browser upload`, …).
    pub label: String,
    pub succeeded: u64,
    pub refused: u64,
}

/// One TRACS file kind and release the sandbox accepted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileKindUse {
    pub kind: String,
    pub release: String,
    /// The body records such a file carries (`MAT10` certifications, `MAT30` vouchers, …).
    pub records: String,
    pub accepted: u64,
}

/// One kind of answer the simulated TRACS sent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AnswerUse {
    /// `format-errors`, `acknowledgement`, `fatal-errors` or `discrepancies`.
    pub answer: String,
    pub sent: u64,
    /// Of those, fetched by the vendor's software or browser.
    pub fetched: u64,
}

impl Admin {
    /// The certification report of vendor `org` (HUD's to read).
    pub async fn sandbox_report(&self, org: &str) -> AdminResult<SandboxReport> {
        self.permit(AdminOp::SandboxReport)?;
        let o = self.organization(org).await?;
        if o.kind != OrganizationKind::Vendor {
            return Err(invalid(format!(
                "{} is not a vendor (its kind is {})",
                o.org_id,
                o.kind.as_str()
            )));
        }
        let sandbox = self.store.sandbox();
        let operations = sandbox
            .exercised(o.id)
            .await?
            .into_iter()
            .map(|e| OperationUse {
                label: label(&e.action, &e.door),
                operation: e.action,
                door: e.door,
                succeeded: e.succeeded,
                refused: e.refused,
            })
            .collect();
        Ok(SandboxReport {
            organization: o.org_id.to_string(),
            name: o.name,
            mailboxes: sandbox.mailboxes(o.id).await?,
            operations,
            file_kinds: file_kinds(&sandbox.sent(o.id).await?),
            answers: answers(&sandbox.answers(o.id).await?),
        })
    }
}

/// What a vendor calls an operation on a door.
fn label(action: &str, door: &str) -> String {
    match (action, door) {
        ("SendFile", "web") => "browser upload".into(),
        ("ListMessages", "web") => "browser folder listing".into(),
        ("GetMessage", "web") => "browser download".into(),
        (a, "s2s") => format!("{a} (SOAP)"),
        (a, d) => format!("{a} ({d})"),
    }
}

/// The kinds and releases in the audit details of accepted files (`…, TRACS tenant 2.0.2.D,
/// …`, as `gateway::send` writes them).
fn file_kinds(details: &[String]) -> Vec<FileKindUse> {
    let mut out: Vec<FileKindUse> = Vec::new();
    for d in details {
        let Some((_, rest)) = d.split_once(", TRACS ") else {
            continue;
        };
        let mut words = rest.split([' ', ',']);
        let (Some(kind), Some(release)) = (words.next(), words.next()) else {
            continue;
        };
        match out
            .iter_mut()
            .find(|u| u.kind == kind && u.release == release)
        {
            Some(u) => u.accepted += 1,
            None => out.push(FileKindUse {
                kind: kind.to_string(),
                release: release.to_string(),
                records: records(kind).to_string(),
                accepted: 1,
            }),
        }
    }
    out
}

fn records(kind: &str) -> &'static str {
    let found = FileKind::ALL.into_iter().find(|k| k.as_str() == kind);
    match found {
        Some(FileKind::Tenant) => "TENHR: MAT10 certifications, MAT15, MAT40, MAT65, MAT70",
        Some(FileKind::Voucher) => "VCHHR: MAT30 vouchers, MAT31",
        Some(FileKind::Iser) => "ERRHR: MAT80",
        None => "",
    }
}

/// The answers by kind, from their file names (`tracs::sandbox::Answer`, and the format-error
/// reply's `.TENER.txt`, `.VCHER.txt`, `.ERRER.txt`).
fn answers(files: &[(String, bool)]) -> Vec<AnswerUse> {
    let mut out: Vec<AnswerUse> = Vec::new();
    for (name, fetched) in files {
        let answer = match Answer::of_file(name) {
            Some(a) => a.as_str(),
            None if FileKind::ALL
                .into_iter()
                .any(|k| name.ends_with(&format!(".{}ER.txt", k.prefix()))) =>
            {
                "format-errors"
            }
            None => continue,
        };
        let n = u64::from(*fetched);
        match out.iter_mut().find(|u| u.answer == answer) {
            Some(u) => {
                u.sent += 1;
                u.fetched += n;
            }
            None => out.push(AnswerUse {
                answer: answer.to_string(),
                sent: 1,
                fetched: n,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_answers_are_read_from_what_was_stored() {
        let details = [
            "T.TXT -> TRACXTRACS (900 bytes, TRACS tenant 2.0.2.D, routed by sender)".to_string(),
            "V.TXT -> TRACXTRACS (700 bytes, TRACS voucher 2.0.2.D, routed by directory)".into(),
            "U.TXT -> TRACXTRACS (900 bytes, TRACS tenant 2.0.2.D, routed by sender)".into(),
        ];
        let kinds = file_kinds(&details);
        assert_eq!(kinds.len(), 2);
        assert_eq!((kinds[0].kind.as_str(), kinds[0].accepted), ("tenant", 2));
        assert!(kinds[1].records.contains("MAT30"));
        let files = [
            ("T.TXT.ACK.txt".to_string(), true),
            ("U.TXT.TENER.txt".into(), false),
            ("T.TXT.FATAL.txt".into(), false),
        ];
        let a = answers(&files);
        let names: Vec<&str> = a.iter().map(|u| u.answer.as_str()).collect();
        assert_eq!(names, ["acknowledgement", "format-errors", "fatal-errors"]);
        assert_eq!(a[0].fetched, 1);
        assert_eq!(label("SendFile", "web"), "browser upload");
    }
}
