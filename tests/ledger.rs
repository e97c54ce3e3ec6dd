//! The TRACS round-trip ledger (issue 31, item 2), through the real server and the real
//! binary: a property's tenant file and voucher for a contract in a month, the format-error
//! reply tied to the tenant file, and what the ledger says is sent, answered and missing (the
//! voucher after its due day, a file unanswered past `tracs.answer_expected_hours`), with a
//! stable JSON shape; a coordinator reads only its BPR properties' contracts (R3).

use crate::compliance_binary::imax;
use crate::helpers::*;
use crate::web_forms::{request, session_cookie};
use imax_gateway::admin::{Missing, ReplyKind, Status, VoucherStatus};
use imax_gateway::client::Content;
use imax_gateway::error::Code;
use imax_gateway::tracs::FileKind;

/// Maple Court's contract, administered by the PBCA.
const CONTRACT: &str = "MA020001001";

/// Sends `file` as `name` from Maple Court as its site manager; returns the reply's fields.
async fn send(t: &TestApp, name: &str, file: Vec<u8>) -> imax_gateway::client::Reply {
    let mut client = t.client(SITE_USER).await;
    let r = client
        .send_file(MAPLE.0, MAPLE.1, None, name, Content::Bytes(file), None)
        .await
        .expect("reply");
    assert_ok(&r);
    r
}

/// A tenant file with a format problem (answered with TENER records) on 2 March 2027 and a
/// voucher (left unanswered) on 15 March, when the clock is left; another property's file is
/// no part of the contract's.
async fn march_files(t: &TestApp) -> (String, String, String) {
    let mut tenant = tracs_file(FileKind::Tenant, MAPLE.0, 3);
    tenant.drain(400..410); // ten characters out of the first certification record
    let sent = send(t, "TENANT0301.DAT", tenant).await;
    assert_eq!(sent.get("toMailbox"), Some(PBCA.0));
    let tenant_id = sent.get("messageId").expect("id").to_string();
    let reply_id = sent
        .get("replyId")
        .expect("a format-error reply")
        .to_string();
    t.clock.set(time::macros::datetime!(2027-03-15 14:00 UTC));
    let voucher = send(
        t,
        "VOUCHER0315.DAT",
        tracs_file(FileKind::Voucher, MAPLE.0, 2),
    )
    .await;
    let voucher_id = voucher.get("messageId").expect("id").to_string();
    let other = tracs_file(FileKind::Voucher, OAK_HILL.0, 1);
    assert_ok(&t.send(COORDINATOR, OAK_HILL, None, &other).await);
    (tenant_id, reply_id, voucher_id)
}

/// Issue 31: February's voucher is missing once 10 March has ended (Washington time); March's
/// files by kind and record count, the format-error reply tied to the tenant file, the voucher
/// counted for March, and its reply missing once `tracs.answer_expected_hours` (48) passed.
#[tokio::test]
async fn ledger_shows_what_was_sent_answered_and_missing() {
    let t = TestApp::start_at(time::macros::datetime!(2027-03-02 14:00 UTC), |_| {}).await;
    let feb = t.admin.ledger(CONTRACT, "2027-02").await.expect("ledger");
    assert!(feb.sent.is_empty());
    assert_eq!(
        feb.voucher.status,
        VoucherStatus::NotYetDue,
        "due through 10 March"
    );
    assert_eq!(
        (feb.voucher.after.as_str(), feb.voucher.due.as_str()),
        ("2027-02-10", "2027-03-10")
    );
    // 10 March ends at 05:00 UTC (EST) in Washington.
    t.clock.set(time::macros::datetime!(2027-03-11 04:59 UTC));
    let feb = t.admin.ledger(CONTRACT, "2027-02").await.expect("ledger");
    assert_eq!(feb.voucher.status, VoucherStatus::NotYetDue);
    t.clock.advance(time::Duration::minutes(2));
    let feb = t.admin.ledger(CONTRACT, "2027-02").await.expect("ledger");
    assert_eq!(feb.voucher.status, VoucherStatus::Missing);
    assert_eq!(
        feb.missing,
        [Missing::Voucher {
            due: "2027-03-10".into()
        }]
    );

    let t = TestApp::start_at(time::macros::datetime!(2027-03-02 14:00 UTC), |_| {}).await;
    let (tenant_id, reply_id, voucher_id) = march_files(&t).await;
    let l = t.admin.ledger(CONTRACT, "2027-03").await.expect("ledger");
    assert_eq!(
        (l.property.as_str(), l.administrator.as_str()),
        ("800100001", PBCA.0)
    );
    let ids: Vec<&str> = l.sent.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [tenant_id.as_str(), voucher_id.as_str()],
        "Oak Hill's is not Maple's"
    );
    let (tenant, voucher) = (&l.sent[0], &l.sent[1]);
    assert_eq!((tenant.kind.as_str(), tenant.records), ("tenant", 3));
    assert_eq!((voucher.kind.as_str(), voucher.records), ("voucher", 2));
    assert_eq!(tenant.status, Status::Answered);
    assert_eq!(tenant.replies.len(), 1);
    assert_eq!(tenant.replies[0].message_id, reply_id);
    assert_eq!(tenant.replies[0].answer, ReplyKind::FormatErrors);
    assert_eq!(tenant.replies[0].file_name, "TENANT0301.DAT.TENER.txt");
    assert_eq!(voucher.status, Status::Awaiting, "within its 48 hours");
    assert_eq!(l.voucher.status, VoucherStatus::Sent);
    assert_eq!(l.voucher.message_id.as_deref(), Some(voucher_id.as_str()));
    assert_eq!(l.voucher.due, "2027-04-10");
    assert_eq!((l.totals.tenant_records, l.totals.voucher_records), (3, 2));
    assert_eq!(l.totals.format_errors, 1);
    assert!(l.missing.is_empty(), "{:?}", l.missing);
    // The voucher sent on 15 March is March's, not February's (sent after 10 March).
    let feb = t.admin.ledger(CONTRACT, "2027-02").await.expect("ledger");
    assert_eq!(feb.voucher.status, VoucherStatus::Missing);
    // Just over two days after it was sent nobody has answered the voucher: its reply is
    // missing.
    t.days(2);
    t.clock.advance(time::Duration::minutes(1));
    let l = t.admin.ledger(CONTRACT, "2027-03").await.expect("ledger");
    assert_eq!(l.sent[1].status, Status::Unanswered);
    assert_eq!(
        l.missing,
        [Missing::Reply {
            message_id: voucher_id.clone(),
            file_name: "VOUCHER0315.DAT".into(),
            sent_at: l.sent[1].sent_at.clone(),
        }]
    );
    // An unknown contract and a malformed month are refused by code.
    let e = t
        .admin
        .ledger("XX000000000", "2027-03")
        .await
        .expect_err("unknown");
    assert_eq!(e.code, Code::NotFound);
    let e = t
        .admin
        .ledger(CONTRACT, "2027-3")
        .await
        .expect_err("malformed");
    assert_eq!(e.code, Code::InvalidInput);
}

/// R3: a coordinator reads the ledgers of its BPR properties' contracts, and no other, by
/// the core (`--as`) and on the page; the page shows the files and what is missing.
#[tokio::test]
async fn a_coordinator_reads_only_its_contracts_ledgers() {
    let t = TestApp::start_at(time::macros::datetime!(2027-03-02 14:00 UTC), |_| {}).await;
    let (tenant_id, _, _) = march_files(&t).await;
    t.days(3);
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("actor");
    coordinator
        .ledger(CONTRACT, "2027-03")
        .await
        .expect("its own");
    let e = coordinator
        .ledger("IL060002002", "2027-03")
        .await
        .expect_err("Riverside's");
    assert_eq!(e.code, Code::NotPermitted);
    let cookie = session_cookie(&t, COORDINATOR).await;
    let url = format!("/ledger?contract={CONTRACT}&month=2027-03");
    let (status, _, page) = request(&t, "GET", &url, &cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("<td>{tenant_id}</td>")), "{page}");
    assert!(
        page.contains("TENANT0301.DAT.TENER.txt (format-errors)"),
        "{page}"
    );
    assert!(page.contains("a reply to "), "the voucher's: {page}");
    let url = "/ledger?contract=IL060002002&month=2027-03";
    let (status, _, page) = request(&t, "GET", url, &cookie, "", Vec::new()).await;
    assert_ne!(status, 200, "{page}");
}

/// The acceptance command through the real binary: the JSON's shape (its keys) is stable,
/// and the table names what came back.
#[tokio::test]
async fn imax_admin_ledger_prints_json_and_a_table() {
    let t = TestApp::start_at(time::macros::datetime!(2027-03-02 14:00 UTC), |_| {}).await;
    let (tenant_id, reply_id, voucher_id) = march_files(&t).await;
    let args = [
        "admin",
        "ledger",
        "--contract",
        CONTRACT,
        "--month",
        "2027-03",
    ];
    let (ok, out) = imax(&t, &[&args[..], &["--format", "json"]].concat(), &[], "").await;
    assert!(ok, "{out}");
    // Standard output first (the helper appends standard error: on PostgreSQL, its notices).
    let v: serde_json::Value = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .next()
        .expect("a JSON value")
        .expect("JSON");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    let mut top = keys(&v);
    top.sort();
    assert_eq!(
        top,
        [
            "administrator",
            "as_of",
            "contract",
            "missing",
            "month",
            "property",
            "property_mailbox",
            "sent",
            "totals",
            "truncated",
            "voucher"
        ]
    );
    let mut entry = keys(&v["sent"][0]);
    entry.sort();
    assert_eq!(
        entry,
        [
            "batches",
            "file_name",
            "kind",
            "message_id",
            "records",
            "release",
            "replies",
            "sent_at",
            "size_bytes",
            "status"
        ]
    );
    assert_eq!(v["contract"], CONTRACT);
    assert_eq!(v["sent"][0]["message_id"], tenant_id.as_str());
    assert_eq!(v["sent"][0]["replies"][0]["message_id"], reply_id.as_str());
    assert_eq!(v["sent"][0]["replies"][0]["answer"], "format-errors");
    assert_eq!(v["sent"][1]["message_id"], voucher_id.as_str());
    assert_eq!(v["voucher"]["status"], "sent");
    let (ok, table) = imax(&t, &[&args[..], &["--format", "table"]].concat(), &[], "").await;
    assert!(ok, "{table}");
    assert!(
        table.contains("TENANT0301.DAT.TENER.txt") && table.contains("format-errors"),
        "{table}"
    );
    assert!(table.contains("voucher due 2027-04-10: sent"), "{table}");
}

/// `ledger.max_files` bounds what one ledger reads back, and the ledger says it was cut short.
#[tokio::test]
async fn a_ledger_reads_at_most_max_files_and_says_so() {
    let start = time::macros::datetime!(2027-03-02 14:00 UTC);
    let t = TestApp::start_at(start, |c| c.ledger.max_files = 1).await;
    let (tenant_id, _, _) = march_files(&t).await;
    let l = t.admin.ledger(CONTRACT, "2027-03").await.expect("ledger");
    let ids: Vec<&str> = l.sent.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids, [tenant_id.as_str()]);
    assert!(l.truncated);
}

/// Issue 31: a CA reads the ledgers of the contracts it administers, and only those. A
/// contract's administrator is a mailbox (R12) that belongs to one organization (R25); a CA's
/// coordinator has a BPR with its organization (R3). The PBCA's coordinator, with no BPR with
/// any property, reads Maple Court's contract once the PBCA's mailbox is its organization's,
/// never the TCA's contract; an owner's coordinator its own property's; HUD every one.
#[tokio::test]
async fn a_ca_reads_the_ledgers_of_the_contracts_it_administers() {
    use imax_gateway::directory::OrganizationKind::ContractAdministrator;
    let t = TestApp::start_at(time::macros::datetime!(2027-03-02 14:00 UTC), |_| {}).await;
    let ca = t.admin.acting_as(CA_USER.0).await.expect("actor");
    let e = ca.ledger(CONTRACT, "2027-03").await.expect_err("no CA yet");
    assert_eq!(e.code, Code::NotPermitted);
    for (org, name, mailbox) in [
        ("BAYSTATE", "Bay State PBCA", PBCA.0),
        ("LAKESIDE", "Lakeside TCA", TCA.0),
    ] {
        let a = &t.admin;
        a.create_organization(org, ContractAdministrator, name, None)
            .await
            .expect("organization");
        a.set_mailbox_organization(mailbox, org)
            .await
            .expect("mailbox");
    }
    t.admin
        .add_organization_partner(CA_USER.0, "BAYSTATE")
        .await
        .expect("BPR");
    let l = ca.ledger(CONTRACT, "2027-03").await.expect("administered");
    assert_eq!(l.administrator, PBCA.0);
    let e = ca
        .ledger("IL060002002", "2027-03")
        .await
        .expect_err("the TCA's contract");
    assert_eq!(e.code, Code::NotPermitted);
    // The page says the same.
    let cookie = session_cookie(&t, CA_USER).await;
    let url = format!("/ledger?contract={CONTRACT}&month=2027-03");
    let (status, _, page) = request(&t, "GET", &url, &cookie, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    let url = "/ledger?contract=IL060002002&month=2027-03";
    let (status, _, page) = request(&t, "GET", url, &cookie, "", Vec::new()).await;
    assert_ne!(status, 200, "{page}");
    // An owner's coordinator: its own property's contract, not the PBCA's.
    let owner = t.admin.acting_as("M50001").await.expect("actor");
    owner
        .ledger("MA020004004", "2027-03")
        .await
        .expect("its own");
    let e = owner
        .ledger(CONTRACT, "2027-03")
        .await
        .expect_err("not its");
    assert_eq!(e.code, Code::NotPermitted);
    // HUD: every contract.
    let hud = t.admin.acting_as("H10001").await.expect("actor");
    for c in [CONTRACT, "IL060002002", "MA020004004"] {
        hud.ledger(c, "2027-03").await.expect("HUD reads all");
    }
}
