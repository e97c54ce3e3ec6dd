//! `[accounts]`: the M-ID and mailbox policy (locks, expiry, recertification windows).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountPolicy {
    /// Wrong passwords in a row, on one side (familiar addresses, or strangers'), that lock
    /// that side (R14).
    pub failed_signin_limit: u32,
    /// How long the first lock for failed sign-ins lasts; each further lock in a row lasts
    /// twice the one before, up to `failed_signin_lock_max_minutes` (NIST SP 800-63B §5.2.2).
    pub failed_signin_lock_minutes: i64,
    pub failed_signin_lock_max_minutes: i64,
    /// Days a successful sign-in keeps its address familiar to the M-ID (and a successful
    /// open keeps a mailbox familiar to the M-ID): strangers' failures never lock the
    /// familiar out.
    pub familiar_days: i64,
    /// Distinct M-IDs frozen out of one mailbox at once (each by its own wrong passwords)
    /// that freeze it for everyone who has not opened it within `familiar_days`.
    pub mailbox_freeze_mids: u32,
    pub inactivity_lock_days: i64,
    pub termination_days: i64,
    pub password_max_age_days: i64,
    pub password_min_length: usize,
    pub password_history: u32,
    pub activity_granularity_secs: i64,
    pub credential_cache_secs: i64,
    pub working_group_delay_hours: i64,
    /// Wrong TRACSMail passwords in a row from one M-ID that freeze the mailbox for that M-ID.
    pub mailbox_failed_limit: u32,
    /// Minutes a freeze (for one M-ID, or for everyone) lasts unless the Help Desk resets the
    /// mailbox's password (R24).
    pub mailbox_freeze_minutes: i64,
    /// Days without use after which a TRACSMail ID is inactive until the Help Desk's password
    /// reset reactivates it; 0: never.
    pub mailbox_inactive_days: i64,
    /// R6 (issue 27): a mailbox opens only to its own people (assigned to its property, or to
    /// the organization owning, managing or servicing it). `false`: iMAX's behaviour, where
    /// the TRACSMail password alone opens it.
    pub affiliation_required: bool,
    pub recertification_opens: String,
    pub recertification_deadline: String,
    /// HUD's own staff and contractors (H-IDs, C-IDs) are recertified by their supervisor,
    /// OTC or COR in a window of their own (MM-DD dates).
    pub internal_recertification_opens: String,
    pub internal_recertification_deadline: String,
    /// Days before a person's Rules of Behavior fall due from which every answer, on both
    /// doors, carries a notice of the due date (R21).
    pub rules_of_behavior_notice_days: i64,
    /// Who must have a second factor on the browser door (issue 30): a person of one of these
    /// groups who signs in without one is sent to enrol before anything else. The
    /// system-to-system door is never asked for one (its published interface has none).
    pub two_factor_required: Vec<SecondFactorGroup>,
    /// Wrong codes in one half-signed-in session before it ends and the password must be
    /// given again (each also counts against the client's throttle).
    pub two_factor_attempts: u32,
    /// Minutes a session waiting for its second factor lives.
    pub two_factor_pending_minutes: i64,
}

/// The groups `accounts.two_factor_required` names: the two kinds of M-ID, the Help Desk's
/// staff and HUD's own people (H-IDs, C-IDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecondFactorGroup {
    Coordinator,
    User,
    HelpDesk,
    Hud,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        Self {
            failed_signin_limit: 3,
            failed_signin_lock_minutes: 15,
            failed_signin_lock_max_minutes: 24 * 60,
            familiar_days: 90,
            mailbox_freeze_mids: 3,
            inactivity_lock_days: 90,
            termination_days: 90,
            password_max_age_days: 90,
            password_min_length: 12,
            password_history: 6,
            activity_granularity_secs: 3600,
            credential_cache_secs: 300,
            working_group_delay_hours: 24,
            mailbox_failed_limit: 5,
            mailbox_freeze_minutes: 60,
            mailbox_inactive_days: 180,
            affiliation_required: true,
            recertification_opens: "09-01".into(),
            recertification_deadline: "12-31".into(),
            internal_recertification_opens: "11-01".into(),
            internal_recertification_deadline: "12-06".into(),
            rules_of_behavior_notice_days: 30,
            two_factor_required: Vec::new(),
            two_factor_attempts: 5,
            two_factor_pending_minutes: 5,
        }
    }
}

impl AccountPolicy {
    /// The yearly recertification window (validated at load; the default if unparsable).
    pub fn recertification_window(&self) -> crate::calendar::Window {
        crate::calendar::Window::parse(&self.recertification_opens, &self.recertification_deadline)
            .or_else(|| crate::calendar::Window::parse("09-01", "12-31"))
            .unwrap_or(crate::calendar::Window {
                opens: (time::Month::September, 1),
                deadline: (time::Month::December, 31),
            })
    }

    /// The yearly window of HUD's own staff and contractors (validated at load).
    pub fn internal_recertification_window(&self) -> crate::calendar::Window {
        crate::calendar::Window::parse(
            &self.internal_recertification_opens,
            &self.internal_recertification_deadline,
        )
        .unwrap_or(crate::calendar::Window {
            opens: (time::Month::November, 1),
            deadline: (time::Month::December, 6),
        })
    }

    /// How long the next lock for failed sign-ins lasts after `locks_before` in a row: the
    /// first lock's minutes, doubled for each, capped (R14).
    pub fn failure_lock_for(&self, locks_before: u32) -> time::Duration {
        let minutes = self
            .failed_signin_lock_minutes
            .saturating_mul(1_i64 << locks_before.min(32))
            .min(self.failed_signin_lock_max_minutes);
        time::Duration::minutes(minutes)
    }
}
