//! REAC-TAC (R16): HUD's Technical Assistance Center, distinct from the Multifamily Help Desk.
//! Secure Systems lock-outs and terminations go to REAC-TAC, so its staff restore terminated
//! M-IDs; the Help Desk unlocks coordinators and resets mailbox passwords (R14, R24) and no
//! longer restores. The operator makes REAC-TAC staff.

use super::{Admin, AdminOp, AdminResult};
use crate::audit::Action;

impl Admin {
    /// Makes `mid` REAC-TAC staff, or (`member` false) ends it (operator only).
    pub async fn set_reac_tac(&self, mid: &str, member: bool) -> AdminResult<()> {
        self.permit(AdminOp::SetReacTac)?;
        let account = self.subject(mid).await?;
        let audit = self
            .entry(Action::SetReacTac)
            .detail(format!("mid={} after={member}", account.mid));
        self.store
            .reac_tac()
            .set(account.id, member, &self.actor.name(), self.now(), &audit)
            .await?;
        Ok(())
    }
}
