//! `imax admin …`: provisioning and account work, as the operator or `--as` someone.

use clap::{Args, Subcommand};
use imax_gateway::admin::{self, Admin, NewPerson, ProfileInput, ResetRequest};
use imax_gateway::directory::password::Secret;
use imax_gateway::directory::{AccountKind, AccountStatus, LockReason, MailboxKind, Right};
use imax_gateway::store::profiles::Profile;
use std::io::BufRead;
use std::path::{Path, PathBuf};

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

#[derive(Subcommand)]
pub enum MailboxCommand {
    /// Create a mailbox.
    Create {
        #[arg(long)]
        imax_id: String,
        /// hud, ca, property or service-bureau.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        email: String,
        /// The organization (its ID) the mailbox belongs to (R25).
        #[arg(long)]
        organization: Option<String>,
        #[command(flatten)]
        password: PasswordIn,
    },
    /// Let another mailbox's iMAX ID stand as Sender's iMAX ID in TRACS files sent from this
    /// one (a service bureau preparing its client's files, R11), or stop it with --remove.
    Sender {
        #[arg(long)]
        imax_id: String,
        #[arg(long)]
        sender: String,
        #[arg(long)]
        remove: bool,
    },
    /// Whether the mailbox accepts files that are not TRACS files (PDF letters, …).
    Attachments {
        #[arg(long)]
        imax_id: String,
        #[arg(long, action = clap::ArgAction::Set)]
        accept: bool,
    },
    /// Set a mailbox's password.
    SetPassword {
        #[arg(long)]
        imax_id: String,
        #[command(flatten)]
        password: PasswordIn,
    },
    /// Set a mailbox's profile (R23). Standard input: the PIN, then optionally the secondary
    /// contact's PIN, one per line.
    Profile {
        #[arg(long)]
        imax_id: String,
        #[command(flatten)]
        profile: Box<ProfileArgs>,
    },
    /// The Help Desk's password reset (R24): checks the requester's details against the profile
    /// and mails a new password to the profile's address. Standard input: the requester's PIN.
    ResetPassword {
        #[arg(long)]
        imax_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        organization: String,
        #[arg(long)]
        firm_name: String,
        #[arg(long)]
        firm_address: String,
        #[arg(long)]
        email: String,
        /// The request came as a letter on company letterhead dated this day (YYYY-MM-DD);
        /// without it, as an email to the TRACS address (R24).
        #[arg(long)]
        letter_dated: Option<String>,
        /// The letter's or the email's reference, recorded with the reset (R24).
        #[arg(long)]
        reference: String,
    },
}

#[derive(Args)]
pub struct ProfileArgs {
    /// The primary contact's first name.
    #[arg(long)]
    first_name: String,
    /// The primary contact's last name.
    #[arg(long)]
    last_name: String,
    /// Owner, management agent, TCA, PBCA, service bureau, …
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long)]
    title: String,
    #[arg(long)]
    organization: String,
    #[arg(long)]
    firm_name: String,
    #[arg(long)]
    street1: String,
    #[arg(long, default_value = "")]
    street2: String,
    #[arg(long)]
    city: String,
    #[arg(long)]
    state: String,
    #[arg(long)]
    postal_code: String,
    #[arg(long, default_value = "US")]
    country: String,
    #[arg(long, default_value = "")]
    phone: String,
    #[arg(long, default_value = "")]
    fax: String,
    #[arg(long)]
    email: String,
    #[arg(long, default_value = "")]
    secondary_first: String,
    #[arg(long, default_value = "")]
    secondary_last: String,
    #[arg(long, default_value = "")]
    secondary_email: String,
}

#[derive(Subcommand)]
pub enum PropertyCommand {
    /// Create or update a property and the mailbox it sends from.
    Create {
        #[arg(long)]
        number: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        mailbox: Option<String>,
        /// The owner (an organization's ID); default: the mailbox's organization.
        #[arg(long)]
        owner: Option<String>,
        /// The management agent (an organization's ID), if any.
        #[arg(long)]
        agent: Option<String>,
    },
    /// A change of ownership (R25): move the property to the new owner's own TRACSMail ID.
    /// Its files then go to and come from that ID only; the old owner's users and coordinators
    /// lose the property.
    Transfer {
        #[arg(long)]
        number: String,
        /// The new owner's TRACSMail ID (a property mailbox).
        #[arg(long)]
        to: String,
    },
    /// Record the administrator (TRACS or a CA's iMAX ID) of a property's contract.
    Contract {
        #[arg(long)]
        number: String,
        #[arg(long)]
        property: String,
        #[arg(long)]
        administrator: String,
    },
}

#[derive(Subcommand)]
pub enum OrganizationCommand {
    /// Create an organization.
    Create {
        /// Its ID, e.g. ALPHA (capital letters, digits, hyphens).
        #[arg(long)]
        id: String,
        /// owner, management-agent, service-bureau, contract-administrator or hud.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        tax_id: Option<String>,
    },
    /// List the organizations.
    List,
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an M-ID.
    Create {
        #[arg(long)]
        mid: String,
        /// coordinator or user.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long, default_value = "")]
        organization: String,
        /// The password expires at once: the person must change it first (R15).
        #[arg(long)]
        temporary: bool,
        /// A property number (repeatable): a coordinator's BPRs, a user's assignments.
        #[arg(long = "property")]
        properties: Vec<String>,
        /// hud, contractor or industry (HUD's to choose; coordinators make industry M-IDs
        /// only). Default: the one the ID's letter is issued for (H, C, M).
        #[arg(long)]
        affiliation: Option<String>,
        #[command(flatten)]
        password: PasswordIn,
    },
    /// Remove imax-coordinator, imax, tcc or tcr.
    Revoke {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        right: String,
    },
    /// Assign a user to a property (R6).
    AssignProperty {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        property: String,
    },
    /// Remove a user's property assignment (R22).
    UnassignProperty {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        property: String,
    },
    /// As a coordinator (--as), assign a user to yourself (R18, R19).
    AssignStaff {
        #[arg(long)]
        mid: String,
    },
    /// Turn a user into a coordinator with BPRs on the given properties (R4; HUD only).
    Promote {
        #[arg(long)]
        mid: String,
        #[arg(long = "property")]
        properties: Vec<String>,
    },
    /// Designate an H-ID as a certifier of HUD's staff and contractors (a supervisor, OTC or
    /// COR; HUD only), or end the designation.
    Certifier {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        off: bool,
    },
    /// As a certifier (--as H…), take an H-ID or C-ID on as staff you recertify.
    TakeOnStaff {
        #[arg(long)]
        mid: String,
    },
    /// As a certifier (--as H…), flag a staff member's iMAX role for removal at the internal
    /// deadline.
    FlagStaff {
        #[arg(long)]
        mid: String,
        /// Clear the flag instead.
        #[arg(long)]
        clear: bool,
    },
    /// As a certifier (--as H…), recertify a staff member for this internal cycle.
    RecertifyStaff {
        #[arg(long)]
        mid: String,
    },
    /// A coordinator who left: remove its BPRs, assignments, staff and rights, and make it a
    /// plain user (R22; the Help Desk, or --as another coordinator of its properties).
    Demote {
        #[arg(long)]
        mid: String,
    },
    /// Make an M-ID Help Desk staff (operator only).
    HelpDesk {
        #[arg(long)]
        mid: String,
    },
    /// Make an M-ID REAC-TAC staff, who restore terminated M-IDs (R16; operator only);
    /// --remove ends it.
    ReacTac {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        remove: bool,
    },
    /// As a coordinator (--as), the report of your users: the User Last Login Report (R14)
    /// with what each has due (R21's Rules of Behavior, Q24's training, this cycle's
    /// certification), dates as YYYY-MM-DD in Washington; --csv for a spreadsheet.
    Report {
        #[arg(long)]
        csv: bool,
    },
    /// As a coordinator (--as), record a user's Security Awareness Training (Q24): the day it
    /// was completed and the certificate's reference. Certification needs one within a year.
    Training {
        #[arg(long)]
        mid: String,
        /// The completion day, YYYY-MM-DD.
        #[arg(long)]
        completed: String,
        #[arg(long)]
        certificate: String,
    },
    /// As a coordinator (--as), flag a user's right, or its assignment to a property, for
    /// removal at the deadline (R18).
    Flag {
        #[arg(long)]
        mid: String,
        #[arg(
            long,
            required_unless_present = "property",
            conflicts_with = "property"
        )]
        right: Option<String>,
        /// A property number the user is assigned to (one of your BPR properties).
        #[arg(long)]
        property: Option<String>,
        /// Clear the flag instead.
        #[arg(long)]
        clear: bool,
    },
    /// As a coordinator (--as), recertify a user for this cycle (R17, R18).
    Recertify {
        #[arg(long)]
        mid: String,
    },
    /// Grant imax-coordinator, imax, tcc or tcr.
    Grant {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        right: String,
    },
    /// Admit to the iMAX working group (system-to-system, R8).
    Admit {
        #[arg(long)]
        mid: String,
    },
    /// Set the password.
    SetPassword {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        temporary: bool,
        #[command(flatten)]
        password: PasswordIn,
    },
    /// Record that the person accepted this year's Rules of Behavior (R21).
    AcceptRob {
        #[arg(long)]
        mid: String,
    },
    /// Unlock a locked M-ID.
    Unlock {
        #[arg(long)]
        mid: String,
    },
    /// Lock an M-ID.
    Lock {
        #[arg(long)]
        mid: String,
    },
    /// Terminate an M-ID (R16).
    Terminate {
        #[arg(long)]
        mid: String,
    },
    /// Restore a terminated M-ID (R16: as REAC-TAC staff with --as, or the operator).
    Restore {
        #[arg(long)]
        mid: String,
    },
    /// Record a coordinator's Business Partner Relationship with a property, or with an
    /// organization such as a service bureau or a CA (R3).
    Bpr {
        #[arg(long)]
        mid: String,
        #[arg(
            long,
            required_unless_present = "organization",
            conflicts_with = "organization"
        )]
        property: Option<String>,
        /// An organization's ID: the coordinator then manages its staff.
        #[arg(long)]
        organization: Option<String>,
    },
    /// As a coordinator (--as), Search for User: an existing M-ID by its exact ID (M-ID, name,
    /// organization, state).
    Find {
        #[arg(long)]
        mid: String,
    },
    /// Assign a user to an organization of your portfolio (taking it on if it is another
    /// company's), or remove the assignment.
    AssignOrganization {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        organization: String,
        /// Remove the assignment instead.
        #[arg(long)]
        remove: bool,
    },
    /// As a coordinator (--as), Assigned Staff: the users you manage.
    Staff,
    /// As a coordinator (--as), Assigned Staff's Delete: let a user go from your portfolio
    /// (its other coordinators keep theirs).
    Release {
        #[arg(long)]
        mid: String,
    },
    /// Show an M-ID's state.
    Show {
        #[arg(long)]
        mid: String,
    },
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
mod compliance;
mod mailbox;
mod organization;
mod property;

pub async fn admin_command(admin: &Admin, command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::Migrate => {
            println!("schema at version {}", imax_gateway::store::SCHEMA_VERSION)
        }
        AdminCommand::Import { file } => {
            let report = admin::import_file(admin, &file).await.map_err(s)?;
            println!(
                "imported {} entries ({} already present)",
                report.created.len(),
                report.existing.len()
            );
            for e in report.existing {
                println!("  already present: {e}");
            }
        }
        AdminCommand::Mailbox { command } => mailbox::mailbox_command(admin, command).await?,
        AdminCommand::Property { command } => property::property_command(admin, command).await?,
        AdminCommand::Account { command } => account::account_command(admin, command).await?,
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
        AdminCommand::Broadcast { title, body } => {
            let id = admin.post_broadcast(&title, &body).await.map_err(s)?;
            println!("broadcast BC-{id} posted");
        }
    }
    Ok(())
}

/// Where this configuration keeps what a backup holds besides the database.
fn backup_files(config: &imax_gateway::config::Config) -> imax_gateway::store::backup::Files {
    let (key, checkpoints) = imax_gateway::checkpoint::Checkpoints::paths(config);
    imax_gateway::store::backup::Files {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url(),
        tls_dir: config.data_dir.join("tls"),
        audit_key: config.audit.key.is_empty().then_some(key),
        audit_checkpoints: checkpoints,
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
/// own walk cannot see: a recomputed chain, a cut tail, a deleted checkpoint file).
async fn checkpoint_finding(admin: &Admin) -> Result<Option<String>, String> {
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
    Ok(match verdict {
        CheckpointVerdict::Holds { .. } => None,
        CheckpointVerdict::Broken { line: 0, reason } => Some(reason),
        CheckpointVerdict::Broken { line, reason } => {
            Some(format!("checkpoint line {line}: {reason}"))
        }
    })
}

/// Prints what `imax admin check` found; an error if the store is not sound.
fn print_check(
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
