//! Uploads from the browser: the form, the multipart stream into the core, the receipts.

use super::*;
use crate::gateway::Content;
use bytes::Bytes;

#[derive(Template)]
#[template(path = "upload.html")]
pub(super) struct UploadPage {
    chrome: Chrome,
    /// (value, label, selected)
    recipients: Vec<(String, String, bool)>,
    max_files: usize,
    max_size: String,
}

pub(super) async fn upload_form(State(web): State<Web>, Signed(s): Signed) -> Page {
    let m = web.mailbox(&s, Operation::SendFile).await?;
    let (book, preselect) = web.settled(&s, web.gw.address_book(&m).await).await?;
    let recipients = book
        .iter()
        .map(|mb| {
            let value = if mb.kind == crate::directory::MailboxKind::Hud {
                "TRACS".to_string()
            } else {
                mb.imax_id.to_string()
            };
            let label = if mb.kind == crate::directory::MailboxKind::Hud {
                format!("TRACS (HUD, {})", mb.imax_id)
            } else {
                format!("{} — {}", mb.imax_id, mb.name)
            };
            let selected = preselect.as_ref() == Some(&mb.imax_id);
            (value, label, selected)
        })
        .collect();
    let chrome = web.mailbox_chrome(&s, &m, "Upload").await;
    let cfg = web.gw.config();
    Ok(render(&UploadPage {
        chrome,
        recipients,
        max_files: cfg.web.max_files_per_upload,
        max_size: size(cfg.limits.max_file_bytes),
    }))
}

/// One line of the upload's results.
pub(super) struct Outcome {
    ok: bool,
    file_name: String,
    outcome: String,
    message_id: String,
    to: String,
    size: String,
    sha256: String,
    problems: Vec<String>,
}

impl Outcome {
    fn refused(file_name: &str, r: &Refusal) -> Outcome {
        Outcome {
            ok: false,
            file_name: file_name.into(),
            outcome: format!("Refused: {} ({})", r.message(), r.code.as_str()),
            problems: r.items.clone(),
            message_id: String::new(),
            to: String::new(),
            size: String::new(),
            sha256: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "receipts.html")]
pub(super) struct ReceiptsPage {
    chrome: Chrome,
    results: Vec<Outcome>,
}

/// Reads a small text field of a multipart form, refusing one longer than `max` bytes.
pub(super) async fn small_field(
    field: &mut axum::extract::multipart::Field<'_>,
    max: usize,
) -> Result<String, Refusal> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Refusal::with_detail(Code::MalformedRequest, e.body_text()))?
    {
        if out.len() + chunk.len() > max {
            return Err(Refusal::with_detail(
                Code::MalformedRequest,
                "A form field is too long.",
            ));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out)
        .map_err(|_| Refusal::with_detail(Code::MalformedRequest, "A form field is not UTF-8."))
}

/// The upload (R12): each file streamed into the body store as it arrives, then stored with
/// the same `send_file` as the system-to-system door. The form's CSRF token is its first
/// field and is checked before anything else (as `Checked` does for the other forms); the
/// recipient comes before the files (the page's field order), so nothing is stored before
/// both are checked.
pub(super) async fn upload(State(web): State<Web>, Signed(s): Signed, mut form: Multipart) -> Page {
    let token = match form.next_field().await {
        Ok(Some(mut f)) if f.name() == Some("csrf") => small_field(&mut f, 256).await.ok(),
        _ => None,
    };
    check_csrf(&s, token.as_deref().unwrap_or(""))?;
    let m = web.mailbox(&s, Operation::SendFile).await?;
    let max_files = web.gw.config().web.max_files_per_upload;
    let (mut to, mut other) = (String::new(), String::new());
    let mut resend = false;
    let mut in_reply_to = String::new();
    let mut results: Vec<Outcome> = Vec::new();
    let mut files = 0usize;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let r = Refusal::with_detail(Code::MalformedRequest, e.body_text());
                results.push(Outcome::refused("(the rest of the upload)", &r));
                break;
            }
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "to" | "other" | "resend" | "in_reply_to" => {
                let value = small_field(&mut field, 256).await.or_page(&web, &s)?;
                match name.as_str() {
                    "to" => to = value,
                    "resend" => resend = value == "yes",
                    "in_reply_to" => in_reply_to = value,
                    _ => other = value,
                }
            }
            "files" => {
                let file_name = field.file_name().unwrap_or("").to_string();
                if file_name.is_empty() {
                    continue; // the browser's empty part when no file was chosen
                }
                files += 1;
                if files > max_files {
                    let r = Refusal::with_detail(
                        Code::MalformedRequest,
                        format!("At most {max_files} files may be sent at once; this one was not."),
                    );
                    results.push(Outcome::refused(&file_name, &r));
                    continue;
                }
                let recipient = if other.trim().is_empty() {
                    to.clone()
                } else {
                    other.trim().to_uppercase()
                };
                let send = SendRequest {
                    to: (!recipient.trim().is_empty()).then_some(recipient.as_str()),
                    file_name: &file_name,
                    expected_sha256: None,
                    resend,
                    in_reply_to: (!in_reply_to.trim().is_empty()).then_some(in_reply_to.as_str()),
                };
                results.push(store_one(&web, &m, &mut field, send).await);
            }
            _ => {}
        }
    }
    if files == 0 && results.is_empty() {
        results.push(Outcome::refused("(no file)", &Code::MissingFile.into()));
    }
    let chrome = web.mailbox_chrome(&s, &m, "Upload receipt").await;
    let any_ok = results.iter().any(|r| r.ok);
    let mut resp = render(&ReceiptsPage { chrome, results });
    if !any_ok {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// A file field of the upload form as the pump's [`Content`]: the chunks as they arrive
/// (the multipart framing is undone by axum).
struct FieldContent<'f, 'a> {
    field: &'f mut axum::extract::multipart::Field<'a>,
    /// The chunk last handed over.
    chunk: Bytes,
}

impl Content for FieldContent<'_, '_> {
    async fn next(&mut self) -> Result<Option<&[u8]>, Refusal> {
        match self.field.chunk().await {
            Ok(Some(chunk)) => {
                self.chunk = chunk;
                Ok(Some(&self.chunk))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(Refusal::with_detail(Code::MalformedRequest, e.body_text())),
        }
    }
}

/// One file of the upload: received through the core's one pump, then stored with
/// `send_file` (R12).
pub(super) async fn store_one(
    web: &Web,
    m: &MailboxSession,
    field: &mut axum::extract::multipart::Field<'_>,
    req: SendRequest<'_>,
) -> Outcome {
    let file_name = req.file_name;
    let mut content = FieldContent {
        field,
        chunk: Bytes::new(),
    };
    let staged = match web.gw.receive(m, &mut content).await {
        Ok(u) => u,
        Err(r) => return Outcome::refused(file_name, &r),
    };
    match web.gw.send_file(m, req, staged).await {
        Ok(receipt) => Outcome {
            ok: true,
            file_name: file_name.into(),
            outcome: match receipt.routed_by {
                crate::mailbox::RoutedBy::Sender => {
                    "Stored; sent to the recipient you chose".to_string()
                }
                crate::mailbox::RoutedBy::Directory => {
                    "Stored; sent to the administrator of the property's contract".to_string()
                }
                crate::mailbox::RoutedBy::Header => {
                    "Stored; sent to the administrator of the contract of the project in the file's header".to_string()
                }
                crate::mailbox::RoutedBy::Reply => {
                    "Stored; sent back, as a reply, to the sender of the message it answers".to_string()
                }
            } + if receipt.misrouted {
                " (marked: the directory names another recipient for this project)"
            } else {
                ""
            } + &receipt
                .format_errors
                .as_ref()
                .map(|f| format!(
                    ". TRACS's format edits found {} problem{} in fields whose layout is not confirmed: the file was accepted, and their list waits in Received from TRACS ({})",
                    f.problems,
                    if f.problems == 1 { "" } else { "s" },
                    f.reply_id
                ))
                .unwrap_or_default(),
            message_id: receipt.message_id.to_string(),
            to: receipt.to_mailbox,
            size: size(receipt.size_bytes),
            sha256: receipt.sha256,
            problems: Vec::new(),
        },
        Err(r) => Outcome::refused(file_name, &r),
    }
}
