//! One upload pump (issue 26, item 3): whichever door a file comes in by — SOAP's base64
//! content, an MTOM binary part, the browser's multipart form — it goes through the same
//! `Gateway::receive`, so the size cap refuses it alike, the refusal is audited once for the
//! open mailbox, and nothing of it is stored.

use crate::helpers::*;
use crate::web_forms::{csrf_of, open_mailbox, request, session_cookie};
use imax_gateway::client::Content;

const LIMIT: u64 = 64 * 1024;

/// The upload form as a browser posts it: the CSRF token first, the recipient, one file.
pub(crate) fn upload_form(
    token: &str,
    to: &str,
    file_name: &str,
    file: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "pump-test-boundary";
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let mut body = (field("csrf", token) + &field("to", to)).into_bytes();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The audit records of refused uploads to Maple Court: (door, outcome).
async fn refused_uploads(t: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT door, outcome FROM audit_log WHERE action = 'SendFile' AND mailbox = $1 AND outcome <> 'ok' ORDER BY seq",
    )
    .bind(MAPLE.0)
    .fetch_all(&t.db)
    .await
    .expect("audit records")
}

#[tokio::test]
async fn every_door_refuses_an_oversized_file_alike_audited_once_and_storing_nothing() {
    let t = TestApp::start_with(|c| c.limits.max_file_bytes = LIMIT).await;
    let big = payload(26, LIMIT as usize + 1);
    // SOAP, the file as base64 in the envelope.
    let mut c = t.client(SITE_USER).await;
    let r = c
        .send_file(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "BIG.PDF",
            Content::Bytes(big.clone()),
            None,
        )
        .await
        .expect("reply");
    assert_fault(&r, "FileTooLarge");
    // SOAP as MTOM, the file as a binary part.
    let mut c = t.client(SITE_USER).await;
    let r = c
        .send_file_mtom(
            MAPLE.0,
            MAPLE.1,
            Some(PBCA.0),
            "BIG.PDF",
            Content::Bytes(big.clone()),
        )
        .await
        .expect("reply");
    assert_fault(&r, "FileTooLarge");
    // The browser's upload form.
    let cookie = session_cookie(&t, SITE_USER).await;
    open_mailbox(&t, &cookie, MAPLE).await;
    let (_, _, form) = request(&t, "GET", "/mailbox/upload", &cookie, "", Vec::new()).await;
    let (content_type, body) = upload_form(&csrf_of(&form), PBCA.0, "BIG.PDF", &big);
    let (status, _, page) =
        request(&t, "POST", "/mailbox/upload", &cookie, &content_type, body).await;
    assert_eq!(status, 400, "nothing was stored: {page}");
    assert!(page.contains("FileTooLarge"), "{page}");
    // One record per refusal, by the door it came through; no body, no upload left.
    let refused = refused_uploads(&t).await;
    let expected: Vec<(String, String)> = ["s2s", "s2s", "web"]
        .iter()
        .map(|door| (door.to_string(), "FileTooLarge".to_string()))
        .collect();
    assert_eq!(refused, expected);
    assert_eq!(stored_bodies(t.admin.store()).await, 0);
    assert_eq!(settled_uploads(t.admin.store()).await, 0);
    // At the limit, each door stores the file.
    let mut c = t.client(SITE_USER).await;
    let fits = |seed| Content::Bytes(payload(seed, LIMIT as usize));
    let r = c
        .send_file(MAPLE.0, MAPLE.1, Some(PBCA.0), "A.PDF", fits(1), None)
        .await
        .expect("reply");
    assert_ok(&r);
    let r = c
        .send_file_mtom(MAPLE.0, MAPLE.1, Some(PBCA.0), "B.PDF", fits(2))
        .await
        .expect("reply");
    assert_ok(&r);
    let (_, _, form) = request(&t, "GET", "/mailbox/upload", &cookie, "", Vec::new()).await;
    let file = payload(3, LIMIT as usize);
    let (content_type, body) = upload_form(&csrf_of(&form), PBCA.0, "C.PDF", &file);
    let (status, _, page) =
        request(&t, "POST", "/mailbox/upload", &cookie, &content_type, body).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(stored_bodies(t.admin.store()).await, 3);
    assert_eq!(refused_uploads(&t).await.len(), 3, "no other refusal");
}
