//! `imax admin check`, `backup` and `restore`: the store's soundness (its bodies, the audit
//! chain and its signed checkpoints) and its copies.

use imax_gateway::admin::Admin;
use std::path::Path;

/// Where this configuration keeps what a backup holds besides the database.
pub(super) fn backup_files(
    config: &imax_gateway::config::Config,
) -> imax_gateway::store::backup::Files {
    let (key, checkpoints) = imax_gateway::checkpoint::Checkpoints::paths(config);
    imax_gateway::store::backup::Files {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url(),
        tls_dir: config.data_dir.join("tls"),
        audit_key: config.audit.key.is_empty().then_some(key),
        audit_checkpoints: checkpoints,
        receipt_keys: config.receipts.key.is_empty().then(|| {
            imax_gateway::receipt::ReceiptKeys::from_config(config)
                .file()
                .to_path_buf()
        }),
        receipt_checkpoints: config.data_dir.join("receipt-checkpoints"),
    }
}

/// `imax admin restore DIR`: runs instead of opening the store, whose data directory must be
/// empty until the backup is in it.
pub async fn restore_command(
    config: &imax_gateway::config::Config,
    dir: &Path,
) -> Result<(), String> {
    let (m, report) = imax_gateway::store::backup::restore(&backup_files(config), dir)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "restored the backup of {} ({} messages, schema version {}) into {}",
        m.created_at,
        m.messages,
        m.schema_version,
        config.data_dir.display()
    );
    print_check(&report, &[])
}

/// What the signed checkpoints of the audit chain say, if it is a finding (one the chain's
/// own walk cannot see: a recomputed chain, a cut tail, a deleted checkpoint file, a receipt
/// checkpoint that is not the records' root).
pub(super) async fn checkpoint_finding(admin: &Admin) -> Result<Option<String>, String> {
    use imax_gateway::checkpoint::published::PublishedVerdict;
    use imax_gateway::checkpoint::{self, CheckpointVerdict, Checkpoints};
    let config = admin.config();
    let cp = Checkpoints::from_config(config).map_err(|e| format!("the audit key: {e}"))?;
    let verdict = checkpoint::verify_at(
        admin.store(),
        &cp,
        admin.clock().now(),
        config.audit.checkpoint_secs,
    )
    .await
    .map_err(|e| e.to_string())?;
    match verdict {
        CheckpointVerdict::Holds { .. } => {}
        CheckpointVerdict::Broken { line: 0, reason } => return Ok(Some(reason)),
        CheckpointVerdict::Broken { line, reason } => {
            return Ok(Some(format!("checkpoint line {line}: {reason}")))
        }
    }
    // The checkpoints signed with the receipt key must be the roots of the records they cover.
    let published = cp.published.verify(admin.store()).await;
    Ok(match published.map_err(|e| e.to_string())? {
        PublishedVerdict::Holds { .. } => None,
        PublishedVerdict::Broken { line, reason } => {
            Some(format!("receipt-checkpoints line {line}: {reason}"))
        }
    })
}

/// Prints what `imax admin check` found; an error if the store is not sound.
pub(super) fn print_check(
    r: &imax_gateway::store::check::CheckReport,
    checkpoints: &[String],
) -> Result<(), String> {
    println!(
        "{} messages ({} bytes) checked against their bodies; {} audit records",
        r.messages, r.bytes, r.audit_records
    );
    for (id, what) in &r.bad_rows {
        println!("  message {id}: {what}");
    }
    for key in &r.orphan_bodies {
        println!("  body {key} has no message row");
    }
    if let Some((seq, why)) = &r.audit_broken {
        println!("  audit chain broken at record {seq}: {why}");
    }
    if r.uploads_in_progress > 0 {
        println!(
            "  {} uploads in progress (or left by a stopped node; swept after an hour)",
            r.uploads_in_progress
        );
    }
    for finding in checkpoints {
        println!("  audit checkpoints: {finding}");
    }
    if !r.is_sound() || !checkpoints.is_empty() {
        return Err("the store has problems (listed above)".into());
    }
    println!("store sound");
    Ok(())
}
