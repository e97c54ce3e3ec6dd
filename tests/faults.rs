//! Every fault code, with its iMAX status number and sentence, and that refusals store nothing.

use crate::helpers::*;
use imax_gateway::client::Content;
use imax_gateway::s2s::envelope::{SOAP_ENV, TNS};

#[tokio::test]
async fn wrong_password_and_unknown_m_id_look_the_same() {
    let t = TestApp::start().await;
    let wrong = assert_fault(
        &t.send((SITE_USER.0, "not-the-password"), MAPLE, None, b"x")
            .await,
        "AuthenticationFailed",
    );
    let unknown = assert_fault(
        &t.send(("M99999", "whatever-password"), MAPLE, None, b"x")
            .await,
        "AuthenticationFailed",
    );
    let malformed = assert_fault(
        &t.send(("nobody", "x"), MAPLE, None, b"x").await,
        "AuthenticationFailed",
    );
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, malformed);
    assert_eq!(wrong.status, 401);
}

#[tokio::test]
async fn wrong_mailbox_password_and_unknown_mailbox_look_the_same() {
    let t = TestApp::start().await;
    let wrong = assert_fault(
        &t.send(SITE_USER, (MAPLE.0, "nope-nope"), None, b"x").await,
        "MailboxAuthenticationFailed",
    );
    let unknown = assert_fault(
        &t.send(SITE_USER, ("TRACM99999", "nope-nope"), None, b"x")
            .await,
        "MailboxAuthenticationFailed",
    );
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.status, 400);
    assert_eq!(
        stored_bodies(t.admin.store()).await,
        0,
        "an unauthorised upload stores nothing"
    );
}

#[tokio::test]
async fn checksum_mismatch_missing_file_and_too_large_store_nothing() {
    let t = TestApp::start_with(|c| c.limits.max_file_bytes = 1024 * 1024).await;
    let mut c = t.client(SITE_USER).await;
    let bad_sha = "0".repeat(64);
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "A.DAT",
            Content::Bytes(b"abc".to_vec()),
            Some(&bad_sha),
        )
        .await
        .expect("reply");
    assert_eq!(assert_fault(&r, "ChecksumMismatch").status, 300);
    let good = sha256_hex(b"abc");
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "A.DAT",
            Content::Bytes(b"abc".to_vec()),
            Some(&good.to_uppercase()),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "EMPTY.DAT",
            Content::Bytes(Vec::new()),
            None,
        )
        .await
        .expect("reply");
    assert_eq!(assert_fault(&r, "MissingFile").status, 300);
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "BIG.DAT",
            Content::Bytes(vec![7u8; 1024 * 1024 + 1]),
            None,
        )
        .await
        .expect("reply");
    assert_eq!(assert_fault(&r, "FileTooLarge").status, 300);
    // Exactly at the limit is fine.
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            None,
            "MAX.DAT",
            Content::Bytes(vec![7u8; 1024 * 1024]),
            None,
        )
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(
        stored_bodies(t.admin.store()).await,
        2,
        "only the two accepted files have bodies"
    );
    assert_eq!(
        settled_uploads(t.admin.store()).await,
        0,
        "refused uploads leave nothing behind"
    );
    let sent = t.list(SITE_USER, MAPLE, "sentToOthers").await;
    assert_eq!(sent.all("messageId").len(), 2);
}

#[tokio::test]
async fn malformed_requests_get_a_clear_fault() {
    let t = TestApp::start().await;
    let mut c = t.client(SITE_USER).await;
    let cases: Vec<String> = vec![
        "this is not xml".into(),
        format!("<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body>&x;</soap:Body></soap:Envelope>"),
        "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body/></e:Envelope>".into(),
        format!("<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body><t:Explode xmlns:t=\"{TNS}\"/></soap:Body></soap:Envelope>"),
        format!("<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body><t:SendFile xmlns:t=\"{TNS}\"><t:content>QUJD</t:content>"),
        format!("<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body>{}</soap:Body></soap:Envelope>", "<a>".repeat(100)),
    ];
    for xml in cases {
        let r = c.raw(xml.clone()).await.expect("reply");
        let f = r
            .fault
            .clone()
            .unwrap_or_else(|| panic!("no fault for {xml}"));
        assert!(
            f.code == "MalformedRequest" || f.code == "AuthenticationFailed",
            "{xml}: {f:?}"
        );
        assert!(!f.message.contains("root:"), "no entity was expanded");
    }
    // The envelope (apart from content) is bounded.
    let huge = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body>{}</soap:Body></soap:Envelope>",
        "x".repeat(200_000)
    );
    let f = assert_fault(&c.raw(huge).await.expect("reply"), "MalformedRequest");
    assert!(f.message.contains("larger than"), "{}", f.message);
    // No UsernameToken at all.
    let no_token = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body><t:ListMessages xmlns:t=\"{TNS}\"><t:mailbox>TRACM10001</t:mailbox><t:mailboxPassword>x</t:mailboxPassword><t:folder>broadcasts</t:folder></t:ListMessages></soap:Body></soap:Envelope>"
    );
    assert_fault(
        &c.raw(no_token).await.expect("reply"),
        "AuthenticationFailed",
    );
}

#[tokio::test]
async fn unknown_messages_and_other_mailboxes_messages() {
    let t = TestApp::start().await;
    let id = t
        .send(SITE_USER, MAPLE, None, b"private")
        .await
        .get("messageId")
        .expect("id")
        .to_string();
    assert_eq!(
        assert_fault(
            &t.get(CA_USER, PBCA, "20260101-0000000000000000").await,
            "UnknownMessage"
        )
        .status,
        300
    );
    // The TCA is not party to Maple Court's message.
    assert_fault(&t.get(CA_USER, TCA, &id).await, "UnknownMessage");
}

#[tokio::test]
async fn failures_from_one_address_are_throttled() {
    let t = TestApp::start_with(|c| c.throttle.max_failures = 4).await;
    for i in 0..4 {
        let who = (format!("M{}", 50000 + i), "guess-password".to_string());
        assert_fault(
            &t.send((&who.0, &who.1), MAPLE, None, b"x").await,
            "AuthenticationFailed",
        );
    }
    let f = assert_fault(&t.send(SITE_USER, MAPLE, None, b"x").await, "RateLimited");
    assert_eq!(f.status, 405);
    t.clock.advance(time::Duration::minutes(6));
    assert_ok(&t.send(SITE_USER, MAPLE, None, b"x").await);
}

#[tokio::test]
async fn the_throttle_counts_failures_from_every_node_sharing_the_database() {
    use imax_gateway::access::{Door, Operation};
    use imax_gateway::directory::password::Secret;
    use imax_gateway::gateway::{Caller, Credentials, Gateway};
    let t = TestApp::start_with(|c| c.throttle.max_failures = 3).await;
    // A second node: its own process state, the same database.
    let store =
        imax_gateway::store::Store::open(&t.config.database_url(), &t.dir.path().join("node-b"))
            .await
            .expect("second node's store");
    let node_b = Gateway::new(
        store,
        t.clock.clone(),
        std::sync::Arc::new(t.config.clone()),
    );
    let caller = Caller {
        addr: Some("127.0.0.1".parse().expect("ip")),
        door: Door::SystemToSystem,
        request: None,
    };
    let guess = Credentials {
        principal: "M99999".into(),
        password: Secret::new("guess-1234"),
    };
    for _ in 0..3 {
        let r = node_b
            .authorize(caller, &guess, Operation::ListMessages)
            .await
            .expect_err("unknown M-ID");
        assert_eq!(r.code.as_str(), "AuthenticationFailed");
    }
    // The address is now refused by the first node too, even with good credentials.
    assert_fault(
        &t.list(SITE_USER, MAPLE, "sentToOthers").await,
        "RateLimited",
    );
    t.clock
        .advance(time::Duration::seconds(t.config.throttle.window_secs + 1));
    assert_ok(&t.list(SITE_USER, MAPLE, "sentToOthers").await);
}
