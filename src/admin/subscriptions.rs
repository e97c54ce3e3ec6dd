//! Arrival notices (issue 30): HUD (the operator, the Help Desk) subscribes a person to a
//! mailbox they may open (`imax admin account subscribe`), or ends it. People subscribe
//! themselves on the Notifications page (`gateway::notices`); both ask the same decision.

use super::{Admin, AdminOp, AdminResult};
use crate::error::Refusal;
use crate::store::notices::Subscription;

use crate::gateway::notices::subscription_action;

impl Admin {
    /// Subscribes `mid` to `imax_id`'s notices (or ends it): refused with `NotAffiliated` (or
    /// `HudMailboxOnly`) when the mailbox would not open to the person (R6), whatever
    /// `accounts.affiliation_required` says (a subscription carries no mailbox password).
    /// Whether anything changed.
    pub async fn subscribe(
        &self,
        mid: &str,
        imax_id: &str,
        change: Subscription,
    ) -> AdminResult<bool> {
        self.permit(AdminOp::Subscribe)?;
        let account = self.subject(mid).await?;
        let id = Self::imax_id(imax_id)?;
        let mailbox = self
            .store
            .mailboxes()
            .load(&id)
            .await?
            .ok_or_else(|| super::missing(id.to_string()))?;
        if change == Subscription::On {
            let orgs = self.store.organizations();
            let affiliated = orgs.affiliated(account.id, mailbox.id).await?;
            crate::access::opens_to(&account, &id, affiliated).map_err(|code| {
                Refusal::because(code, format!("{id} does not open to {} (R6)", account.mid))
            })?;
        }
        let action = subscription_action(change);
        let audit = self
            .entry(action)
            .mailbox(id.as_str())
            .detail(format!("mid={}", account.mid));
        Ok(self
            .store
            .notices()
            .subscribe(account.id, mailbox.id, change, self.now(), &audit)
            .await?)
    }
}
