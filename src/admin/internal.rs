//! HUD's own staff recertification (the seeds' internal user recertification): HUD and
//! contractor staff (H-IDs, C-IDs) with TRACS or iMAX access are recertified yearly by their
//! supervisor, OTC or COR, in a window of their own (`accounts.internal_recertification_*`,
//! 1 November to 5 December by default), with the same three steps as the industry's
//! coordinators: take the staff member on, review its rights and flag any for removal, request
//! recertification. Staff not recertified are refused from the deadline (`access::decide`);
//! flagged rights go at it (`apply_deadlines`).

use super::{forbidden, invalid, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::{Account, AccountKind, AccountStatus, MId, Right};
use time::OffsetDateTime;

/// A certifier's staff member, as its page lists it.
#[derive(Debug, Clone)]
pub struct StaffLine {
    pub mid: String,
    pub full_name: String,
    pub status: AccountStatus,
    pub rights: Vec<(Right, bool)>,
    pub flagged: Vec<Right>,
    /// The cycle the staff member was last recertified for.
    pub recertified_cycle: Option<i32>,
    /// The cycle the window of now belongs to.
    pub cycle: i32,
    pub last_activity: Option<OffsetDateTime>,
}

impl Admin {
    /// HUD designates an H-ID as a certifier of its staff (a supervisor, OTC or COR), or ends
    /// the designation (and with it the certifier's staff list).
    pub async fn designate_certifier(&self, mid: &str, on: bool) -> AdminResult<()> {
        self.permit(AdminOp::DesignateCertifier)?;
        let account = self.subject(mid).await?;
        if !account.mid.as_str().starts_with('H') {
            return Err(invalid(format!(
                "only HUD staff (H-IDs) certify HUD's staff and contractors; {} is not",
                account.mid
            )));
        }
        let by = self.actor.name();
        let audit = self
            .entry(Action::DesignateCertifier)
            .detail(format!("mid={} after={on}", account.mid));
        let value = on.then_some((by.as_str(), self.now()));
        self.store
            .internal()
            .designate(account.id, value, &audit)
            .await?;
        Ok(())
    }

    /// Step 1: the certifier takes a staff member (an H-ID or C-ID) on.
    pub async fn take_on_staff(&self, mid: &str) -> AdminResult<()> {
        let (id, me) = self.permit_certifier(AdminOp::TakeOnStaff)?;
        let staff = self.subject(mid).await?;
        if !staff.affiliation.is_hud() || staff.kind != AccountKind::User {
            return Err(invalid(format!(
                "{} is not HUD staff or a contractor (an H-ID or C-ID); coordinators recertify the industry's users",
                staff.mid
            )));
        }
        if staff.id == id {
            return Err(forbidden(format!(
                "{me} may not certify itself: its own supervisor, OTC or COR does."
            )));
        }
        let audit = self
            .entry(Action::TakeOnStaff)
            .detail(format!("staff={} certifier={me}", staff.mid));
        self.store
            .internal()
            .take_on(id, staff.id, self.now(), &audit)
            .await?;
        Ok(())
    }

    /// Step 2: the certifier flags one of its staff's rights for removal at the internal
    /// deadline (or clears the flag).
    pub async fn flag_staff_right(&self, mid: &str, right: Right, flag: bool) -> AdminResult<()> {
        let (_, staff) = self.own_staff(AdminOp::FlagStaffRight, mid).await?;
        if !staff.rights.has(right) {
            return Err(invalid(format!(
                "{} does not hold {}",
                staff.mid,
                right.as_str()
            )));
        }
        let name = self.actor.name();
        let audit = self.entry(Action::FlagStaffRight).detail(format!(
            "mid={} right={} flagged_after={flag}",
            staff.mid,
            right.as_str()
        ));
        let value = flag.then_some((name.as_str(), self.now()));
        self.store
            .operators()
            .flag_right(staff.id, right, value, &audit)
            .await?;
        Ok(())
    }

    /// Step 3: the certifier recertifies one of its staff for the internal cycle of now.
    pub async fn recertify_staff(&self, mid: &str) -> AdminResult<i32> {
        let (id, staff) = self.own_staff(AdminOp::RecertifyStaff, mid).await?;
        let now = self.now();
        let cycle = self
            .config
            .accounts
            .internal_recertification_window()
            .cycle_of(now);
        let audit = self.entry(Action::RecertifyStaff).detail(format!(
            "mid={} cycle={cycle} before={:?} after={cycle}",
            staff.mid, staff.recertified_cycle
        ));
        self.store
            .operators()
            .recertify(staff.id, cycle, id, now, &audit)
            .await?;
        Ok(cycle)
    }

    /// The acting certifier's staff, with what its page shows.
    pub async fn my_staff(&self) -> AdminResult<Vec<StaffLine>> {
        let (id, _) = self.permit_certifier(AdminOp::TakeOnStaff)?;
        let window = self.config.accounts.internal_recertification_window();
        let now = self.now();
        let mut lines = Vec::new();
        for mid in self.store.internal().staff_of(id).await? {
            let Some(mid) = MId::parse(&mid) else {
                continue;
            };
            let Some(a) = self.store.accounts().load(&mid).await? else {
                continue;
            };
            lines.push(StaffLine {
                mid: a.mid.to_string(),
                full_name: a.full_name.clone(),
                status: a.status,
                rights: Right::ALL
                    .into_iter()
                    .filter(|r| matches!(r, Right::Imax))
                    .map(|r| (r, a.rights.has(r)))
                    .collect(),
                flagged: a.flagged.iter().map(|(r, _)| *r).collect(),
                recertified_cycle: a.recertified_cycle,
                cycle: window.cycle_of(now),
                last_activity: a.last_activity_at,
            });
        }
        Ok(lines)
    }

    /// A staff member the acting certifier took on, for `op`.
    async fn own_staff(&self, op: AdminOp, mid: &str) -> AdminResult<(i64, Account)> {
        let (id, me) = self.permit_certifier(op)?;
        let staff = self.subject(mid).await?;
        if !self.store.internal().certifies(id, staff.id).await? {
            return Err(forbidden(format!(
                "{me} has not taken {} on as staff: a certifier reviews and recertifies only its own staff.",
                staff.mid
            )));
        }
        Ok((id, staff))
    }
}
