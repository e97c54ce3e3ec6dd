//! HUD's side of the directory (R1, R4, R11, R12): TRACSMail IDs and their passwords, who may
//! send for whom, properties, contracts and the Business Partner Relationships that tie
//! coordinators to properties (R3).

use super::{exists, invalid, missing, unique_violation, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::password::Secret;
use crate::directory::{AccountKind, ImaxId, MailboxKind, Recipient};
use crate::store::mailboxes;

impl Admin {
    pub async fn create_mailbox(
        &self,
        imax_id: &str,
        kind: MailboxKind,
        name: &str,
        email: &str,
        password: &Secret,
    ) -> AdminResult<()> {
        self.permit(AdminOp::CreateMailbox)?;
        let id = Self::imax_id(imax_id)?;
        if id.is_hud() != (kind == MailboxKind::Hud) {
            return Err(invalid(
                "HUD's mailbox is TRACMPROD, and TRACMPROD is HUD's",
            ));
        }
        // Issue 31: sandbox mailboxes have TRACX IDs, and only they do.
        if id.is_sandbox() != kind.is_sandbox() {
            return Err(invalid(
                "a sandbox mailbox's iMAX ID is TRACX followed by five digits, and only sandbox mailboxes have TRACX IDs",
            ));
        }
        if password.expose().len() < 8 {
            return Err(invalid(
                "a mailbox password must have at least 8 characters",
            ));
        }
        let m = mailboxes::NewMailbox {
            imax_id: id.clone(),
            kind,
            name: name.to_string(),
            email: email.to_string(),
            password_hash: self.hash(password).await?,
        };
        let audit = self
            .entry(Action::CreateMailbox)
            .mailbox(id.as_str())
            .detail(format!("kind={} name={name}", kind.as_str()));
        match self.store.mailboxes().create(&m, self.now(), &audit).await {
            Err(e) if unique_violation(&e) => Err(exists(id.to_string())),
            r => r.map(|_| ()).map_err(Into::into),
        }
    }

    /// The mailbox with this iMAX ID, or `Missing`.
    pub(super) async fn mailbox(&self, id: &ImaxId) -> AdminResult<crate::directory::Mailbox> {
        self.store
            .mailboxes()
            .load(id)
            .await?
            .ok_or_else(|| missing(id.to_string()))
    }

    pub async fn set_mailbox_password(&self, imax_id: &str, password: &Secret) -> AdminResult<()> {
        self.permit(AdminOp::SetMailboxPassword)?;
        let id = Self::imax_id(imax_id)?;
        let m = self.mailbox(&id).await?;
        let audit = self
            .entry(Action::SetMailboxPassword)
            .mailbox(id.as_str())
            .detail("set directly by the operator, not a validated Help Desk reset (R24)");
        self.store
            .mailboxes()
            .set_password(m.id, &self.hash(password).await?, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// A change of ownership (R25): the property at `number` passes to the new owner's own
    /// TRACSMail ID in one audited step. Its files are then routed to and accepted from that
    /// ID only; the old ID keeps its history (R26) but no longer sends for the property; the
    /// old owner's users lose their assignments to it and its coordinators their relationships
    /// with it (the Help Desk then gives the new owner's coordinator its own). Returns how many
    /// assignments and relationships ended.
    pub async fn change_ownership(
        &self,
        number: &str,
        new_imax_id: &str,
    ) -> AdminResult<(u64, u64)> {
        self.permit(AdminOp::ChangeOwnership)?;
        let (property, old) = self
            .store
            .mailboxes()
            .property_with_mailbox(&Self::property(number)?)
            .await?
            .ok_or_else(|| missing(format!("property {number}")))?;
        let new = self.mailbox(&Self::imax_id(new_imax_id)?).await?;
        if new.kind != MailboxKind::Property || !new.active {
            return Err(invalid(format!(
                "{} is not an open property mailbox; the new owner needs a TRACSMail ID of its own",
                new.imax_id
            )));
        }
        let old = match old {
            Some(id) => self.store.mailboxes().load_by_id(id).await?,
            None => None,
        };
        if old.as_ref().is_some_and(|o| o.id == new.id) {
            return Err(invalid(format!(
                "{} is already the mailbox of property {number}; a new owner gets a new TRACSMail ID",
                new.imax_id
            )));
        }
        let from = old.map_or("-".to_string(), |o| o.imax_id.to_string());
        let audit = self
            .entry(Action::ChangeOwnership)
            .mailbox(new.imax_id.as_str())
            .detail(format!("property={number} from={from} to={}", new.imax_id));
        let ended = self
            .store
            .mailboxes()
            .transfer_property(property, new.id, &audit)
            .await?;
        self.owner_from_mailbox(number.trim(), new.id, true).await?;
        Ok(ended)
    }

    pub async fn create_property(
        &self,
        number: &str,
        name: &str,
        mailbox: Option<&str>,
    ) -> AdminResult<()> {
        self.permit(AdminOp::CreateProperty)?;
        let parsed = Self::property(number)?;
        let mailbox_id = match mailbox {
            Some(m) => Some(self.mailbox(&Self::imax_id(m)?).await?.id),
            None => None,
        };
        let audit = self.entry(Action::UpsertProperty).detail(format!(
            "property={number} name={name} mailbox={}",
            mailbox.unwrap_or("-")
        ));
        self.store
            .mailboxes()
            .upsert_property(&parsed, name, mailbox_id, &audit)
            .await?;
        if let Some(m) = mailbox_id {
            self.owner_from_mailbox(number.trim(), m, false).await?;
        }
        Ok(())
    }

    /// A property whose mailbox belongs to an owner or agent is owned by it (R25), unless it
    /// has an owner already (`replace`: a change of ownership, whose new mailbox's
    /// organization is the new owner).
    async fn owner_from_mailbox(
        &self,
        number: &str,
        mailbox: i64,
        replace: bool,
    ) -> AdminResult<()> {
        let orgs = self.store.organizations();
        let Some(org) = orgs.of_mailbox(mailbox).await? else {
            return Ok(());
        };
        let pid = self.property_ids(&[number.to_string()]).await?[0];
        if !org.kind.has_properties() || (!replace && !orgs.of_property(pid).await?.is_empty()) {
            return Ok(());
        }
        let audit = self.entry(Action::SetPropertyOwner).detail(format!(
            "property={number} owner={} (its mailbox's)",
            org.org_id
        ));
        orgs.set_property_owner(pid, org.id, None, &audit).await?;
        Ok(())
    }

    /// Records that `administrator` (`TRACS` for HUD, or a CA's iMAX ID) administers a contract.
    pub async fn create_contract(
        &self,
        number: &str,
        property: &str,
        administrator: &str,
    ) -> AdminResult<()> {
        self.permit(AdminOp::CreateContract)?;
        if number.trim().is_empty() || number.len() > 32 {
            return Err(invalid("a contract number is 1 to 32 characters"));
        }
        let prop = self
            .store
            .mailboxes()
            .property_id(&Self::property(property)?)
            .await?
            .ok_or_else(|| missing(format!("property {property}")))?;
        let admin_id = match Recipient::parse(administrator) {
            Some(Recipient::Tracs) => ImaxId::hud(),
            Some(Recipient::Mailbox(id)) => id,
            None => {
                return Err(invalid(format!(
                    "{administrator:?} is neither TRACS nor an iMAX ID"
                )))
            }
        };
        let m = self.mailbox(&admin_id).await?;
        if !m.kind.is_administrator() {
            return Err(invalid(format!(
                "{admin_id} is not HUD or a Contract Administrator"
            )));
        }
        let audit = self
            .entry(Action::UpsertContract)
            .mailbox(admin_id.as_str())
            .detail(format!("contract={number} property={property}"));
        self.store
            .mailboxes()
            .upsert_contract(number.trim(), prop, m.id, &audit)
            .await?;
        Ok(())
    }

    /// Links a coordinator to a property it has a Business Partner Relationship with (R3).
    pub async fn add_business_partner(&self, mid: &str, property: &str) -> AdminResult<()> {
        self.permit(AdminOp::AddBusinessPartner)?;
        let account = self.account_id(&Self::mid(mid)?).await?;
        if account.kind != AccountKind::Coordinator {
            return Err(invalid(format!(
                "{} is not a coordinator (R3)",
                account.mid
            )));
        }
        let prop = self
            .store
            .mailboxes()
            .property_id(&Self::property(property)?)
            .await?
            .ok_or_else(|| missing(format!("property {property}")))?;
        // R2: at most five coordinators per owner or agent, across its properties.
        self.room_for_coordinators(&[property.to_string()], &[prop], Some(account.id))
            .await?;
        let audit = self
            .entry(Action::AddBusinessPartner)
            .detail(format!("mid={} property={property}", account.mid));
        self.store
            .mailboxes()
            .add_business_partner(account.id, prop, &audit)
            .await?;
        Ok(())
    }

    /// Lets `sender`'s iMAX ID stand as Sender's iMAX ID in TRACS files sent from `mailbox`
    /// (a service bureau preparing its clients' files, R11), or stops it. HUD's to decide.
    pub async fn set_mailbox_sender(
        &self,
        mailbox: &str,
        sender: &str,
        allowed: bool,
    ) -> AdminResult<()> {
        self.permit(AdminOp::SetMailboxSender)?;
        let m = self.mailbox(&Self::imax_id(mailbox)?).await?;
        let s = self.mailbox(&Self::imax_id(sender)?).await?;
        let audit = self
            .entry(Action::SetMailboxSender)
            .mailbox(m.imax_id.as_str())
            .detail(format!("sender={} allowed={allowed}", s.imax_id));
        self.store
            .mailboxes()
            .set_sender(m.id, s.id, allowed, &audit)
            .await?;
        Ok(())
    }

    /// Whether a mailbox accepts files that are not TRACS files (HUD's TRACS never should).
    pub async fn set_accepts_attachments(&self, mailbox: &str, accepts: bool) -> AdminResult<()> {
        self.permit(AdminOp::SetAcceptsAttachments)?;
        let m = self.mailbox(&Self::imax_id(mailbox)?).await?;
        let audit = self
            .entry(Action::SetAcceptsAttachments)
            .mailbox(m.imax_id.as_str())
            .detail(format!("before={} after={accepts}", m.accepts_attachments));
        self.store
            .mailboxes()
            .set_accepts_attachments(m.id, accepts, &audit)
            .await?;
        Ok(())
    }
}
