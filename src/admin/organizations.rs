//! Organizations (issue 27): HUD makes owners, management agents, service bureaus, contract
//! administrators and HUD itself entities of the directory, says who owns (and manages) each
//! property and which organization a mailbox belongs to, and gives a coordinator a Business
//! Partner Relationship with a non-property organization (R3) so that it manages that
//! organization's staff. R2 counts coordinators per owner or agent across its properties.

use super::{exists, forbidden, invalid, missing, unique_violation, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::{AccountKind, OrgId, Organization, OrganizationKind};

impl Admin {
    /// The organization `org` names, or `NotFound`.
    pub(super) async fn organization(&self, org: &str) -> AdminResult<Organization> {
        let id = OrgId::parse(org).ok_or_else(|| {
            invalid(format!(
                "{org:?} is not an organization ID (1 to 20 capital letters, digits or hyphens)"
            ))
        })?;
        self.store
            .organizations()
            .load(&id)
            .await?
            .ok_or_else(|| missing(format!("organization {id}")))
    }

    /// The organization a free-text `organization` field names, if it is an organization's
    /// ID (older callers give a firm's name there, which stays text only).
    pub(super) async fn organization_named(&self, text: &str) -> AdminResult<Option<Organization>> {
        match OrgId::parse(text) {
            Some(id) => Ok(self.store.organizations().load(&id).await?),
            None => Ok(None),
        }
    }

    pub async fn create_organization(
        &self,
        org_id: &str,
        kind: OrganizationKind,
        name: &str,
        tax_id: Option<&str>,
    ) -> AdminResult<()> {
        self.permit(AdminOp::CreateOrganization)?;
        let id = OrgId::parse(org_id).ok_or_else(|| {
            invalid("an organization ID is 1 to 20 capital letters, digits or hyphens")
        })?;
        if name.trim().is_empty() {
            return Err(invalid("an organization has a name"));
        }
        let o = Organization {
            id: 0,
            org_id: id.clone(),
            kind,
            name: name.trim().to_string(),
            tax_id: tax_id.map(str::to_string).filter(|t| !t.trim().is_empty()),
        };
        let audit = self.entry(Action::CreateOrganization).detail(format!(
            "organization={id} kind={} name={}",
            kind.as_str(),
            o.name
        ));
        match self
            .store
            .organizations()
            .create(&o, self.now(), &audit)
            .await
        {
            Err(e) if unique_violation(&e) => Err(exists(format!("organization {id}"))),
            r => r.map(|_| ()).map_err(Into::into),
        }
    }

    /// Every organization, for HUD's pages and `imax admin organization list`.
    pub async fn organizations(&self) -> AdminResult<Vec<Organization>> {
        self.permit(AdminOp::Search)?;
        Ok(self.store.organizations().all().await?)
    }

    /// R2: an organization has at most five coordinators across its properties; refuses if
    /// `org` is full (unless `coordinator` is one of them already).
    pub(super) async fn room_in_organization(
        &self,
        org: &Organization,
        coordinator: Option<i64>,
    ) -> AdminResult<()> {
        let now = self.store.organizations().coordinators_of(org.id).await?;
        if coordinator.is_some_and(|c| now.contains(&c)) {
            return Ok(());
        }
        if now.len() >= super::MAX_COORDINATORS {
            return Err(forbidden(format!(
                "{} ({}) already has {} coordinators across its properties, the most allowed (R2; HUD recommends two).",
                org.org_id,
                org.name,
                super::MAX_COORDINATORS
            )));
        }
        Ok(())
    }

    /// R25: who owns (and optionally manages) a property; HUD's to say.
    pub async fn set_property_owner(
        &self,
        number: &str,
        owner: &str,
        agent: Option<&str>,
    ) -> AdminResult<()> {
        self.permit(AdminOp::CreateProperty)?;
        let pid = self.property_ids(&[number.trim().to_string()]).await?[0];
        let owner = self.organization(owner).await?;
        let agent = match agent {
            Some(a) => Some(self.organization(a).await?),
            None => None,
        };
        for o in std::iter::once(&owner).chain(agent.as_ref()) {
            if !o.kind.has_properties() {
                return Err(invalid(format!(
                    "{} is a {}; a property is owned or managed by an owner or a management agent",
                    o.org_id,
                    o.kind.as_str()
                )));
            }
        }
        let audit = self.entry(Action::SetPropertyOwner).detail(format!(
            "property={number} owner={} agent={}",
            owner.org_id,
            agent.as_ref().map_or("-", |a| a.org_id.as_str())
        ));
        self.store
            .organizations()
            .set_property_owner(pid, owner.id, agent.map(|a| a.id), &audit)
            .await?;
        Ok(())
    }

    /// The organization a mailbox belongs to (R25: one business relationship per TRACSMail
    /// ID); HUD's to say.
    pub async fn set_mailbox_organization(&self, imax_id: &str, org: &str) -> AdminResult<()> {
        self.permit(AdminOp::CreateMailbox)?;
        let id = Self::imax_id(imax_id)?;
        let m = self.mailbox(&id).await?;
        let org = self.organization(org).await?;
        let audit = self
            .entry(Action::SetMailboxOrganization)
            .mailbox(id.as_str())
            .detail(format!("organization={}", org.org_id));
        self.store
            .organizations()
            .set_mailbox_organization(m.id, org.id, &audit)
            .await?;
        Ok(())
    }

    /// R3 (issue 27): a coordinator's Business Partner Relationship with an organization,
    /// typically a service bureau or a CA, whose staff it then creates and manages; R2: at
    /// most five coordinators per organization.
    pub async fn add_organization_partner(&self, mid: &str, org: &str) -> AdminResult<()> {
        self.permit(AdminOp::AddBusinessPartner)?;
        let account = self.subject(mid).await?;
        if account.kind != AccountKind::Coordinator {
            return Err(invalid(format!(
                "{} is not a coordinator (R3)",
                account.mid
            )));
        }
        let org = self.organization(org).await?;
        self.room_in_organization(&org, Some(account.id)).await?;
        let audit = self
            .entry(Action::AddBusinessPartner)
            .detail(format!("mid={} organization={}", account.mid, org.org_id));
        self.store
            .organizations()
            .add_partner(account.id, org.id, &audit)
            .await?;
        Ok(())
    }
}
