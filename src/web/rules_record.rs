//! The printable record of a person's accepted Rules of Behavior (R21; owners keep the signed
//! rules, seed Q24): the person's own, and (for the coordinators who manage them, and HUD) a
//! user's: the accepted text with name, M-ID, acceptance and due days, and version.

use super::{render, Chrome, OrPage, Page, Signed, Web};
use crate::access::Operation;
use crate::admin::RulesOfBehaviorRecord;
use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/rules/record", get(own))
        .route("/coordinator/users/{mid}/rules", get(of_user))
        .route("/helpdesk/people/{mid}/rules", get(of_user))
}

#[derive(Template)]
#[template(path = "rules_record.html")]
struct RecordPage {
    chrome: Chrome,
    r: RulesOfBehaviorRecord,
}

/// The signed-in person's own record (open whenever the rules are, even when due).
async fn own(State(web): State<Web>, Signed(s): Signed) -> Page {
    let auth = web.authorize(&s, Operation::AcceptRules).await?;
    let chrome = web.chrome(&s, &auth, "Your TRACS Rules of Behavior").await;
    let r = RulesOfBehaviorRecord::of(
        auth.account(),
        &web.gw.config().accounts,
        web.gw.clock().now(),
    );
    Ok(render(&RecordPage { chrome, r }))
}

/// A user's record, for a coordinator who manages them (or HUD).
async fn of_user(State(web): State<Web>, Signed(s): Signed, Path(mid): Path<String>) -> Page {
    let (auth, admin) = web.acting(&s).await?;
    let r = admin
        .rules_of_behavior_record(&mid)
        .await
        .or_page(&web, &s)?;
    let chrome = web
        .chrome(&s, &auth, &format!("TRACS Rules of Behavior of {}", r.mid))
        .await;
    Ok(render(&RecordPage { chrome, r }))
}
