//! `imax admin ledger`: a contract's TRACS round-trip ledger for a month (issue 31,
//! `docs/ledger.md`).

use super::sandbox::ReportFormat;
use super::*;
use imax_gateway::admin::{Ledger, Missing};

/// Prints the ledger of `contract` for `month` (`YYYY-MM`, Washington time).
pub(super) async fn ledger_command(
    admin: &Admin,
    contract: &str,
    month: &str,
    format: ReportFormat,
) -> Result<(), String> {
    let ledger = admin.ledger(contract, month).await.map_err(s)?;
    match format {
        ReportFormat::Json => {
            let text = serde_json::to_string_pretty(&ledger).map_err(|e| e.to_string())?;
            println!("{text}");
        }
        ReportFormat::Table => print_table(&ledger),
    }
    Ok(())
}

/// A JSON value's plain text (`"awaiting"` → `awaiting`).
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn print_table(l: &Ledger) {
    println!(
        "contract {} (property {}, mailbox {}) to {}, {} as of {}",
        l.contract, l.property, l.property_mailbox, l.administrator, l.month, l.as_of
    );
    println!(
        "{:<22} {:<28} {:<8} {:>7} {:<10} sent at",
        "message", "file", "kind", "records", "status"
    );
    for e in &l.sent {
        println!(
            "{:<22} {:<28} {:<8} {:>7} {:<10} {}",
            e.message_id,
            e.file_name,
            e.kind,
            e.records,
            word(&e.status),
            e.sent_at
        );
        for r in &e.replies {
            println!(
                "  <- {:<19} {:<28} {:<15} from {} at {}",
                r.message_id,
                r.file_name,
                word(&r.answer),
                r.from_mailbox,
                r.received_at
            );
        }
    }
    let t = &l.totals;
    println!(
        "tenant files {} ({} records), voucher files {} ({} records), other files {}",
        t.tenant_files, t.tenant_records, t.voucher_files, t.voucher_records, t.other_files
    );
    println!(
        "replies: format errors {}, acknowledgements {}, fatal errors {}, discrepancies {}, other {}",
        t.format_errors, t.acknowledgements, t.fatal_errors, t.discrepancies, t.other_replies
    );
    println!("voucher due {}: {}", l.voucher.due, word(&l.voucher.status));
    for m in &l.missing {
        match m {
            Missing::Voucher { due } => println!("MISSING voucher for {} (due {due})", l.month),
            Missing::Reply {
                message_id,
                file_name,
                sent_at,
            } => println!("MISSING reply to {message_id} {file_name} (sent {sent_at})"),
        }
    }
    if l.truncated {
        println!("(more files than ledger.max_files: the rest are left out)");
    }
}
