//! People (M-IDs): making them, their passwords, their state and their property assignments.
//!
//! R2 (one to five coordinators per property before any user), R3 (coordinators act for their
//! own users, on properties they have a BPR with), R4 (only HUD makes a coordinator), R14
//! (coordinators unlock their users; the Help Desk unlocks coordinators), R16 (only the Help
//! Desk terminates or restores an M-ID), R22 (property assignments). Who may do each is in
//! `permissions.rs`.

use super::portfolio::Portfolio;
use super::{
    exists, forbidden, invalid, missing, unique_violation, Actor, Admin, AdminOp, AdminResult,
};
use crate::audit::Action;
use crate::directory::password::{PasswordRules, Secret};
use crate::directory::{AccountKind, AccountStatus, Affiliation, LockReason, MId, Organization};
use crate::error::{Code, Refusal};
use crate::store::accounts;

/// The most coordinators one property may have (R2).
pub const MAX_COORDINATORS: usize = 5;

/// A new M-ID.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub mid: String,
    pub kind: AccountKind,
    pub full_name: String,
    pub email: String,
    pub organization: String,
    pub password: Secret,
    /// The password expires at once: the person must change it first (R15).
    pub temporary: bool,
    /// Property numbers: a coordinator's Business Partner Relationships, or a user's
    /// property assignments.
    pub properties: Vec<String>,
    /// HUD staff, contractor or industry; `None`: the one the ID's letter is issued for
    /// (`H`, `C`, `M`), which must agree with it. Only HUD (the operator or the Help Desk)
    /// makes other than industry M-IDs.
    pub affiliation: Option<Affiliation>,
}

impl Admin {
    pub(super) async fn property_ids(&self, numbers: &[String]) -> AdminResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(numbers.len());
        for n in numbers {
            let n = Self::property(n)?;
            ids.push(
                self.store
                    .mailboxes()
                    .property_id(&n)
                    .await?
                    .ok_or_else(|| missing(format!("property {n}")))?,
            );
        }
        Ok(ids)
    }

    fn rules(&self) -> PasswordRules {
        PasswordRules::for_m_ids(&self.config.accounts)
    }

    /// R2: at most five coordinators per owner or agent across its properties (per property
    /// for one that has neither); refuses if any of these properties' is full, unless
    /// `coordinator` is counted there already.
    pub(super) async fn room_for_coordinators(
        &self,
        numbers: &[String],
        ids: &[i64],
        coordinator: Option<i64>,
    ) -> AdminResult<()> {
        for (number, id) in numbers.iter().zip(ids) {
            let orgs = self.store.organizations().of_property(*id).await?;
            for o in &orgs {
                self.room_in_organization(o, coordinator).await?;
            }
            let now = self.store.operators().coordinators_of(*id).await?;
            let counted = coordinator.is_some_and(|c| now.contains(&c));
            if orgs.is_empty() && !counted && now.len() >= MAX_COORDINATORS {
                return Err(forbidden(format!(
                    "property {number} already has {MAX_COORDINATORS} coordinators, the most allowed (R2)."
                )));
            }
        }
        Ok(())
    }

    /// The affiliation a new M-ID is made with (issue 25: authority follows the account, not
    /// its name): HUD staff and contractors are HUD's to make (the operator or the Help Desk),
    /// never a coordinator's, and the ID's letter must agree with the affiliation.
    fn affiliation_for(&self, mid: &MId, asked: Option<Affiliation>) -> AdminResult<Affiliation> {
        let letter = mid.as_str().chars().next().unwrap_or('M');
        let affiliation = asked.unwrap_or(Affiliation::issued_with(letter));
        let hud = matches!(self.actor, Actor::Operator | Actor::HelpDesk(_));
        if affiliation != Affiliation::Industry && !hud {
            return Err(forbidden(format!(
                "only HUD (the Help Desk) makes HUD staff and contractor IDs; a coordinator makes industry M-IDs (M…), not {mid}."
            )));
        }
        if affiliation.id_letter() != letter {
            return Err(invalid(format!(
                "{mid} does not fit the affiliation {}: its ID must begin with {}.",
                affiliation.as_str(),
                affiliation.id_letter()
            )));
        }
        Ok(affiliation)
    }

    /// Who will manage a new person, and the organization it is assigned to (if any): the
    /// acting coordinator, for its BPR properties or the organization it has a BPR with (R3);
    /// for HUD, the coordinators of the properties (one at least, R2) and of the person's
    /// service bureau or CA.
    async fn managers_of_new(
        &self,
        p: &NewPerson,
        properties: &[i64],
        employer: Option<&Organization>,
    ) -> AdminResult<(Vec<i64>, Option<Organization>)> {
        let store = &self.store;
        let mut managers: Vec<i64> = Vec::new();
        match (p.kind, &self.actor) {
            (AccountKind::Coordinator, _) => {
                self.room_for_coordinators(&p.properties, properties, None)
                    .await?;
                Ok((managers, None))
            }
            (AccountKind::User, Actor::Coordinator { id, mid: me }) => {
                let mine = store.organizations().partner_organizations(*id).await?;
                let org = employer.filter(|e| mine.iter().any(|m| m.id == e.id));
                if properties.is_empty() && org.is_none() {
                    return Err(invalid(
                        "a coordinator creates a user for one or more of its properties, or for the organization it has a Business Partner Relationship with (R3): name them",
                    ));
                }
                let bpr = store.operators().bpr_properties(*id).await?;
                for (number, pid) in p.properties.iter().zip(properties) {
                    if !bpr.contains(pid) {
                        return Err(forbidden(format!(
                            "{me} has no Business Partner Relationship with property {number} (R3)."
                        )));
                    }
                }
                managers.push(*id);
                Ok((managers, org.cloned()))
            }
            (AccountKind::User, _) => {
                for (number, pid) in p.properties.iter().zip(properties) {
                    let coordinators = store.operators().coordinators_of(*pid).await?;
                    if coordinators.is_empty() {
                        return Err(forbidden(format!(
                            "property {number} has no coordinator yet; set one up before any user (R2)."
                        )));
                    }
                    managers.extend(coordinators);
                }
                let org = employer.filter(|e| !e.kind.has_properties()).cloned();
                if let Some(o) = &org {
                    managers.extend(store.organizations().coordinators_of(o.id).await?);
                }
                Ok((managers, org))
            }
        }
    }

    /// Creates an M-ID. Coordinators are HUD's to create (R4) with their BPRs, at most five per
    /// owner or agent (R2); users are created by a coordinator for properties (or the
    /// organization) it has a BPR with (R3), or by HUD for properties that already have a
    /// coordinator (R2). An `organization` that is an organization's ID makes it the employer.
    pub async fn create_account(&self, p: &NewPerson) -> AdminResult<()> {
        let mid = Self::mid(&p.mid)?;
        let affiliation = self.affiliation_for(&mid, p.affiliation)?;
        let properties = self.property_ids(&p.properties).await?;
        let store = &self.store;
        self.permit(match p.kind {
            AccountKind::Coordinator => AdminOp::CreateCoordinator,
            AccountKind::User => AdminOp::CreateUser,
        })?;
        let employer = self.organization_named(&p.organization).await?;
        let (mut managers, org) = self
            .managers_of_new(p, &properties, employer.as_ref())
            .await?;
        let rules = self.rules();
        rules
            .check(mid.as_str(), p.password.expose())
            .map_err(|why| {
                Refusal::because(
                    Code::PasswordRejected,
                    format!("{why} {}", rules.describe()),
                )
            })?;
        let a = accounts::NewAccount {
            mid: mid.clone(),
            kind: p.kind,
            affiliation,
            full_name: p.full_name.clone(),
            email: p.email.clone(),
            organization: p.organization.clone(),
            password_hash: self.hash(&p.password).await?,
            password_is_current: !p.temporary,
        };
        let audit = self.entry(Action::CreateAccount).detail(format!(
            "mid={mid} kind={} affiliation={} properties={} organization={}",
            p.kind.as_str(),
            affiliation.as_str(),
            p.properties.join(","),
            employer.as_ref().map_or("-", |e| e.org_id.as_str())
        ));
        let id = match store.accounts().create(&a, self.now(), &audit).await {
            Err(e) if unique_violation(&e) => return Err(exists(mid.to_string())),
            r => r?,
        };
        self.place_new(&mid, id, p, &properties, employer.as_ref(), org.as_ref())
            .await?;
        managers.sort_unstable();
        managers.dedup();
        for m in managers {
            let audit = self
                .entry(Action::AssignStaff)
                .detail(format!("user={mid} coordinator-id={m}"));
            store.operators().link(m, id, self.now(), &audit).await?;
        }
        Ok(())
    }

    /// A new person's place: its employer, its BPRs (a coordinator) or assignments (a user),
    /// and its organization assignment.
    async fn place_new(
        &self,
        mid: &MId,
        id: i64,
        p: &NewPerson,
        properties: &[i64],
        employer: Option<&Organization>,
        org: Option<&Organization>,
    ) -> AdminResult<()> {
        let store = &self.store;
        if let Some(e) = employer {
            let audit = self
                .entry(Action::SetEmployer)
                .detail(format!("mid={mid} organization={}", e.org_id));
            store
                .organizations()
                .set_employer(id, Some(e.id), &audit)
                .await?;
        }
        for (number, pid) in p.properties.iter().zip(properties) {
            if p.kind == AccountKind::Coordinator {
                let audit = self
                    .entry(Action::AddBusinessPartner)
                    .detail(format!("mid={mid} property={number}"));
                store
                    .mailboxes()
                    .add_business_partner(id, *pid, &audit)
                    .await?;
            } else {
                let audit = self.entry(Action::AssignProperty).detail(format!(
                    "mid={mid} property={number} before=false after=true"
                ));
                store
                    .operators()
                    .set_property_assignment(id, *pid, true, &audit)
                    .await?;
            }
        }
        if let Some(o) = org {
            let audit = self.entry(Action::AssignOrganization).detail(format!(
                "mid={mid} organization={} before=false after=true",
                o.org_id
            ));
            store
                .organizations()
                .set_assignment(id, o.id, true, &audit)
                .await?;
        }
        Ok(())
    }

    /// Sets an M-ID's password; `temporary` makes it expire at once so the person must change
    /// it before anything else (R15). A coordinator resets only its users' passwords, and
    /// always as temporary ones.
    pub async fn set_password(
        &self,
        mid: &str,
        password: &Secret,
        temporary: bool,
    ) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.permit_on(AdminOp::SetPassword, &account).await?;
        let temporary = temporary || matches!(self.actor, Actor::Coordinator { .. });
        let rules = self.rules();
        rules
            .check(account.mid.as_str(), password.expose())
            .map_err(|why| {
                Refusal::because(
                    Code::PasswordRejected,
                    format!("{why} {}", rules.describe()),
                )
            })?;
        let audit = self
            .entry(Action::SetPassword)
            .detail(format!("mid={} temporary={temporary}", account.mid));
        let hash = self.hash(password).await?;
        self.store
            .accounts()
            .set_password(account.id, &hash, !temporary, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Unlocks, locks, terminates or restores an M-ID.
    ///
    /// R14: a coordinator unlocks (and may lock) its own users; a locked coordinator is
    /// unlocked by the Help Desk. R16: the Help Desk terminates; REAC-TAC restores.
    pub async fn set_status(&self, mid: &str, status: AccountStatus) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        let terminal =
            account.status == AccountStatus::Terminated || status == AccountStatus::Terminated;
        let reac_tac = matches!(self.actor, super::Actor::ReacTac(_));
        if terminal && !self.actor.is_hud() && !reac_tac {
            return Err(forbidden(format!(
                "{} may not terminate or restore {}: only the Help Desk does (R16).",
                self.actor.name(),
                account.mid
            )));
        }
        let op = match (account.status, status) {
            (AccountStatus::Terminated, _) => AdminOp::Restore,
            (_, AccountStatus::Terminated) => AdminOp::Terminate,
            (_, AccountStatus::Locked(_)) => AdminOp::Lock,
            (_, AccountStatus::Active) => AdminOp::Unlock,
        };
        self.permit_on(op, &account).await?;
        // A lock the Help Desk set is the Help Desk's to lift (and a lock it sets is its own).
        let status = match (status, self.actor.is_hud()) {
            (AccountStatus::Locked(LockReason::Administrative), true) => {
                AccountStatus::Locked(LockReason::HelpDesk)
            }
            (AccountStatus::Locked(LockReason::HelpDesk), false) => {
                AccountStatus::Locked(LockReason::Administrative)
            }
            (s, _) => s,
        };
        if account.status == AccountStatus::Locked(LockReason::HelpDesk) && !self.actor.is_hud() {
            return Err(forbidden(format!(
                "{} may not change {}: the Help Desk locked it, and only the Help Desk unlocks it (R14).",
                self.actor.name(),
                account.mid
            )));
        }
        let audit = self.entry(Action::SetStatus).detail(format!(
            "mid={} before={:?} after={:?}",
            account.mid, account.status, status
        ));
        self.store
            .accounts()
            .set_status(account.id, status, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Assigns a user to a property, or removes the assignment (R6, R22). A coordinator does
    /// so only for its users and for properties it has a BPR with; an existing M-ID it does
    /// not manage yet (another company's) it takes on (R3, issue 27).
    pub async fn assign_property(
        &self,
        mid: &str,
        property: &str,
        assigned: bool,
    ) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        if let Err(refused) = self.permit_on(AdminOp::AssignProperty, &account).await {
            // R3 (issue 27): an existing M-ID of another company is taken on.
            if !(assigned && self.may_take_on(&account).await?) {
                return Err(refused);
            }
            let id = self.within_my_bprs(property).await?;
            let to = Portfolio::Property {
                id,
                number: property.trim().to_string(),
            };
            return self.take_on(&account, &to).await;
        }
        let pid = self.within_my_bprs(property).await?;
        let audit = self.entry(Action::AssignProperty).detail(format!(
            "mid={} property={property} after={assigned}",
            account.mid
        ));
        self.store
            .operators()
            .set_property_assignment(account.id, pid, assigned, &audit)
            .await?;
        Ok(())
    }

    /// A coordinator who left (R22; seed Q47: "if a Coordinator leaves, the relationship
    /// between the role and the properties should be deleted and the Business Partner
    /// Relationship should be deleted"): its BPRs, assignments, staff and rights are removed
    /// and it becomes a plain user, keeping its M-ID and history. The Help Desk, or another
    /// coordinator of one of its properties, does it; never the last coordinator of a property
    /// that still has users (R2).
    pub async fn demote(&self, mid: &str) -> AdminResult<()> {
        self.permit(AdminOp::Demote)?;
        let account = self.subject(mid).await?;
        if account.kind != AccountKind::Coordinator {
            return Err(invalid(format!("{} is not a coordinator", account.mid)));
        }
        if let Actor::Coordinator { id, mid: me } = &self.actor {
            if *id == account.id {
                return Err(forbidden(format!(
                    "{me} may not remove itself: the Help Desk or another coordinator of its properties does (R22)."
                )));
            }
            let mine = self.store.operators().bpr_properties(*id).await?;
            let theirs = self.store.operators().bpr_properties(account.id).await?;
            if !theirs.iter().any(|p| mine.contains(p)) {
                return Err(forbidden(format!(
                    "{me} shares no property with {}: only the Help Desk or another coordinator of its properties removes a coordinator (R22).",
                    account.mid
                )));
            }
        }
        let audit = self
            .entry(Action::Demote)
            .detail(format!("mid={} before=coordinator after=user", account.mid));
        match self.store.operators().demote(account.id, &audit).await? {
            Ok(_) => Ok(()),
            Err(orphaned) => Err(invalid(format!(
                "{} is the only coordinator of {}, which still has users; HUD makes another coordinator first (R2)",
                account.mid,
                orphaned.join(", ")
            ))),
        }
    }

    /// The id of property `property`, which an acting coordinator must have a Business
    /// Partner Relationship with (R3); HUD acts on any.
    pub(super) async fn within_my_bprs(&self, property: &str) -> AdminResult<i64> {
        let pid = self.property_ids(&[property.to_string()]).await?[0];
        if let Actor::Coordinator { id, mid: me } = &self.actor {
            if !self
                .store
                .operators()
                .bpr_properties(*id)
                .await?
                .contains(&pid)
            {
                return Err(forbidden(format!(
                    "{me} has no Business Partner Relationship with property {property} (R3)."
                )));
            }
        }
        Ok(pid)
    }

    /// Turns a user into a coordinator with BPRs on `properties` (R4: HUD's action; R2: at
    /// most five coordinators per property).
    pub async fn promote(&self, mid: &str, properties: &[String]) -> AdminResult<()> {
        self.permit(AdminOp::Promote)?;
        let account = self.subject(mid).await?;
        if account.kind == AccountKind::Coordinator {
            return Err(invalid(format!("{} is already a coordinator", account.mid)));
        }
        let ids = self.property_ids(properties).await?;
        self.room_for_coordinators(properties, &ids, Some(account.id))
            .await?;
        let audit = self.entry(Action::Promote).detail(format!(
            "mid={} before=user after=coordinator properties={}",
            account.mid,
            properties.join(",")
        ));
        self.store
            .operators()
            .promote(account.id, &ids, &audit)
            .await?;
        Ok(())
    }

    /// Makes an M-ID Help Desk staff (the operator's decision).
    pub async fn add_help_desk(&self, mid: &str) -> AdminResult<()> {
        self.permit(AdminOp::AddHelpDesk)?;
        let account = self.subject(mid).await?;
        let audit = self
            .entry(Action::AddHelpDesk)
            .detail(format!("mid={}", account.mid));
        self.store
            .operators()
            .add_help_desk(account.id, &self.actor.name(), self.now(), &audit)
            .await?;
        Ok(())
    }
}

impl Admin {}
