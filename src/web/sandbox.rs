//! The vendor's certification report page (issue 31), HUD's to read: the same report as
//! `imax admin sandbox report`, for the Help Desk in the browser.

use super::{render, Chrome, OrPage, Page, Signed, Web};
use crate::admin::SandboxReport;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new().route("/helpdesk/sandbox", get(page))
}

#[derive(Deserialize)]
struct Vendor {
    organization: String,
}

#[derive(Template)]
#[template(path = "sandbox_report.html")]
struct ReportPage {
    chrome: Chrome,
    report: SandboxReport,
}

async fn page(State(web): State<Web>, Signed(s): Signed, Query(v): Query<Vendor>) -> Page {
    let (auth, admin) = web.acting(&s).await?;
    let report = admin
        .sandbox_report(&v.organization)
        .await
        .or_page(&web, &s)?;
    let title = format!("Sandbox certification: {}", report.organization);
    let chrome = web.chrome(&s, &auth, &title).await;
    Ok(render(&ReportPage { chrome, report }))
}
