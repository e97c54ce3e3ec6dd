//! The client's side of steps 1–2: the throttle (its count taken before a password is checked
//! and given back by a right one), refused attempts reaching the audit log within each
//! client's share (`gateway::failures`) and summarized beyond it, and the hourly housekeeping
//! of both and of R14's familiar addresses.

use super::failures;
use super::{unaudited, Caller, Gateway};
use crate::audit::{Action, AuditEntry, Door, Outcome};
use crate::error::{Code, Refusal};
use time::Duration;

impl Gateway {
    /// [`Gateway::refuse`] for a refused attempt with nothing to change (a wrong password, an
    /// unknown ID): recorded on its own within the client's share of the window, otherwise
    /// counted for the window's summary record (`gateway::failures`), so that a stranger
    /// cannot grow the permanent audit log without bound.
    pub(super) async fn refuse_attempt(
        &self,
        caller: Caller,
        principal: &str,
        entry: AuditEntry,
        r: Refusal,
    ) -> Refusal {
        let client = caller
            .addr
            .map(|a| self.inner.throttle.client_key(a))
            .unwrap_or_else(|| "-".into());
        let now = self.inner.clock.now();
        match self.inner.failures.admit(&client, principal, now) {
            failures::Admission::Record => self.refuse(vec![], entry, r).await,
            failures::Admission::Summarized => r,
        }
    }

    /// Writes the summary records of a window of refused attempts that has ended (`force`:
    /// whatever its age, at shutdown). Returns how many were written.
    pub async fn record_refusal_summaries(&self, force: bool) -> Result<usize, Refusal> {
        let now = self.inner.clock.now();
        let summaries = self.inner.failures.close_window(now, force);
        let n = summaries.len();
        for s in summaries {
            let entry = AuditEntry::new(now, "unknown", Action::Authenticate, Door::Any)
                .client(Some(s.client.clone()))
                .outcome(Outcome::RefusalsSummarized)
                .detail(format!(
                    "{} further refused password attempts from {} since {} (at {}{})",
                    s.refused,
                    s.client,
                    crate::clock::rfc3339(s.window_start),
                    s.principals.join(", "),
                    if s.principals.len() < 10 { "" } else { ", …" }
                ));
            self.commit(vec![], entry).await?;
        }
        Ok(n)
    }

    /// How often [`Gateway::record_refusal_summaries`] should run.
    pub fn refusal_window(&self) -> std::time::Duration {
        self.inner.failures.window()
    }

    pub(super) async fn throttled(&self, caller: Caller) -> Result<(), Refusal> {
        self.throttled_given(caller, None).await
    }

    /// [`Gateway::throttled`], with the client's count when it was read already (`Some`).
    pub(super) async fn throttled_given(
        &self,
        caller: Caller,
        known: Option<Option<(i64, i64)>>,
    ) -> Result<(), Refusal> {
        let blocked = |a| async move {
            match known {
                Some(row) => Ok::<_, Refusal>(self.inner.throttle.blocks(row)),
                None => Ok(self.inner.throttle.is_blocked(a).await?),
            }
        };
        match caller.addr {
            Some(a) if blocked(a).await? => {
                tracing::warn!(client = %a, "request refused by the throttle");
                unaudited(caller, Code::RateLimited);
                Err(Refusal::new(Code::RateLimited))
            }
            _ => Ok(()),
        }
    }

    /// Counts a password attempt against the client before the password is checked; over
    /// the limit, the attempt is refused unchecked (and unaudited: floods must not fill the
    /// audit log).
    pub(super) async fn claim_for_client(&self, caller: Caller) -> Result<(), Refusal> {
        let Some(a) = caller.addr else { return Ok(()) };
        if self.inner.throttle.claim(a).await? {
            Ok(())
        } else {
            tracing::warn!(client = %self.inner.throttle.client_key(a), "password attempt refused by the throttle");
            unaudited(caller, Code::RateLimited);
            Err(Refusal::new(Code::RateLimited))
        }
    }

    /// A right password gives its client's attempt back.
    pub(super) async fn forgive_client(&self, caller: Caller) {
        if let Some(a) = caller.addr {
            if let Err(e) = self.inner.throttle.forgive(a).await {
                tracing::warn!(error = %e, "could not give back a throttle count");
            }
        }
    }

    /// Forgets throttled addresses whose window has passed (hourly housekeeping).
    pub async fn forget_old_failures(&self) -> Result<u64, crate::store::StoreError> {
        self.inner.throttle.forget_old().await
    }

    /// Forgets the addresses where M-IDs have not signed in for `accounts.familiar_days`
    /// (hourly housekeeping: they are strangers' addresses again, R14).
    pub async fn forget_unfamiliar_addresses(&self) -> Result<u64, crate::store::StoreError> {
        let days = Duration::days(self.inner.config.accounts.familiar_days);
        self.inner
            .store
            .accounts()
            .forget_old_clients(self.inner.clock.now() - days)
            .await
    }
}
