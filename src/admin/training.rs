//! Security Awareness Training (seed Q24, new-user step 1) and the compliance report.
//!
//! Owners/agents keep each user's training certificate, and the training is done at least once
//! a year (Q24): a coordinator records it (completion day and certificate reference), and a
//! certification, first or yearly, needs training completed within the last 365 days (R20),
//! refused otherwise with `TrainingRequired`. Days are days in Washington (`calendar`).

use super::{invalid, Admin, AdminOp, AdminResult};
use crate::access::RulesOfBehavior;
use crate::audit::Action;
use crate::calendar;
use crate::directory::Account;
use crate::error::{Code, Refusal};
use crate::store::training::TrainingRecord;

/// How long a training counts for a certification (Q24: "at least once per year").
const TRAINING_VALID_DAYS: i64 = 365;

/// One line of the coordinator's compliance report: what each of its users has due (R21, Q24,
/// Q39 — beyond HUD's own system, because owners must keep these records). Dates are ISO days
/// in Washington.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceLine {
    pub mid: String,
    pub full_name: String,
    pub last_activity: Option<String>,
    pub days_until_lock: Option<i64>,
    pub password_age_days: i64,
    pub rob_accepted: Option<String>,
    pub rob_due: Option<String>,
    pub training_completed: Option<String>,
    pub training_certificate: Option<String>,
    /// Whether the user holds this cycle's certification.
    pub certified_this_cycle: bool,
}

impl ComplianceLine {
    /// The CSV header, in the columns' order.
    pub const CSV_HEADER: &'static str = "mid,name,last_activity,days_until_lock,password_age_days,rob_accepted,rob_due,training_completed,training_certificate,certified_this_cycle";

    /// The line as CSV (fields quoted where needed).
    pub fn csv(&self) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        [
            self.mid.clone(),
            self.full_name.clone(),
            opt(&self.last_activity),
            self.days_until_lock
                .map(|d| d.to_string())
                .unwrap_or_default(),
            self.password_age_days.to_string(),
            opt(&self.rob_accepted),
            opt(&self.rob_due),
            opt(&self.training_completed),
            opt(&self.training_certificate),
            if self.certified_this_cycle {
                "yes"
            } else {
                "no"
            }
            .to_string(),
        ]
        .iter()
        .map(|f| crate::ground::csv::field(f))
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// The printable record of a person's accepted Rules of Behavior (R21; owners keep the signed
/// rules, Q24): whose, when accepted and due (days in Washington), which text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesOfBehaviorRecord {
    pub mid: String,
    pub full_name: String,
    pub accepted: Option<String>,
    pub due: Option<String>,
    pub version: &'static str,
}

impl RulesOfBehaviorRecord {
    /// The record of `a` at `now`.
    pub fn of(
        a: &Account,
        policy: &crate::config::AccountPolicy,
        now: time::OffsetDateTime,
    ) -> Self {
        RulesOfBehaviorRecord {
            mid: a.mid.to_string(),
            full_name: a.full_name.clone(),
            accepted: a.rob_accepted_at.map(calendar::iso_day),
            due: RulesOfBehavior::of(a, policy, now)
                .due_on()
                .map(calendar::iso_date),
            version: crate::access::RULES_OF_BEHAVIOR_VERSION,
        }
    }
}

impl Admin {
    /// The Rules of Behavior record of a person this actor may view (its coordinators, HUD).
    pub async fn rules_of_behavior_record(&self, mid: &str) -> AdminResult<RulesOfBehaviorRecord> {
        let a = self.subject(mid).await?;
        self.permit_on(AdminOp::ViewPerson, &a).await?;
        Ok(RulesOfBehaviorRecord::of(
            &a,
            &self.config.accounts,
            self.now(),
        ))
    }

    /// Records `mid`'s Security Awareness Training (Q24): the day it was completed
    /// (`YYYY-MM-DD`) and the certificate's reference.
    pub async fn record_training(
        &self,
        mid: &str,
        completed: &str,
        certificate: &str,
    ) -> AdminResult<()> {
        let account = self.subject(mid).await?;
        self.permit_on(AdminOp::RecordTraining, &account).await?;
        let day = calendar::parse_iso_date(completed)
            .ok_or_else(|| invalid("the completion date is a day as YYYY-MM-DD"))?;
        if day > calendar::day_in_washington(self.now()) {
            return Err(invalid("the completion date is in the future"));
        }
        let certificate = certificate.trim();
        if certificate.is_empty() || certificate.len() > 100 {
            return Err(invalid(
                "the certificate reference is 1 to 100 characters (as printed on it)",
            ));
        }
        let record = TrainingRecord {
            completed_on: calendar::iso_date(day),
            certificate: certificate.to_string(),
        };
        let audit = self.entry(Action::RecordTraining).detail(format!(
            "mid={} completed={} certificate={}",
            account.mid, record.completed_on, record.certificate
        ));
        self.store
            .training()
            .record(account.id, &record, &self.actor.name(), self.now(), &audit)
            .await?;
        Ok(())
    }

    /// R20 (Q24): a certification needs training completed within the last 365 days.
    pub(super) async fn require_training(&self, user: &Account) -> AdminResult<()> {
        let record = self.store.training().load(user.id).await?;
        let day = record.and_then(|r| calendar::parse_iso_date(&r.completed_on));
        match day {
            Some(d) if -calendar::days_until(self.now(), d) <= TRAINING_VALID_DAYS => Ok(()),
            Some(d) => Err(Refusal::because(
                Code::TrainingRequired,
                format!(
                    "{}'s last recorded training was on {}, more than a year ago",
                    user.mid,
                    calendar::iso_date(d)
                ),
            )),
            None => Err(Refusal::because(
                Code::TrainingRequired,
                format!("{} has no recorded training", user.mid),
            )),
        }
    }

    /// The coordinator's compliance report of its users (R21, Q24, Q39).
    pub async fn compliance_report(&self) -> AdminResult<Vec<ComplianceLine>> {
        let now = self.now();
        let policy = &self.config.accounts;
        let cycle = policy.recertification_window().cycle_of(now);
        let mut out = Vec::new();
        for l in self.last_login_report().await? {
            let Some(a) = crate::directory::MId::parse(&l.mid) else {
                continue;
            };
            let Some(a) = self.store.accounts().load(&a).await? else {
                continue;
            };
            let training = self.store.training().load(a.id).await?;
            let rob = a
                .rob_accepted_at
                .map(|_| RulesOfBehavior::of(&a, policy, now));
            out.push(ComplianceLine {
                mid: l.mid,
                full_name: l.full_name,
                last_activity: l.last_activity.map(calendar::iso_day),
                days_until_lock: l.days_until_lock,
                password_age_days: (now - a.password_changed_at).whole_days(),
                rob_accepted: a.rob_accepted_at.map(calendar::iso_day),
                rob_due: rob.and_then(|r| r.due_on()).map(calendar::iso_date),
                training_completed: training.as_ref().map(|t| t.completed_on.clone()),
                training_certificate: training.map(|t| t.certificate),
                certified_this_cycle: a.recertified_cycle.is_some_and(|c| c >= cycle),
            });
        }
        Ok(out)
    }
}
