//! The send plan's rules, without a database (issue 26, item 2).

use super::*;
use crate::tracs::{Batch, Problem, Verdict};

fn mailbox(id: i64, imax: &str, kind: MailboxKind) -> Mailbox {
    let now = OffsetDateTime::UNIX_EPOCH;
    Mailbox {
        id,
        imax_id: ImaxId::parse(imax).expect("an iMAX ID"),
        kind,
        name: imax.to_string(),
        password_hash: String::new(),
        active: true,
        auth_epoch: 0,
        accepts_attachments: kind != MailboxKind::Hud,
        frozen_until: None,
        mid_frozen_until: None,
        created_at: now,
        last_used_at: None,
    }
}

fn tracs(project: &str, sender: &str) -> Report {
    Report {
        verdict: Verdict::Tracs {
            kind: None,
            release: None,
        },
        batches: vec![Batch {
            line: 1,
            project: Some(project.into()),
            sender: Some(sender.into()),
            date: "12062026".into(),
            time: "101500".into(),
        }],
        batch_count: 1,
        records: 3,
        body_records: 1,
        problems: Vec::new(),
        more_problems: 0,
        provisional: Vec::new(),
        more_provisional: 0,
        marked: Vec::new(),
    }
}

fn not_tracs() -> Report {
    Report {
        verdict: Verdict::NotTracs,
        batches: Vec::new(),
        ..tracs("TRACM10001", "TRACM10001")
    }
}

fn request(file_name: &str) -> SendRequest<'_> {
    SendRequest {
        file_name,
        ..SendRequest::default()
    }
}

fn code<T>(r: Result<T, Refusal>) -> Option<Code> {
    r.err().map(|r| r.code)
}

#[test]
fn a_file_is_judged_in_order_before_anything_is_read() {
    let sha = "ab".repeat(32);
    let plan = |req: &SendRequest<'_>, size, report| SendPlan::new(req, size, sha.clone(), report);
    // Empty before anything else, then the name, the checksum and TRACS's certain problems.
    assert_eq!(
        code(plan(&request(""), 0, not_tracs())),
        Some(Code::MissingFile)
    );
    assert_eq!(
        code(plan(&request("dir/"), 5, not_tracs())),
        Some(Code::MalformedRequest)
    );
    let mismatch = SendRequest {
        expected_sha256: Some("00"),
        ..request("a.txt")
    };
    assert_eq!(
        code(plan(&mismatch, 5, not_tracs())),
        Some(Code::ChecksumMismatch)
    );
    let mut bad = tracs("TRACM10001", "TRACM10001");
    bad.problems.push(Problem {
        line: 2,
        record: "MAT10".into(),
        field: "Unit".into(),
        expected: "digits".into(),
        found: "x".into(),
    });
    bad.more_problems = 2;
    let refused = plan(&request("a.txt"), 5, bad).expect_err("certain problems");
    assert_eq!(refused.code, Code::InvalidTracsFile);
    assert_eq!(refused.items.len(), 2, "the problem and how many more");
    // The checksum is compared as the client may write it; names and addresses are cleaned.
    let fine = SendRequest {
        expected_sha256: Some(&format!(" {} ", sha.to_uppercase())),
        to: Some("  "),
        in_reply_to: Some(" M-1 "),
        ..request("c:\\files\\a.txt")
    };
    let p = plan(&fine, 5, not_tracs()).expect("accepted");
    assert_eq!(p.name, "a.txt");
    assert_eq!(p.to, None);
    assert_eq!(p.in_reply_to.as_deref(), Some("M-1"));
}

#[test]
fn r12_the_header_and_the_senders_choice_must_agree_or_be_marked() {
    let report = tracs("TRACM10002", "TRACM10002");
    let ca = mailbox(1, "TRACM20001", MailboxKind::ContractAdministrator);
    let other = mailbox(2, "TRACM20002", MailboxKind::ContractAdministrator);
    let by = |named, header, policy| {
        choose(named, header, policy, &report)
            .map(|(to, by, marked)| (to.map(|m| m.id), by, marked))
    };
    assert_eq!(
        by(None, Some(ca.clone()), Misrouted::Refuse).ok(),
        Some((Some(1), RoutedBy::Header, false))
    );
    assert_eq!(
        by(Some(ca.clone()), Some(ca.clone()), Misrouted::Refuse).ok(),
        Some((Some(1), RoutedBy::Sender, false))
    );
    assert_eq!(
        code(by(Some(other.clone()), Some(ca.clone()), Misrouted::Refuse)),
        Some(Code::Misrouted)
    );
    assert_eq!(
        by(Some(other.clone()), Some(ca.clone()), Misrouted::Mark).ok(),
        Some((Some(2), RoutedBy::Sender, true))
    );
    assert_eq!(
        by(None, None, Misrouted::Refuse).ok(),
        Some((None, RoutedBy::Directory, false))
    );
}

#[test]
fn r12_a_reply_goes_back_to_the_sender_of_what_it_answers_and_nowhere_else() {
    assert!(check_reply_address(None, "TRACM10001").is_ok());
    assert!(check_reply_address(Some("TRACM10001"), "TRACM10001").is_ok());
    assert!(check_reply_address(Some("TRACS"), ImaxId::hud().as_str()).is_ok());
    assert_eq!(
        code(check_reply_address(Some("TRACM10002"), "TRACM10001")),
        Some(Code::Misrouted)
    );
    assert_eq!(
        code(check_reply_address(Some("nobody"), "TRACM10001")),
        Some(Code::Misrouted)
    );
    assert_eq!(code(named_id("nobody")), Some(Code::UnknownRecipient));
    assert_eq!(named_id("TRACS").ok(), Some(ImaxId::hud()));
}

#[test]
fn only_tracs_files_go_where_attachments_are_not_taken_and_a_forward_has_its_own_key() {
    let hud = mailbox(9, ImaxId::hud().as_str(), MailboxKind::Hud);
    let ca = mailbox(1, "TRACM20001", MailboxKind::ContractAdministrator);
    assert_eq!(
        code(check_attachment(&not_tracs(), &hud)),
        Some(Code::InvalidTracsFile)
    );
    assert!(check_attachment(&not_tracs(), &ca).is_ok());
    let report = tracs("TRACM10002", "TRACM10002");
    assert!(check_attachment(&report, &hud).is_ok());
    assert!(forwarded(&ca, Some(&hud)));
    assert!(!forwarded(
        &mailbox(3, "TRACM10002", MailboxKind::Property),
        Some(&hud)
    ));
    let routing = |forwarded| Routing {
        to: hud.clone(),
        by: RoutedBy::Header,
        misrouted: false,
        forwarded,
    };
    let key = "TRACM10002|12062026|101500";
    assert_eq!(
        routing(false).transmission_key(&report, &ca).as_deref(),
        Some(key)
    );
    assert_eq!(
        routing(true).transmission_key(&report, &ca),
        Some(format!("{key}|forwarded by TRACM20001"))
    );
}

#[test]
fn every_batch_goes_to_one_contract_administrator() {
    let project = ImaxId::parse("TRACM10002").expect("id");
    let a = mailbox(1, "TRACM20001", MailboxKind::ContractAdministrator);
    let b = mailbox(2, "TRACM20002", MailboxKind::ContractAdministrator);
    assert_eq!(
        code(batch_recipient(vec![], &project, 4)),
        Some(Code::UnknownRecipient)
    );
    assert_eq!(
        batch_recipient(vec![a.clone(), b.clone()], &project, 4)
            .ok()
            .map(|m| m.is_none()),
        Some(true)
    );
    assert_eq!(same_recipient(&None, a.clone()).ok().map(|m| m.id), Some(1));
    assert_eq!(
        same_recipient(&Some(a.clone()), a.clone())
            .ok()
            .map(|m| m.id),
        Some(1)
    );
    assert_eq!(code(same_recipient(&Some(a), b)), Some(Code::Misrouted));
}
