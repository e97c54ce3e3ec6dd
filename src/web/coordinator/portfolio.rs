//! The coordinator's portfolio page (issue 27; R3, R18, R19, R20): Search for User by exact
//! M-ID, taking an existing M-ID on for one of its properties or organizations, Assigned Staff
//! with View and Delete, and this cycle's recertification of each, with whether another
//! coordinator certified the user too ("certified elsewhere: yes/no", never who).

use super::my_users::UnlockForm;
use super::*;
use crate::admin::{FoundPerson, PortfolioLine};

#[derive(Template)]
#[template(path = "portfolio.html")]
pub(super) struct PortfolioPage {
    chrome: Chrome,
    query: String,
    found: Option<FoundPerson>,
    places: Vec<(String, String)>,
    lines: Vec<PortfolioLine>,
}

/// `?mid=…`: Search for User; `?done=…&who=…`: what the last action did.
#[derive(Deserialize, Default)]
pub(super) struct PortfolioQuery {
    #[serde(default)]
    mid: Option<String>,
    #[serde(flatten)]
    done: Done,
}

pub(super) async fn portfolio(
    State(web): State<Web>,
    Signed(s): Signed,
    Query(q): Query<PortfolioQuery>,
) -> Page {
    let (mut chrome, admin) = coordinator(&web, &s).await?;
    chrome.title = "Assigned staff".into();
    chrome.notice = q.done.sentence();
    let query = q.mid.unwrap_or_default().trim().to_uppercase();
    let found = if query.is_empty() {
        None
    } else {
        match admin.find_account(&query).await {
            Ok(f) => Some(f),
            Err(e) => {
                chrome.error = Some(e.message());
                None
            }
        }
    };
    let places = admin.my_portfolio().await.or_page(&web, &s)?;
    let lines = admin.portfolio_recertification().await.or_page(&web, &s)?;
    Ok(render(&PortfolioPage {
        chrome,
        query,
        found,
        places,
        lines,
    }))
}

/// Take on: the M-ID found, and one place of the portfolio (`property:N` or
/// `organization:ID`).
#[derive(Deserialize)]
pub(super) struct TakeOnForm {
    mid: String,
    to: String,
}

/// R3, R20: an existing M-ID taken on (assigned, made staff, certified at once).
pub(super) async fn take_on(State(web): State<Web>, Checked(s, f): Checked<TakeOnForm>) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    let mid = f.mid.trim().to_uppercase();
    let done = match f.to.split_once(':') {
        Some(("property", number)) => admin.assign_property(&mid, number, true).await,
        Some(("organization", org)) => admin.assign_organization(&mid, org, true).await,
        _ => Err(Refusal::because(
            Code::InvalidInput,
            "Choose one of your properties or organizations",
        )),
    };
    done.or_page(&web, &s)?;
    Ok(see_other(&format!(
        "/coordinator/portfolio?done=taken&who={}",
        enc(&mid)
    )))
}

/// Assigned Staff's Delete (R18): the user leaves this coordinator's portfolio only.
pub(super) async fn release(State(web): State<Web>, Checked(s, f): Checked<UnlockForm>) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    admin.release_staff(&f.mid).await.or_page(&web, &s)?;
    Ok(see_other(&format!(
        "/coordinator/portfolio?done=released&who={}",
        enc(&f.mid)
    )))
}

/// R18's last step from the portfolio page: certify for this coordinator's portfolio.
pub(super) async fn certify(State(web): State<Web>, Checked(s, f): Checked<UnlockForm>) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    admin.recertify(&f.mid).await.or_page(&web, &s)?;
    Ok(see_other(&format!(
        "/coordinator/portfolio?done=recertified&who={}",
        enc(&f.mid)
    )))
}
