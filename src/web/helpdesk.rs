//! Help Desk pages (R4, R8, R14, R16, R24): find an M-ID or a mailbox, act on a person (the
//! person page is shared with coordinators, see [`super::coordinator`]), reset a mailbox
//! password after validating the caller against its profile, post broadcasts.

use super::coordinator::{Done, Fields};
use super::{render, see_other, when, Checked, Chrome, Session, Signed, Web};
use crate::admin::{Admin, MailboxState, ResetRequest};
use crate::directory::password::Secret;
use crate::directory::ImaxId;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/helpdesk", get(find))
        .route("/helpdesk/reset/{imax_id}", get(reset_form).post(reset))
        .route("/helpdesk/broadcasts", post(broadcast))
}

/// The signed-in person acting as Help Desk staff; a coordinator is sent to its own pages.
async fn help_desk(web: &Web, s: &Session, title: &str) -> Result<(Chrome, Admin), Response> {
    let (auth, admin) = web.acting(s).await?;
    if !admin.actor().is_hud() {
        return Err(see_other("/coordinator"));
    }
    let chrome = web.chrome(s, &auth, title).await;
    Ok((chrome, admin))
}

/// A Help Desk form: its fields, once the CSRF token and the actor are checked.

#[derive(Template)]
#[template(path = "helpdesk.html")]
struct FindPage {
    chrome: Chrome,
    q: String,
    searched: bool,
    people: Vec<String>,
    mailboxes: Vec<MailboxLine>,
}

/// A mailbox in the search results, with its freeze.
struct MailboxLine {
    imax_id: String,
    name: String,
    state: Option<String>,
}

/// What a page says of a mailbox frozen by wrong passwords (nothing when it is not).
fn freeze_sentence(m: &MailboxState, now: time::OffsetDateTime) -> Option<String> {
    m.frozen_at(now).map(|until| {
        format!(
            "Frozen after repeated wrong passwords until {}; a password reset ends the freeze.",
            when(until)
        )
    })
}

#[derive(Deserialize)]
struct FindQuery {
    q: Option<String>,
    done: Option<String>,
    who: Option<String>,
}

async fn find(State(web): State<Web>, Signed(s): Signed, Query(fq): Query<FindQuery>) -> Response {
    let (mut chrome, admin) = match help_desk(&web, &s, "Help Desk").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    chrome.notice = Done {
        done: fq.done,
        who: fq.who,
    }
    .sentence();
    let q = fq.q.unwrap_or_default();
    let (people, mailboxes) = match admin.search(&q).await {
        Ok(x) => x,
        Err(e) => return web.admin_error_page(&s, &e),
    };
    render(&FindPage {
        chrome,
        searched: !q.trim().is_empty(),
        q,
        people,
        mailboxes: mailboxes
            .iter()
            .map(|m| MailboxLine {
                imax_id: m.imax_id.clone(),
                name: m.name.clone(),
                state: freeze_sentence(m, web.gw.clock().now()),
            })
            .collect(),
    })
}

/// What the caller gave, kept to refill the form after a mismatch (never the PIN).
#[derive(Default)]
struct ResetForm {
    name: String,
    title: String,
    organization: String,
    firm_name: String,
    firm_address: String,
    email: String,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    chrome: Chrome,
    imax_id: String,
    frozen: Option<String>,
    form: ResetForm,
}

/// The path's TRACSMail ID, parsed before anything is rendered or done with it (a crafted
/// path must never reach a form's `action`).
fn path_imax_id(web: &Web, s: &Session, raw: &str) -> Result<ImaxId, Response> {
    ImaxId::parse(raw).ok_or_else(|| {
        web.admin_error_page(
            s,
            &crate::admin::AdminError::Missing("no such TRACSMail ID".into()),
        )
    })
}

async fn reset_form(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(raw): Path<String>,
) -> Response {
    let imax_id = match path_imax_id(&web, &s, &raw) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let (chrome, admin) =
        match help_desk(&web, &s, &format!("Reset the password of {imax_id}")).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let frozen = match admin.mailbox_state(imax_id.as_str()).await {
        Ok(m) => freeze_sentence(&m, web.gw.clock().now()),
        Err(e) => return web.admin_error_page(&s, &e),
    };
    render(&ResetPage {
        chrome,
        imax_id: imax_id.to_string(),
        frozen,
        form: ResetForm::default(),
    })
}

/// R24: validated against the profile, mailed to the profile's address only; the password is
/// never shown.
async fn reset(
    State(web): State<Web>,
    Path(raw_id): Path<String>,
    Checked(s, f): Checked<Fields>,
) -> Response {
    let imax_id = match path_imax_id(&web, &s, &raw_id) {
        Ok(id) => id.to_string(),
        Err(r) => return r,
    };
    let title = format!("Reset the password of {imax_id}");
    let (mut chrome, admin) = match help_desk(&web, &s, &title).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let req = ResetRequest {
        name: f.get("name").into(),
        title: f.get("title").into(),
        organization: f.get("organization").into(),
        firm_name: f.get("firm_name").into(),
        firm_address: f.get("firm_address").into(),
        email: f.get("email").into(),
        pin: Secret::new(f.get("pin").to_string()),
    };
    match admin.reset_mailbox_password(&imax_id, &req).await {
        Ok(_) => see_other("/helpdesk?done=reset"),
        Err(e) => {
            chrome.error = Some(super::admin_sentence(&e));
            let mut r = render(&ResetPage {
                chrome,
                imax_id,
                frozen: None,
                form: ResetForm {
                    name: req.name,
                    title: req.title,
                    organization: req.organization,
                    firm_name: req.firm_name,
                    firm_address: req.firm_address,
                    email: req.email,
                },
            });
            *r.status_mut() = axum::http::StatusCode::FORBIDDEN;
            r
        }
    }
}

async fn broadcast(State(web): State<Web>, Checked(s, f): Checked<Fields>) -> Response {
    let admin = match help_desk(&web, &s, "Help Desk").await {
        Ok((_, admin)) => admin,
        Err(r) => return r,
    };
    match admin.post_broadcast(f.get("title"), f.get("body")).await {
        Ok(_) => see_other("/helpdesk?done=broadcast"),
        Err(e) => web.admin_error_page(&s, &e),
    }
}
