//! Operations on people (M-IDs), with the rules of who may do them.
//!
//! R2 (one to five coordinators per property before any user), R3 (coordinators act for their
//! own users, on properties they have a BPR with), R4 (only HUD makes a coordinator), R5 (the
//! iMAX Coordinator action and iMAX role before granting the iMAX role), R7 (TCC/TCR on
//! coordinators only), R14 (coordinators unlock their users; the Help Desk unlocks
//! coordinators), R16 (only the Help Desk restores a terminated M-ID), R19 (several
//! coordinators per user), R22 (property assignments).

use super::{exists, forbidden, invalid, missing, unique_violation, Actor, Admin, AdminResult};
use crate::access;
use crate::directory::password::{PasswordRules, Secret};
use crate::directory::{Account, AccountKind, AccountStatus, LockReason, MId, Right};
use crate::error::{Code, Refusal};
use crate::store::accounts;
use time::{Duration, OffsetDateTime};

/// The most coordinators one property may have (R2).
pub const MAX_COORDINATORS: usize = 5;

/// A new M-ID.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub mid: String,
    pub kind: AccountKind,
    pub full_name: String,
    pub email: String,
    pub organization: String,
    pub password: Secret,
    /// The password expires at once: the person must change it first (R15).
    pub temporary: bool,
    /// Property numbers: a coordinator's Business Partner Relationships, or a user's
    /// property assignments.
    pub properties: Vec<String>,
}

/// One line of the User Last Login Report (R14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub mid: String,
    pub full_name: String,
    pub status: AccountStatus,
    pub last_activity: Option<OffsetDateTime>,
    /// When the M-ID was made: a never-used M-ID's 90 days count from here.
    pub created_at: OffsetDateTime,
    /// Days left before the 90-day inactivity lock (R13), counted from the last use, or from
    /// the M-ID's creation when it was never used; `None` when it is not active (nothing to
    /// count down).
    pub days_until_lock: Option<i64>,
}

impl Admin {
    async fn subject(&self, mid: &str) -> AdminResult<Account> {
        let mid = Self::mid(mid)?;
        self.store
            .accounts()
            .load(&mid)
            .await?
            .ok_or_else(|| missing(mid.to_string()))
    }

    async fn property_ids(&self, numbers: &[String]) -> AdminResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(numbers.len());
        for n in numbers {
            ids.push(
                self.store
                    .mailboxes()
                    .property_id(n)
                    .await?
                    .ok_or_else(|| missing(format!("property {n}")))?,
            );
        }
        Ok(ids)
    }

    fn rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.config.accounts.password_min_length,
            history: self.config.accounts.password_history,
        }
    }

    /// R2: a property has at most five coordinators; refuses if any of these is full.
    async fn room_for_coordinators(&self, numbers: &[String], ids: &[i64]) -> AdminResult<()> {
        for (number, id) in numbers.iter().zip(ids) {
            if self.store.operators().coordinators_of(*id).await?.len() >= MAX_COORDINATORS {
                return Err(forbidden(format!(
                    "property {number} already has {MAX_COORDINATORS} coordinators, the most allowed (R2)."
                )));
            }
        }
        Ok(())
    }

    /// HUD may act on anyone; a coordinator only on users it manages (R3, R14).
    pub(super) async fn may_manage(&self, target: &Account) -> AdminResult<()> {
        match &self.actor {
            Actor::Operator | Actor::HelpDesk(_) | Actor::System => Ok(()),
            Actor::Coordinator { id, mid } => {
                let store = &self.store;
                if store.operators().is_help_desk(target.id).await? {
                    Err(forbidden(format!(
                        "{mid} may not act on {}: Help Desk staff are managed by HUD only.",
                        target.mid
                    )))
                } else if target.kind == AccountKind::User
                    && store.operators().manages(*id, target.id).await?
                {
                    Ok(())
                } else if target.kind == AccountKind::Coordinator {
                    Err(forbidden(format!(
                        "{mid} may not act on {}: coordinators are managed by the Help Desk (R14).",
                        target.mid
                    )))
                } else {
                    Err(forbidden(format!(
                        "{mid} does not manage {}: a coordinator acts only on its own users while they work on one of its properties (R3, R14, R22).",
                        target.mid
                    )))
                }
            }
        }
    }

    /// Creates an M-ID. Coordinators are HUD's to create (R4) with their BPRs, at most five per
    /// property (R2); users are created by a coordinator for properties it has a BPR with (R3),
    /// or by HUD for properties that already have a coordinator (R2).
    pub async fn create_account(&self, p: &NewPerson) -> AdminResult<()> {
        let mid = Self::mid(&p.mid)?;
        let properties = self.property_ids(&p.properties).await?;
        let store = &self.store;
        let mut managers: Vec<i64> = Vec::new();
        match (p.kind, &self.actor) {
            (AccountKind::Coordinator, _) => {
                self.require_hud()?;
                self.room_for_coordinators(&p.properties, &properties)
                    .await?;
            }
            (
                AccountKind::User,
                Actor::Coordinator {
                    id,
                    mid: coordinator,
                },
            ) => {
                if properties.is_empty() {
                    return Err(invalid(
                        "a coordinator creates a user for one or more of its properties (R3): name them",
                    ));
                }
                let bpr = store.operators().bpr_properties(*id).await?;
                for (number, pid) in p.properties.iter().zip(&properties) {
                    if !bpr.contains(pid) {
                        return Err(forbidden(format!(
                            "{coordinator} has no Business Partner Relationship with property {number} (R3)."
                        )));
                    }
                }
                managers.push(*id);
            }
            (AccountKind::User, _) => {
                self.require_hud()?;
                for (number, pid) in p.properties.iter().zip(&properties) {
                    let coordinators = store.operators().coordinators_of(*pid).await?;
                    if coordinators.is_empty() {
                        return Err(forbidden(format!(
                            "property {number} has no coordinator yet; set one up before any user (R2)."
                        )));
                    }
                    managers.extend(coordinators);
                }
            }
        }
        let rules = self.rules();
        rules
            .check(mid.as_str(), p.password.expose())
            .map_err(|why| {
                Refusal::because(
                    Code::PasswordRejected,
                    format!("{why} {}", rules.describe()),
                )
            })?;
        let a = accounts::NewAccount {
            mid: mid.clone(),
            kind: p.kind,
            full_name: p.full_name.clone(),
            email: p.email.clone(),
            organization: p.organization.clone(),
            password_hash: self.hash(&p.password)?,
            password_is_current: !p.temporary,
        };
        let audit = self.entry("CreateAccount").detail(format!(
            "mid={mid} kind={} properties={}",
            p.kind.as_str(),
            p.properties.join(",")
        ));
        let id = match store.accounts().create(&a, self.now(), &audit).await {
            Err(e) if unique_violation(&e) => return Err(exists(mid.to_string())),
            r => r?,
        };
        for (number, pid) in p.properties.iter().zip(&properties) {
            if p.kind == AccountKind::Coordinator {
                let audit = self
                    .entry("AddBusinessPartner")
                    .detail(format!("mid={mid} property={number}"));
                store
                    .mailboxes()
                    .add_business_partner(id, *pid, &audit)
                    .await?;
            } else {
                let audit = self.entry("AssignProperty").detail(format!(
                    "mid={mid} property={number} before=false after=true"
                ));
                store
                    .operators()
                    .set_property_assignment(id, *pid, true, &audit)
                    .await?;
            }
        }
        managers.sort_unstable();
        managers.dedup();
        for m in managers {
            let audit = self
                .entry("AssignStaff")
                .detail(format!("user={mid} coordinator-id={m}"));
            store.operators().link(m, id, self.now(), &audit).await?;
        }
        Ok(())
    }

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
        self.may_manage(&account).await?;
        if let Actor::Coordinator { mid: me, .. } = &self.actor {
            if right != Right::Imax {
                return Err(forbidden(format!(
                    "{me} may grant only the iMAX role; {} is HUD's to grant.",
                    right.as_str()
                )));
            }
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
        self.may_manage(&account).await?;
        if matches!(self.actor, Actor::Coordinator { .. }) && right != Right::Imax {
            return Err(forbidden(format!(
                "{} may remove only the iMAX role; {} is HUD's to remove.",
                self.actor.name(),
                right.as_str()
            )));
        }
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
        self.require_hud()?;
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
        self.require_hud()?;
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

    /// Sets an M-ID's password; `temporary` makes it expire at once so the person must change
    /// it before anything else (R15). A coordinator resets only its users' passwords, and
    /// always as temporary ones.
    pub async fn set_password(
        &self,
        mid: &str,
        password: &Secret,
        temporary: bool,
    ) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.may_manage(&account).await?;
        let temporary = temporary || matches!(self.actor, Actor::Coordinator { .. });
        let rules = self.rules();
        rules
            .check(account.mid.as_str(), password.expose())
            .map_err(|why| {
                Refusal::because(
                    Code::PasswordRejected,
                    format!("{why} {}", rules.describe()),
                )
            })?;
        let audit = self
            .entry("SetPassword")
            .detail(format!("mid={} temporary={temporary}", account.mid));
        let hash = self.hash(password)?;
        self.store
            .accounts()
            .set_password(account.id, &hash, !temporary, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Unlocks, locks, terminates or restores an M-ID.
    ///
    /// R14: a coordinator unlocks (and may lock) its own users; a locked coordinator is
    /// unlocked by the Help Desk. R16: only the Help Desk terminates or restores.
    pub async fn set_status(&self, mid: &str, status: AccountStatus) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        let terminal =
            account.status == AccountStatus::Terminated || status == AccountStatus::Terminated;
        if terminal && !self.actor.is_hud() {
            return Err(forbidden(format!(
                "{} may not terminate or restore {}: only the Help Desk does (R16).",
                self.actor.name(),
                account.mid
            )));
        }
        self.may_manage(&account).await?;
        // A lock the Help Desk set is the Help Desk's to lift (and a lock it sets is its own).
        let status = match (status, self.actor.is_hud()) {
            (AccountStatus::Locked(LockReason::Administrative), true) => {
                AccountStatus::Locked(LockReason::HelpDesk)
            }
            (AccountStatus::Locked(LockReason::HelpDesk), false) => {
                AccountStatus::Locked(LockReason::Administrative)
            }
            (s, _) => s,
        };
        if account.status == AccountStatus::Locked(LockReason::HelpDesk) && !self.actor.is_hud() {
            return Err(forbidden(format!(
                "{} may not change {}: the Help Desk locked it, and only the Help Desk unlocks it (R14).",
                self.actor.name(),
                account.mid
            )));
        }
        let audit = self.entry("SetStatus").detail(format!(
            "mid={} before={:?} after={:?}",
            account.mid, account.status, status
        ));
        self.store
            .accounts()
            .set_status(account.id, status, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Assigns a user to a property, or removes the assignment (R6, R22). A coordinator does
    /// so only for its users and for properties it has a BPR with.
    pub async fn assign_property(
        &self,
        mid: &str,
        property: &str,
        assigned: bool,
    ) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.may_manage(&account).await?;
        let pid = self.property_ids(&[property.to_string()]).await?[0];
        if let Actor::Coordinator { id, mid: me } = &self.actor {
            if !self
                .store
                .operators()
                .bpr_properties(*id)
                .await?
                .contains(&pid)
            {
                return Err(forbidden(format!(
                    "{me} has no Business Partner Relationship with property {property} (R3)."
                )));
            }
        }
        let audit = self.entry("AssignProperty").detail(format!(
            "mid={} property={property} after={assigned}",
            account.mid
        ));
        self.store
            .operators()
            .set_property_assignment(account.id, pid, assigned, &audit)
            .await?;
        Ok(())
    }

    /// A coordinator assigns a user to itself (R18's first step; R19: a user may have several
    /// coordinators), provided the user works on a property the coordinator has a BPR with.
    pub async fn assign_staff(&self, mid: &str) -> AdminResult<()> {
        let Actor::Coordinator { id, mid: me } = &self.actor else {
            return Err(invalid(
                "assign-staff is a coordinator's step: give --as with its M-ID",
            ));
        };
        let user = self.subject(mid).await?;
        if user.kind != AccountKind::User {
            return Err(invalid(format!("{} is not a user", user.mid)));
        }
        let store = &self.store;
        if store.operators().is_help_desk(user.id).await? {
            return Err(forbidden(format!(
                "{me} may not take {} as staff: Help Desk staff are managed by HUD only.",
                user.mid
            )));
        }
        let bpr = store.operators().bpr_properties(*id).await?;
        let shared = store
            .operators()
            .assigned_properties(user.id)
            .await?
            .into_iter()
            .any(|p| bpr.contains(&p));
        if !shared {
            return Err(forbidden(format!(
                "{} works on no property {me} has a Business Partner Relationship with (R19).",
                user.mid
            )));
        }
        let audit = self
            .entry("AssignStaff")
            .detail(format!("user={} coordinator={me}", user.mid));
        store
            .operators()
            .link(*id, user.id, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Turns a user into a coordinator with BPRs on `properties` (R4: HUD's action; R2: at
    /// most five coordinators per property).
    pub async fn promote(&self, mid: &str, properties: &[String]) -> AdminResult<()> {
        self.require_hud()?;
        let account = self.subject(mid).await?;
        if account.kind == AccountKind::Coordinator {
            return Err(invalid(format!("{} is already a coordinator", account.mid)));
        }
        let ids = self.property_ids(properties).await?;
        self.room_for_coordinators(properties, &ids).await?;
        let audit = self.entry("Promote").detail(format!(
            "mid={} before=user after=coordinator properties={}",
            account.mid,
            properties.join(",")
        ));
        self.store
            .operators()
            .promote(account.id, &ids, &audit)
            .await?;
        Ok(())
    }

    /// Makes an M-ID Help Desk staff (the operator's decision).
    pub async fn add_help_desk(&self, mid: &str) -> AdminResult<()> {
        self.require_operator()?;
        let account = self.subject(mid).await?;
        let audit = self
            .entry("AddHelpDesk")
            .detail(format!("mid={}", account.mid));
        self.store
            .operators()
            .add_help_desk(account.id, &self.actor.name(), self.now(), &audit)
            .await?;
        Ok(())
    }

    /// The User Last Login Report of the acting coordinator (R14): each of its users with last
    /// activity, state and days until the inactivity lock.
    pub async fn last_login_report(&self) -> AdminResult<Vec<ReportLine>> {
        let Actor::Coordinator { id, .. } = &self.actor else {
            return Err(invalid(
                "the User Last Login Report is a coordinator's: give --as with its M-ID",
            ));
        };
        let now = self.now();
        let lock_after = Duration::days(self.config.accounts.inactivity_lock_days);
        let mut lines = Vec::new();
        for mid in self.store.operators().managed_users(*id).await? {
            let Some(mid) = MId::parse(&mid) else {
                continue;
            };
            let Some(a) = self.store.accounts().load(&mid).await? else {
                continue;
            };
            let last = a.last_activity_at.unwrap_or(a.created_at);
            let left = (lock_after - (now - last)).whole_days().max(0);
            let status = match access::decide(
                &a,
                access::Door::Browser,
                access::Operation::ChangePassword,
                &self.config.accounts,
                now,
            )
            .transition
            {
                Some(s) => s,
                None => a.status,
            };
            let days_until_lock = (status == AccountStatus::Active).then_some(left);
            lines.push(ReportLine {
                mid: a.mid.to_string(),
                full_name: a.full_name,
                status,
                last_activity: a.last_activity_at,
                created_at: a.created_at,
                days_until_lock,
            });
        }
        Ok(lines)
    }
}

impl Admin {
    /// R18, step 2: a coordinator flags one of its user's rights for removal at the deadline
    /// (or clears the flag).
    pub async fn flag_right(&self, mid: &str, right: Right, flag: bool) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.may_manage(&account).await?;
        if account.kind != AccountKind::User {
            return Err(invalid(format!(
                "{} is a coordinator; coordinators are not recertified (R17)",
                account.mid
            )));
        }
        if !account.rights.has(right) {
            return Err(invalid(format!(
                "{} does not hold {}",
                account.mid,
                right.as_str()
            )));
        }
        let name = self.actor.name();
        let audit = self.entry("FlagRight").detail(format!(
            "mid={} right={} flagged_before={} flagged_after={flag}",
            account.mid,
            right.as_str(),
            account.flagged.iter().any(|(r, _)| *r == right)
        ));
        let value = flag.then_some((name.as_str(), self.now()));
        self.store
            .operators()
            .flag_right(account.id, right, value, &audit)
            .await?;
        Ok(())
    }

    /// R18, step 3: a coordinator recertifies one of its users for the current cycle. R19: only
    /// for a user working on a property it has a BPR with; one certification suffices.
    pub async fn recertify(&self, mid: &str) -> AdminResult<i32> {
        let Actor::Coordinator { id, mid: me } = &self.actor else {
            return Err(invalid(
                "recertification is a coordinator's step (R18): give --as with its M-ID",
            ));
        };
        let user = self.subject(mid).await?;
        if user.kind != AccountKind::User {
            return Err(invalid(format!(
                "{} is a coordinator; coordinators are not recertified (R17)",
                user.mid
            )));
        }
        self.may_manage(&user).await?;
        let store = &self.store;
        let bpr = store.operators().bpr_properties(*id).await?;
        if !store
            .operators()
            .assigned_properties(user.id)
            .await?
            .iter()
            .any(|p| bpr.contains(p))
        {
            return Err(forbidden(format!(
                "{me} may certify {} only for properties it has a Business Partner Relationship with, and {} works on none (R19).",
                user.mid, user.mid
            )));
        }
        let now = self.now();
        let cycle = self.config.accounts.recertification_window().cycle_of(now);
        let audit = self.entry("Recertify").detail(format!(
            "mid={} cycle={cycle} before={:?} after={cycle}",
            user.mid, user.recertified_cycle
        ));
        store
            .operators()
            .recertify(user.id, cycle, *id, now, &audit)
            .await?;
        Ok(cycle)
    }

    /// At the deadline (R18), the system removes the rights flagged before it. The access
    /// decision already treats them as gone; this makes the directory say so too. Returns how
    /// many rights were removed.
    pub async fn apply_deadlines(&self) -> AdminResult<usize> {
        let window = self.config.accounts.recertification_window();
        let now = self.now();
        let mut removed = 0;
        for (account, mid, right, flagged_at) in self.store.operators().flagged_rights().await? {
            let Some(right) = Right::parse(&right) else {
                continue;
            };
            if now < window.next_deadline_after(crate::clock::from_epoch(flagged_at)) {
                continue;
            }
            let audit = self.entry("RemoveFlaggedRight").detail(format!(
                "mid={mid} right={} before=true after=false (flagged for removal at the deadline)",
                right.as_str()
            ));
            if self
                .store
                .operators()
                .remove_flagged(account, right, flagged_at, &audit)
                .await?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// For an import: the user was recertified for the current cycle by the first coordinator
    /// that manages it (the import stands for work done before).
    pub(super) async fn record_imported_recertification(&self, mid: &str) -> AdminResult<()> {
        self.require_operator()?;
        let user = self.subject(mid).await?;
        let coordinator = self
            .store
            .operators()
            .managers_of(user.id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| invalid(format!("{mid} has no coordinator to have recertified it")))?;
        let now = self.now();
        let cycle = self.config.accounts.recertification_window().cycle_of(now);
        let audit = self
            .entry("Recertify")
            .detail(format!("mid={mid} cycle={cycle} (imported)"));
        self.store
            .operators()
            .recertify(user.id, cycle, coordinator, now, &audit)
            .await?;
        Ok(())
    }

    /// The same service acting as the system, for scheduled transitions (audit door
    /// `system`).
    pub fn as_system(&self) -> Admin {
        Admin {
            actor: Actor::System,
            door: "system",
            caller: None,
            ..self.clone()
        }
    }
}

/// A status as the report shows it.
pub fn status_text(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Locked(LockReason::Inactivity) => "locked (inactive 90 days)",
        AccountStatus::Locked(LockReason::FailedSignIns) => "locked (failed sign-ins)",
        AccountStatus::Locked(LockReason::Administrative) => "locked (by a coordinator)",
        AccountStatus::Locked(LockReason::HelpDesk) => "locked (by the Help Desk)",
        AccountStatus::Terminated => "terminated",
    }
}
