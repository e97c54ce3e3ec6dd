//! Who is acting on the directory, and the coarse checks of what each kind of actor may do.
//!
//! * the **operator** of the installation at the command line (no `--as`): HUD's own
//!   administration, allowed everything;
//! * **Help Desk** staff (HUD, R4, R14, R24): provisioning, unlocking coordinators,
//!   working-group admissions, mailbox password resets, broadcasts;
//! * **REAC-TAC** staff (HUD, R16): restoring terminated M-IDs, and nothing else;
//! * a **coordinator** (R3, R14): its own users, for properties it has a BPR with;
//! * a **certifier** of HUD's own staff (a supervisor, OTC or COR the Help Desk designated):
//!   the internal recertification of the H-IDs and C-IDs it took on;
//! * the **system**: transitions that time brings about.
//!
//! What each operation allows which of them is one table, `permissions.rs`; conditions about
//! an operation's own values (R5's order of rights, R16's terminal states) sit with it.

use super::{forbidden, missing, Admin, AdminResult};
use crate::access::Operation;
use crate::audit::Door;
use crate::directory::{AccountKind, AccountStatus, MId};
use crate::gateway::{Authorized, Caller};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator,
    HelpDesk(MId),
    /// R16: restores terminated M-IDs; not HUD's administration otherwise.
    ReacTac(MId),
    Coordinator {
        id: i64,
        mid: MId,
    },
    /// HUD staff designated to certify staff: a supervisor, OTC or COR.
    Certifier {
        id: i64,
        mid: MId,
    },
    System,
}

impl Actor {
    /// The name written into audit records.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator => "admin".into(),
            Actor::HelpDesk(mid) | Actor::ReacTac(mid) => mid.to_string(),
            Actor::Coordinator { mid, .. } | Actor::Certifier { mid, .. } => mid.to_string(),
            Actor::System => "system".into(),
        }
    }

    /// HUD's side: the operator or the Help Desk.
    pub fn is_hud(&self) -> bool {
        matches!(self, Actor::Operator | Actor::HelpDesk(_))
    }
}

impl Admin {
    /// The operator's service acting as the M-ID `mid` (`imax admin --as`): Help Desk staff or
    /// a coordinator, whose own account must be active. Only the operator may narrow so.
    pub async fn acting_as(&self, mid: &str) -> AdminResult<Admin> {
        if self.actor != Actor::Operator {
            return Err(forbidden(
                "Only the installation's operator may act as another M-ID.",
            ));
        }
        self.narrowed_to(mid, self.door, None).await
    }

    /// The service acting as the person a browser request signed in as, with proof: an
    /// [`Authorized`] for `Administer`, which only the access decision gives. The audit
    /// records say door `web`, with the request's client address and id.
    pub async fn for_signed_in(&self, auth: &Authorized) -> AdminResult<Admin> {
        if self.actor != Actor::Operator || auth.operation() != Operation::Administer {
            return Err(forbidden(
                "Administration needs a sign-in allowed to administer.",
            ));
        }
        let mid = auth.account().mid.to_string();
        self.narrowed_to(&mid, Door::Browser, Some(auth.caller()))
            .await
    }

    async fn narrowed_to(
        &self,
        mid: &str,
        door: Door,
        caller: Option<Caller>,
    ) -> AdminResult<Admin> {
        let mid = Self::mid(mid)?;
        let account = self
            .store
            .accounts()
            .load(&mid)
            .await?
            .ok_or_else(|| missing(mid.to_string()))?;
        // A lock for failed sign-ins that has run out is over (R14's timed lock).
        if account.status_at(self.clock.now()) != AccountStatus::Active {
            return Err(forbidden(format!(
                "{mid} is {:?} and may not act until it is unlocked or restored.",
                account.status
            )));
        }
        let actor = if self.store.operators().is_help_desk(account.id).await? {
            Actor::HelpDesk(mid)
        } else if self.store.reac_tac().is_staff(account.id).await? {
            Actor::ReacTac(mid)
        } else if account.affiliation.is_hud()
            && self.store.internal().is_certifier(account.id).await?
        {
            Actor::Certifier {
                id: account.id,
                mid,
            }
        } else if account.kind == AccountKind::Coordinator {
            Actor::Coordinator {
                id: account.id,
                mid,
            }
        } else {
            return Err(forbidden(format!(
                "{mid} is neither a coordinator, a certifier of HUD's staff, Help Desk nor REAC-TAC staff, so it may not administer accounts."
            )));
        };
        Ok(Admin {
            actor,
            door,
            caller,
            ..self.clone()
        })
    }

    /// The same service acting as the system, for scheduled transitions (audit door
    /// `system`).
    pub fn as_system(&self) -> Admin {
        Admin {
            actor: Actor::System,
            door: Door::System,
            caller: None,
            ..self.clone()
        }
    }
}
