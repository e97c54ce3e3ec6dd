//! The mailbox pages (R10, R12): open a mailbox with its TRACSMail ID and password, the iMAX
//! menus (Broadcasts; Transmissions: Upload, Sent to TRACS, Received from TRACS, Sent to
//! Others, Received from Others), a message page, downloads and uploads.

use super::account::home_page;
use super::{
    check_csrf, render, see_other, size, when, Button, Checked, Chrome, FieldErrors, OrPage, Page,
    Session, Signed, Web,
};
use crate::access::Operation;
use crate::config::Config;
use crate::directory::password::Secret;
use crate::error::{Code, Refusal};
use crate::gateway::{Credentials, MailboxSession, SendRequest};
use crate::mailbox::{Folder, ListQuery, MessageInfo, Order, PageToken};
use askama::Template;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;

mod folder;
mod message;
mod password;
mod profile;
mod receipt;
mod upload;

use folder::{folder, mailbox_home};
use message::{ack, download, message};
use password::{change_mailbox_password, mailbox_password_form};
use profile::{profile_form, save_profile};
use receipt::{proof, receipt};
use upload::{upload, upload_form};

pub fn routes(config: &Config) -> Router<Web> {
    // Uploads are streamed into the body store file by file, each bounded by the file limit;
    // the request as a whole is bounded by the number of files allowed.
    let upload_limit = (config.limits.max_file_bytes as usize)
        .saturating_mul(config.web.max_files_per_upload)
        .saturating_add(1 << 20);
    Router::new()
        .route("/mailbox", get(mailbox_home))
        .route("/mailbox/open", post(open))
        .route("/mailbox/close", post(close))
        .route(
            "/mailbox/password",
            get(mailbox_password_form).post(change_mailbox_password),
        )
        .route("/mailbox/profile", get(profile_form).post(save_profile))
        .route("/mailbox/folder/{folder}", get(folder))
        .route("/mailbox/message/{id}", get(message))
        .route("/mailbox/message/{id}/download", get(download))
        .route("/mailbox/message/{id}/receipt", get(receipt))
        .route("/mailbox/message/{id}/proof", get(proof))
        .route("/mailbox/message/{id}/ack", post(ack))
        .route(
            "/mailbox/upload",
            get(upload_form)
                .post(upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
}

impl Web {
    /// The mailbox this session opened, for `op`: the person decided on afresh, then the
    /// mailbox checked unchanged since it was opened. Without an open mailbox, back to the
    /// iMAX home page to open one.
    async fn mailbox(&self, s: &Session, op: Operation) -> Result<MailboxSession, Response> {
        let auth = self.authorize(s, op).await?;
        let Some((id, epoch)) = s.row.mailbox else {
            return Err(see_other("/home"));
        };
        match self.gw.resume_mailbox(auth, id, epoch).await {
            Ok(m) => Ok(m),
            Err(r) => {
                let _ = self
                    .gw
                    .store()
                    .sessions()
                    .set_mailbox(&s.row.id_hash, None)
                    .await;
                Err(self.refusal_page(Some(s), &r))
            }
        }
    }

    async fn mailbox_chrome(&self, s: &Session, m: &MailboxSession, title: &str) -> Chrome {
        let mut c = self.chrome(s, m.authorized(), title).await;
        c.mailbox = Some(m.mailbox().imax_id.to_string());
        c.sandbox = m.mailbox().kind.is_sandbox();
        c
    }
}

#[derive(Deserialize)]
struct OpenForm {
    imax_id: String,
    mailbox_password: String,
}

/// R10: the TRACSMail ID and its own password (not the M-ID's); R11: any M-ID with the iMAX
/// role may act for a mailbox whose password it knows.
async fn open(State(web): State<Web>, Checked(s, f): Checked<OpenForm>) -> Page {
    let auth = web.authorize(&s, Operation::OpenImax).await?;
    let creds = Credentials {
        principal: f.imax_id.trim().to_uppercase(),
        password: Secret::new(f.mailbox_password),
    };
    let m = match web.gw.open_mailbox(auth, &creds).await {
        Ok(m) => m,
        // The iMAX home again, the password field marked.
        Err(r) if r.code == Code::MailboxAuthenticationFailed => {
            let marked = FieldErrors::one("mailbox_password", r.message());
            return home_page(&web, &s, &creds.principal, marked).await;
        }
        Err(r) => return Err(web.resolve(&s, &r).await),
    };
    let mb = m.mailbox();
    web.gw
        .store()
        .sessions()
        .set_mailbox(&s.row.id_hash, Some((mb.id, mb.auth_epoch)))
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/mailbox"))
}

async fn close(State(web): State<Web>, Checked(s, Button {}): Checked<Button>) -> Page {
    web.gw
        .store()
        .sessions()
        .set_mailbox(&s.row.id_hash, None)
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/home"))
}
