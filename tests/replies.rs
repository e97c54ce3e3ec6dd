//! What comes back from TRACS (issue 16, item 1), through the real server: HUD or a CA answers a
//! file it fetched (`inReplyTo`), the answer lands in the original sender's folders beside the
//! original; and the gateway's own format edits accept a file whose problems lie only in
//! fields of unconfirmed layout, answering it with a file of error records from TRACS (R12).

use crate::helpers::*;
use imax_gateway::client::{Content, Reply};
use imax_gateway::tracs::{self, FileKind};

/// The messages of a listing or a message answer, as (messageId, inReplyTo, answeredAt).
fn entries(r: &Reply) -> Vec<(String, Option<String>, Option<String>)> {
    // Leaf elements in document order: each message starts with its messageId.
    let mut out: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for (k, v) in &r.fields {
        match k.as_str() {
            "messageId" => out.push((v.clone(), None, None)),
            "inReplyTo" => {
                if let Some(last) = out.last_mut() {
                    last.1 = Some(v.clone());
                }
            }
            "answeredAt" => {
                if let Some(last) = out.last_mut() {
                    last.2 = Some(v.clone());
                }
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn r12_hud_and_a_ca_answer_files_they_fetched_and_the_answers_land_beside_them() {
    let t = TestApp::start().await;
    // Maple Court sends a voucher for Oak Hill, whose contract HUD administers: it goes to TRACS.
    let oak = tracs_file_from(FileKind::Voucher, OAK_HILL.0, MAPLE.0, 2);
    let sent = t.send(SITE_USER, MAPLE, None, &oak).await;
    assert_ok(&sent);
    assert_eq!(sent.get("toMailbox"), Some(HUD.0));
    let original = sent.get("messageId").expect("id").to_string();
    let listed = t.list(SITE_USER, MAPLE, "sentToTracs").await;
    assert_eq!(entries(&listed), [(original.clone(), None, None)]);

    // HUD's staff fetch it and answer with TRACS's acknowledgement.
    let mut hud = t.client(HUD_STAFF).await;
    let received = list_reply(&mut hud, HUD, "receivedFromOthers").await;
    assert!(received.all("messageId").contains(&original.as_str()));
    let ack = b"TA005 Voucher received and accepted for processing.\r\n".to_vec();
    // A reply names a message HUD received; one it did not receive is no message to it, said
    // the same way as one that does not exist.
    for unknown in ["20260302-0000000000000000", "nonsense"] {
        let r = hud
            .send_reply(
                HUD.0,
                HUD.1,
                unknown,
                "TA005.TXT",
                Content::Bytes(ack.clone()),
            )
            .await
            .expect("reply");
        assert_fault(&r, "UnknownMessage");
    }
    // Addressed anywhere but back to its sender, it is misrouted.
    let elsewhere = hud
        .call(
            "SendFile",
            &[
                ("mailbox", HUD.0),
                ("mailboxPassword", HUD.1),
                ("toMailbox", PBCA.0),
                ("fileName", "TA005.TXT"),
                ("inReplyTo", &original),
                ("content", "VEE1MDA1"),
            ],
        )
        .await
        .expect("reply");
    let f = assert_fault(&elsewhere, "Misrouted");
    assert!(f.message.contains(MAPLE.0), "{}", f.message);
    let answer = hud
        .send_reply(HUD.0, HUD.1, &original, "TA005.TXT", Content::Bytes(ack))
        .await
        .expect("reply");
    assert_ok(&answer);
    assert_eq!(answer.get("toMailbox"), Some(MAPLE.0));
    assert_eq!(answer.get("routedBy"), Some("reply"));
    assert_eq!(answer.get("inReplyTo"), Some(original.as_str()));
    let answer_id = answer.get("messageId").expect("id").to_string();

    // Maple finds it in Received from TRACS, tied to the original, and the original is
    // marked answered in Sent to TRACS.
    let from_tracs = t.list(SITE_USER, MAPLE, "receivedFromTracs").await;
    assert_eq!(
        entries(&from_tracs),
        [(answer_id.clone(), Some(original.clone()), None)]
    );
    let sent_listing = t.list(SITE_USER, MAPLE, "sentToTracs").await;
    let (_, _, answered) = &entries(&sent_listing)[0];
    assert_eq!(
        answered.as_deref(),
        Some(imax_gateway::clock::rfc3339(imax_gateway::clock::Clock::now(&*t.clock)).as_str())
    );
    let got = t.get(SITE_USER, MAPLE, &answer_id).await;
    assert_ok(&got);
    assert_eq!(got.get("inReplyTo"), Some(original.as_str()));
    let got = t.get(SITE_USER, MAPLE, &original).await;
    assert!(got.get("answeredAt").is_some());
    // A sender cannot pass its own file off as an answer.
    let mut maple = t.client(SITE_USER).await;
    let own = maple
        .send_reply(
            MAPLE.0,
            MAPLE.1,
            &original,
            "X.TXT",
            Content::Bytes(b"x".to_vec()),
        )
        .await
        .expect("reply");
    assert_fault(&own, "UnknownMessage");

    // A CA answers the tenant file it fetched the same way; it lands in Received from Others.
    let tenant = t.send(SITE_USER, MAPLE, None, &tenant_file(2)).await;
    assert_eq!(tenant.get("toMailbox"), Some(PBCA.0));
    let tenant_id = tenant.get("messageId").expect("id").to_string();
    let mut ca = t.client(CA_USER).await;
    let r = ca
        .send_reply(
            PBCA.0,
            PBCA.1,
            &tenant_id,
            "DISCREPANCY.TXT",
            Content::Bytes(b"Unit 4: move-in date differs from the contract.\r\n".to_vec()),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    let from_others = t.list(SITE_USER, MAPLE, "receivedFromOthers").await;
    assert!(entries(&from_others).contains(&(
        r.get("messageId").expect("id").to_string(),
        Some(tenant_id.clone()),
        None
    )));
    let sent_to_others = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    let tenant_entry = entries(&sent_to_others)
        .into_iter()
        .find(|e| e.0 == tenant_id)
        .expect("listed");
    assert!(tenant_entry.2.is_some(), "answered");
}

/// Issue 16: a real vendor file must not be refused because a guessed record length differs.
/// The file is accepted and routed as usual; TRACS's format-error reply (TENER records, one
/// per problem) waits in the sender's Received from TRACS, tied to it.
#[tokio::test]
async fn provisional_problems_are_accepted_and_answered_with_error_records_from_tracs() {
    let t = TestApp::start().await;
    let mut file = tenant_file(3);
    file.drain(400..410); // ten characters out of the first certification record (line 2)
    let sent = t.send(SITE_USER, MAPLE, None, &file).await;
    assert_ok(&sent);
    assert_eq!(sent.get("toMailbox"), Some(PBCA.0));
    assert_eq!(sent.get("problems"), Some("1"));
    let original = sent.get("messageId").expect("id").to_string();
    let reply_id = sent.get("replyId").expect("the reply's id").to_string();
    // The CA receives the file as sent.
    let at_ca = t.get(CA_USER, PBCA, &original).await;
    assert_eq!(at_ca.content().as_deref(), Some(file.as_slice()));
    // The sender finds the reply from TRACS.
    let from_tracs = t.list(SITE_USER, MAPLE, "receivedFromTracs").await;
    assert_eq!(
        entries(&from_tracs),
        [(reply_id.clone(), Some(original.clone()), None)]
    );
    assert_eq!(from_tracs.get("fromMailbox"), Some(HUD.0));
    let got = t.get(SITE_USER, MAPLE, &reply_id).await;
    let reply = got.content().expect("content");
    // The reply is itself a valid TRACS tenant file naming the transmission it answers...
    let back = tracs::check(&reply);
    assert!(back.is_valid_tracs(), "{:?}", back.problems);
    assert!(back.provisional.is_empty(), "{:?}", back.provisional);
    assert_eq!(back.batches[0].sender.as_deref(), Some(MAPLE.0));
    // ...with one TENER record naming the record, its line, the field and the problem.
    let text = String::from_utf8(reply).expect("ascii");
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("TENER")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(&errors[0][17..22], "MAT10");
    assert_eq!(&errors[0][22..29], "0000002");
    assert_eq!(errors[0][29..59].trim(), "Record length");
    assert!(
        errors[0][59..].contains("expected 400 characters, found 390"),
        "{}",
        errors[0]
    );
    // The original is answered, in the sender's folder and by itself.
    let sent_listing = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert!(entries(&sent_listing)
        .iter()
        .any(|e| e.0 == original && e.2.is_some()));
    // The audit record says what happened.
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE message_id = $1 AND action = $2")
            .bind(&original)
            .bind("SendFile")
            .fetch_one(&t.db)
            .await
            .expect("audit");
    assert!(
        detail.contains(&format!("1 format problems answered by {reply_id}")),
        "{detail}"
    );
    // A valid file gets no reply, and a file certainly wrong is still refused, with nothing
    // stored for it and no reply.
    let valid = t.send(SITE_USER, MAPLE, None, &tenant_file(2)).await;
    assert_ok(&valid);
    assert_eq!(valid.get("replyId"), None);
    let mut broken = tenant_file(2);
    broken.drain(400..410);
    broken[400] = 0x07;
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, &broken).await,
        "InvalidTracsFile",
    );
    let from_tracs = t.list(SITE_USER, MAPLE, "receivedFromTracs").await;
    assert_eq!(from_tracs.all("messageId").len(), 1);
}
