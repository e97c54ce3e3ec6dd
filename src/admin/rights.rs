//! Actions and roles (R5, R7, R8, R21): granting and removing them, admission to the
//! system-to-system working group, and the Rules of Behavior recorded on a person's behalf.

use super::{forbidden, invalid, Actor, Admin, AdminOp, AdminResult};
use crate::directory::{AccountKind, Right};

impl Admin {
    /// Grants an action or role.
    ///
    /// R7: TCC and TCR belong on coordinators only. R4: the iMAX Coordinator action makes a
    /// coordinator, which is HUD's to do. R5: a coordinator gives the iMAX role only once it
    /// holds the iMAX Coordinator action and the iMAX role itself.
    pub async fn grant(&self, mid: &str, right: Right) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        if account.kind == AccountKind::User && matches!(right, Right::Tcc | Right::Tcr) {
            return Err(invalid(format!(
                "{} belongs on coordinators only (R7); {} is a user",
                right.as_str(),
                account.mid
            )));
        }
        if account.kind == AccountKind::User && right == Right::ImaxCoordinator {
            return Err(invalid(format!(
                "the iMAX Coordinator action goes on coordinators only; HUD first makes {} a coordinator (R4)",
                account.mid
            )));
        }
        let op = match right {
            Right::Imax => AdminOp::GrantImaxRole,
            _ => AdminOp::GrantOtherRight,
        };
        self.permit_on(op, &account).await?;
        if let Actor::Coordinator { mid: me, .. } = &self.actor {
            let own = self.subject(me.as_str()).await?;
            if !(own.rights.imax_coordinator && own.rights.imax) {
                return Err(forbidden(format!(
                    "{me} must hold the iMAX Coordinator action and the iMAX role before it can give the iMAX role (R5)."
                )));
            }
        }
        let audit = self.entry("Grant").detail(format!(
            "mid={} right={} before={} after=true",
            account.mid,
            right.as_str(),
            account.rights.has(right)
        ));
        let by = self.actor.name();
        self.store
            .accounts()
            .grant(account.id, right, &by, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Removes an action or role.
    pub async fn revoke(&self, mid: &str, right: Right) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        let op = match right {
            Right::Imax => AdminOp::RevokeImaxRole,
            _ => AdminOp::RevokeOtherRight,
        };
        self.permit_on(op, &account).await?;
        let audit = self.entry("Revoke").detail(format!(
            "mid={} right={} before={} after=false",
            account.mid,
            right.as_str(),
            account.rights.has(right)
        ));
        self.store
            .operators()
            .revoke(account.id, right, &audit)
            .await?;
        Ok(())
    }

    /// Admits an M-ID to the working group of the system-to-system door now (R8), sooner
    /// than the automatic admission.
    pub async fn admit(&self, mid: &str) -> AdminResult<()> {
        self.permit(AdminOp::Admit)?;
        let account = self.subject(mid).await?;
        let audit = self
            .entry("AdmitWorkingGroup")
            .detail(format!("mid={}", account.mid));
        let by = self.actor.name();
        self.store
            .accounts()
            .admit_to_working_group(account.id, &by, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Records that the person accepted this year's Rules of Behavior (R21), for example on a
    /// signed paper form; people normally accept on the web.
    pub async fn accept_rules_of_behavior(&self, mid: &str) -> AdminResult<()> {
        self.permit(AdminOp::AcceptRulesOfBehavior)?;
        let account = self.subject(mid).await?;
        let audit = self
            .entry("AcceptRulesOfBehavior")
            .detail(format!("mid={}", account.mid));
        self.store
            .accounts()
            .accept_rules_of_behavior(account.id, self.now(), &audit)
            .await?;
        Ok(())
    }
}
