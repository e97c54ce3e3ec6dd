//! The Rules of Behavior's yearly due date, per person (R21, seed Q36, Q38).
//!
//! HUD sets the date "based upon the individual User" (Q38): an acceptance is valid for one
//! year from that person's own acceptance, not until New Year (which would stop every vendor's
//! transmissions at once at 19:00 on 31 December in Washington). Days are days in Washington
//! (`calendar`): accepted on 10 March 2027, due on 10 March 2028, valid through the end of that
//! day. From `accounts.rules_of_behavior_notice_days` before it, every answer carries a notice.

use crate::calendar;
use crate::config::AccountPolicy;
use crate::directory::Account;
use time::{Date, OffsetDateTime};

/// The version of the Rules of Behavior text the gateway shows (`templates/rules_text.html`),
/// printed on the record of each acceptance.
pub const RULES_OF_BEHAVIOR_VERSION: &str = "TRACS Rules of Behavior, gateway text 2026.1";

/// Where a person stands with the Rules of Behavior at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesOfBehavior {
    /// Never accepted: due now (Q34: the first time the person opens TRACS or iMAX).
    NeverAccepted,
    /// Accepted and valid; due on this day.
    Valid { due_on: Date },
    /// Due on this day, within the notice period: every answer says so.
    DueSoon { due_on: Date },
    /// The due day has passed: only accepting them again is allowed (the browser shows them).
    Overdue { due_on: Date },
}

impl RulesOfBehavior {
    /// Where `account` stands at `now`.
    pub fn of(account: &Account, policy: &AccountPolicy, now: OffsetDateTime) -> Self {
        let Some(accepted) = account.rob_accepted_at else {
            return RulesOfBehavior::NeverAccepted;
        };
        let due_on = due_on(accepted);
        if now >= calendar::end_of_day(due_on) {
            RulesOfBehavior::Overdue { due_on }
        } else if calendar::days_until(now, due_on) <= policy.rules_of_behavior_notice_days {
            RulesOfBehavior::DueSoon { due_on }
        } else {
            RulesOfBehavior::Valid { due_on }
        }
    }

    /// Whether only accepting the rules is allowed now.
    pub fn is_due(self) -> bool {
        matches!(
            self,
            RulesOfBehavior::NeverAccepted | RulesOfBehavior::Overdue { .. }
        )
    }

    /// The notice every answer carries in the notice period.
    pub fn notice(self) -> Option<String> {
        match self {
            RulesOfBehavior::DueSoon { due_on } => Some(format!(
                "Rules of Behavior due on {}: sign in on the web to accept",
                calendar::iso_date(due_on)
            )),
            _ => None,
        }
    }

    /// The day they fall (or fell) due, if ever accepted.
    pub fn due_on(self) -> Option<Date> {
        match self {
            RulesOfBehavior::NeverAccepted => None,
            RulesOfBehavior::Valid { due_on }
            | RulesOfBehavior::DueSoon { due_on }
            | RulesOfBehavior::Overdue { due_on } => Some(due_on),
        }
    }
}

/// The day an acceptance at `accepted` falls due: a year after its day in Washington.
pub fn due_on(accepted: OffsetDateTime) -> Date {
    calendar::a_year_after(calendar::day_in_washington(accepted))
}

/// The notices an answer to `account` carries at `now` (R21), in the order shown.
pub fn notices(account: &Account, policy: &AccountPolicy, now: OffsetDateTime) -> Vec<String> {
    let notices: Vec<String> = RulesOfBehavior::of(account, policy, now)
        .notice()
        .into_iter()
        .collect();
    if !notices.is_empty() {
        metrics::counter!("imax_rules_of_behavior_notices_total").increment(1);
    }
    notices
}

#[cfg(test)]
mod tests {
    use super::super::tests::{able, s2s, t0};
    use super::*;
    use crate::access::Operation;
    use crate::error::Code;

    #[test]
    fn r21_rules_of_behavior_a_year_from_the_persons_own_acceptance() {
        let mut a = able();
        a.rob_accepted_at = None;
        let due = Err(Code::RulesOfBehaviorNotAccepted);
        assert_eq!(s2s(&a, Operation::SendFile, t0()).verdict, due);
        let change = s2s(&a, Operation::ChangePassword, t0());
        assert_eq!(change.verdict, Ok(()), "a password change comes first");
        // Accepted late on 31 December in Washington (05:00 UTC on 1 January is not yet
        // past it): valid through 31 December of the next year there, New Year or not.
        a.rob_accepted_at = Some(time::macros::datetime!(2025-01-01 04:00 UTC));
        let policy = AccountPolicy::default();
        let state = RulesOfBehavior::of(&a, &policy, t0());
        assert_eq!(
            state.due_on(),
            Some(time::macros::date!(2025 - 12 - 31)),
            "{state:?}"
        );
        assert_eq!(s2s(&a, Operation::SendFile, t0()).verdict, due);
        a.rob_accepted_at = Some(time::macros::datetime!(2025-03-10 15:00 UTC));
        // Otherwise active at `s` (signed in, used, a fresh password): only R21 is tested.
        let at = |a: &Account, s: OffsetDateTime| {
            let mut a = a.clone();
            a.last_signin_at = Some(s);
            a.last_activity_at = Some(s);
            a.password_changed_at = s;
            a.recertified_cycle = Some(2100);
            s2s(&a, Operation::SendFile, s).verdict
        };
        // Due on 10 March 2026, after the change to daylight time (8 March): the day ends at
        // 04:00 UTC.
        assert_eq!(
            at(&a, time::macros::datetime!(2026-03-11 03:59 UTC)),
            Ok(())
        );
        assert_eq!(at(&a, time::macros::datetime!(2026-03-11 04:00 UTC)), due);
        a.rob_accepted_at = Some(time::macros::datetime!(2025-12-31 23:00 UTC));
        assert_eq!(at(&a, t0()), Ok(()), "a New Year does not make them due");
        let notice =
            RulesOfBehavior::of(&a, &policy, time::macros::datetime!(2026-12-01 12:00 UTC));
        assert_eq!(
            notice.notice().as_deref(),
            Some("Rules of Behavior due on 2026-12-31: sign in on the web to accept")
        );
        assert_eq!(
            RulesOfBehavior::of(&a, &policy, time::macros::datetime!(2026-11-30 12:00 UTC))
                .notice(),
            None,
            "31 days before: no notice yet"
        );
        assert_eq!(
            at(&a, time::macros::datetime!(2027-01-01 04:59 UTC)),
            Ok(())
        );
        assert_eq!(at(&a, time::macros::datetime!(2027-01-01 05:00 UTC)), due);
    }
}
