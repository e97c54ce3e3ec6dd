//! `imax admin ledger`: a contract's TRACS round-trip ledger for a month (issue 31,
//! `docs/ledger.md`).

use super::sandbox::ReportFormat;
use super::*;
use imax_gateway::admin::Ledger;

/// `imax admin ledger --contract NUMBER --month YYYY-MM [--format json|table]`.
#[derive(Args)]
pub struct LedgerArgs {
    /// The contract number (e.g. MA020001001).
    #[arg(long)]
    contract: String,
    /// The month, YYYY-MM (Washington time).
    #[arg(long)]
    month: String,
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

/// Prints the ledger of the contract for the month.
pub(super) async fn ledger_command(admin: &Admin, a: LedgerArgs) -> Result<(), String> {
    let ledger = admin.ledger(&a.contract, &a.month).await.map_err(s)?;
    match a.format {
        ReportFormat::Json => {
            let text = serde_json::to_string_pretty(&ledger).map_err(|e| e.to_string())?;
            println!("{text}");
        }
        ReportFormat::Table => print_table(&ledger),
    }
    Ok(())
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
            e.status.as_str(),
            e.sent_at
        );
        for r in &e.replies {
            println!(
                "  <- {:<19} {:<28} {:<15} from {} at {}",
                r.message_id,
                r.file_name,
                r.answer.as_str(),
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
    println!(
        "voucher due {}: {}",
        l.voucher.due,
        l.voucher.status.as_str()
    );
    for m in &l.missing {
        println!("MISSING {}", m.describe());
    }
    if l.truncated {
        println!("(more files than ledger.max_files: the rest are left out)");
    }
}
