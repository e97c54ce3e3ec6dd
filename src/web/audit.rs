//! The Help Desk's audit page (issue 30 item 2): the chain's records by actor, mailbox, action
//! and days (calendar days in Washington), with their place in the chain, and the same search
//! as a CSV download. HUD's only (`AdminOp::SearchAudit`): a coordinator or a user is shown
//! the refusal. Filters come in the query string (a GET changes nothing, so no CSRF token).

use super::{render, Chrome, OrPage, Page, Session, Signed, Web};
use crate::admin::Admin;
use crate::audit::{AuditQuery, AuditRecord, Found};
use crate::calendar::parse_iso_date;
use crate::clock::rfc3339;
use crate::error::{Code, Refusal};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

/// Records the page shows at most; the CSV download gives up to `audit.search_max_records`.
const PAGE_RECORDS: u32 = 200;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/helpdesk/audit", get(page))
        .route("/helpdesk/audit.csv", get(csv))
}

/// The filters as the form sends them (empty fields: no filter).
#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    mid: String,
    #[serde(default)]
    mailbox: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

impl Filters {
    fn query(&self) -> Result<AuditQuery, Refusal> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let day = |s: &str, name: &str| match text(s) {
            None => Ok(None),
            Some(d) => parse_iso_date(&d).map(Some).ok_or_else(|| {
                Refusal::because(Code::InvalidInput, format!("{name} is a day as YYYY-MM-DD"))
            }),
        };
        Ok(AuditQuery {
            actor: text(&self.mid),
            mailbox: text(&self.mailbox),
            action: text(&self.action),
            since: day(&self.since, "From")?,
            until: day(&self.until, "Through")?,
        })
    }

    /// The same filters as a query string, for the download link.
    fn query_string(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("mid", &self.mid)
            .append_pair("mailbox", &self.mailbox)
            .append_pair("action", &self.action)
            .append_pair("since", &self.since)
            .append_pair("until", &self.until)
            .finish()
    }
}

/// A record as the page shows it.
struct Line {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    door: String,
    mailbox: String,
    outcome: String,
    detail: String,
    hash: String,
}

impl From<&AuditRecord> for Line {
    fn from(r: &AuditRecord) -> Line {
        let e = &r.entry;
        Line {
            seq: r.seq,
            at: rfc3339(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            door: e.door.clone(),
            mailbox: e.mailbox.clone().unwrap_or_default(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
            hash: r.hash.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    f: Filters,
    csv_link: String,
    lines: Vec<Line>,
    more: bool,
    limit: u32,
}

/// The signed-in person's administration and the search's result, or the page saying why not.
async fn searched(
    web: &Web,
    s: &Session,
    f: &Filters,
    limit: u32,
) -> Result<(Chrome, Admin, Found), Response> {
    let (auth, admin) = web.acting(s).await?;
    let chrome = web.chrome(s, &auth, "Audit records").await;
    let q = f.query().or_page(web, s)?;
    let found = admin.audit_search(&q, limit).await.or_page(web, s)?;
    Ok((chrome, admin, found))
}

async fn page(State(web): State<Web>, Signed(s): Signed, Query(f): Query<Filters>) -> Page {
    let (chrome, _, found) = searched(&web, &s, &f, PAGE_RECORDS).await?;
    Ok(render(&AuditPage {
        chrome,
        csv_link: format!("/helpdesk/audit.csv?{}", f.query_string()),
        f,
        lines: found.records.iter().map(Line::from).collect(),
        more: found.more,
        limit: PAGE_RECORDS,
    }))
}

/// The same search as CSV: a header row, then one record a line.
async fn csv(State(web): State<Web>, Signed(s): Signed, Query(f): Query<Filters>) -> Page {
    let max = web.gw.config().audit.search_max_records;
    let (_, _, found) = searched(&web, &s, &f, max).await?;
    let mut body = format!("{}\r\n", AuditRecord::CSV_HEADER);
    for r in &found.records {
        body.push_str(&r.csv());
        body.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-records.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
