//! TRACS files at the door (issue: know what is being sent), through the real server: invalid
//! files refused with located problems, attachments only where accepted, routing by the
//! header's project, the Sender's iMAX ID, duplicates and resends, and the history purge (R26).

use crate::helpers::*;
use imax_gateway::admin::Purge;
use imax_gateway::audit;
use imax_gateway::client::{Content, Reply};
use imax_gateway::tracs::FileKind;

async fn send_as(
    t: &TestApp,
    person: (&str, &str),
    mailbox: (&str, &str),
    to: Option<&str>,
    content: &[u8],
    resend: bool,
) -> Reply {
    let mut c = t.client(person).await;
    c.resend = resend;
    c.send_file(
        mailbox.0,
        mailbox.1,
        to,
        "FILE.DAT",
        Content::Bytes(content.to_vec()),
        None,
    )
    .await
    .expect("reply")
}

async fn send(t: &TestApp, to: Option<&str>, content: &[u8]) -> Reply {
    send_as(t, SITE_USER, MAPLE, to, content, false).await
}

#[tokio::test]
async fn invalid_tracs_files_are_refused_with_located_problems_and_nothing_is_stored() {
    let t = TestApp::start().await;
    let mut file = tenant_file(3);
    file[320] = 0x07; // a control character in the first certification record (line 2)
    let f = assert_fault(&send(&t, None, &file).await, "InvalidTracsFile");
    assert_eq!(f.status, 300);
    assert!(
        f.message
            .contains("line 2, MAT10, column 19: expected printable ASCII, found byte 0x07"),
        "{}",
        f.message
    );
    // A header too short to hold a confirmed field (the Sender's iMAX ID at 273).
    let mut file = tenant_file(1);
    file.drain(250..300);
    let f = assert_fault(&send(&t, None, &file).await, "InvalidTracsFile");
    assert!(
        f.message.contains(
            "line 1, TENHR, Sender's iMAX ID: expected columns 273-282, found a record of 250 characters"
        ),
        "{}",
        f.message
    );
    // An unknown release.
    let mut file = tenant_file(1);
    file[5..12].copy_from_slice(b"1.9.9.Z");
    let f = assert_fault(&send(&t, None, &file).await, "InvalidTracsFile");
    assert!(f.message.contains("Release/version"), "{}", f.message);
    assert_eq!(t.list(SITE_USER, MAPLE, "sentToOthers").await.status, 600);
}

#[tokio::test]
async fn attachments_go_only_where_the_recipient_accepts_them() {
    let t = TestApp::start().await;
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
    let r = send(&t, Some(PBCA.0), pdf).await;
    assert_ok(&r);
    assert_eq!(r.get("routedBy"), Some("sender"));
    // HUD's TRACS takes TRACS files only.
    let f = assert_fault(&send(&t, Some("TRACS"), pdf).await, "InvalidTracsFile");
    assert!(
        f.message.contains("TRACMPROD accepts TRACS files only"),
        "{}",
        f.message
    );
    // The operator can close a CA's mailbox to attachments.
    t.admin
        .set_accepts_attachments(PBCA.0, false)
        .await
        .expect("set");
    let other = b"%PDF-1.7\n% another letter\n%%EOF\n";
    assert_fault(&send(&t, Some(PBCA.0), other).await, "InvalidTracsFile");
}

#[tokio::test]
async fn the_headers_project_chooses_the_recipient_and_a_disagreeing_one_is_misrouted() {
    let t = TestApp::start().await;
    // Sent from Maple Court's mailbox about Oak Hill, whose contract HUD administers: the
    // header wins over the sending mailbox's own administrator (the PBCA).
    let oak = tracs_file_from(FileKind::Voucher, OAK_HILL.0, MAPLE.0, 2);
    let r = send(&t, None, &oak).await;
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(HUD.0));
    assert_eq!(r.get("routedBy"), Some("header"));
    // Maple Court's file addressed to the TCA (Riverside's administrator) is misrouted.
    let f = assert_fault(&send(&t, Some(TCA.0), &tenant_file(2)).await, "Misrouted");
    assert!(
        f.message.contains("TRACM10001") && f.message.contains(PBCA.0),
        "{}",
        f.message
    );
    assert_eq!(t.list(CA_USER, TCA, "receivedFromOthers").await.status, 601);
    // An unknown project is refused.
    let unknown = tracs_file_from(FileKind::Tenant, "TRACM19999", MAPLE.0, 1);
    let f = assert_fault(&send(&t, None, &unknown).await, "UnknownRecipient");
    assert!(f.message.contains("TRACM19999"), "{}", f.message);
}

#[tokio::test]
async fn where_the_operator_chooses_misrouted_files_are_accepted_and_marked() {
    let t =
        TestApp::start_with(|c| c.tracs.misrouted = imax_gateway::config::Misrouted::Mark).await;
    let r = send(&t, Some(TCA.0), &tenant_file(2)).await;
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(TCA.0));
    assert_eq!(r.get("misrouted"), Some("true"));
}

#[tokio::test]
async fn r11_the_senders_imax_id_must_be_the_mailbox_or_one_allowed_to_send_for_it() {
    // R11's header check, apart from R6's affiliation (which keeps the bureau out of Maple
    // Court's mailbox altogether: tests/portfolios.rs).
    let t = TestApp::start_with(|c| c.accounts.affiliation_required = false).await;
    // Maple Court never allowed the bureau to prepare its files.
    let by_bureau = tracs_file_from(FileKind::Tenant, MAPLE.0, "TRACM30001", 1);
    let f = assert_fault(
        &send_as(&t, BUREAU_USER, MAPLE, None, &by_bureau, false).await,
        "SenderNotAllowed",
    );
    assert!(f.message.contains("TRACM30001"), "{}", f.message);
    // Riverside did (demo directory: senders = ["TRACM30001"]).
    let riverside = tracs_file_from(FileKind::Tenant, RIVERSIDE.0, "TRACM30001", 1);
    let r = send_as(&t, BUREAU_USER, RIVERSIDE, None, &riverside, false).await;
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(TCA.0));
    assert_eq!(r.get("routedBy"), Some("header"));
}

#[tokio::test]
async fn duplicates_are_refused_naming_the_first_unless_marked_as_resends() {
    let t = TestApp::start().await;
    let file = tenant_file(2);
    let first = send(&t, None, &file).await;
    assert_ok(&first);
    let first_id = first.get("messageId").expect("id").to_string();
    // Same Sender's iMAX ID, date and time stamps: a duplicate, whatever the content.
    let f = assert_fault(&send(&t, None, &file).await, "DuplicateFile");
    assert!(f.message.contains(&first_id), "{}", f.message);
    let mut changed = file.clone();
    changed[330] = b'Z'; // other content, same header
    let f = assert_fault(&send(&t, None, &changed).await, "DuplicateFile");
    assert!(f.message.contains("time stamp"), "{}", f.message);
    // A deliberate resend goes through, and can be resent again.
    assert_ok(&send_as(&t, SITE_USER, MAPLE, None, &file, true).await);
    assert_ok(&send_as(&t, SITE_USER, MAPLE, None, &file, true).await);

    // The same content to the same recipient within the window, for files without a header.
    let letter = b"%PDF-1.7\n% a letter to the CA\n%%EOF\n";
    assert_ok(&send(&t, Some(PBCA.0), letter).await);
    assert_fault(&send(&t, Some(PBCA.0), letter).await, "DuplicateFile");
    t.clock.advance(time::Duration::days(31));
    assert_ok(&send(&t, Some(PBCA.0), letter).await);
}

#[tokio::test]
async fn r26_history_is_purged_after_the_retention_period_and_the_audit_stays() {
    let t = TestApp::start().await;
    for _ in 0..3 {
        assert_ok(&send(&t, None, &tenant_file(1)).await);
    }
    let store = &t.admin.store();
    assert_eq!(stored_bodies(store).await, 3);
    // Thirteen months later nothing has gone yet; a day past the retention period it goes.
    t.clock.advance(time::Duration::days(396));
    let dry = t.admin.purge(Purge::DryRun).await.expect("dry run");
    assert_eq!(dry.messages, 0);
    t.clock.advance(time::Duration::days(1));
    let dry = t.admin.purge(Purge::DryRun).await.expect("dry run");
    assert_eq!(dry.messages, 3);
    assert_eq!(stored_bodies(store).await, 3, "a dry run removes nothing");
    let done = t.admin.purge(Purge::Remove).await.expect("purge");
    assert_eq!(done.messages, 3);
    assert_eq!(stored_bodies(store).await, 0);
    assert_eq!(
        t.admin.purge(Purge::DryRun).await.expect("again").messages,
        0
    );
    match t.admin.store().audit_log().verify().await.expect("verify") {
        audit::Verdict::Intact { records } => assert!(records > 3),
        other => panic!("audit chain: {other:?}"),
    }
    // A coordinator may not purge.
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    assert!(coordinator.purge(Purge::DryRun).await.is_err());
}

/// Identical transmissions arriving at the same moment: the unique index lets one in, and the
/// others are told `DuplicateFile` (the committer asks the database whether the key is there,
/// whether the twins share a batch or not), never `Unavailable`.
#[tokio::test]
async fn identical_files_sent_at_the_same_moment_store_one_and_refuse_the_rest_as_duplicates() {
    let t = TestApp::start().await;
    assert_ok(&send(&t, Some(PBCA.0), b"%PDF-1.7\n% warm-up\n%%EOF\n").await);
    let file = tenant_file(3);
    let mut twins = Vec::new();
    for _ in 0..6 {
        let (url, ca, file) = (t.url.clone(), t.ca.clone(), file.clone());
        twins.push(tokio::spawn(async move {
            let mut c =
                imax_gateway::client::S2sClient::connect(&url, &ca, SITE_USER.0, SITE_USER.1)
                    .await
                    .expect("connect");
            c.send_file(
                MAPLE.0,
                MAPLE.1,
                None,
                "TWIN.DAT",
                Content::Bytes(file),
                None,
            )
            .await
            .expect("reply")
        }));
    }
    let (mut stored, mut duplicates) = (0, 0);
    for twin in twins {
        let r = twin.await.expect("twin");
        match r.code() {
            "ok" => stored += 1,
            "DuplicateFile" => duplicates += 1,
            other => panic!("unexpected {other}: {:?}", r.fault),
        }
    }
    assert_eq!((stored, duplicates), (1, 5));
}

/// A property's TRACS file is routed and checked for duplicates from one read
/// (`Store::file_context`); where it can answer, it answers as the separate duplicate read
/// does, and where it cannot (a recipient that is not the project's administrator) it says so.
#[tokio::test]
async fn the_one_read_for_a_files_context_answers_the_duplicate_check_as_the_separate_read_does() {
    use imax_gateway::clock::Clock;
    use imax_gateway::directory::ImaxId;
    use imax_gateway::store::{messages::Duplicate, DuplicateQuery, FileContext, Store};
    use sha2::{Digest, Sha256};
    async fn read(store: &Store, from: i64, key: Option<&str>, sha256: &str) -> FileContext {
        let since = Some(time::OffsetDateTime::UNIX_EPOCH);
        let q = DuplicateQuery {
            key,
            from,
            sha256,
            since,
        };
        let project = ImaxId::parse(MAPLE.0).expect("iMAX ID");
        store
            .file_context(&project, q, None)
            .await
            .unwrap()
            .expect("project")
    }
    let t = TestApp::start().await;
    let store = t.admin.store();
    let id = |m: &str| ImaxId::parse(m).expect("iMAX ID");
    let maple = store.mailboxes().load(&id(MAPLE.0)).await.unwrap().unwrap();
    let pbca = store.mailboxes().load(&id(PBCA.0)).await.unwrap().unwrap();
    let tca = store.mailboxes().load(&id(TCA.0)).await.unwrap().unwrap();
    let letter = b"%PDF-1.7\n% a letter to the CA\n%%EOF\n";
    let sha = hex::encode(Sha256::digest(letter));
    // Nothing sent yet: no duplicate, for the administrator; no answer for another mailbox.
    let before = read(store, maple.id, None, &sha).await;
    assert_eq!(before.project.imax_id.as_str(), MAPLE.0);
    let admins: Vec<&str> = before
        .administrators
        .iter()
        .map(|a| a.imax_id.as_str())
        .collect();
    assert_eq!(admins, [PBCA.0]);
    assert_eq!(before.duplicate_for(pbca.id), Some(None));
    assert_eq!(before.duplicate_for(tca.id), None);
    // The same content to the administrator: found, as the separate read finds it.
    assert_ok(&send(&t, Some(PBCA.0), letter).await);
    let since = Some(t.clock.now() - time::Duration::days(30));
    let separate = store
        .messages()
        .find_duplicate(None, maple.id, pbca.id, &sha, since)
        .await
        .unwrap();
    assert!(matches!(separate, Some(Duplicate::SameContent { .. })));
    let after = read(store, maple.id, None, &sha).await;
    assert_eq!(after.duplicate_for(pbca.id), Some(separate));
    assert_eq!(after.duplicate_for(tca.id), None);
    // The same transmission key: a duplicate whatever the content.
    let file = tenant_file(2);
    let first = send(&t, None, &file).await;
    assert_ok(&first);
    let mut scan = imax_gateway::tracs::Scanner::new();
    scan.feed(&file);
    let key = scan.finish().transmission_key().expect("a TRACS key");
    match read(store, maple.id, Some(&key), "0")
        .await
        .duplicate_for(pbca.id)
    {
        Some(Some(Duplicate::SameKey { id, .. })) => {
            assert_eq!(Some(id.as_str()), first.get("messageId"))
        }
        other => panic!("{other:?}"),
    }
    // An unknown project: nothing to read.
    let q = DuplicateQuery {
        key: None,
        from: maple.id,
        sha256: &sha,
        since,
    };
    assert!(store
        .file_context(&id("TRACM99999"), q, None)
        .await
        .unwrap()
        .is_none());
}

/// On PostgreSQL, a node that remembers a property's project, under the very mark its caller's
/// own read has just found, reads nothing for that property's next file: the commit asks
/// whether it repeats a transmission (`committer::repeats`), and refuses a repeat as the read
/// does, naming the first, recorded in the audit log, with nothing of it stored. On SQLite
/// the read answers (on the asking thread), the same way.
#[tokio::test]
async fn a_repeat_left_to_the_commit_is_refused_as_the_read_refuses_it() {
    async fn confirmed(t: &TestApp) -> f64 {
        let (_, page) = crate::ops::get(t, "/metrics", &[]).await;
        crate::ops::sample(&page, "imax_file_contexts_total", &["read=\"confirmed\""])
    }
    let t = TestApp::start().await;
    let at_commit = t.admin.store().engine == imax_gateway::store::Engine::Postgres;
    let step = if at_commit { 1.0 } else { 0.0 };
    let file = tenant_file(2);
    let first = send(&t, None, &file).await;
    assert_ok(&first);
    let first_id = first.get("messageId").expect("id").to_string();
    let before = confirmed(&t).await;
    let f = assert_fault(&send(&t, None, &file).await, "DuplicateFile");
    assert!(f.message.contains(&first_id), "{}", f.message);
    assert!(f.message.contains("time stamp"), "{}", f.message);
    assert_eq!(confirmed(&t).await, before + step, "left to the commit");
    let db = &t.db;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(db)
            .await
            .expect("count")
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM messages WHERE file_name = 'FILE.DAT'").await,
        1
    );
    let refused = "SELECT COUNT(*) FROM audit_log
                    WHERE action = 'SendFile' AND outcome = 'DuplicateFile'";
    assert_eq!(count(refused).await, 1);
    // The next file of the same property, another transmission, goes through the same way.
    assert_ok(&send(&t, None, &tenant_file(3)).await);
    assert_eq!(confirmed(&t).await, before + 2.0 * step);
    assert_eq!(
        count("SELECT COUNT(*) FROM messages WHERE file_name = 'FILE.DAT'").await,
        2
    );
}
