//! Address allow-lists (issue 30, item 5): HUD records the networks an organization's or a
//! mailbox's vendor software connects from (`imax admin organization allow-networks`,
//! `imax admin mailbox allow-networks`); the gateway refuses that organization's or mailbox's
//! system-to-system calls from anywhere else (`gateway::allow_lists`).

use super::{invalid, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::AllowedNetworks;
use crate::store::allow_lists::ListHolder;

/// The audit action of a changed allow-list.
const ACTION: Action = Action::SetAllowedNetworks;

impl Admin {
    /// Replaces a mailbox's allow-list with `networks` (CIDR); none: any address again.
    pub async fn set_mailbox_networks(
        &self,
        mailbox: &str,
        networks: &[String],
    ) -> AdminResult<AllowedNetworks> {
        self.permit(AdminOp::SetAllowedNetworks)?;
        let m = self.mailbox(&Self::imax_id(mailbox)?).await?;
        let after = AllowedNetworks::parse(networks.iter().map(String::as_str)).map_err(invalid)?;
        let holder = ListHolder::Mailbox(m.id);
        let before = self.store.allowed_networks(holder).await?;
        let audit = self
            .entry(ACTION)
            .mailbox(m.imax_id.as_str())
            .detail(format!(
                "mailbox {} before={before} after={after}",
                m.imax_id
            ));
        self.store
            .set_allowed_networks(holder, &after, &audit)
            .await?;
        Ok(after)
    }

    /// Replaces an organization's allow-list (for its M-IDs and its mailboxes).
    pub async fn set_organization_networks(
        &self,
        org: &str,
        networks: &[String],
    ) -> AdminResult<AllowedNetworks> {
        self.permit(AdminOp::SetAllowedNetworks)?;
        let o = self.organization(org).await?;
        let after = AllowedNetworks::parse(networks.iter().map(String::as_str)).map_err(invalid)?;
        let holder = ListHolder::Organization(o.id);
        let before = self.store.allowed_networks(holder).await?;
        let audit = self.entry(ACTION).detail(format!(
            "organization {} before={before} after={after}",
            o.org_id
        ));
        self.store
            .set_allowed_networks(holder, &after, &audit)
            .await?;
        Ok(after)
    }
}
