//! `imax admin …`: provisioning and account work, as the operator or `--as` someone.

use clap::{Args, Subcommand};
use imax_gateway::admin::{self, Admin, NewPerson, ProfileInput, ResetRequest};
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountStatus, LockReason, MailboxKind, Right};
use imax_gateway::store::profiles::Profile;
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Apply schema migrations and exit.
    Migrate,
    /// Load mailboxes, properties, contracts and accounts from a TOML file.
    Import { file: PathBuf },
    /// TRACSMail mailboxes (iMAX IDs).
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Properties and the contracts their administrators receive files for.
    Property {
        #[command(subcommand)]
        command: PropertyCommand,
    },
    /// Organizations: owners, management agents, service bureaus, CAs and HUD.
    Organization {
        #[command(subcommand)]
        command: OrganizationCommand,
    },
    /// The vendor sandbox (issue 31): a vendor's certification report.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// A contract's TRACS round-trip ledger for a month (issue 31): what the property sent
    /// its administrator (by file and record count), what came back, and what is missing.
    Ledger(ledger::LedgerArgs),
    /// M-IDs: coordinators and users.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Remove the rights flagged for removal whose deadline has passed (the gateway also does
    /// this hourly while it runs).
    ApplyDeadlines,
    /// Remove messages older than `history.retention_days` (R26; the gateway also does this
    /// hourly while it runs). Audit records are kept.
    Purge {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Verify the store: every message row has its body with the right SHA-256 and size,
    /// every body has its row, and the audit chain holds. Exits non-zero on any finding.
    Check,
    /// Copy a SQLite gateway, while it serves, into DIR (new or empty): the database as of one
    /// moment, the bodies it names, the TLS files and the audit key and checkpoints. On
    /// PostgreSQL use pg_dump.
    Backup { dir: PathBuf },
    /// Copy a backup made by `imax admin backup` into this configuration's data directory,
    /// which must be empty or new, then check it as `imax admin check` does.
    Restore { dir: PathBuf },
    /// Print the current receipt public key (PEM; every key: GET
    /// /.well-known/imax-receipt-keys), or make a new one with --rotate (old ones are kept).
    ReceiptKey {
        #[arg(long)]
        rotate: bool,
    },
    /// Post a broadcast to every mailbox.
    Broadcast {
        #[arg(long)]
        title: String,
        #[arg(long)]
        body: String,
    },
}

#[derive(Args)]
pub struct PasswordIn {
    /// Read the password from the first line of standard input (never from the command line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

pub fn read_password() -> Result<Secret, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(Secret::new(pw))
}

/// A refusal as the command line prints it.
fn s(e: imax_gateway::error::Refusal) -> String {
    e.to_string()
}

/// A right named on the command line.
fn right(r: &str) -> Result<Right, String> {
    Right::parse(r)
        .ok_or_else(|| format!("unknown right {r:?}: imax-coordinator, imax, tcc or tcr"))
}

mod account;
mod account_args;
mod allow_networks;
mod compliance;
mod ledger;
mod mailbox;
mod organization;
mod property;
mod receipt_key;
mod sandbox;
mod store;
mod subscribe;
mod two_factor;

pub use account_args::AccountCommand;
pub use mailbox::MailboxCommand;
pub use organization::OrganizationCommand;
pub use property::PropertyCommand;
pub use sandbox::SandboxCommand;
pub use store::restore_command;
use store::{backup_files, checkpoint_finding, print_check};
pub use two_factor::two_factor_command;

/// `imax admin import FILE`.
async fn import(admin: &Admin, file: &std::path::Path) -> Result<(), String> {
    let report = admin::import_file(admin, file).await.map_err(s)?;
    println!(
        "imported {} entries ({} already present)",
        report.created.len(),
        report.existing.len()
    );
    for e in report.existing {
        println!("  already present: {e}");
    }
    Ok(())
}

pub async fn admin_command(admin: &Admin, command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::Migrate => {
            println!("schema at version {}", imax_gateway::store::SCHEMA_VERSION)
        }
        AdminCommand::Import { file } => import(admin, &file).await?,
        AdminCommand::Mailbox { command } => mailbox::mailbox_command(admin, command).await?,
        AdminCommand::Property { command } => property::property_command(admin, command).await?,
        AdminCommand::Account { command } => account::account_command(admin, command).await?,
        AdminCommand::Sandbox { command } => sandbox::sandbox_command(admin, command).await?,
        AdminCommand::Ledger(args) => ledger::ledger_command(admin, args).await?,
        AdminCommand::Organization { command } => {
            organization::organization_command(admin, command).await?
        }
        AdminCommand::ApplyDeadlines => {
            let n = admin.as_system().apply_deadlines().await.map_err(s)?;
            println!("{n} flagged rights and property assignments removed");
        }
        AdminCommand::Purge { dry_run } => {
            let r = admin
                .purge(imax_gateway::admin::Purge::dry_run(dry_run))
                .await
                .map_err(s)?;
            let verb = if dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} messages ({} bytes) older than {} days; audit records are kept",
                r.messages, r.bytes, r.oldest_kept_days
            );
        }
        AdminCommand::Check => {
            let r = admin.store().check().await.map_err(|e| e.to_string())?;
            let checkpoints = checkpoint_finding(admin).await?;
            print_check(&r, checkpoints.as_slice())?;
        }
        AdminCommand::Backup { dir } => {
            let m = imax_gateway::store::backup::backup(
                admin.store(),
                &backup_files(admin.config()),
                &dir,
                admin.clock().now(),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "backed up to {}: {} messages ({} bytes), schema version {}",
                dir.display(),
                m.messages,
                m.bytes,
                m.schema_version
            );
            if m.purged_meanwhile > 0 {
                println!(
                    "  {} messages purged (R26) while the backup ran were left out",
                    m.purged_meanwhile
                );
            }
        }
        AdminCommand::Restore { .. } => {
            // Before any store is opened: see `restore_command`.
            return Err("restore runs before the store is opened".into());
        }
        AdminCommand::ReceiptKey { rotate } => {
            receipt_key::receipt_key_command(admin, rotate).await?
        }
        AdminCommand::Broadcast { title, body } => {
            let id = admin.post_broadcast(&title, &body).await.map_err(s)?;
            println!("broadcast BC-{id} posted");
        }
    }
    Ok(())
}
