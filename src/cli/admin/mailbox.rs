//! `imax admin mailbox …`: TRACSMail IDs, their senders, attachments, passwords and profiles;
//! one function per subcommand so each grows on its own.

use super::*;

#[derive(Subcommand)]
pub enum MailboxCommand {
    /// Create a mailbox.
    Create {
        #[arg(long)]
        imax_id: String,
        /// hud, ca, property, service-bureau or sandbox (a vendor's TRACX test mailbox).
        #[arg(long, value_parser = mailbox_kind)]
        kind: MailboxKind,
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
    /// The networks (CIDR) the mailbox's vendor software connects from: system-to-system
    /// calls for it from anywhere else are refused as a wrong password (issue 30).
    AllowNetworks {
        #[arg(long)]
        imax_id: String,
        #[command(flatten)]
        list: super::allow_networks::AllowNetworksArgs,
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
        /// The letter's or the email's reference, recorded with the reset (R24); without it the
        /// Help Desk's own (`HD-` and eight random hex digits), printed.
        #[arg(long)]
        reference: Option<String>,
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

pub(super) async fn mailbox_command(admin: &Admin, command: MailboxCommand) -> Result<(), String> {
    use MailboxCommand as C;
    match command {
        C::Create {
            imax_id,
            kind,
            name,
            email,
            organization,
            ..
        } => {
            create(admin, &imax_id, kind, &name, &email).await?;
            match organization {
                Some(org) => {
                    let saved = admin.set_mailbox_organization(&imax_id, &org).await;
                    saved.map_err(s)?;
                    println!("mailbox {imax_id} belongs to {}", org.to_ascii_uppercase());
                    Ok(())
                }
                None => Ok(()),
            }
        }
        C::Profile { imax_id, profile } => set_profile(admin, &imax_id, *profile).await,
        C::ResetPassword {
            imax_id,
            name,
            title,
            organization,
            firm_name,
            firm_address,
            email,
            letter_dated,
            reference,
        } => {
            let req = ResetRequest {
                name,
                title,
                organization,
                firm_name,
                firm_address,
                email,
                pin: read_password()?,
                channel: admin::ResetChannel::new(
                    letter_dated.as_deref(),
                    &reference.unwrap_or_else(help_desk_reference),
                ),
            };
            reset_password(admin, &imax_id, &req).await
        }
        C::SetPassword { imax_id, .. } => set_password(admin, &imax_id).await,
        C::Sender {
            imax_id,
            sender,
            remove,
        } => sender_command(admin, &imax_id, &sender, remove).await,
        C::Attachments { imax_id, accept } => attachments(admin, &imax_id, accept).await,
        C::AllowNetworks { imax_id, list } => {
            super::allow_networks::mailbox(admin, &imax_id, &list).await
        }
    }
}

async fn create(
    admin: &Admin,
    imax_id: &str,
    kind: MailboxKind,
    name: &str,
    email: &str,
) -> Result<(), String> {
    admin
        .create_mailbox(imax_id, kind, name, email, &read_password()?)
        .await
        .map_err(s)?;
    println!("mailbox {imax_id} created");
    Ok(())
}

/// The PIN on the first line of standard input, the secondary contact's PIN (optional) on the
/// second.
async fn set_profile(admin: &Admin, imax_id: &str, p: ProfileArgs) -> Result<(), String> {
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
        .set_mailbox_profile(imax_id, &input)
        .await
        .map_err(s)?;
    println!("profile of {imax_id} saved");
    Ok(())
}

async fn reset_password(admin: &Admin, imax_id: &str, req: &ResetRequest) -> Result<(), String> {
    let to = admin
        .reset_mailbox_password(imax_id, req)
        .await
        .map_err(s)?;
    println!(
        "a new password for {imax_id} was mailed to {to} (request: {})",
        req.channel.describe()
    );
    Ok(())
}

async fn set_password(admin: &Admin, imax_id: &str) -> Result<(), String> {
    admin
        .set_mailbox_password(imax_id, &read_password()?)
        .await
        .map_err(s)?;
    println!("password of {imax_id} set");
    Ok(())
}

async fn sender_command(
    admin: &Admin,
    imax_id: &str,
    sender: &str,
    remove: bool,
) -> Result<(), String> {
    admin
        .set_mailbox_sender(imax_id, sender, !remove)
        .await
        .map_err(s)?;
    if remove {
        println!("{sender} may no longer send for {imax_id}");
    } else {
        println!("{sender} may send for {imax_id}");
    }
    Ok(())
}

async fn attachments(admin: &Admin, imax_id: &str, accept: bool) -> Result<(), String> {
    admin
        .set_accepts_attachments(imax_id, accept)
        .await
        .map_err(s)?;
    println!("{imax_id} accepts attachments: {accept}");
    Ok(())
}

/// A reference for a request that came without one (R24: every request is on record): `HD-`
/// and eight random hex digits, printed so that the Help Desk can write it on the letter.
fn help_desk_reference() -> String {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        // No random source: the time's nanoseconds still tell requests apart.
        b = time::OffsetDateTime::now_utc().nanosecond().to_be_bytes();
    }
    let r = format!("HD-{:02X}{:02X}{:02X}{:02X}", b[0], b[1], b[2], b[3]);
    eprintln!("the request is recorded with the Help Desk's reference {r}");
    r
}

/// `--kind`, read once at the door into the directory's own type.
fn mailbox_kind(s: &str) -> Result<MailboxKind, String> {
    MailboxKind::parse(s).ok_or_else(|| "hud, ca, property, service-bureau or sandbox".to_string())
}
