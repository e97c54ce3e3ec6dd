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
    /// As a coordinator (--as), the User Last Login Report of your users (R14).
    Report,
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
    /// Restore a terminated M-ID.
    Restore {
        #[arg(long)]
        mid: String,
    },
    /// Record a coordinator's Business Partner Relationship with a property (R3).
    Bpr {
        #[arg(long)]
        mid: String,
        #[arg(long)]
        property: String,
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

pub async fn admin_command(admin: &Admin, command: AdminCommand) -> Result<(), String> {
    let s = |e: imax_gateway::error::Refusal| e.to_string();
    let right = |r: &str| {
        Right::parse(r)
            .ok_or_else(|| format!("unknown right {r:?}: imax-coordinator, imax, tcc or tcr"))
    };
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
        AdminCommand::Mailbox { command } => match command {
            MailboxCommand::Create {
                imax_id,
                kind,
                name,
                email,
                ..
            } => {
                let k = MailboxKind::parse(&kind)
                    .ok_or("kind is hud, ca, property or service-bureau")?;
                admin
                    .create_mailbox(&imax_id, k, &name, &email, &read_password()?)
                    .await
                    .map_err(s)?;
                println!("mailbox {imax_id} created");
            }
            MailboxCommand::Profile {
                imax_id,
                profile: p,
            } => {
                let pin = read_password()?;
                let mut second = String::new();
                let _ = std::io::stdin().lock().read_line(&mut second);
                let second = second.trim_end_matches(['\n', '\r']);
                let input = ProfileInput {
                    profile: Profile {
                        contact_first: p.first_name,
                        contact_last: p.last_name,
                        description: p.description,
                        title: p.title,
                        organization: p.organization,
                        firm_name: p.firm_name,
                        street1: p.street1,
                        street2: p.street2,
                        city: p.city,
                        state: p.state,
                        postal_code: p.postal_code,
                        country: p.country,
                        phone: p.phone,
                        fax: p.fax,
                        email: p.email,
                        secondary_first: p.secondary_first,
                        secondary_last: p.secondary_last,
                        secondary_email: p.secondary_email,
                        ..Profile::default()
                    },
                    pin,
                    secondary_pin: (!second.is_empty()).then(|| Secret::new(second)),
                };
                admin
                    .set_mailbox_profile(&imax_id, &input)
                    .await
                    .map_err(s)?;
                println!("profile of {imax_id} saved");
            }
            MailboxCommand::ResetPassword {
                imax_id,
                name,
                title,
                organization,
                firm_name,
                firm_address,
                email,
            } => {
                let req = ResetRequest {
                    name,
                    title,
                    organization,
                    firm_name,
                    firm_address,
                    email,
                    pin: read_password()?,
                };
                let to = admin
                    .reset_mailbox_password(&imax_id, &req)
                    .await
                    .map_err(s)?;
                println!("a new password for {imax_id} was mailed to {to}");
            }
            MailboxCommand::SetPassword { imax_id, .. } => {
                admin
                    .set_mailbox_password(&imax_id, &read_password()?)
                    .await
                    .map_err(s)?;
                println!("password of {imax_id} set");
            }
            MailboxCommand::Sender {
                imax_id,
                sender,
                remove,
            } => {
                admin
                    .set_mailbox_sender(&imax_id, &sender, !remove)
                    .await
                    .map_err(s)?;
                if remove {
                    println!("{sender} may no longer send for {imax_id}");
                } else {
                    println!("{sender} may send for {imax_id}");
                }
            }
            MailboxCommand::Attachments { imax_id, accept } => {
                admin
                    .set_accepts_attachments(&imax_id, accept)
                    .await
                    .map_err(s)?;
                println!("{imax_id} accepts attachments: {accept}");
            }
        },
        AdminCommand::Property { command } => {
            match command {
                PropertyCommand::Create {
                    number,
                    name,
                    mailbox,
                } => {
                    admin
                        .create_property(&number, &name, mailbox.as_deref())
                        .await
                        .map_err(s)?;
                    println!("property {number} saved");
                }
                PropertyCommand::Transfer { number, to } => {
                    let (assignments, relationships) =
                        admin.change_ownership(&number, &to).await.map_err(s)?;
                    println!(
                        "property {number} now belongs to {to}; {assignments} user assignments and {relationships} coordinator relationships of the old owner ended"
                    );
                }
                PropertyCommand::Contract {
                    number,
                    property,
                    administrator,
                } => {
                    admin
                        .create_contract(&number, &property, &administrator)
                        .await
                        .map_err(s)?;
                    println!("contract {number} of property {property} is administered by {administrator}");
                }
            }
        }
        AdminCommand::Account { command } => match command {
            AccountCommand::Create {
                mid,
                kind,
                name,
                email,
                organization,
                temporary,
                properties,
                affiliation,
                ..
            } => {
                let k = AccountKind::parse(&kind).ok_or("kind is coordinator or user")?;
                let affiliation = match affiliation {
                    Some(a) => Some(
                        imax_gateway::directory::Affiliation::parse(&a)
                            .ok_or("affiliation is hud, contractor or industry")?,
                    ),
                    None => None,
                };
                let person = NewPerson {
                    mid: mid.clone(),
                    kind: k,
                    full_name: name,
                    email,
                    organization,
                    password: read_password()?,
                    temporary,
                    properties,
                    affiliation,
                };
                admin.create_account(&person).await.map_err(s)?;
                println!("{mid} created");
            }
            AccountCommand::Revoke { mid, right: r } => {
                admin.revoke(&mid, right(&r)?).await.map_err(s)?;
                println!("{mid} no longer holds {r}");
            }
            AccountCommand::AssignProperty { mid, property } => {
                admin
                    .assign_property(&mid, &property, true)
                    .await
                    .map_err(s)?;
                println!("{mid} is assigned to property {property}");
            }
            AccountCommand::UnassignProperty { mid, property } => {
                admin
                    .assign_property(&mid, &property, false)
                    .await
                    .map_err(s)?;
                println!("{mid} is no longer assigned to property {property}");
            }
            AccountCommand::AssignStaff { mid } => {
                admin.assign_staff(&mid).await.map_err(s)?;
                println!("{mid} is assigned to {}", admin.actor().name());
            }
            AccountCommand::Certifier { mid, off } => {
                admin.designate_certifier(&mid, !off).await.map_err(s)?;
                let what = if off {
                    "no longer certifies"
                } else {
                    "certifies"
                };
                println!("{mid} {what} HUD's staff and contractors");
            }
            AccountCommand::TakeOnStaff { mid } => {
                admin.take_on_staff(&mid).await.map_err(s)?;
                println!("{mid} is on your staff");
            }
            AccountCommand::FlagStaff { mid, clear } => {
                admin
                    .flag_staff_right(&mid, Right::Imax, !clear)
                    .await
                    .map_err(s)?;
                let what = if clear {
                    "no longer flagged"
                } else {
                    "flagged for removal at the deadline"
                };
                println!("the iMAX role of {mid} is {what}");
            }
            AccountCommand::RecertifyStaff { mid } => {
                let cycle = admin.recertify_staff(&mid).await.map_err(s)?;
                println!("{mid} is recertified for the {cycle} internal cycle");
            }
            AccountCommand::Demote { mid } => {
                admin.demote(&mid).await.map_err(s)?;
                println!("{mid} is no longer a coordinator: its BPRs, assignments and rights are removed");
            }
            AccountCommand::Promote { mid, properties } => {
                admin.promote(&mid, &properties).await.map_err(s)?;
                println!("{mid} is now a coordinator");
            }
            AccountCommand::HelpDesk { mid } => {
                admin.add_help_desk(&mid).await.map_err(s)?;
                println!("{mid} is Help Desk staff");
            }
            AccountCommand::Flag {
                mid,
                right: r,
                property,
                clear,
            } => {
                let what = if clear {
                    "no longer flagged"
                } else {
                    "flagged for removal at the deadline"
                };
                match (r, property) {
                    (Some(r), _) => {
                        admin
                            .flag_right(&mid, right(&r)?, !clear)
                            .await
                            .map_err(s)?;
                        println!("{r} of {mid} is {what}");
                    }
                    (None, Some(p)) => {
                        admin.flag_assignment(&mid, &p, !clear).await.map_err(s)?;
                        println!("the assignment of {mid} to property {p} is {what}");
                    }
                    (None, None) => return Err("give --right or --property".into()),
                }
            }
            AccountCommand::Recertify { mid } => {
                let cycle = admin.recertify(&mid).await.map_err(s)?;
                println!("{mid} is recertified for the {cycle} cycle");
            }
            AccountCommand::Report => {
                println!(
                    "{:<10} {:<40} {:<26} {:<22} days until lock",
                    "M-ID", "name", "state", "last activity"
                );
                for l in admin.last_login_report().await.map_err(s)? {
                    let last = l
                        .last_activity
                        .map(imax_gateway::clock::rfc3339)
                        .unwrap_or_else(|| "never".into());
                    println!(
                        "{:<10} {:<40} {:<26} {:<22} {}",
                        l.mid,
                        l.full_name,
                        admin::status_text(l.status),
                        last,
                        l.days_until_lock
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
            AccountCommand::Grant { mid, right: r } => {
                admin.grant(&mid, right(&r)?).await.map_err(s)?;
                println!("{mid} holds {r}");
            }
            AccountCommand::Admit { mid } => {
                admin.admit(&mid).await.map_err(s)?;
                println!("{mid} admitted to the iMAX working group");
            }
            AccountCommand::SetPassword { mid, temporary, .. } => {
                admin
                    .set_password(&mid, &read_password()?, temporary)
                    .await
                    .map_err(s)?;
                println!("password of {mid} set");
            }
            AccountCommand::AcceptRob { mid } => {
                admin.accept_rules_of_behavior(&mid).await.map_err(s)?;
                println!("{mid} accepted the Rules of Behavior");
            }
            AccountCommand::Unlock { mid } => {
                admin
                    .set_status(&mid, AccountStatus::Active)
                    .await
                    .map_err(s)?;
                println!("{mid} unlocked");
            }
            AccountCommand::Lock { mid } => {
                admin
                    .set_status(&mid, AccountStatus::Locked(LockReason::Administrative))
                    .await
                    .map_err(s)?;
                println!("{mid} locked");
            }
            AccountCommand::Terminate { mid } => {
                admin
                    .set_status(&mid, AccountStatus::Terminated)
                    .await
                    .map_err(s)?;
                println!("{mid} terminated");
            }
            AccountCommand::Restore { mid } => {
                admin
                    .set_status(&mid, AccountStatus::Active)
                    .await
                    .map_err(s)?;
                println!("{mid} restored");
            }
            AccountCommand::Bpr { mid, property } => {
                admin
                    .add_business_partner(&mid, &property)
                    .await
                    .map_err(s)?;
                println!("{mid} has a Business Partner Relationship with property {property}");
            }
            AccountCommand::Show { mid } => {
                print!("{}", admin.describe_account(&mid).await.map_err(s)?)
            }
        },
        AdminCommand::ApplyDeadlines => {
            let n = admin.as_system().apply_deadlines().await.map_err(s)?;
            println!("{n} flagged rights and property assignments removed");
        }
        AdminCommand::Purge { dry_run } => {
            let r = admin.purge(dry_run).await.map_err(s)?;
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
