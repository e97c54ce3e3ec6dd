//! What the coordinator and Help Desk pages show: read-only views, with the same visibility
//! rules as the commands (a coordinator sees only its own users and never Rules of Behavior
//! dates, R21).

use super::{missing, Actor, Admin, AdminOp, AdminResult};
use crate::access;
use crate::directory::{Account, AccountKind, AccountStatus, Right};
use crate::directory::{LockReason, MId, PropertyNumber};
use crate::store::mailboxes::MailboxState;
use time::Duration;
use time::OffsetDateTime;

/// One line of the User Last Login Report (R14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub mid: String,
    pub full_name: String,
    pub status: AccountStatus,
    pub last_activity: Option<OffsetDateTime>,
    /// When the M-ID was made: a never-used M-ID's 90 days count from here.
    pub created_at: OffsetDateTime,
    /// Days left before the 90-day inactivity lock (R13), counted from the last use, or from
    /// the M-ID's creation when it was never used; `None` when it is not active (nothing to
    /// count down).
    pub days_until_lock: Option<i64>,
    /// When a lock for failed sign-ins ends by itself (R14's timed lock), if one is in force.
    pub lock_ends: Option<OffsetDateTime>,
    /// Until when addresses the person has not signed in from lately are locked out by
    /// strangers' wrong passwords (the M-ID itself is not locked).
    pub strangers_locked_until: Option<OffsetDateTime>,
}

/// A property as offered on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChoice {
    pub number: String,
    pub name: String,
    /// For a user's page: whether the user is assigned to it.
    pub assigned: bool,
    /// For a user's page: the assignment is flagged for removal at the deadline (R18).
    pub flagged: bool,
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
    /// HUD designated it to certify HUD's staff (a supervisor, OTC or COR).
    pub certifier: bool,
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
        self.permit(AdminOp::MailboxState)?;
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
                flagged: false,
            })
            .collect())
    }

    /// One person, if the actor may manage them (R3, R14).
    pub async fn view_person(&self, mid: &str) -> AdminResult<PersonView> {
        let a: Account = self.account_id(&Self::mid(mid)?).await?;
        self.permit_on(AdminOp::ViewPerson, &a).await?;
        let store = &self.store;
        let assigned = store.operators().assigned_properties(a.id).await?;
        let flagged = store.certifications().flagged_of(a.id).await?;
        let mut properties = self.my_properties().await?;
        for p in &mut properties {
            if let Some(pid) = store
                .mailboxes()
                .property_id(&PropertyNumber::stored(p.number.clone()))
                .await?
            {
                p.assigned = assigned.contains(&pid);
            }
            p.flagged = flagged.contains(&p.number);
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
            certifier: store.internal().is_certifier(a.id).await?,
        })
    }

    /// The Help Desk's search: M-IDs and mailboxes whose ID or name contains `q`.
    pub async fn search(&self, q: &str) -> AdminResult<(Vec<String>, Vec<MailboxState>)> {
        self.permit(AdminOp::Search)?;
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

    /// The TRACSMail IDs unused for `accounts.mailbox_inactive_days` (inactive until the Help
    /// Desk's password reset reactivates them), longest unused first; none when the setting
    /// is 0.
    pub async fn inactive_mailboxes(&self) -> AdminResult<Vec<MailboxState>> {
        self.permit(AdminOp::InactiveMailboxes)?;
        let days = self.config.accounts.mailbox_inactive_days;
        if days == 0 {
            return Ok(Vec::new());
        }
        let cutoff = self.now() - Duration::days(days);
        Ok(self.store.mailboxes().unused_since(cutoff).await?)
    }

    /// The other coordinators of the acting coordinator's properties: (M-ID, name). One who
    /// left is removed from here (R22).
    pub async fn fellow_coordinators(&self) -> AdminResult<Vec<(String, String)>> {
        let (id, _) = self.permit_coordinator(AdminOp::LastLoginReport)?;
        Ok(self.store.operators().fellow_coordinators(id).await?)
    }

    /// The acting coordinator's own actions and roles, each held or not (its "My roles").
    pub async fn my_rights(&self) -> AdminResult<crate::directory::Rights> {
        let (_, me) = self.permit_coordinator(AdminOp::LastLoginReport)?;
        Ok(self.subject(me.as_str()).await?.rights)
    }

    /// The User Last Login Report of the acting coordinator (R14): each of its users with last
    /// activity, state and days until the inactivity lock.
    pub async fn last_login_report(&self) -> AdminResult<Vec<ReportLine>> {
        let (id, _) = self.permit_coordinator(AdminOp::LastLoginReport)?;
        let now = self.now();
        let lock_after = Duration::days(self.config.accounts.inactivity_lock_days);
        let mut lines = Vec::new();
        for mid in self.store.operators().managed_users(id).await? {
            let Some(mid) = MId::parse(&mid) else {
                continue;
            };
            let Some(a) = self.store.accounts().load(&mid).await? else {
                continue;
            };
            let last = a.last_activity_at.unwrap_or(a.created_at);
            let left = (lock_after - (now - last)).whole_days().max(0);
            let status = match access::decide(
                &a,
                access::Door::Browser,
                // As iMAX sees it: R13's lock is a lockout from iMAX.
                access::Operation::OpenImax,
                &self.config.accounts,
                now,
            )
            .transition
            {
                Some(s) => s,
                None => a.status_at(now),
            };
            let days_until_lock = (status == AccountStatus::Active).then_some(left);
            let lock_ends = (status == AccountStatus::Locked(LockReason::FailedSignIns))
                .then_some(a.locked_until)
                .flatten();
            let strangers_locked_until = a.stranger_locked_until.filter(|t| *t > now);
            lines.push(ReportLine {
                mid: a.mid.to_string(),
                full_name: a.full_name,
                status,
                last_activity: a.last_activity_at,
                created_at: a.created_at,
                days_until_lock,
                lock_ends,
                strangers_locked_until,
            });
        }
        Ok(lines)
    }

    /// A one-screen description of an M-ID (never its password or hash).
    ///
    /// A coordinator sees only its own users and never the Rules of Behavior date (R21).
    pub async fn describe_account(&self, mid: &str) -> AdminResult<String> {
        let a = self.account_id(&Self::mid(mid)?).await?;
        self.permit_on(AdminOp::ViewPerson, &a).await?;
        let rights: Vec<&str> = Right::ALL
            .into_iter()
            .filter(|r| a.rights.has(*r))
            .map(|r| r.as_str())
            .collect();
        let t = |o: Option<OffsetDateTime>| {
            o.map(crate::clock::rfc3339)
                .unwrap_or_else(|| "never".into())
        };
        Ok(format!(
            "{mid} ({kind}) {name} <{email}>\n  status: {status:?}, failed sign-ins: {fails}\n  rights: {rights}\n  working group since: {wg}\n  password changed: {pw}\n  last activity: {act}, last sign-in: {si}\n  Rules of Behavior accepted: {rob}\n",
            mid = a.mid,
            kind = a.kind.as_str(),
            name = a.full_name,
            email = a.email,
            status = a.status,
            fails = a.failed_signins,
            rights = if rights.is_empty() { "none".into() } else { rights.join(", ") },
            wg = t(a.working_group_since),
            pw = crate::clock::rfc3339(a.password_changed_at),
            act = t(a.last_activity_at),
            si = t(a.last_signin_at),
            rob = if self.actor.is_hud() {
                t(a.rob_accepted_at)
            } else {
                "(not shown to coordinators)".into()
            },
        ))
    }
}

/// A status as the report shows it.
pub fn status_text(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Locked(LockReason::Inactivity) => "locked (inactive 90 days)",
        AccountStatus::Locked(LockReason::FailedSignIns) => "locked (failed sign-ins)",
        AccountStatus::Locked(LockReason::Administrative) => "locked (by a coordinator)",
        AccountStatus::Locked(LockReason::HelpDesk) => "locked (by the Help Desk)",
        AccountStatus::Terminated => "terminated",
    }
}
