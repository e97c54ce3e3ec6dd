//! `imax admin account report` and `account training`: what a coordinator's users have due
//! (R14, R21, Q24, Q39), and the training records certification needs (R20).

use super::*;

/// The coordinator's report: one line per user, dates as YYYY-MM-DD in Washington.
pub(super) async fn report(admin: &Admin, csv: bool) -> Result<(), String> {
    let lines = admin.compliance_report().await.map_err(s)?;
    if csv {
        println!("{}", admin::ComplianceLine::CSV_HEADER);
        for l in &lines {
            println!("{}", l.csv());
        }
        return Ok(());
    }
    println!(
        "{:<10} {:<30} {:<13} {:>9} {:>8} {:<12} {:<12} {:<12} {:<16} certified",
        "M-ID",
        "name",
        "last activity",
        "lock in",
        "pw age",
        "ROB accepted",
        "ROB due",
        "training",
        "certificate"
    );
    let or = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    for l in &lines {
        println!(
            "{:<10} {:<30} {:<13} {:>9} {:>8} {:<12} {:<12} {:<12} {:<16} {}",
            l.mid,
            l.full_name,
            l.last_activity.clone().unwrap_or_else(|| "never".into()),
            l.days_until_lock
                .map(|d| format!("{d} days"))
                .unwrap_or_else(|| "-".into()),
            format!("{} days", l.password_age_days),
            or(&l.rob_accepted),
            or(&l.rob_due),
            or(&l.training_completed),
            or(&l.training_certificate),
            if l.certified_this_cycle { "yes" } else { "no" },
        );
    }
    Ok(())
}

/// Records a user's Security Awareness Training (Q24).
pub(super) async fn training(
    admin: &Admin,
    mid: &str,
    completed: &str,
    certificate: &str,
) -> Result<(), String> {
    admin
        .record_training(mid, completed, certificate)
        .await
        .map_err(s)?;
    println!(
        "{mid} completed Security Awareness Training on {completed} (certificate {certificate})"
    );
    Ok(())
}
