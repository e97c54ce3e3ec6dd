//! Arrival notices (issue 30): people subscribe to mailboxes they may open (R6), and are
//! mailed a digest of arrivals and reminders of what their mailboxes sent that nobody
//! retrieved or answered.
//!
//! The notices themselves are rows of the outbox (`store::notices`), written by the committer
//! in the transaction that stores each message, so a crash neither loses nor invents one; the
//! sender (`sender.rs`) claims those that fell due with a lease, mails them through the SMTP
//! relay (`compose.rs` writes the text: ids, mailboxes, names, sizes, times and links, never
//! content), and settles them, retrying with backoff.

mod compose;
mod sender;

pub use sender::send_notices;

use super::{Authorized, Gateway};
use crate::audit::Action;
use crate::directory::ImaxId;
use crate::error::{Code, Refusal};
use crate::store::notices::Subscription;

/// The audit action of a subscription turned on or off (the browser's and the command line's).
pub fn subscription_action(s: Subscription) -> Action {
    match s {
        Subscription::On => Action::Subscribe,
        Subscription::Off => Action::Unsubscribe,
    }
}

/// A mailbox a person may open, and whether they subscribed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribable {
    pub imax_id: String,
    pub subscribed: bool,
}

impl Gateway {
    /// The mailboxes that open to the signed-in person (R6, `access::opens_to`), each with
    /// whether they subscribed.
    pub async fn subscribable(&self, auth: &Authorized) -> Result<Vec<Subscribable>, Refusal> {
        let store = &self.inner.store;
        let account = auth.account();
        let subscribed = store.notices().subscribed(account.id).await?;
        let openable = store.organizations().openable(account.id).await?;
        Ok(openable
            .into_iter()
            .filter(|(_, id)| {
                ImaxId::parse(id)
                    .is_some_and(|id| crate::access::opens_to(account, &id, true).is_ok())
            })
            .map(|(mailbox, imax_id)| Subscribable {
                imax_id,
                subscribed: subscribed.contains(&mailbox),
            })
            .collect())
    }

    /// The signed-in person subscribes to `imax_id` (or ends it). A mailbox that would not
    /// open to them is refused as the doors refuse it (`NotAffiliated`, `HudMailboxOnly`),
    /// whether it exists or not, and audited.
    pub async fn subscribe(
        &self,
        auth: &Authorized,
        imax_id: &str,
        change: Subscription,
    ) -> Result<(), Refusal> {
        let account = auth.account();
        let action = subscription_action(change);
        let entry = self
            .audit(account.mid.as_str(), action, auth.caller())
            .mailbox(imax_id.chars().take(16).collect::<String>());
        let store = &self.inner.store;
        let mailbox = match ImaxId::parse(imax_id) {
            Some(id) => store.mailboxes().load(&id).await?,
            None => None,
        };
        let opens = match &mailbox {
            Some(m) => {
                let affiliated = store.organizations().affiliated(account.id, m.id).await?;
                crate::access::opens_to(account, &m.imax_id, affiliated)
            }
            None => Err(Code::NotAffiliated),
        };
        let mailbox = match (mailbox, opens) {
            (Some(m), Ok(())) => m,
            // Ending a subscription needs no right to open the mailbox (lost since, perhaps).
            (Some(m), Err(_)) if change == Subscription::Off => m,
            (_, opens) => {
                let code = opens.err().unwrap_or(Code::NotAffiliated);
                let entry = entry.detail("the mailbox does not open to this M-ID (R6)");
                return Err(self.refuse(vec![], entry, code.into()).await);
            }
        };
        let now = self.inner.clock.now();
        store
            .notices()
            .subscribe(account.id, mailbox.id, change, now, &entry)
            .await?;
        Ok(())
    }
}
