//! Actions and roles (R5, R7, R8, R21): granting and removing them, admission to the
//! system-to-system working group, and the Rules of Behavior recorded on a person's behalf.

use super::{forbidden, invalid, Actor, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::{AccountKind, Right};

impl Admin {
    /// Grants an action or role.
    ///
    /// R7: TCC and TCR belong on coordinators only. R4: the iMAX Coordinator action makes a
    /// coordinator, which is HUD's to do. R5: a coordinator gives the iMAX role only once it
    /// holds the iMAX Coordinator action and the iMAX role itself.
    pub async fn grant(&self, mid: &str, right: Right) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        if self.is_me(&account) {
            return self.grant_own(right).await;
        }
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
        let audit = self.entry(Action::Grant).detail(format!(
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
        if self.is_me(&account) {
            return self.revoke_own(right).await;
        }
        let op = match right {
            Right::Imax => AdminOp::RevokeImaxRole,
            _ => AdminOp::RevokeOtherRight,
        };
        self.permit_on(op, &account).await?;
        let audit = self.entry(Action::Revoke).detail(format!(
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

    /// Whether the acting coordinator is `account` itself (its own rights are its own step).
    fn is_me(&self, account: &crate::directory::Account) -> bool {
        matches!(&self.actor, Actor::Coordinator { id, .. } if *id == account.id)
    }

    /// A coordinator turns on one of its own actions or roles (R7; seed Q5: "click the
    /// checkbox next to the TCC and TCR roles to turn them on"): TCC, TCR, the iMAX
    /// Coordinator action, or the iMAX role, the action before the role (R5). For itself only:
    /// TCC and TCR never go on a user, and another coordinator's are HUD's to change.
    pub async fn grant_own(&self, right: Right) -> AdminResult<()> {
        let (_, me) = self.permit_coordinator(AdminOp::GrantOwnRight)?;
        let own = self.subject(me.as_str()).await?;
        if right == Right::Imax && !own.rights.imax_coordinator {
            return Err(invalid(format!(
                "{me} turns on its iMAX Coordinator action before its iMAX role (R5)"
            )));
        }
        let audit = self.entry(Action::GrantOwn).detail(format!(
            "mid={me} right={} before={} after=true",
            right.as_str(),
            own.rights.has(right)
        ));
        let by = self.actor.name();
        self.store
            .accounts()
            .grant(own.id, right, &by, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// A coordinator turns off one of its own actions or roles.
    pub async fn revoke_own(&self, right: Right) -> AdminResult<()> {
        let (_, me) = self.permit_coordinator(AdminOp::RevokeOwnRight)?;
        let own = self.subject(me.as_str()).await?;
        let audit = self.entry(Action::RevokeOwn).detail(format!(
            "mid={me} right={} before={} after=false",
            right.as_str(),
            own.rights.has(right)
        ));
        self.store.operators().revoke(own.id, right, &audit).await?;
        Ok(())
    }

    /// Admits an M-ID to the working group of the system-to-system door now (R8), sooner
    /// than the automatic admission.
    pub async fn admit(&self, mid: &str) -> AdminResult<()> {
        self.permit(AdminOp::Admit)?;
        let account = self.subject(mid).await?;
        let audit = self
            .entry(Action::AdmitWorkingGroup)
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
            .entry(Action::AcceptRulesOfBehavior)
            .detail(format!("mid={}", account.mid));
        self.store
            .accounts()
            .accept_rules_of_behavior(account.id, self.now(), &audit)
            .await?;
        Ok(())
    }
}
