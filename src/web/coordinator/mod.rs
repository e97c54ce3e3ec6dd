//! Coordinator pages (R3, R5, R7, R14, R17–R19): my users with the User Last Login Report and
//! Unlock, creating users, actions and roles, property assignments, recertification. The
//! person page and its actions serve the Help Desk too (under `/helpdesk/people/`). Every
//! action calls the same [`Admin`] operation as `imax admin … --as`, which decides who may do
//! what.

mod my_users;
mod new_user;
mod person;
mod person_actions;

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
use my_users::{demote_fellow, my_roles, my_users, unlock};
use new_user::create_user;
use person::person;
use person_actions::*;
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

async fn coordinator(web: &Web, s: &Session) -> Result<(Chrome, Admin), Response> {
    let (auth, admin) = web.acting(s).await?;
    if !matches!(admin.actor(), Actor::Coordinator { .. }) {
        return Err(see_other("/helpdesk"));
    }
    let chrome = web.chrome(s, &auth, "My users").await;
    Ok((chrome, admin))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
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
