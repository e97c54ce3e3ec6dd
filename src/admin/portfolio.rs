//! A coordinator's portfolio (issue 27, R3, R19, R20): the properties and organizations it has
//! Business Partner Relationships with. WASS's "Search for User" finds an existing M-ID by its
//! exact ID; taking it on assigns it to one of the portfolio's properties or organizations,
//! makes it the coordinator's staff and certifies it at once (R20, seed Q34). The M-ID's own
//! organization and its other coordinators keep what they had.

use super::{forbidden, invalid, missing, status_text, Actor, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::{Account, AccountKind, Affiliation, Organization};

/// What Search for User answers, and nothing else: the same four facts for any M-ID the
/// searcher may see, whether it manages it or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPerson {
    pub mid: String,
    pub full_name: String,
    /// The employer's ID and name, or the free text given when the M-ID was made.
    pub organization: String,
    pub state: &'static str,
}

/// One line of a coordinator's portfolio recertification (R19): its user, and whether this
/// cycle's certification is the coordinator's own, and whether another coordinator's exists
/// (never whose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioLine {
    pub person: FoundPerson,
    pub cycle: i32,
    pub certified_by_me: bool,
    pub certified_elsewhere: bool,
}

/// Where a coordinator takes a person on: one property or one organization of its portfolio.
#[derive(Debug, Clone)]
pub(super) enum Portfolio {
    Property { id: i64, number: String },
    Organization(Organization),
}

impl Portfolio {
    fn describe(&self) -> String {
        match self {
            Portfolio::Property { number, .. } => format!("property={number}"),
            Portfolio::Organization(o) => format!("organization={}", o.org_id),
        }
    }
}

impl Admin {
    /// Search for User (R3): an M-ID by its exact ID. A coordinator sees industry M-IDs only
    /// (HUD's staff and contractors, and Help Desk staff, answer as unknown ones do: the same
    /// `NotFound`, so the answer tells nothing beyond the four facts).
    pub async fn find_account(&self, mid: &str) -> AdminResult<FoundPerson> {
        self.permit(AdminOp::FindPerson)?;
        let id = Self::mid(mid)?;
        let unknown = || missing(format!("M-ID {id}"));
        let a = self.store.accounts().load(&id).await?.ok_or_else(unknown)?;
        if matches!(self.actor, Actor::Coordinator { .. })
            && (a.affiliation != Affiliation::Industry
                || self.store.operators().is_help_desk(a.id).await?)
        {
            return Err(unknown());
        }
        let organization = match self.store.organizations().employer_of(a.id).await? {
            Some(o) => format!("{} ({})", o.org_id, o.name),
            None => self.store.accounts().organization_text(a.id).await?,
        };
        Ok(FoundPerson {
            mid: a.mid.to_string(),
            full_name: a.full_name.clone(),
            organization,
            state: status_text(a.status_at(self.now())),
        })
    }

    /// Whether the acting coordinator may take `account` on (R3): an industry user, not Help
    /// Desk staff, that it does not manage yet.
    pub(super) async fn may_take_on(&self, account: &Account) -> AdminResult<bool> {
        let Actor::Coordinator { id, .. } = &self.actor else {
            return Ok(false);
        };
        Ok(account.kind == AccountKind::User
            && account.affiliation == Affiliation::Industry
            && !self.store.operators().is_help_desk(account.id).await?
            && !self.store.operators().manages(*id, account.id).await?)
    }

    /// Takes an existing M-ID on (R3, R19, R20): assigns it to `to`, makes it the acting
    /// coordinator's staff, and certifies it for the current cycle at once (seed Q34). Audited
    /// with both coordinators named: the one taking on, and those who had it.
    pub(super) async fn take_on(&self, account: &Account, to: &Portfolio) -> AdminResult<()> {
        let (id, me) = match &self.actor {
            Actor::Coordinator { id, mid } => (*id, mid.clone()),
            other => return Err(forbidden(format!("{} is not a coordinator", other.name()))),
        };
        let store = &self.store;
        let mut others = Vec::new();
        for c in store.operators().managers_of(account.id).await? {
            if let Some(m) = store.accounts().mid_of(c).await? {
                others.push(m);
            }
        }
        let others = if others.is_empty() {
            "none".to_string()
        } else {
            others.join(",")
        };
        let what = to.describe();
        let entry = |action: Action| {
            self.entry(action).detail(format!(
                "user={} coordinator={me} other-coordinators={others} {what}",
                account.mid
            ))
        };
        match to {
            Portfolio::Property { id: pid, .. } => {
                store
                    .operators()
                    .set_property_assignment(account.id, *pid, true, &entry(Action::TakeOn))
                    .await?
            }
            Portfolio::Organization(o) => {
                store
                    .organizations()
                    .set_assignment(account.id, o.id, true, &entry(Action::TakeOn))
                    .await?
            }
        }
        let now = self.now();
        store
            .operators()
            .link(id, account.id, now, &entry(Action::AssignStaff))
            .await?;
        let cycle = self.config.accounts.recertification_window().cycle_of(now);
        let audit = entry(Action::Recertify).detail(format!(
            "user={} coordinator={me} other-coordinators={others} cycle={cycle} (taken on: certified at once, R20)",
            account.mid
        ));
        store
            .operators()
            .recertify(account.id, cycle, id, now, &audit)
            .await?;
        Ok(())
    }

    /// The organization `org`, which an acting coordinator must have a Business Partner
    /// Relationship with (R3); HUD acts on any.
    pub(super) async fn within_my_organizations(&self, org: &str) -> AdminResult<Organization> {
        let o = self.organization(org).await?;
        if let Actor::Coordinator { id, mid: me } = &self.actor {
            let mine = self
                .store
                .organizations()
                .partner_organizations(*id)
                .await?;
            if !mine.iter().any(|m| m.id == o.id) {
                return Err(forbidden(format!(
                    "{me} has no Business Partner Relationship with organization {} (R3).",
                    o.org_id
                )));
            }
        }
        Ok(o)
    }

    /// Assigns a person to an organization of the acting coordinator's portfolio (its staff),
    /// or removes the assignment; an M-ID the coordinator does not manage yet is taken on.
    pub async fn assign_organization(
        &self,
        mid: &str,
        org: &str,
        assigned: bool,
    ) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        if let Err(refused) = self.permit_on(AdminOp::AssignProperty, &account).await {
            if !(assigned && self.may_take_on(&account).await?) {
                return Err(refused);
            }
            let o = self.within_my_organizations(org).await?;
            return self.take_on(&account, &Portfolio::Organization(o)).await;
        }
        let o = self.within_my_organizations(org).await?;
        let audit = self.entry(Action::AssignOrganization).detail(format!(
            "mid={} organization={} after={assigned}",
            account.mid, o.org_id
        ));
        self.store
            .organizations()
            .set_assignment(account.id, o.id, assigned, &audit)
            .await?;
        Ok(())
    }

    /// Assigned Staff (R18): a coordinator's users, by M-ID, for the pages and the command
    /// line.
    pub async fn assigned_staff(&self) -> AdminResult<Vec<FoundPerson>> {
        let (id, _) = self.permit_coordinator(AdminOp::LastLoginReport)?;
        let mut out = Vec::new();
        for mid in self.store.operators().managed_users(id).await? {
            out.push(self.find_account(&mid).await?);
        }
        Ok(out)
    }

    /// Portfolio recertification (R19, seed Q25, Q28): the acting coordinator's users with this
    /// cycle's certification, its own and anyone else's (yes or no, never who).
    pub async fn portfolio_recertification(&self) -> AdminResult<Vec<PortfolioLine>> {
        let (id, _) = self.permit_coordinator(AdminOp::LastLoginReport)?;
        let cycle = self
            .config
            .accounts
            .recertification_window()
            .cycle_of(self.now());
        let mut out = Vec::new();
        for person in self.assigned_staff().await? {
            let a = self.subject(&person.mid).await?;
            let by = self
                .store
                .certifications()
                .certifiers_for(a.id, cycle)
                .await?;
            out.push(PortfolioLine {
                person,
                cycle,
                certified_by_me: by.contains(&id),
                certified_elsewhere: by.iter().any(|c| *c != id),
            });
        }
        Ok(out)
    }

    /// The places of the acting coordinator's portfolio, as (value, label) for a choice:
    /// `property:NUMBER` and `organization:ID`.
    pub async fn my_portfolio(&self) -> AdminResult<Vec<(String, String)>> {
        let Actor::Coordinator { id, .. } = &self.actor else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(String, String)> = self
            .store
            .operators()
            .bpr_property_names(*id)
            .await?
            .into_iter()
            .map(|(n, name)| (format!("property:{n}"), format!("property {n} {name}")))
            .collect();
        for o in self
            .store
            .organizations()
            .partner_organizations(*id)
            .await?
        {
            out.push((
                format!("organization:{}", o.org_id),
                format!("{} {} ({})", o.org_id, o.name, o.kind.description()),
            ));
        }
        Ok(out)
    }

    /// Assigned Staff's Delete (R18): the acting coordinator lets a user go. Its assignments
    /// to the coordinator's portfolio end, and so does the coordinator's hold on it; the
    /// user's other coordinators and organization keep theirs.
    pub async fn release_staff(&self, mid: &str) -> AdminResult<()> {
        let (id, me) = self.permit_coordinator(AdminOp::AssignStaff)?;
        let me = me.clone();
        let account = self.subject(mid).await?;
        self.permit_on(AdminOp::AssignProperty, &account).await?;
        if account.kind != AccountKind::User {
            return Err(invalid(format!("{} is not a user", account.mid)));
        }
        let store = &self.store;
        let bpr = store.operators().bpr_properties(id).await?;
        let orgs = store.organizations().partner_organizations(id).await?;
        for pid in store.operators().assigned_properties(account.id).await? {
            if bpr.contains(&pid) {
                let audit = self.entry(Action::ReleaseStaff).detail(format!(
                    "user={} coordinator={me} property-id={pid} after=false",
                    account.mid
                ));
                store
                    .operators()
                    .set_property_assignment(account.id, pid, false, &audit)
                    .await?;
            }
        }
        for o in store
            .organizations()
            .assigned_organizations(account.id)
            .await?
        {
            if orgs.iter().any(|m| m.id == o.id) {
                let audit = self.entry(Action::ReleaseStaff).detail(format!(
                    "user={} coordinator={me} organization={} after=false",
                    account.mid, o.org_id
                ));
                store
                    .organizations()
                    .set_assignment(account.id, o.id, false, &audit)
                    .await?;
            }
        }
        Ok(())
    }
}
