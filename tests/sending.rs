//! Sending and fetching files (R11, R12) through the real server.

use crate::helpers::*;
use imax_gateway::tracs::FileKind;

#[tokio::test]
async fn r12_property_file_routes_to_its_ca_and_the_ca_fetches_it() {
    let t = TestApp::start().await;
    let file = tenant_file(50);
    let r = t.send(SITE_USER, MAPLE, None, &file).await;
    assert_ok(&r);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.get("toMailbox"),
        Some(PBCA.0),
        "Maple Court's contract is the PBCA's"
    );
    assert_eq!(r.get("fromMailbox"), Some(MAPLE.0));
    assert_eq!(
        r.get("routedBy"),
        Some("header"),
        "the header's Project's iMAX ID names Maple Court"
    );
    assert_eq!(r.get("sha256"), Some(sha256_hex(&file).as_str()));
    assert_eq!(r.get("sizeBytes"), Some(file.len().to_string().as_str()));
    let id = r.get("messageId").expect("id").to_string();

    let listed = t.list(CA_USER, PBCA, "receivedFromOthers").await;
    assert_ok(&listed);
    assert_eq!(listed.all("messageId"), vec![id.as_str()]);
    assert_eq!(listed.get("fileName"), Some("TENANT.DAT"));
    assert_eq!(listed.get("retrievedAt"), None);

    let got = t.get(CA_USER, PBCA, &id).await;
    assert_ok(&got);
    assert_eq!(got.content().expect("content"), file);
    assert_eq!(got.get("sha256"), Some(sha256_hex(&file).as_str()));
    assert!(
        got.get("retrievedAt").is_some(),
        "the recipient's fetch marks it retrieved"
    );

    // The sender sees that the CA retrieved it.
    let sent = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert_eq!(sent.all("messageId"), vec![id.as_str()]);
    assert!(sent.get("retrievedAt").is_some());
}

#[tokio::test]
async fn r12_files_to_tracs_and_replies_from_a_ca() {
    let t = TestApp::start().await;
    // R6: Sam works for Oak Hill too (Crestline manages both).
    t.admin
        .assign_property(SITE_USER.0, "800100003", true)
        .await
        .expect("assigned");
    // Oak Hill's contract is administered by HUD: no recipient named means TRACS.
    let voucher = tracs_file(FileKind::Voucher, OAK_HILL.0, 2);
    let r = t.send(SITE_USER, OAK_HILL, None, &voucher).await;
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(HUD.0));
    // Sent from Maple Court's mailbox about Oak Hill, named to TRACS: the directory agrees.
    let oak_hill = tracs_file_from(FileKind::Tenant, OAK_HILL.0, MAPLE.0, 2);
    let named = t.send(SITE_USER, MAPLE, Some("TRACS"), &oak_hill).await;
    assert_eq!(named.get("toMailbox"), Some(HUD.0));
    assert_eq!(named.get("routedBy"), Some("sender"));
    let to_tracs = t.list(SITE_USER, MAPLE, "sentToTracs").await;
    assert_eq!(to_tracs.all("messageId").len(), 1);
    assert_eq!(t.list(SITE_USER, MAPLE, "sentToOthers").await.status, 600);

    // The CA answers the property (R12: replies come back to the sender's mailbox).
    let reply = t
        .send(CA_USER, PBCA, Some(MAPLE.0), b"TA005 acknowledgement")
        .await;
    assert_ok(&reply);
    let inbox = t.list(SITE_USER, MAPLE, "receivedFromOthers").await;
    assert_eq!(
        inbox.all("messageId"),
        vec![reply.get("messageId").expect("id")]
    );

    // HUD's mailbox is HUD's: an industry M-ID is refused even with its password.
    let industry = ("M10001", "Coordinator-Pass-1");
    assert_fault(
        &t.send(industry, HUD, Some(MAPLE.0), b"not HUD's").await,
        "HudMailboxOnly",
    );
    assert_fault(
        &t.list(industry, HUD, "receivedFromOthers").await,
        "HudMailboxOnly",
    );
    // HUD's staff answer into "Received from TRACS".
    let from_hud = t
        .send(HUD_STAFF, HUD, Some(MAPLE.0), b"TRACS message")
        .await;
    assert_ok(&from_hud);
    let rft = t.list(SITE_USER, MAPLE, "receivedFromTracs").await;
    assert_eq!(
        rft.all("messageId"),
        vec![from_hud.get("messageId").expect("id")]
    );
}

#[tokio::test]
async fn r11_service_bureau_sends_for_a_client_property_with_its_own_m_id() {
    let t = TestApp::start().await;
    let r = t.send(BUREAU_USER, RIVERSIDE, None, b"bureau file").await;
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(TCA.0));
    let at_tca = t.list(CA_USER, TCA, "receivedFromOthers").await;
    assert_eq!(at_tca.all("messageId").len(), 1);
}

#[tokio::test]
async fn r12_properties_cannot_send_to_other_properties_or_unknown_ids() {
    let t = TestApp::start().await;
    for to in [RIVERSIDE.0, "TRACM99999", "HUD-PLEASE"] {
        let r = t.send(SITE_USER, MAPLE, Some(to), b"x").await;
        let f = assert_fault(&r, "UnknownRecipient");
        assert_eq!(f.status, 300);
    }
    assert_eq!(
        t.list(SITE_USER, MAPLE, "sentToOthers").await.status,
        600,
        "nothing stored"
    );
}

#[tokio::test]
async fn ack_removes_from_the_unread_view_and_history_keeps_it() {
    let t = TestApp::start().await;
    let id = t
        .send(SITE_USER, MAPLE, None, b"one")
        .await
        .get("messageId")
        .expect("id")
        .to_string();
    let mut ca = t.client(CA_USER).await;
    // Only the recipient acknowledges.
    let by_sender = t
        .client(SITE_USER)
        .await
        .call(
            "AckMessage",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("messageId", &id),
            ],
        )
        .await
        .expect("reply");
    assert_fault(&by_sender, "UnknownMessage");
    let acked = ca
        .call(
            "AckMessage",
            &[
                ("mailbox", PBCA.0),
                ("mailboxPassword", PBCA.1),
                ("messageId", &id),
            ],
        )
        .await
        .expect("reply");
    assert_ok(&acked);
    assert!(acked.get("acknowledgedAt").is_some());
    let unread = t.list(CA_USER, PBCA, "receivedFromOthers").await;
    assert_eq!(
        unread.status, 601,
        "empty folder: nothing received from others"
    );
    assert!(unread.all("messageId").is_empty());
    let history = ca
        .call(
            "ListMessages",
            &[
                ("mailbox", PBCA.0),
                ("mailboxPassword", PBCA.1),
                ("folder", "receivedFromOthers"),
                ("includeAcknowledged", "true"),
            ],
        )
        .await
        .expect("reply");
    assert_eq!(history.all("messageId"), vec![id.as_str()]);
    // Still fetchable after acknowledgement.
    assert_ok(&t.get(CA_USER, PBCA, &id).await);
}

#[tokio::test]
async fn large_file_streams_both_ways_with_the_same_sha256() {
    let t = TestApp::start().await;
    let path = t.dir.path().join("big.dat");
    let data: Vec<u8> = (0..(12u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(&path, &data).expect("write");
    let r = t
        .client(SITE_USER)
        .await
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "BIG.DAT",
            imax_gateway::client::Content::File(path),
            Some(&sha256_hex(&data)),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("sizeBytes"), Some(data.len().to_string().as_str()));
    let got = t.get(CA_USER, PBCA, r.get("messageId").expect("id")).await;
    assert_eq!(
        sha256_hex(&got.content().expect("content")),
        sha256_hex(&data)
    );
}

/// R25: when a property changes hands, the Help Desk moves it to the new owner's new
/// TRACSMail ID in one audited step; its files then go to and come from the new ID only, the
/// old ID keeps its history (R26) but no longer sends for the property, and the old owner's
/// users and coordinators lose it.
#[tokio::test]
async fn r25_a_property_that_changes_hands_moves_to_the_new_owners_id() {
    use imax_gateway::directory::MailboxKind;
    use imax_gateway::error::Code;
    // R25's routing, apart from R6's affiliation (the new owner's people: tests/portfolios.rs).
    let t = TestApp::start_with(|c| c.accounts.affiliation_required = false).await;
    let new_owner = ("TRACM10077", "New-Owner-Mailbox-1");
    let kind = MailboxKind::parse("property").expect("kind");
    t.admin
        .create_mailbox(
            new_owner.0,
            kind,
            "Maple Court (new owner)",
            "",
            &imax_gateway::directory::password::Secret::new(new_owner.1),
        )
        .await
        .expect("the new owner's mailbox");
    let before = t.send(SITE_USER, MAPLE, None, &tenant_file(2)).await;
    assert_ok(&before);
    let before_id = before.get("messageId").expect("id").to_string();

    let help = t.admin.acting_as("H10001").await.expect("help desk");
    let refused = help
        .change_ownership("800100001", MAPLE.0)
        .await
        .expect_err("the same ID is no change of owner");
    assert_eq!(refused.code, Code::InvalidInput);
    let (assignments, relationships) = help
        .change_ownership("800100001", new_owner.0)
        .await
        .expect("moved");
    assert!(
        assignments >= 1 && relationships >= 1,
        "{assignments} {relationships}"
    );

    // The old ID no longer sends for the property, by its header or by the directory.
    let f = assert_fault(
        &t.send(SITE_USER, MAPLE, None, &tenant_file(2)).await,
        "UnknownRecipient",
    );
    assert_eq!(f.status, 300);
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"%PDF-1.7\n% a letter\n%%EOF\n")
            .await,
        "UnknownRecipient",
    );
    // The new one does, to the contract's administrator.
    let file = tracs_file(FileKind::Tenant, new_owner.0, 2);
    let after = t.send(SITE_USER, new_owner, None, &file).await;
    assert_ok(&after);
    assert_eq!(after.get("toMailbox"), Some(PBCA.0));
    // The old ID keeps its history.
    let sent = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert!(sent.all("messageId").contains(&before_id.as_str()));
    // The old owner's coordinator no longer has the property or its user.
    let coordinator = t.admin.acting_as(COORDINATOR.0).await.expect("coordinator");
    let view = coordinator.view_person(SITE_USER.0).await;
    assert!(
        matches!(&view, Err(e) if e.code == Code::NotPermitted),
        "{view:?}"
    );
    let record: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'ChangeOwnership' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&t.db)
    .await
    .expect("audited");
    assert!(
        record.contains("from=TRACM10001") && record.contains("to=TRACM10077"),
        "{record}"
    );
}

/// A CA passes a property's file it received on to TRACS (issue: HUD's mailbox belongs to HUD):
/// the header's Sender's iMAX ID is the property's, allowed because the directory says the CA
/// administers that property's contract; it goes to TRACMPROD, once (a second forward is a
/// duplicate, the original and its forward are not); a CA may not send for a property whose
/// contract another administers.
#[tokio::test]
async fn a_ca_forwards_a_propertys_file_to_tracs() {
    let t = TestApp::start().await;
    let file = tenant_file(3);
    let original = t.send(SITE_USER, MAPLE, None, &file).await;
    assert_ok(&original);
    assert_eq!(original.get("toMailbox"), Some(PBCA.0));

    // Not a deliberate resend: the original and its forward are not duplicates.
    let mut ca = t.client(CA_USER).await;
    ca.resend = false;
    let forward = send_on(&mut ca, PBCA, None, &file).await;
    assert_ok(&forward);
    assert_eq!(forward.get("toMailbox"), Some(HUD.0));
    assert_eq!(forward.get("fromMailbox"), Some(PBCA.0));
    // Named as TRACS, the same; a second forward of the same file is a duplicate.
    let again = ca
        .send_file(
            PBCA.0,
            PBCA.1,
            Some("TRACS"),
            "TENANT.DAT",
            imax_gateway::client::Content::Bytes(file.clone()),
            None,
        )
        .await
        .expect("reply");
    let f = assert_fault(&again, "DuplicateFile");
    assert!(
        f.message.contains(forward.get("messageId").expect("id")),
        "{}",
        f.message
    );
    // Riverside's contract is the TCA's: the PBCA may not send for it.
    let riverside = tracs_file(FileKind::Tenant, RIVERSIDE.0, 2);
    assert_fault(
        &t.send(CA_USER, PBCA, None, &riverside).await,
        "SenderNotAllowed",
    );
    // HUD's TRACS staff find it in TRACMPROD.
    let got = t.list(HUD_STAFF, HUD, "receivedFromOthers").await;
    assert!(
        got.all("messageId")
            .contains(&forward.get("messageId").expect("id")),
        "{got:?}"
    );
}

/// Concurrent calls share the statement that reads each caller's context (account, rights,
/// throttle count, mailbox: `store::context`); each still gets its own answer, whatever the
/// others ask.
#[tokio::test]
async fn concurrent_callers_read_together_each_get_their_own_answer() {
    let t = std::sync::Arc::new(TestApp::start().await);
    let sent = t
        .send(
            SITE_USER,
            MAPLE,
            Some(PBCA.0),
            b"%PDF-1.7\n% to the CA\n%%EOF\n",
        )
        .await;
    assert_ok(&sent);
    let id = sent.get("messageId").expect("id").to_string();
    let mut calls = Vec::new();
    for round in 0..12 {
        // A wrong password and an unknown M-ID among them once (more would lock the account
        // or throttle the client address, which is not what this is about).
        let callers = if round == 0 { 0..4 } else { 0..2 };
        for who in callers {
            let t = t.clone();
            let id = id.clone();
            calls.push(tokio::spawn(async move {
                let (person, mailbox) = match who {
                    0 => (CA_USER, PBCA),
                    1 => (SITE_USER, MAPLE),
                    2 => (("M10002", "not-the-password"), MAPLE),
                    _ => (("M99999", "Nobody-Pass-9"), PBCA),
                };
                let r = t.list(person, mailbox, "receivedFromOthers").await;
                let ids: Vec<&str> = r
                    .fields
                    .iter()
                    .filter(|(k, _)| k == "messageId")
                    .map(|(_, v)| v.as_str())
                    .collect();
                match who {
                    0 => {
                        assert_ok(&r);
                        assert_eq!(ids, [id.as_str()], "round {round}");
                    }
                    1 => {
                        assert_ok(&r);
                        assert!(ids.is_empty(), "round {round}: {ids:?}");
                    }
                    _ => assert_as_wrong_password(&r),
                }
            }));
        }
    }
    for c in calls {
        c.await.expect("call");
    }
}
