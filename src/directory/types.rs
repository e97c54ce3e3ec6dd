//! Accounts, rights and mailboxes.

use super::{ImaxId, MId};
use time::OffsetDateTime;

/// Coordinators manage users for the properties they have a BPR with (R2, R3); users are
/// managed by coordinators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Coordinator,
    User,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Coordinator => "coordinator",
            AccountKind::User => "user",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "coordinator" => Some(Self::Coordinator),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

/// Whom an M-ID belongs to: HUD's own staff, HUD's contractors, or the industry (owners,
/// agents, service bureaus, CAs). A property of the account that HUD (the operator or the Help
/// Desk) sets when it makes the M-ID, never read off the ID's first letter: HUD's mailbox
/// (TRACMPROD) and the internal recertification window follow it, so a coordinator, who makes
/// only industry M-IDs, cannot mint HUD's authority by choosing a name (issue 25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affiliation {
    HudStaff,
    Contractor,
    Industry,
}

impl Affiliation {
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::HudStaff => "hud",
            Affiliation::Contractor => "contractor",
            Affiliation::Industry => "industry",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hud" => Some(Self::HudStaff),
            "contractor" => Some(Self::Contractor),
            "industry" => Some(Self::Industry),
            _ => None,
        }
    }
    /// The letter Secure Systems issues this affiliation's IDs with (`H`, `C`, `M`): a new
    /// M-ID's letter must agree with the affiliation it is made with.
    pub fn id_letter(self) -> char {
        match self {
            Affiliation::HudStaff => 'H',
            Affiliation::Contractor => 'C',
            Affiliation::Industry => 'M',
        }
    }
    /// The affiliation whose IDs Secure Systems issues with `letter` (the inverse of
    /// [`Affiliation::id_letter`]): only a default for HUD's own choice when it makes an M-ID.
    pub fn issued_with(letter: char) -> Affiliation {
        [Affiliation::HudStaff, Affiliation::Contractor]
            .into_iter()
            .find(|a| a.id_letter() == letter)
            .unwrap_or(Affiliation::Industry)
    }

    /// HUD's own people (staff and contractors): HUD's mailbox, HUD's recertification window.
    pub fn is_hud(self) -> bool {
        !matches!(self, Affiliation::Industry)
    }

    /// The recertification window that applies: HUD's staff and contractors have their own.
    pub fn recertification_window(
        self,
        policy: &crate::config::AccountPolicy,
    ) -> crate::calendar::Window {
        if self.is_hud() {
            policy.internal_recertification_window()
        } else {
            policy.recertification_window()
        }
    }
}

/// Why a locked M-ID is locked: an inactivity lock (R13) is lifted by a coordinator (R14) just
/// like a lock for failed sign-ins or a coordinator's own lock; a lock the Help Desk (or the
/// installation's operator) set is lifted only by the Help Desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReason {
    Inactivity,
    FailedSignIns,
    /// Locked by a coordinator.
    Administrative,
    /// Locked by the Help Desk: only the Help Desk lifts it.
    HelpDesk,
}

impl LockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LockReason::Inactivity => "inactivity",
            LockReason::FailedSignIns => "failed_signins",
            LockReason::Administrative => "administrative",
            LockReason::HelpDesk => "help_desk",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inactivity" => Some(Self::Inactivity),
            "failed_signins" => Some(Self::FailedSignIns),
            "administrative" => Some(Self::Administrative),
            "help_desk" => Some(Self::HelpDesk),
            _ => None,
        }
    }
}

/// An M-ID is active, locked (with a reason) or terminated (R16): a lock reason exists only
/// when locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Locked(LockReason),
    Terminated,
}

impl Account {
    /// The status that holds at `now`: a lock for failed sign-ins whose time has run out is
    /// over, whether or not the row says so yet.
    pub fn status_at(&self, now: OffsetDateTime) -> AccountStatus {
        match (self.status, self.locked_until) {
            (AccountStatus::Locked(LockReason::FailedSignIns), Some(until)) if until <= now => {
                AccountStatus::Active
            }
            (s, _) => s,
        }
    }

    /// Whether strangers' addresses are locked out at `now`.
    pub fn strangers_locked_at(&self, now: OffsetDateTime) -> bool {
        self.stranger_locked_until.is_some_and(|t| t > now)
    }

    /// R13: whether a use at `now` is recorded as the M-ID's activity: none (or no sign-in) was
    /// within `granularity`. Shared like [`Mailbox::use_due`].
    pub fn use_due(&self, now: OffsetDateTime, granularity: time::Duration) -> bool {
        let due = |t: Option<OffsetDateTime>| t.is_none_or(|t| now - t >= granularity);
        due(self.last_activity_at) || due(self.last_signin_at)
    }
}

impl AccountStatus {
    /// The stored pair (status, lock_reason).
    pub fn to_columns(self) -> (&'static str, Option<&'static str>) {
        match self {
            AccountStatus::Active => ("active", None),
            AccountStatus::Locked(r) => ("locked", Some(r.as_str())),
            AccountStatus::Terminated => ("terminated", None),
        }
    }

    pub fn from_columns(status: &str, reason: Option<&str>) -> Option<Self> {
        match status {
            "active" => Some(Self::Active),
            "locked" => Some(Self::Locked(
                reason
                    .and_then(LockReason::parse)
                    .unwrap_or(LockReason::Administrative),
            )),
            "terminated" => Some(Self::Terminated),
            _ => None,
        }
    }
}

/// The iMAX Coordinator action and the roles the gateway cares about (R5–R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    ImaxCoordinator,
    Imax,
    Tcc,
    Tcr,
}

impl Right {
    pub const ALL: [Right; 4] = [Right::ImaxCoordinator, Right::Imax, Right::Tcc, Right::Tcr];

    pub fn as_str(self) -> &'static str {
        match self {
            Right::ImaxCoordinator => "imax-coordinator",
            Right::Imax => "imax",
            Right::Tcc => "tcc",
            Right::Tcr => "tcr",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Right::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The set of rights an account holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights {
    pub imax_coordinator: bool,
    pub imax: bool,
    pub tcc: bool,
    pub tcr: bool,
}

impl Rights {
    pub fn has(&self, r: Right) -> bool {
        match r {
            Right::ImaxCoordinator => self.imax_coordinator,
            Right::Imax => self.imax,
            Right::Tcc => self.tcc,
            Right::Tcr => self.tcr,
        }
    }
    pub fn set(&mut self, r: Right, on: bool) {
        match r {
            Right::ImaxCoordinator => self.imax_coordinator = on,
            Right::Imax => self.imax = on,
            Right::Tcc => self.tcc = on,
            Right::Tcr => self.tcr = on,
        }
    }
}

/// An M-ID as the access decision sees it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub mid: MId,
    pub kind: AccountKind,
    /// HUD staff, contractor or industry: set by HUD, never inferred from the ID.
    pub affiliation: Affiliation,
    pub full_name: String,
    pub email: String,
    pub password_hash: String,
    pub password_changed_at: OffsetDateTime,
    pub status: AccountStatus,
    /// Wrong passwords in a row from familiar addresses (see [`Account::locked_until`]), as
    /// read: the directory's mark does not watch it (migration 31), so a context a node
    /// remembers may hold an older count. Shown, never decided from: each attempt counts
    /// itself afresh (`accounts::claim_attempt`).
    pub failed_signins: u32,
    /// When a lock for failed sign-ins ends (`None` on such a lock: a lock from before locks
    /// were timed, lifted only by a coordinator or the Help Desk).
    pub locked_until: Option<OffsetDateTime>,
    /// Until when wrong passwords from strangers' addresses (where the M-ID has not signed in
    /// within 90 days) keep those addresses out; familiar addresses are not affected.
    pub stranger_locked_until: Option<OffsetDateTime>,
    /// Locks for failed sign-ins in a row on each side (familiar, strangers'): each lasts
    /// twice the one before (R14), until a right password starts the count again.
    pub failure_locks: u32,
    pub stranger_locks: u32,
    pub last_activity_at: Option<OffsetDateTime>,
    pub last_signin_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub rights: Rights,
    /// When the Help Desk admitted the M-ID to the iMAX working group (R8), if it did.
    pub working_group_since: Option<OffsetDateTime>,
    /// When the iMAX role was granted: the system admits the M-ID to the working group a
    /// configurable delay later (R8), without anyone having to act.
    pub imax_granted_at: Option<OffsetDateTime>,
    /// When the person last accepted the Rules of Behavior (R21). Never shown to coordinators.
    pub rob_accepted_at: Option<OffsetDateTime>,
    /// The latest recertification cycle (year) the user holds (R17).
    pub recertified_cycle: Option<i32>,
    /// Rights a coordinator flagged for removal at the deadline (R18), with when.
    pub flagged: Vec<(Right, OffsetDateTime)>,
    /// Bumped whenever the password or status changes, so remembered credentials die at once,
    /// on every node.
    pub auth_epoch: i64,
}

/// The kind of business relationship a TRACSMail ID belongs to (R25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxKind {
    Hud,
    ContractAdministrator,
    Property,
    ServiceBureau,
    /// A vendor's test mailbox (issue 31, `TRACX…`): its files go to the simulated TRACS and
    /// never meet production mailboxes (`mailbox::choose_recipient`).
    Sandbox,
}

impl MailboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxKind::Hud => "hud",
            MailboxKind::ContractAdministrator => "ca",
            MailboxKind::Property => "property",
            MailboxKind::ServiceBureau => "service-bureau",
            MailboxKind::Sandbox => "sandbox",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hud" => Some(Self::Hud),
            "ca" => Some(Self::ContractAdministrator),
            "property" => Some(Self::Property),
            "service-bureau" => Some(Self::ServiceBureau),
            "sandbox" => Some(Self::Sandbox),
            _ => None,
        }
    }

    /// HUD and CAs administer contracts: they receive TRACS files and answer anyone (R12).
    pub fn is_administrator(self) -> bool {
        matches!(self, MailboxKind::Hud | MailboxKind::ContractAdministrator)
    }

    /// A vendor's sandbox (issue 31): its files stay in the sandbox and count as no activity.
    pub fn is_sandbox(self) -> bool {
        self == MailboxKind::Sandbox
    }
}

/// A TRACSMail mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub id: i64,
    pub imax_id: ImaxId,
    pub kind: MailboxKind,
    pub name: String,
    pub password_hash: String,
    pub active: bool,
    pub auth_epoch: i64,
    /// Whether files that are not TRACS files may be sent to it (HUD's TRACS: no).
    pub accepts_attachments: bool,
    /// Frozen for everyone after several M-IDs' wrong passwords: refused until then, except
    /// to M-IDs that opened it within 90 days.
    pub frozen_until: Option<time::OffsetDateTime>,
    /// The latest freeze of one M-ID's access to it (its wrong passwords): while any is in
    /// force, every attempt is checked in full (the credential cache is not asked).
    pub mid_frozen_until: Option<time::OffsetDateTime>,
    pub created_at: time::OffsetDateTime,
    /// When it was last opened or used by either door (none: never since it was made).
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl Mailbox {
    /// Since when the mailbox has been inactive at `now`, unused for `after_days` days (0:
    /// never inactive): counted from its last use, or from its creation if never used.
    pub fn inactive_since(
        &self,
        now: time::OffsetDateTime,
        after_days: i64,
    ) -> Option<time::OffsetDateTime> {
        // A sandbox records no use (issue 31), so it never goes inactive either.
        if self.kind.is_sandbox() {
            return None;
        }
        let since = self.last_used_at.unwrap_or(self.created_at) + time::Duration::days(after_days);
        (after_days > 0 && now >= since).then_some(since)
    }

    /// Whether a use at `now` is recorded as the mailbox's use: none was within `granularity`
    /// (a sandbox records none, issue 31). Shared by the door that records uses
    /// (`gateway::Gateway::uses`) and the contexts a node remembers (`store::context`), which
    /// are never served when a use would be recorded.
    pub fn use_due(&self, now: time::OffsetDateTime, granularity: time::Duration) -> bool {
        !self.kind.is_sandbox() && self.last_used_at.is_none_or(|t| now - t >= granularity)
    }

    /// Whether wrong passwords have frozen the mailbox for everyone at `now`.
    pub fn is_frozen(&self, now: time::OffsetDateTime) -> bool {
        self.frozen_until.is_some_and(|t| t > now)
    }

    /// Whether any freeze (for everyone, or for one M-ID) is in force at `now`.
    pub fn any_freeze_at(&self, now: time::OffsetDateTime) -> bool {
        self.is_frozen(now) || self.mid_frozen_until.is_some_and(|t| t > now)
    }
}
