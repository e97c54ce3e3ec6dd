//! MTOM/XOP through the real server (issue 13, item 5): SendFile as `multipart/related` with
//! the file as a binary part, GetMessage answered in kind when the client asks, and every
//! malformed variant refused with nothing stored.

use crate::helpers::*;
use imax_gateway::client::Content;

/// A file of `n` bytes holding every byte value, boundary-like runs included.
fn binary(n: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
    for (i, chunk) in b"\r\n--imax-client-".iter().enumerate() {
        if let Some(slot) = v.get_mut(1000 + i) {
            *slot = *chunk;
        }
    }
    v
}

#[tokio::test]
async fn mtom_sendfile_stores_the_binary_part_and_getmessage_answers_in_kind() {
    let t = TestApp::start().await;
    // A TRACS file as MTOM: checked, routed by its header, stored as sent.
    let tenant = tenant_file(3);
    let mut c = t.client(SITE_USER).await;
    let r = c
        .send_file_mtom(
            MAPLE.0,
            MAPLE.1,
            None,
            "TENANT.DAT",
            Content::Bytes(tenant.clone()),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("toMailbox"), Some(PBCA.0));
    assert_eq!(r.get("sha256"), Some(sha256_hex(&tenant).as_str()));
    let id = r.get("messageId").expect("id").to_string();
    // The CA fetches it plain (base64) and as MTOM: the same bytes.
    assert_eq!(
        t.get(CA_USER, PBCA, &id).await.content().as_deref(),
        Some(tenant.as_slice())
    );
    let mut ca = t.client(CA_USER).await;
    let (reply, bytes) = ca
        .get_message_mtom(PBCA.0, PBCA.1, &id)
        .await
        .expect("reply");
    assert_ok(&reply);
    assert_eq!(reply.get("messageId"), Some(id.as_str()));
    assert_eq!(bytes.as_deref(), Some(tenant.as_slice()));

    // A 3 MiB binary attachment (to a CA, which takes attachments), streamed from a file.
    let big = binary(3 * 1024 * 1024 + 17);
    let path = t.dir.path().join("BIG.PDF");
    std::fs::write(&path, &big).expect("write");
    let r = c
        .send_file_mtom(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "BIG.PDF",
            Content::File(path),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("sizeBytes"), Some(big.len().to_string().as_str()));
    let big_id = r.get("messageId").expect("id").to_string();
    let (reply, bytes) = ca
        .get_message_mtom(PBCA.0, PBCA.1, &big_id)
        .await
        .expect("reply");
    assert_ok(&reply);
    assert!(
        bytes.as_deref() == Some(big.as_slice()),
        "the same bytes back"
    );
    // Faults stay plain SOAP faults.
    let (reply, bytes) = ca
        .get_message_mtom(PBCA.0, PBCA.1, "20260302-0000000000000000")
        .await
        .expect("reply");
    assert_fault(&reply, "UnknownMessage");
    assert_eq!(bytes, None);
}

#[tokio::test]
async fn malformed_mtom_is_refused_and_stores_nothing() {
    let t = TestApp::start_with(|c| c.limits.max_file_bytes = 1024 * 1024).await;
    let mut c = t.client(SITE_USER).await;
    let envelope_as = |password: &str, content: &str| {
        format!(
            "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"urn:imax-gateway:s2s:1\"><soap:Header><wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><t:SendFile><t:mailbox>{}</t:mailbox><t:mailboxPassword>{}</t:mailboxPassword><t:toMailbox>{}</t:toMailbox><t:fileName>X.PDF</t:fileName><t:content>{content}</t:content></t:SendFile></soap:Body></soap:Envelope>",
            SITE_USER.0, password, MAPLE.0, MAPLE.1, PBCA.0
        )
    };
    let envelope = |content: &str| envelope_as(SITE_USER.1, content);
    let include = |cid: &str| {
        format!(
            "<xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:{cid}\"/>"
        )
    };
    let mtom = |root: &str, file_id: &str, file: &[u8]| {
        let mut body = format!(
            "--B\r\nContent-Type: application/xop+xml; type=\"text/xml\"\r\nContent-ID: <root>\r\n\r\n{root}\r\n--B\r\nContent-ID: <{file_id}>\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--B--\r\n");
        body
    };
    let ct = "multipart/related; type=\"application/xop+xml\"; boundary=B; start=\"<root>\"";
    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        // The Include names a part that is not there.
        (
            "missing part",
            ct.into(),
            mtom(&envelope(&include("file")), "other", b"%PDF-1.7 data"),
            "MalformedRequest",
        ),
        // No closing boundary.
        (
            "unfinished",
            ct.into(),
            mtom(&envelope(&include("file")), "file", b"%PDF")[..300].to_vec(),
            "MalformedRequest",
        ),
        // No boundary parameter.
        (
            "no boundary",
            "multipart/related; type=\"application/xop+xml\"".into(),
            mtom(&envelope(&include("file")), "file", b"%PDF"),
            "MalformedRequest",
        ),
        // Too large, as a binary part too.
        (
            "too large",
            ct.into(),
            mtom(
                &envelope(&include("file")),
                "file",
                &binary(1024 * 1024 + 1),
            ),
            "FileTooLarge",
        ),
    ];
    for (what, content_type, body, code) in cases {
        let r = c.post_raw_as(&content_type, body).await.expect("reply");
        let f = assert_fault(&r, code);
        assert!(!f.message.is_empty(), "{what}");
    }
    // Parts nobody asked for are refused at their headers, unread (issue 25, item 2;
    // tests/envelope_bounds.rs streams 95 MiB of one).
    let skipped = mtom(
        &envelope(&include("file")),
        "other",
        &binary(3 * 1024 * 1024),
    );
    let r = c.post_raw_as(ct, skipped).await.expect("reply");
    let f = assert_fault(&r, "MalformedRequest");
    assert!(f.message.contains("does not reference"), "{}", f.message);
    // The rest of that body was not read whole, so its connection was closed: a new one.
    let mut c = t.client(SITE_USER).await;
    // An Include in a plain (non-multipart) request.
    let r = c
        .raw(envelope(&include("file")).into_bytes())
        .await
        .expect("reply");
    assert_fault(&r, "MalformedRequest");
    // Wrong credentials: refused before the file part is read into the store.
    let wrong = envelope_as("Not-The-Password-9", &include("file"));
    let r = c
        .post_raw_as(ct, mtom(&wrong, "file", b"%PDF-1.7"))
        .await
        .expect("reply");
    assert_as_wrong_password(&r);
    assert_eq!(t.list(SITE_USER, MAPLE, "sentToOthers").await.status, 600);
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    assert_eq!(settled_uploads(t.admin.store()).await, 0);
    // And the well-formed one goes through.
    let r = c
        .post_raw_as(
            ct,
            mtom(&envelope(&include("file")), "file", b"%PDF-1.7 fine"),
        )
        .await
        .expect("reply");
    assert_ok(&r);
    assert_eq!(r.get("sizeBytes"), Some("13"));
}
