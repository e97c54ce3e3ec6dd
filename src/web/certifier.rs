//! The certifier's page (internal user recertification): a supervisor, OTC or COR the Help
//! Desk designated takes HUD's staff and contractors on, reviews their iMAX role and flags it
//! for removal, and recertifies them in their own yearly window. Every action calls the same
//! [`Admin`] operation as `imax admin … --as`, which decides who may do what.

use super::{
    render, see_other, status_of, when, Checked, Chrome, OrPage, Page, Session, Signed, Web,
};
use crate::admin::{status_text, Actor, Admin, StaffLine};
use crate::directory::{MId, Right};
use crate::error::Refusal;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/certifier", get(page))
        .route("/certifier/take-on", post(take_on))
        .route("/certifier/flag", post(flag))
        .route("/certifier/recertify", post(recertify))
}

struct Row {
    mid: String,
    name: String,
    state: String,
    imax: bool,
    flagged: bool,
    recertified: String,
    /// Recertified for the cycle of now.
    current: bool,
    last: String,
}

#[derive(Template)]
#[template(path = "certifier.html")]
struct CertifierPage {
    chrome: Chrome,
    rows: Vec<Row>,
    window: String,
}

/// What a finished action says (`?done=…&who=…`): composed here, never taken from the query.
#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
    who: Option<String>,
}

impl Done {
    fn sentence(&self) -> Option<String> {
        let who = self.who.as_deref().and_then(MId::parse);
        let who = who
            .as_ref()
            .map(|m| m.as_str())
            .unwrap_or("The staff member");
        Some(match self.done.as_deref()? {
            "taken" => format!("{who} is on your staff."),
            "flag" => format!("The review of {who} was saved."),
            "recertified" => format!("{who} is recertified for this cycle."),
            _ => return None,
        })
    }
}

async fn certifier(web: &Web, s: &Session) -> Result<(Chrome, Admin), Response> {
    let (auth, admin) = web.acting(s).await?;
    if !matches!(admin.actor(), Actor::Certifier { .. }) {
        return Err(see_other("/menu"));
    }
    let chrome = web.chrome(s, &auth, "Staff recertification").await;
    Ok((chrome, admin))
}

fn row(l: StaffLine) -> Row {
    Row {
        imax: l.rights.iter().any(|(r, held)| *r == Right::Imax && *held),
        flagged: l.flagged.contains(&Right::Imax),
        recertified: l
            .recertified_cycle
            .map(|c| format!("for the {c} cycle"))
            .unwrap_or_else(|| "never".into()),
        current: l.recertified_cycle == Some(l.cycle),
        last: l.last_activity.map(when).unwrap_or_else(|| "never".into()),
        state: status_text(l.status).into(),
        mid: l.mid,
        name: l.full_name,
    }
}

/// The page, with a notice or an error in its chrome.
async fn page_with(web: &Web, s: &Session, chrome: Chrome, admin: &Admin) -> Page {
    let staff = admin.my_staff().await.or_page(web, s)?;
    let cfg = &web.gw.config().accounts;
    let open = cfg
        .internal_recertification_window()
        .is_open(web.gw.clock().now());
    let window = format!(
        "{} to {} (MM-DD) each year{}",
        cfg.internal_recertification_opens,
        cfg.internal_recertification_deadline,
        if open { "; it is open now" } else { "" }
    );
    Ok(render(&CertifierPage {
        chrome,
        rows: staff.into_iter().map(row).collect(),
        window,
    }))
}

async fn page(State(web): State<Web>, Signed(s): Signed, Query(d): Query<Done>) -> Page {
    let (mut chrome, admin) = certifier(&web, &s).await?;
    chrome.notice = d.sentence();
    page_with(&web, &s, chrome, &admin).await
}

/// One staff member's M-ID (the forms of this page).
#[derive(Deserialize)]
struct StaffForm {
    mid: String,
    #[serde(default)]
    flag: Option<String>,
}

/// Runs an action and returns to the page with what it did, or the page with why not.
async fn done(web: &Web, s: &Session, r: Result<(), Refusal>, what: &str, mid: &str) -> Page {
    match r {
        Ok(()) => {
            let who: String = form_urlencoded::byte_serialize(mid.as_bytes()).collect();
            Ok(see_other(&format!("/certifier?done={what}&who={who}")))
        }
        Err(e) => {
            let (mut chrome, admin) = certifier(web, s).await?;
            chrome.error = Some(e.message());
            let mut page = match page_with(web, s, chrome, &admin).await {
                Ok(p) | Err(p) => p,
            };
            *page.status_mut() = status_of(e.code);
            Err(page)
        }
    }
}

async fn take_on(State(web): State<Web>, Checked(s, f): Checked<StaffForm>) -> Page {
    let (_, admin) = certifier(&web, &s).await?;
    let mid = f.mid.trim().to_uppercase();
    let r = admin.take_on_staff(&mid).await;
    done(&web, &s, r, "taken", &mid).await
}

async fn flag(State(web): State<Web>, Checked(s, f): Checked<StaffForm>) -> Page {
    let (_, admin) = certifier(&web, &s).await?;
    let on = f.flag.as_deref() == Some("yes");
    let r = admin.flag_staff_right(&f.mid, Right::Imax, on).await;
    done(&web, &s, r, "flag", &f.mid).await
}

async fn recertify(State(web): State<Web>, Checked(s, f): Checked<StaffForm>) -> Page {
    let (_, admin) = certifier(&web, &s).await?;
    let r = admin.recertify_staff(&f.mid).await.map(|_| ());
    done(&web, &s, r, "recertified", &f.mid).await
}
