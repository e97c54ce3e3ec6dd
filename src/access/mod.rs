//! The access decision: one transport-free function that says whether an authenticated person
//! may do an operation through a door, now.
//!
//! Both doors (system-to-system and browser) call [`decide`]; nothing else decides access. It is
//! pure: it takes the account's state and the clock's `now` and returns the verdict together with
//! any state change the passage of time implies (an inactivity lock, a termination), which the
//! caller persists.
//!
//! The checks, in order:
//!
//! 1. terminated (R16), or no sign-in for `termination_days` → `AccountTerminated`;
//! 2. locked, or no iMAX use for `inactivity_lock_days` (R13) → `AccountLocked`. Two clocks: a
//!    sign-in is Secure Systems use (R16's clock), opening iMAX or any mailbox operation is iMAX
//!    use (R13's). An inactivity lock locks the person out of iMAX only: Secure Systems itself
//!    (sign-in, password, Rules of Behavior, coordinator and Help Desk functions) stays open, so
//!    a person who signs in but leaves iMAX unused is locked out of iMAX, not terminated;
//! 3. password older than `password_max_age_days` (R15) → `PasswordExpired`, except for
//!    `ChangePassword` and the browser's `SignIn` (which leads to the change);
//! 4. Rules of Behavior never accepted, or past the person's own yearly due day (R21,
//!    `rules_of_behavior`) → `RulesOfBehaviorNotAccepted`, except for `AcceptRules` itself; `Administer` (coordinator and Help Desk pages) needs
//!    nothing more;
//! 5. a user without the recertification the cycle requires (R17, R20) → `NotRecertified`;
//!    rights flagged for removal (R18) count as removed once the deadline has passed;
//! 6. no iMAX role (R5, R6) → `NoImaxRole`;
//! 7. system-to-system only: not in the working group (R8) → `NotInWorkingGroup`: admitted by the
//!    Help Desk, or automatically `working_group_delay_hours` after the iMAX role was granted;
//!    a coordinator without the iMAX Coordinator action is never in it (R5, strict).

mod cache;
mod opens;
mod rules_of_behavior;
mod throttle;
mod turns;

pub use cache::CredentialCache;
pub use opens::opens_to;
pub use rules_of_behavior::{notices, RulesOfBehavior, RULES_OF_BEHAVIOR_VERSION};
pub use throttle::Throttle;
pub use turns::Turns;

use crate::audit::Action;
use crate::config::AccountPolicy;
use crate::directory::{Account, AccountKind, AccountStatus, LockReason, Right};
use crate::error::Code;
use time::{Duration, OffsetDateTime};

/// The way a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    SystemToSystem,
    Browser,
}

impl Door {
    /// The audit vocabulary's door, whose name the records, metrics and logs carry.
    pub fn audited(self) -> crate::audit::Door {
        match self {
            Door::SystemToSystem => crate::audit::Door::SystemToSystem,
            Door::Browser => crate::audit::Door::Browser,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.audited().as_str()
    }
}

/// What the person asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    SendFile,
    ListMessages,
    GetMessage,
    AckMessage,
    ChangePassword,
    /// Browser sign-in (R10): the M-ID itself, before iMAX is opened. An expired password
    /// still signs in, to reach the password change (R15).
    SignIn,
    /// Accepting the Rules of Behavior (R21): needs a current password, nothing more.
    AcceptRules,
    /// Opening iMAX in the browser (R10): counts as use (R13), so it needs what a mailbox
    /// operation needs.
    OpenImax,
    /// Coordinator and Help Desk pages: a current password and the Rules of Behavior; who may
    /// act on whom is the directory administration's rule (R3, R4, R14).
    Administer,
}

impl Operation {
    /// The audit vocabulary's action an operation is recorded as (its own name).
    pub fn action(self) -> Action {
        match self {
            Operation::SendFile => Action::SendFile,
            Operation::ListMessages => Action::ListMessages,
            Operation::GetMessage => Action::GetMessage,
            Operation::AckMessage => Action::AckMessage,
            Operation::ChangePassword => Action::ChangePassword,
            Operation::SignIn => Action::SignIn,
            Operation::AcceptRules => Action::AcceptRules,
            Operation::OpenImax => Action::OpenImax,
            Operation::Administer => Action::Administer,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.action().as_str()
    }

    /// Operations on an M-ID itself, not on iMAX mailboxes: they need no iMAX role and are
    /// allowed with an expired password.
    fn is_account_only(self) -> bool {
        matches!(self, Operation::ChangePassword | Operation::SignIn)
    }

    /// Whether the operation is use of iMAX (R13's clock), rather than of Secure Systems.
    pub fn is_imax_use(self) -> bool {
        matches!(
            self,
            Operation::SendFile
                | Operation::ListMessages
                | Operation::GetMessage
                | Operation::AckMessage
                | Operation::OpenImax
        )
    }
}

/// The verdict and any account-state transition that time has brought about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Result<(), Code>,
    pub transition: Option<AccountStatus>,
}

impl Decision {
    fn allow() -> Self {
        Decision {
            verdict: Ok(()),
            transition: None,
        }
    }
    fn refuse(code: Code) -> Self {
        Decision {
            verdict: Err(code),
            transition: None,
        }
    }
    fn refuse_and_become(code: Code, status: AccountStatus) -> Self {
        Decision {
            verdict: Err(code),
            transition: Some(status),
        }
    }
}

/// Decides whether `account` may do `op` through `door` at `now`. See the module docs.
pub fn decide(
    account: &Account,
    door: Door,
    op: Operation,
    policy: &AccountPolicy,
    now: OffsetDateTime,
) -> Decision {
    // A lock for failed sign-ins whose time has run out is over (R14's timed lock).
    let status = account.status_at(now);
    // R16: termination is the strongest state; only REAC-TAC restores it.
    if status == AccountStatus::Terminated {
        return Decision::refuse(Code::AccountTerminated);
    }
    let last_signin = account.last_signin_at.unwrap_or(account.created_at);
    if now - last_signin >= Duration::days(policy.termination_days) {
        return Decision::refuse_and_become(Code::AccountTerminated, AccountStatus::Terminated);
    }
    // R14: a lock for failed sign-ins or by an administrator refuses everything; R13's lock
    // for want of iMAX use refuses iMAX only (Secure Systems stays open, its clock moving).
    match status {
        AccountStatus::Locked(LockReason::Inactivity) if !op.is_imax_use() => {}
        AccountStatus::Locked(_) => return Decision::refuse(Code::AccountLocked),
        _ => {}
    }
    let last_use = account.last_activity_at.unwrap_or(account.created_at);
    let idle = now - last_use >= Duration::days(policy.inactivity_lock_days);
    if idle && op.is_imax_use() && status == AccountStatus::Active {
        return Decision::refuse_and_become(
            Code::AccountLocked,
            AccountStatus::Locked(LockReason::Inactivity),
        );
    }
    // R15: an expired password allows only a password change.
    let expired = now - account.password_changed_at >= Duration::days(policy.password_max_age_days);
    if op.is_account_only() {
        return Decision::allow();
    }
    if expired {
        return Decision::refuse(Code::PasswordExpired);
    }
    if op == Operation::AcceptRules {
        return Decision::allow();
    }
    // R21: once a year, a year after the person's own last acceptance.
    if RulesOfBehavior::of(account, policy, now).is_due() {
        return Decision::refuse(Code::RulesOfBehaviorNotAccepted);
    }
    if op == Operation::Administer {
        return Decision::allow();
    }
    // R17, R20: users (never coordinators) hold the cycle's recertification; HUD's own staff
    // and contractors (H-IDs, C-IDs) theirs, in their own window (internal recertification).
    let window = account.affiliation.recertification_window(policy);
    if account.kind == AccountKind::User {
        if let Some(cycle) = window.required_cycle(account.created_at, now) {
            if account.recertified_cycle.is_none_or(|c| c < cycle) {
                return Decision::refuse(Code::NotRecertified);
            }
        }
    }
    rights_verdict(account, door, policy, window, now)
}

/// The account's rights for this door (R5, R6, R8), less those flagged for removal whose
/// deadline has passed (R18): the last step of [`decide`].
fn rights_verdict(
    account: &Account,
    door: Door,
    policy: &AccountPolicy,
    window: crate::calendar::Window,
    now: OffsetDateTime,
) -> Decision {
    // R18: a right flagged for removal is gone once a deadline has passed since the flag.
    let removed = |r: Right| {
        account
            .flagged
            .iter()
            .any(|(f, at)| *f == r && now >= window.next_deadline_after(*at))
    };
    // R5, R6: the iMAX role is global; no property assignment is needed.
    if !account.rights.imax || removed(Right::Imax) {
        return Decision::refuse(Code::NoImaxRole);
    }
    // R8: the working group gates the system-to-system door only. R5 (strict): a coordinator
    // is in it only with the iMAX Coordinator action as well as the iMAX role.
    let coordinator_without_action = account.kind == AccountKind::Coordinator
        && (!account.rights.imax_coordinator || removed(Right::ImaxCoordinator));
    if door == Door::SystemToSystem
        && (coordinator_without_action || !in_working_group(account, policy, now))
    {
        return Decision::refuse(Code::NotInWorkingGroup);
    }
    Decision::allow()
}

/// R8: admitted by the Help Desk, or by the system once the delay after the iMAX role passed.
pub fn in_working_group(account: &Account, policy: &AccountPolicy, now: OffsetDateTime) -> bool {
    let admitted = account.working_group_since.is_some_and(|t| t <= now);
    let automatic = account.rights.imax
        && account
            .imax_granted_at
            .is_some_and(|t| now - t >= Duration::hours(policy.working_group_delay_hours));
    admitted || automatic
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::directory::{AccountKind, MId, Rights};

    pub(super) fn t0() -> OffsetDateTime {
        time::macros::datetime!(2026-01-15 12:00 UTC)
    }

    pub(super) fn able() -> Account {
        Account {
            id: 1,
            mid: MId::parse("M10001").expect("mid"),
            kind: AccountKind::User,
            affiliation: crate::directory::Affiliation::Industry,
            locked_until: None,
            stranger_locked_until: None,
            failure_locks: 0,
            stranger_locks: 0,
            full_name: "A".into(),
            email: "a@example.org".into(),
            password_hash: String::new(),
            password_changed_at: t0(),
            status: AccountStatus::Active,
            failed_signins: 0,
            last_activity_at: Some(t0()),
            last_signin_at: Some(t0()),
            created_at: t0(),
            rights: Rights {
                imax: true,
                ..Rights::default()
            },
            working_group_since: Some(t0()),
            imax_granted_at: Some(t0()),
            rob_accepted_at: Some(t0()),
            recertified_cycle: Some(2025),
            flagged: Vec::new(),
            auth_epoch: 0,
        }
    }

    pub(super) fn s2s(a: &Account, op: Operation, now: OffsetDateTime) -> Decision {
        decide(a, Door::SystemToSystem, op, &AccountPolicy::default(), now)
    }

    #[test]
    fn able_account_is_allowed_through_both_doors() {
        let a = able();
        assert_eq!(s2s(&a, Operation::SendFile, t0()), Decision::allow());
        let web = decide(
            &a,
            Door::Browser,
            Operation::SendFile,
            &AccountPolicy::default(),
            t0(),
        );
        assert_eq!(web, Decision::allow());
    }

    #[test]
    fn r13_ninety_days_without_use_locks() {
        let mut a = able();
        a.last_signin_at = Some(t0() + Duration::days(80)); // signed in elsewhere, no iMAX use
        let day89 = t0() + Duration::days(89);
        assert_eq!(s2s(&a, Operation::SendFile, day89).verdict, Ok(()));
        let d = s2s(&a, Operation::SendFile, t0() + Duration::days(90));
        assert_eq!(d.verdict, Err(Code::AccountLocked));
        assert_eq!(
            d.transition,
            Some(AccountStatus::Locked(LockReason::Inactivity))
        );
        a.status = AccountStatus::Locked(LockReason::FailedSignIns);
        assert_eq!(
            s2s(&a, Operation::ChangePassword, t0()).verdict,
            Err(Code::AccountLocked)
        );
        // Locked out of iMAX only: Secure Systems stays open (R16's clock keeps moving).
        a.status = AccountStatus::Locked(LockReason::Inactivity);
        let day95 = t0() + Duration::days(95);
        assert_eq!(
            s2s(&a, Operation::OpenImax, day95).verdict,
            Err(Code::AccountLocked)
        );
        a.password_changed_at = day95;
        a.last_signin_at = Some(day95);
        for op in [
            Operation::SignIn,
            Operation::ChangePassword,
            Operation::Administer,
        ] {
            assert_eq!(s2s(&a, op, day95).transition, None, "{op:?}");
            assert_ne!(
                s2s(&a, op, day95).verdict,
                Err(Code::AccountLocked),
                "{op:?}"
            );
        }
    }

    #[test]
    fn r15_expired_password_allows_only_a_change() {
        let a = able();
        let later = t0() + Duration::days(90);
        let mut a2 = a.clone();
        a2.last_activity_at = Some(later);
        a2.last_signin_at = Some(later);
        assert_eq!(
            s2s(&a2, Operation::SendFile, later).verdict,
            Err(Code::PasswordExpired)
        );
        assert_eq!(
            s2s(&a2, Operation::ListMessages, later).verdict,
            Err(Code::PasswordExpired)
        );
        assert_eq!(s2s(&a2, Operation::ChangePassword, later).verdict, Ok(()));
    }

    fn web(a: &Account, op: Operation, now: OffsetDateTime) -> Result<(), Code> {
        decide(a, Door::Browser, op, &AccountPolicy::default(), now).verdict
    }

    #[test]
    fn r10_browser_steps_in_order_r15_then_r21() {
        let later = t0() + Duration::days(90);
        let mut a = able();
        a.kind = AccountKind::Coordinator; // exempt from recertification (R17)
        a.last_activity_at = Some(later);
        a.last_signin_at = Some(later);
        a.rights.imax = false;
        // R15: an expired password signs in (to reach the change) and nothing else.
        assert_eq!(web(&a, Operation::SignIn, later), Ok(()));
        assert_eq!(
            web(&a, Operation::AcceptRules, later),
            Err(Code::PasswordExpired)
        );
        assert_eq!(
            web(&a, Operation::Administer, later),
            Err(Code::PasswordExpired)
        );
        // R21: with a current password, the rules come first once a year after the last acceptance.
        let next_year = time::macros::datetime!(2027-01-16 09:00 UTC);
        a.last_activity_at = Some(next_year);
        a.last_signin_at = Some(next_year);
        a.password_changed_at = next_year;
        assert_eq!(web(&a, Operation::AcceptRules, next_year), Ok(()));
        assert_eq!(
            web(&a, Operation::Administer, next_year),
            Err(Code::RulesOfBehaviorNotAccepted)
        );
        a.rob_accepted_at = Some(next_year);
        // Coordinator and Help Desk pages need no iMAX role; opening iMAX does (R5, R6).
        assert_eq!(web(&a, Operation::Administer, next_year), Ok(()));
        assert_eq!(
            web(&a, Operation::OpenImax, next_year),
            Err(Code::NoImaxRole)
        );
    }

    #[test]
    fn r16_terminated_and_ninety_days_without_sign_in() {
        let mut a = able();
        a.status = AccountStatus::Terminated;
        assert_eq!(
            s2s(&a, Operation::ChangePassword, t0()).verdict,
            Err(Code::AccountTerminated)
        );
        let a = able();
        let d = s2s(&a, Operation::SendFile, t0() + Duration::days(90));
        assert_eq!(d.verdict, Err(Code::AccountTerminated));
        assert_eq!(d.transition, Some(AccountStatus::Terminated));
    }

    #[test]
    fn r5_r6_imax_role_and_r8_working_group() {
        let mut a = able();
        a.rights.imax = false;
        assert_eq!(
            s2s(&a, Operation::GetMessage, t0()).verdict,
            Err(Code::NoImaxRole)
        );
        assert_eq!(s2s(&a, Operation::ChangePassword, t0()).verdict, Ok(()));
        let mut a = able();
        a.working_group_since = None;
        assert_eq!(
            s2s(&a, Operation::SendFile, t0()).verdict,
            Err(Code::NotInWorkingGroup)
        );
        let web = decide(
            &a,
            Door::Browser,
            Operation::SendFile,
            &AccountPolicy::default(),
            t0(),
        );
        assert_eq!(
            web.verdict,
            Ok(()),
            "R8: the browser does not need the working group"
        );
        a.working_group_since = Some(t0() + Duration::hours(24));
        assert_eq!(
            s2s(&a, Operation::SendFile, t0()).verdict,
            Err(Code::NotInWorkingGroup)
        );
        // R8: the system admits automatically 24 hours after the iMAX role was granted.
        a.working_group_since = None;
        let day = t0() + Duration::hours(24);
        a.last_activity_at = Some(day);
        a.last_signin_at = Some(day);
        let before = s2s(&a, Operation::SendFile, day - Duration::seconds(1));
        assert_eq!(before.verdict, Err(Code::NotInWorkingGroup));
        assert_eq!(s2s(&a, Operation::SendFile, day).verdict, Ok(()));
    }
}
