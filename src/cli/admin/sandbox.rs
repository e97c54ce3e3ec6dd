//! `imax admin sandbox …`: the vendor sandbox (issue 31).

use super::*;
use imax_gateway::admin::SandboxReport;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// A vendor's certification report: the operations (SOAP and browser) and TRACS file
    /// kinds its software exercised in its sandbox mailboxes, and what the simulated TRACS
    /// answered, read from the audit log and the stored messages.
    Report {
        /// The vendor's organization ID.
        #[arg(long)]
        organization: String,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
    },
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Json,
    Table,
}

pub(super) async fn sandbox_command(admin: &Admin, command: SandboxCommand) -> Result<(), String> {
    match command {
        SandboxCommand::Report {
            organization,
            format,
        } => {
            let report = admin.sandbox_report(&organization).await.map_err(s)?;
            match format {
                ReportFormat::Json => {
                    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                    println!("{text}");
                }
                ReportFormat::Table => print_table(&report),
            }
            Ok(())
        }
    }
}

fn print_table(r: &SandboxReport) {
    println!(
        "{} ({}): sandboxes {}",
        r.organization,
        r.name,
        r.mailboxes.join(", ")
    );
    println!(
        "{:<28} {:<6} {:>9} {:>8}",
        "operation", "door", "succeeded", "refused"
    );
    for o in &r.operations {
        println!(
            "{:<28} {:<6} {:>9} {:>8}",
            o.label, o.door, o.succeeded, o.refused
        );
    }
    println!(
        "{:<10} {:<9} {:>8}  records",
        "file kind", "release", "accepted"
    );
    for k in &r.file_kinds {
        println!(
            "{:<10} {:<9} {:>8}  {}",
            k.kind, k.release, k.accepted, k.records
        );
    }
    println!("{:<16} {:>5} {:>8}", "answer", "sent", "fetched");
    for a in &r.answers {
        println!("{:<16} {:>5} {:>8}", a.answer, a.sent, a.fetched);
    }
}
