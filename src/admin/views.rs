//! What the coordinator and Help Desk pages show: read-only views, with the same visibility
//! rules as the commands (a coordinator sees only its own users and never Rules of Behavior
//! dates, R21).

use super::{missing, Actor, Admin, AdminResult};
use crate::directory::{Account, AccountKind, AccountStatus, Right};
use crate::store::mailboxes::MailboxState;
use time::OffsetDateTime;

/// A property as offered on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChoice {
    pub number: String,
    pub name: String,
    /// For a user's page: whether the user is assigned to it.
    pub assigned: bool,
}

/// A person as a coordinator or the Help Desk sees them.
#[derive(Debug, Clone)]
pub struct PersonView {
    pub mid: String,
    pub kind: AccountKind,
    pub full_name: String,
    pub email: String,
    pub status: AccountStatus,
    pub rights: Vec<(Right, bool)>,
    pub flagged: Vec<Right>,
    pub last_activity: Option<OffsetDateTime>,
    pub recertified_cycle: Option<i32>,
    /// Shown to HUD only (R21).
    pub rob_accepted: Option<Option<OffsetDateTime>>,
    pub working_group_since: Option<OffsetDateTime>,
    /// The acting coordinator's BPR properties, with the person's assignment to each.
    pub properties: Vec<PropertyChoice>,
    /// Whether the acting coordinator has this user among its staff (R18's first step).
    pub is_my_staff: bool,
}

impl Admin {
    /// The mailboxes of the acting coordinator's BPR properties, with their freezes.
    pub async fn my_mailboxes(&self) -> AdminResult<Vec<MailboxState>> {
        let Actor::Coordinator { id, .. } = &self.actor else {
            return Ok(Vec::new());
        };
        Ok(self.store.mailboxes().states_of_coordinator(*id).await?)
    }

    /// One mailbox's state, for the Help Desk.
    pub async fn mailbox_state(&self, imax_id: &str) -> AdminResult<MailboxState> {
        self.require_hud()?;
        self.store
            .mailboxes()
            .state(imax_id)
            .await?
            .ok_or_else(|| missing(format!("mailbox {imax_id}")))
    }

    /// The acting coordinator's BPR properties (R3): where it may create and assign users.
    pub async fn my_properties(&self) -> AdminResult<Vec<PropertyChoice>> {
        let Actor::Coordinator { id, .. } = &self.actor else {
            return Ok(Vec::new());
        };
        let properties = self.store.operators().bpr_property_names(*id).await?;
        Ok(properties
            .into_iter()
            .map(|(number, name)| PropertyChoice {
                number,
                name,
                assigned: false,
            })
            .collect())
    }

    /// One person, if the actor may manage them (R3, R14).
    pub async fn view_person(&self, mid: &str) -> AdminResult<PersonView> {
        let a: Account = self.account_id(&Self::mid(mid)?).await?;
        self.may_manage(&a).await?;
        let store = &self.store;
        let assigned = store.operators().assigned_properties(a.id).await?;
        let mut properties = self.my_properties().await?;
        for p in &mut properties {
            if let Some(pid) = store.mailboxes().property_id(&p.number).await? {
                p.assigned = assigned.contains(&pid);
            }
        }
        let is_my_staff = match &self.actor {
            Actor::Coordinator { id, .. } => store.operators().manages(*id, a.id).await?,
            _ => false,
        };
        Ok(PersonView {
            mid: a.mid.to_string(),
            kind: a.kind,
            full_name: a.full_name.clone(),
            email: a.email.clone(),
            status: a.status,
            rights: Right::ALL
                .into_iter()
                .map(|r| (r, a.rights.has(r)))
                .collect(),
            flagged: a.flagged.iter().map(|(r, _)| *r).collect(),
            last_activity: a.last_activity_at,
            recertified_cycle: a.recertified_cycle,
            rob_accepted: self.actor.is_hud().then_some(a.rob_accepted_at),
            working_group_since: a.working_group_since,
            properties,
            is_my_staff,
        })
    }

    /// The Help Desk's search: M-IDs and mailboxes whose ID or name contains `q`.
    pub async fn search(&self, q: &str) -> AdminResult<(Vec<String>, Vec<MailboxState>)> {
        self.require_hud()?;
        let q = q.trim();
        if q.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let like = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let store = &self.store;
        let people = store.accounts().search(&like).await?;
        let mailboxes = store.mailboxes().search_states(&like).await?;
        Ok((people, mailboxes))
    }
}
