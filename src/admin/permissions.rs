//! Who may administer what: one rule per operation, in one table ([`RULES`]) that every
//! operation consults before it acts and that the authorization tests iterate
//! (`tests/matrix.rs`), so a new operation cannot be added without saying who may do it.
//!
//! The rule is about the actor and, for operations on a person, its relationship to that
//! person (R3, R14, R22: a coordinator manages a user only while one of its BPR properties is
//! among the user's assignments; coordinators are the Help Desk's; Help Desk staff are HUD's).
//! Conditions about the operation's own values (R5's order of rights, R16's terminal states,
//! R19's shared property, R2's five coordinators) stay with the operation.

use super::{forbidden, Actor, Admin, AdminResult};
use crate::directory::{Account, AccountKind, MId, Right};

/// Who may do an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The installation's operator at the command line, only.
    Operator,
    /// The operator, or the gateway's own scheduled jobs.
    OperatorOrSystem,
    /// HUD: the Help Desk or the operator (R4, R8, R16, R24).
    Hud,
    /// HUD, or a coordinator (for properties it has a BPR with, which the operation checks).
    HudOrCoordinator,
    /// HUD (and the system), or a coordinator on a user it manages (R3, R14, R22).
    HudOrTheUsersCoordinator,
    /// A coordinator on a user it manages: a coordinator's own step (R18).
    TheUsersCoordinator,
    /// A coordinator, about its own users and properties.
    Coordinator,
    /// A certifier of HUD's own staff (a supervisor, OTC or COR), about the staff it took on.
    Certifier,
    /// REAC-TAC staff or the operator (R16).
    ReacTac,
}

/// The operations and the rule of each, from one list: an operation cannot exist without its
/// rule.
macro_rules! operations {
    ($($(#[$doc:meta])* $op:ident => $who:ident,)+) => {
        /// Every administration operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AdminOp {
            $($(#[$doc])* $op,)+
        }

        /// The rule of every operation.
        pub const RULES: &[(AdminOp, Who)] = &[$((AdminOp::$op, Who::$who),)+];
    };
}

operations! {
    CreateMailbox => Hud,
    /// R24: the Help Desk resets a mailbox password only through the profile's validation
    /// (`ResetMailboxPassword`); the operator's direct set stays, audited as such.
    SetMailboxPassword => Operator,
    SetMailboxSender => Hud,
    SetAcceptsAttachments => Hud,
    /// Issue 30: the networks a mailbox's or an organization's vendor software calls from.
    SetAllowedNetworks => Hud,
    /// R23, R24: mailbox profiles and the resets validated against them.
    SetMailboxProfile => Hud,
    ResetMailboxPassword => Hud,
    MailboxState => Hud,
    /// The 2018 release: unused TRACSMail IDs go inactive; the Help Desk lists and reactivates.
    InactiveMailboxes => Hud,
    CreateProperty => Hud,
    /// R25: a property that changes hands moves to the new owner's new TRACSMail ID.
    ChangeOwnership => Hud,
    CreateContract => Hud,
    AddBusinessPartner => Hud,
    PostBroadcast => Hud,
    Search => Hud,
    /// Issue 27: owners, agents, service bureaus, CAs and HUD as organizations.
    CreateOrganization => Hud,
    /// Issue 31: a vendor's certification report from its sandbox.
    SandboxReport => Hud,
    /// Issue 31: a contract's TRACS round-trip ledger; a coordinator's for the contracts of its
    /// BPR properties (R3) and those its CA administers (R12), which the operation checks.
    ReadLedger => HudOrCoordinator,
    /// R3: Search for User, an M-ID by its exact ID (the operation limits what it shows).
    FindPerson => HudOrCoordinator,
    /// R4: only HUD makes a coordinator.
    CreateCoordinator => Hud,
    /// R3: a coordinator creates users for its BPR properties; HUD for any with a coordinator.
    CreateUser => HudOrCoordinator,
    Promote => Hud,
    /// R22: a coordinator who left is removed by the Help Desk or another coordinator of its
    /// properties (which the operation checks).
    Demote => HudOrCoordinator,
    AddHelpDesk => Operator,
    /// R8: sooner than the automatic admission.
    Admit => Hud,
    AcceptRulesOfBehavior => Hud,
    /// R5: the iMAX role is the coordinator's to give and take; every other right is HUD's.
    GrantImaxRole => HudOrTheUsersCoordinator,
    RevokeImaxRole => HudOrTheUsersCoordinator,
    GrantOtherRight => Hud,
    RevokeOtherRight => Hud,
    /// R7 (seed Q5, Q45): a coordinator turns on its own TCC and TCR roles, and its own iMAX
    /// Coordinator action and iMAX role, for itself only.
    GrantOwnRight => Coordinator,
    RevokeOwnRight => Coordinator,
    SetPassword => HudOrTheUsersCoordinator,
    /// R14: coordinators lock and unlock their users.
    Lock => HudOrTheUsersCoordinator,
    Unlock => HudOrTheUsersCoordinator,
    /// R16: the Help Desk terminates; only REAC-TAC (or the operator) restores.
    Terminate => Hud,
    Restore => ReacTac,
    /// R16: the operator makes REAC-TAC staff.
    SetReacTac => Operator,
    /// R22.
    AssignProperty => HudOrTheUsersCoordinator,
    ViewPerson => HudOrTheUsersCoordinator,
    /// R18: review and flag, then recertify; R19: taking a user as staff.
    FlagRight => HudOrTheUsersCoordinator,
    AssignStaff => Coordinator,
    Recertify => TheUsersCoordinator,
    /// Q24: a coordinator records its users' Security Awareness Training (HUD may too).
    RecordTraining => HudOrTheUsersCoordinator,
    LastLoginReport => Coordinator,
    ImportRecertification => Operator,
    ApplyDeadlines => OperatorOrSystem,
    /// R26.
    PurgeHistory => OperatorOrSystem,
    /// Internal recertification: HUD designates the supervisors, OTCs and CORs who certify its
    /// staff and contractors (H-IDs, C-IDs).
    DesignateCertifier => Hud,
    /// Its three steps, each the certifier's own, on the staff it took on (which the
    /// operations check).
    TakeOnStaff => Certifier,
    FlagStaffRight => Certifier,
    RecertifyStaff => Certifier,
    /// Issue 30: searching the audit chain is HUD's (the Help Desk's, the operator's).
    SearchAudit => Hud,
    /// Issue 30: HUD subscribes a person to a mailbox's notices (people themselves do so on
    /// their Notifications page).
    Subscribe => Hud,
    /// Issue 31: the receipt key is the installation's, as the audit key is.
    RotateReceiptKey => Operator,
    /// Issue 31: the gateway's watch of the ledgers, noticing what goes missing.
    WatchLedgers => OperatorOrSystem,
}

impl AdminOp {
    /// Who may do it: its row of [`RULES`] (every operation has one, by construction).
    pub fn who(self) -> Who {
        RULES
            .iter()
            .find(|(op, _)| *op == self)
            .map_or(Who::Operator, |(_, who)| *who)
    }

    /// Whether the operation acts on a person, whose relationship to the actor then counts.
    pub fn on_a_person(self) -> bool {
        matches!(
            self.who(),
            Who::HudOrTheUsersCoordinator | Who::TheUsersCoordinator
        )
    }
}

impl Who {
    /// Whether the actor is of a kind this rule admits (before any relationship to a person).
    pub fn admits(self, actor: &Actor) -> bool {
        match self {
            Who::Operator => *actor == Actor::Operator,
            Who::OperatorOrSystem => matches!(actor, Actor::Operator | Actor::System),
            Who::Hud => actor.is_hud(),
            Who::HudOrCoordinator => actor.is_hud() || matches!(actor, Actor::Coordinator { .. }),
            Who::HudOrTheUsersCoordinator => {
                actor.is_hud() || matches!(actor, Actor::Coordinator { .. } | Actor::System)
            }
            Who::TheUsersCoordinator | Who::Coordinator => {
                matches!(actor, Actor::Coordinator { .. })
            }
            Who::Certifier => matches!(actor, Actor::Certifier { .. }),
            Who::ReacTac => matches!(actor, Actor::Operator | Actor::ReacTac(_)),
        }
    }

    /// Why an actor of another kind is refused.
    fn refusal(self, actor: &Actor) -> String {
        let name = actor.name();
        match self {
            Who::Operator => {
                format!("{name} may not do this: only the operator of the installation may.")
            }
            Who::OperatorOrSystem => format!(
                "{name} may not do this: only the operator of the installation (or the gateway itself) may."
            ),
            Who::Hud | Who::HudOrCoordinator | Who::HudOrTheUsersCoordinator => format!(
                "{name} may not do this: it is HUD's (the Help Desk's or the operator's) to do."
            ),
            Who::TheUsersCoordinator | Who::Coordinator => format!(
                "{name} may not do this: it is a coordinator's step (at the command line, give --as with the coordinator's M-ID)."
            ),
            Who::ReacTac => format!(
                "{name} may not do this: terminated M-IDs are restored by REAC-TAC, not the Multifamily Help Desk (R16)."
            ),
            Who::Certifier => format!(
                "{name} may not do this: it is the step of a certifier of HUD's staff, a supervisor, OTC or COR the Help Desk designated (at the command line, give --as with its H-ID)."
            ),
        }
    }
}

impl Admin {
    /// The rule of an operation, as far as the actor's kind decides it; an operation on a
    /// person then calls [`Admin::permit_on`] once it has the person.
    pub(super) fn permit(&self, op: AdminOp) -> AdminResult<()> {
        let who = op.who();
        if who.admits(&self.actor) {
            Ok(())
        } else {
            Err(forbidden(who.refusal(&self.actor)))
        }
    }

    /// [`Admin::permit`] for a certifier's own step: the acting certifier's id and H-ID.
    pub(super) fn permit_certifier(&self, op: AdminOp) -> AdminResult<(i64, &MId)> {
        self.permit(op)?;
        match &self.actor {
            Actor::Certifier { id, mid } => Ok((*id, mid)),
            other => Err(forbidden(Who::Certifier.refusal(other))),
        }
    }

    /// [`Admin::permit`] for a coordinator's own step: the acting coordinator's id and M-ID.
    pub(super) fn permit_coordinator(&self, op: AdminOp) -> AdminResult<(i64, &MId)> {
        self.permit(op)?;
        match &self.actor {
            Actor::Coordinator { id, mid } => Ok((*id, mid)),
            other => Err(forbidden(Who::Coordinator.refusal(other))),
        }
    }

    /// A coordinator's TRACS roles open its TRACS coordinator functions (seed Q45): TCC
    /// unlocking users, TCC or TCR taking staff, flagging rights and recertifying. HUD needs
    /// neither; the roles are the coordinator's to turn on for itself (R7).
    pub(super) async fn coordinator_roles(&self, op: AdminOp) -> AdminResult<()> {
        let Actor::Coordinator { mid, .. } = &self.actor else {
            return Ok(());
        };
        let needs: &[Right] = match op {
            AdminOp::Unlock => &[Right::Tcc],
            AdminOp::AssignStaff | AdminOp::FlagRight | AdminOp::Recertify => {
                &[Right::Tcc, Right::Tcr]
            }
            _ => return Ok(()),
        };
        let me = self.subject(mid.as_str()).await?;
        if needs.iter().any(|r| me.rights.has(*r)) {
            return Ok(());
        }
        let names: Vec<String> = needs.iter().map(|r| r.as_str().to_uppercase()).collect();
        Err(forbidden(format!(
            "{mid} must first turn on its {} role for itself (My roles, on the coordinator page).",
            names.join(" or ")
        )))
    }

    /// The rule of an operation on `target`: the actor's kind, then, for a coordinator, its
    /// relationship to the target.
    pub(super) async fn permit_on(&self, op: AdminOp, target: &Account) -> AdminResult<()> {
        let who = op.who();
        if !who.admits(&self.actor) {
            return Err(forbidden(who.refusal(&self.actor)));
        }
        let Actor::Coordinator { id, mid } = &self.actor else {
            return Ok(());
        };
        if !op.on_a_person() {
            return Ok(());
        }
        let operators = self.store.operators();
        if operators.is_help_desk(target.id).await? {
            Err(forbidden(format!(
                "{mid} may not act on {}: Help Desk staff are managed by HUD only.",
                target.mid
            )))
        } else if target.kind == AccountKind::Coordinator {
            Err(forbidden(format!(
                "{mid} may not act on {}: coordinators are managed by the Help Desk (R14).",
                target.mid
            )))
        } else if operators.manages(*id, target.id).await? {
            self.coordinator_roles(op).await
        } else {
            Err(forbidden(format!(
                "{mid} does not manage {}: a coordinator acts only on its own users while they work on one of its properties (R3, R14, R22).",
                target.mid
            )))
        }
    }
}
