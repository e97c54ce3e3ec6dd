//! The coordinator's own page: its users with the User Last Login Report and Unlock (R14),
//! its mailboxes, its own roles (R7) and its fellow coordinators (R22).

use super::*;

pub(super) struct ReportRow {
    mid: String,
    name: String,
    state: String,
    last: String,
    days: String,
    locked: bool,
}

#[derive(Template)]
#[template(path = "coordinator.html")]
pub(super) struct MyUsersPage {
    chrome: Chrome,
    mailboxes: Vec<MailboxRow>,
    report: Vec<ReportRow>,
    properties: Vec<crate::admin::PropertyChoice>,
    /// The organizations it has a BPR with (a service bureau's or a CA's coordinator, R3):
    /// (ID, label). Their staff are created by naming the ID as the organization.
    organizations: Vec<(String, String)>,
    rules: String,
    errors: FieldErrors,
    /// The coordinator's own actions and roles: (value, label, held).
    own: Vec<(String, String, bool)>,
    /// The other coordinators of its properties: (M-ID, name).
    fellows: Vec<(String, String)>,
}

/// A mailbox of the coordinator's properties, and whether wrong passwords froze it.
pub(super) struct MailboxRow {
    imax_id: String,
    name: String,
    state: String,
    frozen: bool,
}

impl MailboxRow {
    /// The row of a mailbox as it stands `now`: open, inactive for want of use, or frozen.
    fn of(
        m: crate::admin::MailboxState,
        now: time::OffsetDateTime,
        inactive_days: i64,
    ) -> MailboxRow {
        MailboxRow {
            state: match (m.inactive_at(now, inactive_days), m.frozen_at(now)) {
                (Some(since), _) => format!(
                    "inactive since {} for want of use (the Help Desk reactivates it with a password reset)",
                    when(since)
                ),
                (None, Some(until)) => format!(
                    "frozen after repeated wrong passwords until {} (the Help Desk can reset its password sooner)",
                    when(until)
                ),
                (None, None) => "open".into(),
            },
            frozen: m.frozen_at(now).is_some() || m.inactive_at(now, inactive_days).is_some(),
            imax_id: m.imax_id,
            name: m.name,
        }
    }
}

impl ReportRow {
    /// A line of the User Last Login Report (R13, R14): its state, lock and last activity.
    fn of(l: crate::admin::ReportLine) -> ReportRow {
        ReportRow {
            locked: matches!(l.status, AccountStatus::Locked(_))
                || l.strangers_locked_until.is_some(),
            state: match (l.lock_ends, l.strangers_locked_until) {
                (Some(end), _) => format!("{} until {}", status_text(l.status), when(end)),
                (None, Some(end)) => format!(
                    "{}; locked for unfamiliar addresses (failed sign-ins) until {}",
                    status_text(l.status),
                    when(end)
                ),
                (None, None) => status_text(l.status).into(),
            },
            last: l
                .last_activity
                .map(when)
                .unwrap_or_else(|| format!("never (created {})", when(l.created_at))),
            days: l
                .days_until_lock
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
            mid: l.mid,
            name: l.full_name,
        }
    }
}

pub(super) async fn my_users_page(
    web: &Web,
    s: &Session,
    done: &Done,
    errors: FieldErrors,
    error: Option<String>,
) -> Page {
    let (mut chrome, admin) = coordinator(web, s).await?;
    chrome.notice = done.sentence();
    chrome.error = error;
    let report = admin.last_login_report().await.or_page(web, s)?;
    let properties = admin.my_properties().await.or_page(web, s)?;
    let organizations = admin
        .my_portfolio()
        .await
        .or_page(web, s)?
        .into_iter()
        .filter_map(|(v, label)| Some((v.strip_prefix("organization:")?.to_string(), label)))
        .collect();
    let mailboxes = admin.my_mailboxes().await.or_page(web, s)?;
    let held = admin.my_rights().await.or_page(web, s)?;
    let fellows = admin.fellow_coordinators().await.or_page(web, s)?;
    let own = Right::ALL
        .into_iter()
        .map(|r| {
            (
                r.as_str().to_string(),
                right_label(r).to_string(),
                held.has(r),
            )
        })
        .collect();
    let now = web.gw.clock().now();
    let inactive_days = web.gw.config().accounts.mailbox_inactive_days;
    let mailboxes = mailboxes
        .into_iter()
        .map(|m| MailboxRow::of(m, now, inactive_days))
        .collect();
    let rules =
        crate::directory::password::PasswordRules::for_m_ids(&web.gw.config().accounts).describe();
    Ok(render(&MyUsersPage {
        chrome,
        mailboxes,
        report: report.into_iter().map(ReportRow::of).collect(),
        properties,
        organizations,
        rules,
        errors,
        own,
        fellows,
    }))
}

/// The coordinator's page sent back with what was wrong with its form: marked fields, or a
/// sentence above the page, with the refusal's status.
pub(super) async fn my_users_refused(
    web: &Web,
    s: &Session,
    errors: FieldErrors,
    error: Refusal,
) -> Page {
    let status = status_of(error.code);
    let sentence = (errors.0.is_empty()).then(|| error.message());
    let mut page = my_users_page(web, s, &Done::default(), errors, sentence).await?;
    *page.status_mut() = status;
    Err(page)
}

pub(super) async fn my_users(
    State(web): State<Web>,
    Signed(s): Signed,
    Query(d): Query<Done>,
) -> Page {
    my_users_page(&web, &s, &d, FieldErrors::default(), None).await
}

/// The report's unlock button (and the remove button of a fellow coordinator, and Assigned
/// Staff's buttons): one M-ID.
#[derive(Deserialize)]
pub(super) struct UnlockForm {
    pub(super) mid: String,
}

/// R14: a coordinator unlocks its own users.
pub(super) async fn unlock(State(web): State<Web>, Checked(s, f): Checked<UnlockForm>) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    let mid = f.mid.as_str();
    admin
        .set_status(mid, AccountStatus::Active)
        .await
        .or_page(&web, &s)?;
    Ok(see_other(&format!(
        "/coordinator?done=unlocked&who={}",
        enc(mid)
    )))
}

/// R22: a fellow coordinator who left, removed from the coordinator page.
pub(super) async fn demote_fellow(
    State(web): State<Web>,
    Checked(s, f): Checked<UnlockForm>,
) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    admin.demote(&f.mid).await.or_page(&web, &s)?;
    Ok(see_other(&format!(
        "/coordinator?done=demoted&who={}",
        enc(&f.mid)
    )))
}

/// "My roles": the check boxes of the coordinator's own actions and roles.
#[derive(Deserialize)]
#[serde(from = "Fields")]
pub(super) struct MyRolesForm {
    on: Vec<Right>,
}

impl From<Fields> for MyRolesForm {
    fn from(f: Fields) -> Self {
        MyRolesForm {
            on: f
                .all("right")
                .iter()
                .filter_map(|r| Right::parse(r))
                .collect(),
        }
    }
}

/// R7 (seed Q5): a coordinator turns its own TCC and TCR roles (and its iMAX Coordinator
/// action and iMAX role) on and off; the action is turned on before the role (R5).
pub(super) async fn my_roles(State(web): State<Web>, Checked(s, f): Checked<MyRolesForm>) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    let held = admin.my_rights().await.or_page(&web, &s)?;
    // `Right::ALL` lists the action before the role, so turning both on works in one go.
    for r in Right::ALL {
        if f.on.contains(&r) && !held.has(r) {
            admin.grant_own(r).await.or_page(&web, &s)?;
        }
    }
    for r in Right::ALL.into_iter().rev() {
        if !f.on.contains(&r) && held.has(r) {
            admin.revoke_own(r).await.or_page(&web, &s)?;
        }
    }
    Ok(see_other("/coordinator?done=roles"))
}
