//! The person page: one M-ID's state, rights, flags and property assignments, for its
//! coordinator or the Help Desk.

use super::*;

pub(super) struct RightRow {
    name: &'static str,
    label: &'static str,
    held: bool,
    flagged: bool,
}

#[derive(Template)]
#[template(path = "person.html")]
pub(super) struct PersonPage {
    chrome: Chrome,
    p: PersonView,
    base: String,
    kind: String,
    state: String,
    last_activity: String,
    recertified: String,
    working_group: String,
    rob: Option<String>,
    rights: Vec<RightRow>,
    status_actions: Vec<(&'static str, &'static str)>,
    coordinator: bool,
    help_desk: bool,
}

pub(super) async fn person(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(mid): Path<String>,
    Query(d): Query<Done>,
) -> Page {
    let (auth, admin) = web.acting(&s).await?;
    let p = admin.view_person(&mid).await.or_page(&web, &s)?;
    let mut chrome = web
        .chrome(&s, &auth, &format!("{} — {}", p.mid, p.full_name))
        .await;
    chrome.notice = d.sentence();
    let coordinator = matches!(admin.actor(), Actor::Coordinator { .. });
    let help_desk = admin.actor().is_hud();
    let mut status_actions = Vec::new();
    match p.status {
        AccountStatus::Active => status_actions.push(("locked", "Lock")),
        AccountStatus::Locked(_) => status_actions.push(("active", "Unlock")),
        AccountStatus::Terminated => {
            // R16: REAC-TAC restores, not the Help Desk.
            if matches!(admin.actor(), Actor::ReacTac(_)) {
                status_actions.push(("active", "Restore"));
            }
        }
    }
    if help_desk && p.status != AccountStatus::Terminated {
        status_actions.push(("terminated", "Terminate"));
    }
    let rights = p
        .rights
        .iter()
        .filter(|(r, _)| {
            p.kind == AccountKind::Coordinator || !matches!(r, Right::Tcc | Right::Tcr)
        })
        .map(|(r, held)| RightRow {
            name: r.as_str(),
            label: right_label(*r),
            held: *held,
            flagged: p.flagged.contains(r),
        })
        .collect();
    let page = PersonPage {
        chrome,
        base: base_for(&admin, &p.mid),
        kind: p.kind.as_str().into(),
        state: status_text(p.status).into(),
        last_activity: p.last_activity.map(when).unwrap_or_else(|| "never".into()),
        recertified: p
            .recertified_cycle
            .map(|c| format!("for the {c} cycle"))
            .unwrap_or_else(|| "never".into()),
        working_group: p
            .working_group_since
            .map(|t| format!("admitted {}", when(t)))
            .unwrap_or_else(|| "automatic once the iMAX role is 24 hours old".into()),
        rob: p.rob_accepted.map(|t| {
            t.map(|t| format!("accepted {}", when(t)))
                .unwrap_or_else(|| "never accepted".into())
        }),
        rights,
        status_actions,
        coordinator,
        help_desk,
        p,
    };
    Ok(render(&page))
}
