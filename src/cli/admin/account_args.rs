//! The arguments of `imax admin account …`: M-IDs, their rights, states, assignments and
//! certifications (carried out in `account.rs`).

use super::PasswordIn;
use clap::{Args, Subcommand};
use imax_gateway::directory::AccountKind;

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an M-ID.
    Create(NewAccountArgs),
    /// Remove imax-coordinator, imax, tcc or tcr.
    Revoke {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        right: String,
    },
    /// Assign a user to a property (R6).
    AssignProperty {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        property: String,
    },
    /// Remove a user's property assignment (R22).
    UnassignProperty {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        property: String,
    },
    /// As a coordinator (--as), assign a user to yourself (R18, R19).
    AssignStaff {
        #[arg(long)]
        mid: String,
    },
    /// Turn a user into a coordinator with BPRs on the given properties (R4; HUD only).
    Promote {
        #[arg(long)]
        mid: String,
        #[arg(long = "property")]
        properties: Vec<String>,
    },
    /// Designate an H-ID as a certifier of HUD's staff and contractors (a supervisor, OTC or
    /// COR; HUD only), or end the designation.
    Certifier {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        off: bool,
    },
    /// As a certifier (--as H…), take an H-ID or C-ID on as staff you recertify.
    TakeOnStaff {
        #[arg(long)]
        mid: String,
    },
    /// As a certifier (--as H…), flag a staff member's iMAX role for removal at the internal
    /// deadline.
    FlagStaff {
        #[arg(long)]
        mid: String,
        /// Clear the flag instead.
        #[arg(long)]
        clear: bool,
    },
    /// As a certifier (--as H…), recertify a staff member for this internal cycle.
    RecertifyStaff {
        #[arg(long)]
        mid: String,
    },
    /// A coordinator who left: remove its BPRs, assignments, staff and rights, and make it a
    /// plain user (R22; the Help Desk, or --as another coordinator of its properties).
    Demote {
        #[arg(long)]
        mid: String,
    },
    /// Make an M-ID Help Desk staff (operator only).
    HelpDesk {
        #[arg(long)]
        mid: String,
    },
    /// Make an M-ID REAC-TAC staff, who restore terminated M-IDs (R16; operator only);
    /// --remove ends it.
    ReacTac {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        remove: bool,
    },
    /// Mail a person notices of a mailbox they may open (R6): a digest of its arrivals, and
    /// reminders of what it sent that nobody retrieved or answered (issue 30); --remove ends it.
    Subscribe {
        #[arg(long)]
        mid: String,
        /// The mailbox's iMAX ID (TRACSMail ID).
        #[arg(long)]
        mailbox: String,
        #[arg(long)]
        remove: bool,
    },
    /// As a coordinator (--as), the report of your users: the User Last Login Report (R14)
    /// with what each has due (R21's Rules of Behavior, Q24's training, this cycle's
    /// certification), dates as YYYY-MM-DD in Washington; --csv for a spreadsheet.
    Report {
        #[arg(long)]
        csv: bool,
    },
    /// As a coordinator (--as), record a user's Security Awareness Training (Q24): the day it
    /// was completed and the certificate's reference. Certification needs one within a year.
    Training {
        #[arg(long)]
        mid: String,
        /// The completion day, YYYY-MM-DD.
        #[arg(long)]
        completed: String,
        #[arg(long)]
        certificate: String,
    },
    /// As a coordinator (--as), flag a user's right, or its assignment to a property, for
    /// removal at the deadline (R18).
    Flag {
        #[arg(long)]
        mid: String,
        #[arg(
            long,
            required_unless_present = "property",
            conflicts_with = "property"
        )]
        right: Option<String>,
        /// A property number the user is assigned to (one of your BPR properties).
        #[arg(long)]
        property: Option<String>,
        /// Clear the flag instead.
        #[arg(long)]
        clear: bool,
    },
    /// As a coordinator (--as), recertify a user for this cycle (R17, R18).
    Recertify {
        #[arg(long)]
        mid: String,
    },
    /// Grant imax-coordinator, imax, tcc or tcr.
    Grant {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        right: String,
    },
    /// Admit to the iMAX working group (system-to-system, R8).
    Admit {
        #[arg(long)]
        mid: String,
    },
    /// Set the password.
    SetPassword {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        temporary: bool,
        #[command(flatten)]
        password: PasswordIn,
    },
    /// Record that the person accepted this year's Rules of Behavior (R21).
    AcceptRob {
        #[arg(long)]
        mid: String,
    },
    /// Unlock a locked M-ID.
    Unlock {
        #[arg(long)]
        mid: String,
    },
    /// Lock an M-ID.
    Lock {
        #[arg(long)]
        mid: String,
    },
    /// Terminate an M-ID (R16).
    Terminate {
        #[arg(long)]
        mid: String,
    },
    /// Restore a terminated M-ID (R16: as REAC-TAC staff with --as, or the operator).
    Restore {
        #[arg(long)]
        mid: String,
    },
    /// Record a coordinator's Business Partner Relationship with a property, or with an
    /// organization such as a service bureau or a CA (R3).
    Bpr {
        #[arg(long)]
        mid: String,
        #[arg(
            long,
            required_unless_present = "organization",
            conflicts_with = "organization"
        )]
        property: Option<String>,
        /// An organization's ID: the coordinator then manages its staff.
        #[arg(long)]
        organization: Option<String>,
    },
    /// As a coordinator (--as), Search for User: an existing M-ID by its exact ID (M-ID, name,
    /// organization, state).
    Find {
        #[arg(long)]
        mid: String,
    },
    /// Assign a user to an organization of your portfolio (taking it on if it is another
    /// company's), or remove the assignment.
    AssignOrganization {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        organization: String,
        /// Remove the assignment instead.
        #[arg(long)]
        remove: bool,
    },
    /// As a coordinator (--as), Assigned Staff: the users you manage.
    Staff,
    /// As a coordinator (--as), Assigned Staff's Delete: let a user go from your portfolio
    /// (its other coordinators keep theirs).
    Release {
        #[arg(long)]
        mid: String,
    },
    /// Show an M-ID's state.
    Show {
        #[arg(long)]
        mid: String,
    },
    /// The second factor of the browser door of the M-ID `--as` names (issue 30).
    TwoFactor {
        #[command(subcommand)]
        command: super::two_factor::TwoFactorCommand,
    },
}

/// `imax admin account create`'s arguments: the new M-ID.
#[derive(Args)]
pub struct NewAccountArgs {
    #[arg(long)]
    pub mid: String,
    /// coordinator or user.
    #[arg(long, value_parser = account_kind)]
    pub kind: AccountKind,
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "")]
    pub email: String,
    #[arg(long, default_value = "")]
    pub organization: String,
    /// The password expires at once: the person must change it first (R15).
    #[arg(long)]
    pub temporary: bool,
    /// A property number (repeatable): a coordinator's BPRs, a user's assignments.
    #[arg(long = "property")]
    pub properties: Vec<String>,
    /// hud, contractor or industry (HUD's to choose; coordinators make industry M-IDs
    /// only). Default: the one the ID's letter is issued for (H, C, M).
    #[arg(long)]
    pub affiliation: Option<String>,
    #[command(flatten)]
    pub password: PasswordIn,
}

/// `--kind`, read once at the door into the directory's own type.
fn account_kind(s: &str) -> Result<AccountKind, String> {
    AccountKind::parse(s).ok_or_else(|| "coordinator or user".to_string())
}
