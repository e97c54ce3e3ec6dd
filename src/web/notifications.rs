//! The Notifications page (issue 30): the mailboxes that open to the signed-in person (R6),
//! each with a button to subscribe to its arrival notices and reminders, or to end it. The
//! decision is the core's (`Gateway::subscribe`); a mailbox that does not open to the person
//! is refused as the doors refuse it.

use super::{render, see_other, Checked, Chrome, OrPage, Page, Signed, Web};
use crate::access::Operation;
use crate::gateway::notices::Subscribable;
use crate::store::notices::Subscription;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<Web> {
    Router::new().route("/notifications", get(page).post(change))
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    mailboxes: Vec<Subscribable>,
    digest_minutes: u64,
}

async fn page(State(web): State<Web>, Signed(s): Signed) -> Page {
    let auth = web.authorize(&s, Operation::OpenImax).await?;
    let mailboxes = web.gw.subscribable(&auth).await.or_page(&web, &s)?;
    let chrome = web.chrome(&s, &auth, "Notifications").await;
    let digest_minutes = web.gw.config().notifications.digest_minutes;
    Ok(render(&NotificationsPage {
        chrome,
        mailboxes,
        digest_minutes,
    }))
}

/// The form of one mailbox's button.
#[derive(serde::Deserialize)]
struct ChangeForm {
    mailbox: String,
    change: Change,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Change {
    Subscribe,
    Unsubscribe,
}

async fn change(State(web): State<Web>, Checked(s, f): Checked<ChangeForm>) -> Page {
    let auth = web.authorize(&s, Operation::OpenImax).await?;
    let change = match f.change {
        Change::Subscribe => Subscription::On,
        Change::Unsubscribe => Subscription::Off,
    };
    let done = web.gw.subscribe(&auth, f.mailbox.trim(), change).await;
    web.settled(&s, done).await?;
    Ok(see_other("/notifications"))
}
