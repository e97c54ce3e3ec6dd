//! The audit vocabulary: what happened ([`Action`]), through which door ([`Door`]) and how it
//! ended ([`Outcome`]), each from one table.
//!
//! These names are written into every audit record, hashed into the chain, and used as the
//! `operation`, `door` and `outcome` labels of `imax_requests_total` and the fields of the
//! request's log line, so one name means one thing everywhere. A stored name is part of the
//! chain: old chains must still verify and be searchable, so a name, once written, is never
//! renamed (the unit test below pins every one). An action's name is its variant's name, so
//! the two cannot drift apart.

use crate::error::Code;
use std::fmt;
use std::str::FromStr;

/// A name not in the vocabulary (the argument of an audit search, a hand-edited record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a name of the audit vocabulary", self.0)
    }
}

impl std::error::Error for UnknownName {}

/// The actions, each with its one-line meaning (its documentation and [`Action::meaning`]).
macro_rules! actions {
    ($($name:ident => $meaning:literal,)+) => {
        /// What an audit record says happened. Its stored name is the variant's name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(#[doc = $meaning] $name,)+
        }

        impl Action {
            /// Every action, in the table's order.
            pub const ALL: &'static [Action] = &[$(Action::$name,)+];

            /// The stored name (the variant's name), as in every record since the first.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$name => stringify!($name),)+
                }
            }

            /// What the action means, in one line.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Action::$name => $meaning,)+
                }
            }
        }
    };
}

actions! {
    // Through the doors (the gateway's core), by the person signed in.
    Authenticate => "A password attempt refused before its M-ID was known, or a summary of them.",
    SignIn => "A browser sign-in with an M-ID (R10).",
    AcceptRules => "The person accepted the Rules of Behavior (R21).",
    OpenImax => "iMAX opened in the browser (R10, R13).",
    Administer => "The coordinator or Help Desk pages asked for (the access decision).",
    ChangePassword => "An M-ID's own password change (R15).",
    SendFile => "A file sent through a mailbox (R11, R12).",
    ListMessages => "A mailbox's messages listed.",
    GetMessage => "A message downloaded.",
    AckMessage => "A message acknowledged as retrieved.",
    ChangeMailboxPassword => "A TRACSMail ID's password changed by its user (R24).",
    UpdateMailboxProfile => "A mailbox profile edited by its user (R23).",
    SecondFactorEnrolBegun => "A second factor's enrolment begun: a new secret, not yet asked for.",
    SecondFactorEnrolled => "A second factor confirmed by a current code: sign-in asks for codes.",
    SecondFactorDisabled => "A person's second factor removed by the operator.",
    SecondFactor => "A second-factor code (or recovery code) given at sign-in.",
    Subscribe => "A person subscribed to a mailbox's arrival notices (issue 30).",
    Unsubscribe => "A person's subscription to a mailbox's notices ended.",
    PasskeyRegistered => "A passkey (WebAuthn) registered as a person's second factor.",
    // Administration: people and their rights.
    CreateAccount => "An M-ID created (a user or a coordinator, R3, R4).",
    SetPassword => "An M-ID's password set by HUD or its coordinator.",
    SetStatus => "An M-ID locked, unlocked, terminated or restored (R14, R16).",
    SetEmployer => "The organization an M-ID works for recorded.",
    Promote => "A user made a coordinator (R4).",
    Demote => "A coordinator made a user again (R22).",
    AddHelpDesk => "An M-ID made Help Desk staff.",
    SetReacTac => "An M-ID made (or no longer) REAC-TAC staff (R16).",
    Grant => "An action or role granted (R5).",
    Revoke => "An action or role revoked (R5).",
    GrantOwn => "A coordinator turned one of its own roles on (R7).",
    RevokeOwn => "A coordinator turned one of its own roles off (R7).",
    AdmitWorkingGroup => "An M-ID admitted to the system-to-system working group early (R8).",
    AcceptRulesOfBehavior => "The Rules of Behavior recorded as accepted by HUD (R21).",
    // Administration: portfolios and recertification.
    AssignProperty => "A user assigned to a property, or unassigned (R22).",
    AssignOrganization => "A user assigned to an organization's properties, or unassigned.",
    AssignStaff => "A coordinator took a user on as its staff (R19).",
    TakeOn => "A coordinator took a user on for one of its properties or organizations.",
    ReleaseStaff => "A coordinator let a user of its staff go.",
    FlagRight => "A right flagged for removal at the deadline, or the flag cleared (R18).",
    FlagAssignment => "A property assignment flagged for removal at the deadline (R18).",
    Recertify => "A coordinator recertified a user (R17, R18).",
    StartCertificationDeadlines => "Certification deadlines applied to assignments from now on.",
    LapseUncertifiedAssignments => "Assignments nobody certified by the deadline lapsed (R17).",
    RemoveFlaggedAssignment => "A flagged assignment removed at the deadline (R18).",
    RemoveFlaggedRight => "A flagged right removed at the deadline (R18).",
    RecordTraining => "Security Awareness Training recorded (Q24).",
    DesignateCertifier => "HUD designated a certifier of its own staff.",
    TakeOnStaff => "A certifier took on one of HUD's staff or contractors.",
    FlagStaffRight => "A certifier flagged a staff member's right for removal.",
    RecertifyStaff => "A certifier recertified a staff member.",
    // Administration: mailboxes, properties, contracts and organizations.
    CreateMailbox => "A TRACSMail ID created.",
    SetMailboxPassword => "A TRACSMail ID's password set by the operator (R24).",
    ResetMailboxPassword => "A TRACSMail ID's password reset against its profile (R23, R24).",
    SetMailboxSender => "Who may send through a mailbox set (R11).",
    SetAcceptsAttachments => "Whether a mailbox accepts attachments set.",
    SetMailboxProfile => "A mailbox profile set by HUD (R23).",
    SetMailboxOrganization => "The organization a mailbox belongs to set (R25).",
    ChangeOwnership => "A property moved to its new owner's TRACSMail ID (R25).",
    UpsertProperty => "A property created or changed.",
    UpsertContract => "A contract created or changed.",
    SetPropertyOwner => "A property's owner organization set.",
    AddBusinessPartner => "A business partner relationship (BPR) recorded.",
    CreateOrganization => "An organization created.",
    PostBroadcast => "A broadcast message posted to every mailbox.",
    SetAllowedNetworks => "The networks a mailbox's or organization's software may call from set.",
    RotateReceiptKey => "A new receipt-signing key made current; the old ones kept (issue 31).",
    PurgeHistory => "History older than the retention removed (R26).",
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// Through which door something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    /// The SOAP door of vendor software.
    SystemToSystem,
    /// The browser door.
    Browser,
    /// `imax admin` at the command line.
    CommandLine,
    /// The gateway's own scheduled jobs.
    System,
    /// The operator's endpoints (`/healthz`, `/readyz`, `/metrics`): metrics only.
    Operations,
    /// Not one door: a summary of refused attempts, a password check refused before its door
    /// counted.
    Any,
}

impl Door {
    pub const ALL: &'static [Door] = &[
        Door::SystemToSystem,
        Door::Browser,
        Door::CommandLine,
        Door::System,
        Door::Operations,
        Door::Any,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Door::SystemToSystem => "s2s",
            Door::Browser => "web",
            Door::CommandLine => "cli",
            Door::System => "system",
            Door::Operations => "ops",
            Door::Any => "any",
        }
    }
}

impl fmt::Display for Door {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Door {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Door::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// How it ended: done, or refused with a stable code, or one of the few outcomes that are
/// neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// Refused: the refusal's code (`error::Code`), as the caller was told.
    Refused(Code),
    /// A mailbox password reset refused because resets of it are frozen (R24).
    ResetsFrozen,
    /// A mailbox password reset whose requester matched no contact of the profile (R23).
    ResetMismatch,
    /// A summary of refused password attempts not recorded one by one.
    RefusalsSummarized,
    /// A password attempt the busy hashing threads had no room for (metrics only).
    PasswordCheckBusy,
}

impl Outcome {
    /// The outcomes that are no refusal code.
    const OTHERS: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::ResetsFrozen,
        Outcome::ResetMismatch,
        Outcome::RefusalsSummarized,
        Outcome::PasswordCheckBusy,
    ];

    /// Every outcome: the others, then one per refusal code.
    pub fn all() -> impl Iterator<Item = Outcome> {
        Self::OTHERS
            .into_iter()
            .chain(Code::ALL.iter().copied().map(Outcome::Refused))
    }

    /// The stored name: `ok`, the refusal code's name, or the outcome's own.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused(code) => code.as_str(),
            Outcome::ResetsFrozen => "ResetsFrozen",
            Outcome::ResetMismatch => "ResetMismatch",
            Outcome::RefusalsSummarized => "RefusalsSummarized",
            Outcome::PasswordCheckBusy => "PasswordCheckBusy",
        }
    }
}

impl From<Code> for Outcome {
    fn from(code: Code) -> Self {
        Outcome::Refused(code)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Outcome::all()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name ever written into a chain, byte for byte: old chains verify and are found
    /// by these names, so none may change (add new ones at the end of their group).
    const STORED_ACTIONS: &str = "Authenticate SignIn AcceptRules OpenImax Administer \
        ChangePassword SendFile ListMessages GetMessage AckMessage ChangeMailboxPassword \
        UpdateMailboxProfile SecondFactorEnrolBegun SecondFactorEnrolled \
        SecondFactorDisabled SecondFactor Subscribe Unsubscribe PasskeyRegistered CreateAccount SetPassword SetStatus SetEmployer Promote Demote \
        AddHelpDesk SetReacTac Grant Revoke GrantOwn RevokeOwn AdmitWorkingGroup \
        AcceptRulesOfBehavior AssignProperty AssignOrganization AssignStaff TakeOn ReleaseStaff \
        FlagRight FlagAssignment Recertify StartCertificationDeadlines \
        LapseUncertifiedAssignments RemoveFlaggedAssignment RemoveFlaggedRight RecordTraining \
        DesignateCertifier TakeOnStaff FlagStaffRight RecertifyStaff CreateMailbox \
        SetMailboxPassword ResetMailboxPassword SetMailboxSender SetAcceptsAttachments \
        SetMailboxProfile SetMailboxOrganization ChangeOwnership UpsertProperty UpsertContract \
        SetPropertyOwner AddBusinessPartner CreateOrganization PostBroadcast SetAllowedNetworks RotateReceiptKey \
        PurgeHistory";

    #[test]
    fn stored_names_never_change() {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        let pinned: Vec<&str> = STORED_ACTIONS.split_whitespace().collect();
        assert_eq!(names, pinned);
        let doors: Vec<&str> = Door::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(doors, ["s2s", "web", "cli", "system", "ops", "any"]);
        assert_eq!(Outcome::Ok.as_str(), "ok");
        assert_eq!(Outcome::from(Code::NotPermitted).as_str(), "NotPermitted");
    }

    #[test]
    fn names_are_unique_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
            assert!(!a.meaning().is_empty());
        }
        for d in Door::ALL {
            assert_eq!(d.as_str().parse::<Door>(), Ok(*d));
        }
        let outcomes: Vec<Outcome> = Outcome::all().collect();
        for o in &outcomes {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(*o));
        }
        let names: std::collections::HashSet<&str> = outcomes.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            names.len(),
            outcomes.len(),
            "an outcome's name is a refusal code's too"
        );
        assert!("Frobnicate".parse::<Action>().is_err());
    }
}
