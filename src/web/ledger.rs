//! The TRACS round-trip ledger page (issue 31): the same ledger as `imax admin ledger`, for a
//! signed-in person: HUD's Help Desk reads any contract's, a coordinator those of its BPR
//! properties (R3; the core decides, `admin/ledger.rs`).

use super::{render, Chrome, OrPage, Page, Signed, Web};
use crate::admin::Ledger;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new().route("/ledger", get(page))
}

#[derive(Deserialize)]
struct Which {
    contract: String,
    month: String,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    ledger: Ledger,
}

async fn page(State(web): State<Web>, Signed(s): Signed, Query(w): Query<Which>) -> Page {
    let (auth, admin) = web.acting(&s).await?;
    let ledger = admin
        .ledger(&w.contract, &w.month)
        .await
        .or_page(&web, &s)?;
    let title = format!("TRACS ledger: {} {}", ledger.contract, ledger.month);
    let chrome = web.chrome(&s, &auth, &title).await;
    Ok(render(&LedgerPage { chrome, ledger }))
}
