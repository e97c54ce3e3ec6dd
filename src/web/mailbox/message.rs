//! A message's page, its download (checked whole on every protocol) and its acknowledgement.

use super::folder::{row, Row};
use super::*;

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage {
    chrome: Chrome,
    m: Row,
    broadcast_text: Option<Vec<String>>,
    can_ack: bool,
    /// Replies to this message, oldest first.
    replies: Vec<Row>,
    /// A received message (not a broadcast) may be answered from its page.
    can_reply: bool,
}

pub(super) async fn message(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> Page {
    let m = web.mailbox(&s, Operation::ListMessages).await?;
    let info = web.settled(&s, web.gw.message_info(&m, &id).await).await?;
    let broadcast_text = if info.body_key.is_none() {
        let messages = web.gw.store().messages();
        let text = messages
            .broadcast_body(info.row_id)
            .await
            .or_page(&web, &s)?;
        Some(
            text.map(|(_, text)| text.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let me = m.mailbox().id;
    let can_ack = info.body_key.is_some() && info.to_mailbox_id == me && info.acked_at.is_none();
    let replies = if info.body_key.is_some() {
        web.settled(&s, web.gw.replies(&m, &info.message_id).await)
            .await?
    } else {
        Vec::new()
    };
    let can_reply = info.body_key.is_some() && info.to_mailbox_id == me;
    let overdue_before = web.gw.answer_overdue_before();
    let chrome = web
        .mailbox_chrome(&s, &m, &format!("Message {}", info.message_id))
        .await;
    Ok(render(&MessagePage {
        chrome,
        m: row(&info, me, overdue_before),
        broadcast_text,
        can_ack,
        replies: replies.iter().map(|r| row(r, me, None)).collect(),
        can_reply,
    }))
}

/// A download: the body streamed from the store, with its SHA-256 in `Repr-Digest` (RFC 9530)
/// and `X-Content-SHA256`. The recipient's first download marks the message retrieved.
pub(super) async fn download(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> Page {
    let m = web.mailbox(&s, Operation::GetMessage).await?;
    let (info, body) = web.settled(&s, web.gw.get_message(&m, &id).await).await?;
    // Streamed and checked chunk by chunk; a body that does not match its row breaks off.
    let body = Body::from_stream(body);
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&info.size_bytes.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&info.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(raw) = hex::decode(&info.sha256) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        if let Ok(v) = HeaderValue::from_str(&format!("sha-256=:{b64}:")) {
            h.insert("repr-digest", v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&info.sha256) {
        h.insert("x-content-sha256", v);
    }
    if let Ok(v) = HeaderValue::from_str(info.message_id.as_str()) {
        h.insert("x-imax-message-id", v);
    }
    Ok(r)
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
pub(super) fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub(super) async fn ack(
    State(web): State<Web>,
    Path(id): Path<String>,
    Checked(s, Button {}): Checked<Button>,
) -> Page {
    let m = web.mailbox(&s, Operation::AckMessage).await?;
    let info = web.settled(&s, web.gw.ack_message(&m, &id).await).await?;
    Ok(see_other(&format!("/mailbox/message/{}", info.message_id)))
}
