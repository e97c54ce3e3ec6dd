//! Yearly recertification (R17-R20): a coordinator takes a user as staff (R19), reviews and
//! flags rights for removal, and recertifies; at the deadline the flagged rights go.

use super::{forbidden, invalid, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::{AccountKind, Right};

impl Admin {
    /// How many of a user's assignments (properties and organizations) a coordinator's
    /// portfolio covers (R19, seed Q25, Q28), and how many it has.
    async fn coverage(&self, coordinator: i64, user: i64) -> AdminResult<(usize, usize)> {
        let store = &self.store;
        let bpr = store.operators().bpr_properties(coordinator).await?;
        let assigned = store.operators().assigned_properties(user).await?;
        let mine = store
            .organizations()
            .partner_organizations(coordinator)
            .await?;
        let orgs = store.organizations().assigned_organizations(user).await?;
        let covered = assigned.iter().filter(|p| bpr.contains(p)).count()
            + orgs
                .iter()
                .filter(|o| mine.iter().any(|m| m.id == o.id))
                .count();
        Ok((covered, assigned.len() + orgs.len()))
    }

    /// A coordinator assigns a user to itself (R18's first step; R19: a user may have several
    /// coordinators), provided the user works on a property the coordinator has a BPR with.
    pub async fn assign_staff(&self, mid: &str) -> AdminResult<()> {
        let (id, me) = self.permit_coordinator(AdminOp::AssignStaff)?;
        self.coordinator_roles(AdminOp::AssignStaff).await?;
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
        let shared = self.coverage(id, user.id).await?.0 > 0;
        if !shared {
            return Err(forbidden(format!(
                "{} works on no property or organization {me} has a Business Partner Relationship with (R19).",
                user.mid
            )));
        }
        let audit = self
            .entry(Action::AssignStaff)
            .detail(format!("user={} coordinator={me}", user.mid));
        store
            .operators()
            .link(id, user.id, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// R18, step 2: a coordinator flags one of its user's rights for removal at the deadline
    /// (or clears the flag).
    pub async fn flag_right(&self, mid: &str, right: Right, flag: bool) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.permit_on(AdminOp::FlagRight, &account).await?;
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
        let audit = self.entry(Action::FlagRight).detail(format!(
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
    /// for a user working on a property it has a BPR with. The certification covers the user's
    /// properties the coordinator has a BPR with (seed Q25, Q28): any one keeps the global
    /// iMAX role, and at the deadline assignments no certification covers lapse
    /// (`store::certifications`).
    pub async fn recertify(&self, mid: &str) -> AdminResult<i32> {
        let (id, me) = self.permit_coordinator(AdminOp::Recertify)?;
        let user = self.subject(mid).await?;
        if user.kind != AccountKind::User {
            return Err(invalid(format!(
                "{} is a coordinator; coordinators are not recertified (R17)",
                user.mid
            )));
        }
        self.permit_on(AdminOp::Recertify, &user).await?;
        let cycle = self
            .config
            .accounts
            .recertification_window()
            .cycle_of(self.now());
        // Already certified by this coordinator for the cycle (taking the user on certifies
        // at once, R20): nothing new is certified, so nothing more is asked.
        if self
            .store
            .certifications()
            .certifiers_for(user.id, cycle)
            .await?
            .contains(&id)
        {
            return Ok(cycle);
        }
        self.require_training(&user).await?; // R20, Q24
        let store = &self.store;
        let (covers, assigned) = self.coverage(id, user.id).await?;
        if covers == 0 {
            return Err(forbidden(format!(
                "{me} may certify {} only for properties and organizations it has a Business Partner Relationship with, and {} works on none (R19).",
                user.mid, user.mid
            )));
        }
        let now = self.now();
        let audit = self.entry(Action::Recertify).detail(format!(
            "mid={} cycle={cycle} before={:?} after={cycle} covers {covers} of {assigned} assigned properties and organizations",
            user.mid,
            user.recertified_cycle,
        ));
        store
            .operators()
            .recertify(user.id, cycle, id, now, &audit)
            .await?;
        Ok(cycle)
    }

    /// Records, the first time only, that certification deadlines are applied to property
    /// assignments from now on (a deadline that passed before is never applied after the fact).
    pub async fn mark_deadlines_start(&self) -> AdminResult<()> {
        self.permit(AdminOp::ApplyDeadlines)?;
        let now = self.now();
        let audit = self
            .entry(Action::StartCertificationDeadlines)
            .detail(format!(
                "property assignments follow certification deadlines passing after {}",
                crate::clock::rfc3339(now)
            ));
        self.store.certifications().mark_start(now, &audit).await?;
        Ok(())
    }

    /// R18, step 2, for property assignments: a coordinator flags a user's assignment to one
    /// of its BPR properties for removal at the deadline (or clears the flag).
    pub async fn flag_assignment(&self, mid: &str, property: &str, flag: bool) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.permit_on(AdminOp::FlagRight, &account).await?;
        let pid = self.within_my_bprs(property).await?;
        let name = self.actor.name();
        let audit = self.entry(Action::FlagAssignment).detail(format!(
            "mid={} property={property} flagged_after={flag}",
            account.mid
        ));
        let value = flag.then_some((name.as_str(), self.now()));
        let found = self
            .store
            .certifications()
            .flag_assignment(account.id, pid, value, &audit)
            .await?;
        if !found {
            return Err(invalid(format!(
                "{} is not assigned to property {property}",
                account.mid
            )));
        }
        Ok(())
    }

    /// At the deadline (R18), the system removes the rights and property assignments flagged
    /// before it, and (seed Q25, Q28) the assignments of certified users to properties no
    /// certification of the cycle covers. The access decision already treats flagged rights
    /// as gone; this makes the directory say so too. Returns how many rights and assignments
    /// were removed.
    pub async fn apply_deadlines(&self) -> AdminResult<usize> {
        self.permit(AdminOp::ApplyDeadlines)?;
        self.mark_deadlines_start().await?;
        let window = self.config.accounts.recertification_window();
        let now = self.now();
        let mut removed = 0;
        // The last cycle whose deadline has passed: its uncovered assignments lapse, once.
        let last = window.last_closed_cycle(now);
        let lapsed = self
            .store
            .certifications()
            .apply_deadline(
                last,
                window.deadline_in(last),
                now,
                &self.entry(Action::LapseUncertifiedAssignments),
            )
            .await?;
        removed += lapsed.len();
        for flagged in self.store.certifications().flagged_assignments().await? {
            let at = crate::clock::from_epoch(flagged.flagged_at);
            if now < window.next_deadline_after(at) {
                continue;
            }
            let a = &flagged.assignment;
            let audit = self.entry(Action::RemoveFlaggedAssignment).detail(format!(
                "mid={} property={} before=true after=false (flagged for removal at the deadline)",
                a.mid, a.property_number
            ));
            if self
                .store
                .certifications()
                .remove_flagged(&flagged, &audit)
                .await?
            {
                removed += 1;
            }
        }
        for (account, mid, affiliation, right, flagged_at) in
            self.store.operators().flagged_rights().await?
        {
            let Some(right) = Right::parse(&right) else {
                continue;
            };
            // HUD's own staff follow their own window (internal recertification).
            let window = match crate::directory::Affiliation::parse(&affiliation) {
                Some(a) => a.recertification_window(&self.config.accounts),
                None => window,
            };
            if now < window.next_deadline_after(crate::clock::from_epoch(flagged_at)) {
                continue;
            }
            let audit = self.entry(Action::RemoveFlaggedRight).detail(format!(
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
    /// that manages it, or HUD's staff member by its first certifier (the import stands for
    /// work done before).
    pub async fn record_imported_recertification(&self, mid: &str) -> AdminResult<()> {
        self.permit(AdminOp::ImportRecertification)?;
        let user = self.subject(mid).await?;
        let staff = user.affiliation.is_hud();
        let certifiers = if staff {
            self.store.internal().certifiers_of(user.id).await?
        } else {
            self.store.operators().managers_of(user.id).await?
        };
        let coordinator = certifiers.into_iter().next().ok_or_else(|| {
            invalid(format!(
                "{mid} has no {} to have recertified it",
                if staff { "certifier" } else { "coordinator" }
            ))
        })?;
        let now = self.now();
        let cycle = user
            .affiliation
            .recertification_window(&self.config.accounts)
            .cycle_of(now);
        let audit = self
            .entry(Action::Recertify)
            .detail(format!("mid={mid} cycle={cycle} (imported)"));
        self.store
            .operators()
            .recertify(user.id, cycle, coordinator, now, &audit)
            .await?;
        Ok(())
    }
}
