//! Address allow-lists (issue 30, item 5): an organization, or a mailbox, may list the
//! networks its vendor software connects from. A system-to-system call for one of the
//! organization's M-IDs or mailboxes, or for the mailbox, from any other address is refused
//! exactly as a wrong password is: the same code (`AuthenticationFailed`), status and
//! sentence, after the same argon2 work, and counted against the client's address as a wrong
//! password is — but not against the person's own failed sign-ins (R14's lockout), since the
//! password was never tried. The audit record says why. The browser door is not restricted:
//! a person signs in there from wherever they are, with their own password.

use super::{busy, Caller, Credentials, Gateway};
use crate::access::{Door, Operation};
use crate::directory::{AllowListOf, AllowedNetworks};
use crate::error::{Code, Refusal};

/// How the audit record words a call refused for its address.
const REFUSED_ADDRESS_OUTCOME: &str = "outside the allow-list";

impl Gateway {
    /// Refuses a system-to-system call from outside any of `lists` (the non-empty allow-lists
    /// bearing on it) as a wrong password.
    pub(super) async fn within_allow_lists(
        &self,
        caller: Caller,
        creds: &Credentials,
        op: Operation,
        lists: &[(AllowListOf, AllowedNetworks)],
    ) -> Result<(), Refusal> {
        if caller.door != Door::SystemToSystem {
            return Ok(());
        }
        let Some((whose, networks)) = lists.iter().find(|(_, n)| !n.admits(caller.addr)) else {
            return Ok(());
        };
        metrics::counter!("imax_allow_list_refusals_total").increment(1);
        // What a wrong password costs and counts, apart from the person's own count.
        self.claim_for_client(caller).await?;
        if self
            .inner
            .hasher
            .verify_dummy(&creds.password)
            .await
            .is_err()
        {
            return Err(busy());
        }
        let from = caller
            .addr
            .map_or_else(|| "an unknown address".to_string(), |a| a.to_string());
        let entry = self.audit(&creds.principal, op.action(), caller).detail(format!(
            "{from} is {REFUSED_ADDRESS_OUTCOME} of {whose} ({networks}): answered as a wrong password"
        ));
        let code = Code::AuthenticationFailed.into();
        Err(self
            .refuse_attempt(caller, &creds.principal, entry, code)
            .await)
    }

    /// The allow-list of the organization an M-ID works for, for a call that names no
    /// mailbox.
    pub(super) async fn employer_allow_list(
        &self,
        account: i64,
    ) -> Result<Vec<(AllowListOf, AllowedNetworks)>, Refusal> {
        let list = self.inner.store.employer_networks(account).await?;
        Ok(list
            .map(|(org, nets)| (AllowListOf::Organization(org), nets))
            .into_iter()
            .collect())
    }
}
