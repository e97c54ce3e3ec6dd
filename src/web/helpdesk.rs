//! Help Desk pages (R4, R8, R14, R16, R24): find an M-ID or a mailbox, act on a person (the
//! person page is shared with coordinators, see [`super::coordinator`]), reset a mailbox
//! password after validating the caller against its profile, post broadcasts.

use super::coordinator::Done;
use super::{
    render, see_other, status_of, when, Checked, Chrome, OrPage, Page, Session, Signed, Web,
};
use crate::admin::{Admin, MailboxState, ResetChannel, ResetRequest};
use crate::directory::password::Secret;
use crate::directory::ImaxId;
use crate::error::{Code, Refusal};
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
        .route("/helpdesk/ownership", post(change_ownership))
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

#[derive(Template)]
#[template(path = "helpdesk.html")]
struct FindPage {
    chrome: Chrome,
    q: String,
    searched: bool,
    people: Vec<String>,
    mailboxes: Vec<MailboxLine>,
    /// TRACSMail IDs unused so long they are inactive, with since when.
    inactive: Vec<MailboxLine>,
}

/// A mailbox in the search results, with its freeze.
struct MailboxLine {
    imax_id: String,
    name: String,
    state: Option<String>,
}

/// What a page says of a mailbox frozen by wrong passwords or inactive for want of use
/// (nothing when it is neither).
fn state_sentence(web: &Web, m: &MailboxState) -> Option<String> {
    let now = web.gw.clock().now();
    let days = web.gw.config().accounts.mailbox_inactive_days;
    if let Some(since) = m.inactive_at(now, days) {
        return Some(format!(
            "Inactive since {} (unused {days} days); a password reset reactivates it.",
            when(since)
        ));
    }
    m.frozen_at(now).map(|until| {
        format!(
            "Frozen after repeated wrong passwords until {}; a password reset ends the freeze.",
            when(until)
        )
    })
}

fn line(web: &Web, m: &MailboxState) -> MailboxLine {
    MailboxLine {
        imax_id: m.imax_id.clone(),
        name: m.name.clone(),
        state: state_sentence(web, m),
    }
}

#[derive(Deserialize)]
struct FindQuery {
    q: Option<String>,
    done: Option<String>,
    who: Option<String>,
}

async fn find(State(web): State<Web>, Signed(s): Signed, Query(fq): Query<FindQuery>) -> Page {
    let (mut chrome, admin) = help_desk(&web, &s, "Help Desk").await?;
    chrome.notice = Done {
        done: fq.done,
        who: fq.who,
    }
    .sentence();
    let q = fq.q.unwrap_or_default();
    let (people, mailboxes) = admin.search(&q).await.or_page(&web, &s)?;
    let inactive = admin.inactive_mailboxes().await.or_page(&web, &s)?;
    Ok(render(&FindPage {
        chrome,
        searched: !q.trim().is_empty(),
        q,
        people,
        mailboxes: mailboxes.iter().map(|m| line(&web, m)).collect(),
        inactive: inactive.iter().map(|m| line(&web, m)).collect(),
    }))
}

/// What the caller gave, kept to refill the form after a mismatch (never the PIN).
#[derive(Default, Deserialize)]
struct ResetForm {
    name: String,
    title: String,
    organization: String,
    firm_name: String,
    firm_address: String,
    email: String,
    /// R24: how the request came: `letter` (with its date) or `email`; and its reference.
    #[serde(default)]
    channel: String,
    #[serde(default)]
    letter_dated: String,
    #[serde(default)]
    reference: String,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    chrome: Chrome,
    imax_id: String,
    frozen: Option<String>,
    /// The profile's last change (when, who, which fields), so that a reset after a recent
    /// change of its address is made knowingly (R23, R24).
    last_change: Option<String>,
    form: ResetForm,
}

/// What the reset page says of the profile's last change (nothing when none is recorded).
async fn last_change(
    web: &Web,
    s: &Session,
    admin: &Admin,
    imax_id: &str,
) -> Result<Option<String>, Response> {
    let change = admin.last_profile_change(imax_id).await.or_page(web, s)?;
    Ok(change.map(|c| {
        format!(
            "The profile was last changed {} by {}: {}.",
            when(c.at),
            c.by,
            c.fields
        )
    }))
}

/// The path's TRACSMail ID, parsed before anything is rendered or done with it (a crafted
/// path must never reach a form's `action`).
fn path_imax_id(web: &Web, s: &Session, raw: &str) -> Result<ImaxId, Response> {
    ImaxId::parse(raw).ok_or_else(|| {
        web.refusal_page(
            Some(s),
            &Refusal::because(Code::NotFound, "There is no such TRACSMail ID"),
        )
    })
}

async fn reset_form(State(web): State<Web>, Signed(s): Signed, Path(raw): Path<String>) -> Page {
    let imax_id = path_imax_id(&web, &s, &raw)?;
    let title = format!("Reset the password of {imax_id}");
    let (chrome, admin) = help_desk(&web, &s, &title).await?;
    let state = admin
        .mailbox_state(imax_id.as_str())
        .await
        .or_page(&web, &s)?;
    let last_change = last_change(&web, &s, &admin, imax_id.as_str()).await?;
    Ok(render(&ResetPage {
        chrome,
        imax_id: imax_id.to_string(),
        frozen: state_sentence(&web, &state),
        last_change,
        form: ResetForm::default(),
    }))
}

/// The reset form as submitted: who is calling, as the profile should name them, and the PIN.
#[derive(Deserialize)]
struct ResetSubmission {
    #[serde(flatten)]
    caller: ResetForm,
    pin: Secret,
}

/// R24: validated against the profile, mailed to the profile's address only; the password is
/// never shown.
async fn reset(
    State(web): State<Web>,
    Path(raw_id): Path<String>,
    Checked(s, f): Checked<ResetSubmission>,
) -> Page {
    let imax_id = path_imax_id(&web, &s, &raw_id)?.to_string();
    let title = format!("Reset the password of {imax_id}");
    let (mut chrome, admin) = help_desk(&web, &s, &title).await?;
    let c = &f.caller;
    let req = ResetRequest {
        name: c.name.clone(),
        title: c.title.clone(),
        organization: c.organization.clone(),
        firm_name: c.firm_name.clone(),
        firm_address: c.firm_address.clone(),
        email: c.email.clone(),
        pin: f.pin,
        channel: ResetChannel::new(
            (c.channel != "email").then_some(c.letter_dated.as_str()),
            &c.reference,
        ),
    };
    match admin.reset_mailbox_password(&imax_id, &req).await {
        Ok(_) => Ok(see_other("/helpdesk?done=reset")), // the channel is in the audit record
        // The form again, filled in as it was (never the PIN), with the refusal above it.
        Err(e) => {
            chrome.error = Some(e.message());
            let last_change = last_change(&web, &s, &admin, &imax_id).await?;
            let mut r = render(&ResetPage {
                chrome,
                imax_id,
                frozen: None,
                last_change,
                form: f.caller,
            });
            *r.status_mut() = status_of(e.code);
            Err(r)
        }
    }
}

#[derive(Deserialize)]
struct OwnershipForm {
    property: String,
    to: String,
}

/// R25: a property that changes hands moves to the new owner's new TRACSMail ID.
async fn change_ownership(State(web): State<Web>, Checked(s, f): Checked<OwnershipForm>) -> Page {
    let (_, admin) = help_desk(&web, &s, "Help Desk").await?;
    let to = f.to.trim().to_uppercase();
    admin
        .change_ownership(&f.property, &to)
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/helpdesk?done=ownership"))
}

#[derive(Deserialize)]
struct BroadcastForm {
    title: String,
    body: String,
}

async fn broadcast(State(web): State<Web>, Checked(s, f): Checked<BroadcastForm>) -> Page {
    let (_, admin) = help_desk(&web, &s, "Help Desk").await?;
    admin
        .post_broadcast(&f.title, &f.body)
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/helpdesk?done=broadcast"))
}
