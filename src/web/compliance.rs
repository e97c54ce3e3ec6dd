//! The coordinator's compliance report page and its CSV download (R21, seed Q24, Q39): what
//! each of its users has due, as ISO days in Washington; the same as `imax admin --as COORD
//! account report`.

use super::{render, Chrome, OrPage, Page, Signed, Web};
use crate::admin::ComplianceLine;
use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/coordinator/report", get(page))
        .route("/coordinator/report.csv", get(csv))
}

#[derive(Template)]
#[template(path = "compliance_report.html")]
struct ReportPage {
    chrome: Chrome,
    lines: Vec<ComplianceLine>,
}

async fn page(State(web): State<Web>, Signed(s): Signed) -> Page {
    let (auth, admin) = web.acting(&s).await?;
    let lines = admin.compliance_report().await.or_page(&web, &s)?;
    let chrome = web.chrome(&s, &auth, "What my users have due").await;
    Ok(render(&ReportPage { chrome, lines }))
}

/// The same lines as CSV, for a spreadsheet (the owner's records).
async fn csv(State(web): State<Web>, Signed(s): Signed) -> Page {
    let (_, admin) = web.acting(&s).await?;
    let lines = admin.compliance_report().await.or_page(&web, &s)?;
    let mut body = String::from(ComplianceLine::CSV_HEADER);
    body.push_str("\r\n");
    for l in &lines {
        body.push_str(&l.csv());
        body.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"users-due.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
