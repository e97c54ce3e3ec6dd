//! Coordinator pages (R3, R5, R7, R14, R17–R19): my users with the User Last Login Report and
//! Unlock, creating users, actions and roles, property assignments, recertification. The
//! person page and its actions serve the Help Desk too (under `/helpdesk/people/`). Every
//! action calls the same [`Admin`] operation as `imax admin … --as`, which decides who may do
//! what.

use super::{
    render, see_other, status_of, when, Button, Checked, Chrome, FieldErrors, OrPage, Page,
    Session, Signed, Web,
};
use crate::admin::{status_text, Actor, Admin, AdminResult, NewPerson, PersonView};
use crate::directory::password::Secret;
use crate::directory::{AccountKind, AccountStatus, LockReason, MId, Right};
use crate::error::{Code, Refusal};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    let mut r = Router::new()
        .route("/coordinator", get(my_users))
        .route("/coordinator/unlock", post(unlock))
        .route("/coordinator/roles", post(my_roles))
        .route("/coordinator/demote", post(demote_fellow))
        .route("/coordinator/users", post(create_user));
    for base in ["/coordinator/users/{mid}", "/helpdesk/people/{mid}"] {
        r = r
            .route(base, get(person))
            .route(&format!("{base}/status"), post(set_status))
            .route(&format!("{base}/admit"), post(admit))
            .route(&format!("{base}/right"), post(change_right))
            .route(&format!("{base}/flag"), post(flag))
            .route(&format!("{base}/flag-property"), post(flag_property))
            .route(&format!("{base}/properties"), post(properties))
            .route(&format!("{base}/staff"), post(staff))
            .route(&format!("{base}/recertify"), post(recertify))
            .route(&format!("{base}/demote"), post(demote))
            .route(&format!("{base}/certifier"), post(designate))
            .route(&format!("{base}/password"), post(temporary_password));
    }
    r
}

/// A submitted form as name/value pairs, repeated names (check boxes) kept: what the typed
/// forms with check boxes are read from (`#[serde(from = "Fields")]`), since a urlencoded
/// struct cannot hold a repeated name.
struct Fields(Vec<(String, String)>);

/// Repeated names (checkboxes) are kept in order, so `all` sees each.
impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        Vec::<(String, String)>::deserialize(d).map(Fields)
    }
}

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// What a finished action says on the page it returns to (`?done=…&who=…`): the sentence is
/// composed here, never taken from the query.
#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
    pub who: Option<String>,
}

impl Done {
    pub fn sentence(&self) -> Option<String> {
        let who = self.who.as_deref().and_then(MId::parse);
        let who = who.as_ref().map(|m| m.as_str()).unwrap_or("The M-ID");
        let s = match self.done.as_deref()? {
            "unlocked" => format!("{who} is unlocked."),
            "created" => format!("{who} was created. Give them the temporary password in person or by phone; they change it when they first sign in."),
            "status" => format!("The state of {who} was changed."),
            "admitted" => format!("{who} is in the iMAX working group."),
            "rights" => format!("The rights of {who} were changed."),
            "roles" => "Your own actions and roles were saved.".into(),
            "certifier" => format!("The designation of {who} as a certifier of HUD's staff was changed."),
            "demoted" => format!("{who} is no longer a coordinator: its Business Partner Relationships, property assignments and rights were removed."),
            "flag" => format!("The recertification flags of {who} were changed."),
            "properties" => format!("The property assignments of {who} were saved."),
            "staff" => format!("{who} is on your staff."),
            "recertified" => format!("{who} is recertified for this cycle."),
            "password" => format!("{who} has a temporary password and must change it at the next sign-in."),
            "broadcast" => "The broadcast was posted to every mailbox.".into(),
            "reset" => "The mailbox's new password was mailed to the profile's email address.".into(),
            "ownership" => "The property now belongs to its new TRACSMail ID; the old owner's users and coordinators no longer have it.".into(),
            _ => return None,
        };
        Some(s)
    }
}

struct ReportRow {
    mid: String,
    name: String,
    state: String,
    last: String,
    days: String,
    locked: bool,
}

#[derive(Template)]
#[template(path = "coordinator.html")]
struct MyUsersPage {
    chrome: Chrome,
    mailboxes: Vec<MailboxRow>,
    report: Vec<ReportRow>,
    properties: Vec<crate::admin::PropertyChoice>,
    rules: String,
    errors: FieldErrors,
    /// The coordinator's own actions and roles: (value, label, held).
    own: Vec<(String, String, bool)>,
    /// The other coordinators of its properties: (M-ID, name).
    fellows: Vec<(String, String)>,
}

/// A mailbox of the coordinator's properties, and whether wrong passwords froze it.
struct MailboxRow {
    imax_id: String,
    name: String,
    state: String,
    frozen: bool,
}

async fn coordinator(web: &Web, s: &Session) -> Result<(Chrome, Admin), Response> {
    let (auth, admin) = web.acting(s).await?;
    if !matches!(admin.actor(), Actor::Coordinator { .. }) {
        return Err(see_other("/helpdesk"));
    }
    let chrome = web.chrome(s, &auth, "My users").await;
    Ok((chrome, admin))
}

async fn my_users_page(
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
        .map(|m| MailboxRow {
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
        })
        .collect();
    let rules =
        crate::directory::password::PasswordRules::for_m_ids(&web.gw.config().accounts).describe();
    Ok(render(&MyUsersPage {
        chrome,
        mailboxes,
        report: report
            .into_iter()
            .map(|l| ReportRow {
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
            })
            .collect(),
        properties,
        rules,
        errors,
        own,
        fellows,
    }))
}

/// The coordinator's page sent back with what was wrong with its form: marked fields, or a
/// sentence above the page, with the refusal's status.
async fn my_users_refused(web: &Web, s: &Session, errors: FieldErrors, error: Refusal) -> Page {
    let status = status_of(error.code);
    let sentence = (errors.0.is_empty()).then(|| error.message());
    let mut page = my_users_page(web, s, &Done::default(), errors, sentence).await?;
    *page.status_mut() = status;
    Err(page)
}

async fn my_users(State(web): State<Web>, Signed(s): Signed, Query(d): Query<Done>) -> Page {
    my_users_page(&web, &s, &d, FieldErrors::default(), None).await
}

/// The report's unlock button (and the remove button of a fellow coordinator): one M-ID.
#[derive(Deserialize)]
struct UnlockForm {
    mid: String,
}

/// R14: a coordinator unlocks its own users.
async fn unlock(State(web): State<Web>, Checked(s, f): Checked<UnlockForm>) -> Page {
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
async fn demote_fellow(State(web): State<Web>, Checked(s, f): Checked<UnlockForm>) -> Page {
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
struct MyRolesForm {
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
async fn my_roles(State(web): State<Web>, Checked(s, f): Checked<MyRolesForm>) -> Page {
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

/// The new user form.
#[derive(Deserialize)]
#[serde(from = "Fields")]
struct NewUserForm {
    mid: String,
    full_name: String,
    email: String,
    organization: String,
    password: Secret,
    properties: Vec<String>,
    grant_imax: bool,
}

impl From<Fields> for NewUserForm {
    fn from(f: Fields) -> Self {
        NewUserForm {
            mid: f.get("mid").trim().to_uppercase(),
            full_name: f.get("full_name").trim().into(),
            email: f.get("email").trim().into(),
            organization: f.get("organization").trim().into(),
            password: Secret::new(f.get("password").to_string()),
            properties: f.all("property"),
            grant_imax: f.get("grant_imax") == "yes",
        }
    }
}

/// R3: a coordinator creates users for its BPR properties; R5: the iMAX role follows.
async fn create_user(State(web): State<Web>, Checked(s, f): Checked<NewUserForm>) -> Page {
    let (_, admin) = coordinator(&web, &s).await?;
    let mid = f.mid;
    if MId::parse(&mid).is_none() {
        let sentence = "An M-ID is M followed by digits, e.g. M12345.";
        let refusal = Refusal::because(Code::InvalidInput, sentence);
        return my_users_refused(&web, &s, FieldErrors::one("mid", sentence), refusal).await;
    }
    let person = NewPerson {
        mid: mid.clone(),
        kind: AccountKind::User,
        full_name: f.full_name,
        email: f.email,
        organization: f.organization,
        password: f.password,
        temporary: true,
        properties: f.properties,
        // A coordinator makes industry M-IDs only (`Admin::create_account` refuses others).
        affiliation: None,
    };
    let result = match admin.create_account(&person).await {
        Ok(()) if f.grant_imax => admin.grant(&mid, Right::Imax).await,
        other => other,
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/coordinator?done=created&who={}",
            enc(&mid)
        ))),
        Err(e) if e.code == Code::PasswordRejected => {
            let marked = FieldErrors::one("password", e.message());
            my_users_refused(&web, &s, marked, e).await
        }
        Err(e) => my_users_refused(&web, &s, FieldErrors::default(), e).await,
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

struct RightRow {
    name: &'static str,
    label: &'static str,
    held: bool,
    flagged: bool,
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
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

fn right_label(r: Right) -> &'static str {
    match r {
        Right::ImaxCoordinator => "iMAX Coordinator (action)",
        Right::Imax => "iMAX (role)",
        Right::Tcc => "TRACS Coordinator (TCC)",
        Right::Tcr => "TRACS Recertification (TCR)",
    }
}

/// The path prefix of the person pages for this actor.
fn base_for(admin: &Admin, mid: &str) -> String {
    match admin.actor() {
        Actor::Coordinator { .. } => format!("/coordinator/users/{mid}"),
        _ => format!("/helpdesk/people/{mid}"),
    }
}

async fn person(
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
            if help_desk {
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

/// Runs one person action (its form already CSRF-checked) and redirects back to the person
/// page.
async fn act<Form, F, Fut>(web: &Web, s: &Session, mid: &str, form: Form, done: &str, f: F) -> Page
where
    F: FnOnce(Admin, Form) -> Fut,
    Fut: std::future::Future<Output = AdminResult<()>>,
{
    let (_, admin) = web.acting(s).await?;
    let base = base_for(&admin, mid);
    f(admin, form).await.or_page(web, s)?;
    Ok(see_other(&format!("{base}?done={done}&who={}", enc(mid))))
}

/// A person page's action: `$name` is the handler, `$done` what the page then says, `$form`
/// the typed form it takes, and the body acts through the `Admin` on the person `$mid`.
macro_rules! person_action {
    ($name:ident, $done:literal, $form:ty, |$admin:ident, $mid:ident, $f:ident| $body:expr) => {
        async fn $name(
            State(web): State<Web>,
            Path(mid): Path<String>,
            Checked(s, form): Checked<$form>,
        ) -> Page {
            act(
                &web,
                &s,
                &mid.clone(),
                form,
                $done,
                |$admin, $f| async move {
                    let $mid = mid.as_str();
                    $body
                },
            )
            .await
        }
    };
}

/// The state buttons: unlock (or restore), lock, terminate.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum StateChoice {
    Active,
    Locked,
    Terminated,
}

#[derive(Deserialize)]
struct StatusForm {
    to: StateChoice,
}

/// A right's buttons: give or remove, and flag for removal or keep.
#[derive(Deserialize)]
struct RightForm {
    right: String,
    #[serde(default)]
    change: Option<Change>,
    #[serde(default)]
    flag: Option<YesNo>,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Change {
    Grant,
    Revoke,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum YesNo {
    Yes,
    No,
}

impl RightForm {
    fn right(&self) -> AdminResult<Right> {
        Right::parse(&self.right)
            .ok_or_else(|| Refusal::because(Code::InvalidInput, "There is no such right"))
    }
}

/// The properties' check boxes: the ones ticked.
#[derive(Deserialize)]
#[serde(from = "Fields")]
struct PropertiesForm {
    chosen: Vec<String>,
}

impl From<Fields> for PropertiesForm {
    fn from(f: Fields) -> Self {
        PropertiesForm {
            chosen: f.all("property"),
        }
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    password: Secret,
}

person_action!(set_status, "status", StatusForm, |admin, mid, f| {
    let to = match f.to {
        StateChoice::Active => AccountStatus::Active,
        StateChoice::Locked => AccountStatus::Locked(LockReason::Administrative),
        StateChoice::Terminated => AccountStatus::Terminated,
    };
    admin.set_status(mid, to).await
});

person_action!(admit, "admitted", Button, |admin, mid, _f| admin
    .admit(mid)
    .await);

person_action!(change_right, "rights", RightForm, |admin, mid, f| {
    let right = f.right()?;
    match f.change {
        Some(Change::Grant) => admin.grant(mid, right).await,
        Some(Change::Revoke) => admin.revoke(mid, right).await,
        None => Err(Refusal::because(
            Code::InvalidInput,
            "Give or remove the right",
        )),
    }
});

person_action!(flag, "flag", RightForm, |admin, mid, f| {
    let right = f.right()?;
    admin
        .flag_right(mid, right, f.flag == Some(YesNo::Yes))
        .await
});

/// A property assignment's review button: flag for removal at the deadline, or keep.
#[derive(Deserialize)]
struct FlagPropertyForm {
    property: String,
    flag: YesNo,
}

person_action!(flag_property, "flag", FlagPropertyForm, |admin, mid, f| {
    admin
        .flag_assignment(mid, f.property.trim(), f.flag == YesNo::Yes)
        .await
});

person_action!(properties, "properties", PropertiesForm, |admin, mid, f| {
    let chosen = f.chosen;
    let person = admin.view_person(mid).await?;
    for p in person.properties {
        let want = chosen.contains(&p.number);
        if want != p.assigned {
            admin.assign_property(mid, &p.number, want).await?;
        }
    }
    Ok(())
});

/// The Help Desk's designation of an H-ID as a certifier of HUD's staff.
#[derive(Deserialize)]
struct DesignateForm {
    on: YesNo,
}

person_action!(designate, "certifier", DesignateForm, |admin, mid, f| {
    admin.designate_certifier(mid, f.on == YesNo::Yes).await
});

person_action!(demote, "demoted", Button, |admin, mid, _f| admin
    .demote(mid)
    .await);

person_action!(staff, "staff", Button, |admin, mid, _f| admin
    .assign_staff(mid)
    .await);

person_action!(recertify, "recertified", Button, |admin, mid, _f| admin
    .recertify(mid)
    .await
    .map(|_| ()));

person_action!(
    temporary_password,
    "password",
    PasswordForm,
    |admin, mid, f| admin.set_password(mid, &f.password, true).await
);
