//! `imax admin organization …`: owners, management agents, service bureaus, CAs and HUD
//! (issue 27).

use super::*;
use imax_gateway::directory::OrganizationKind;

#[derive(Subcommand)]
pub enum OrganizationCommand {
    /// Create an organization.
    Create {
        /// Its ID, e.g. ALPHA (capital letters, digits, hyphens).
        #[arg(long)]
        id: String,
        /// owner, management-agent, service-bureau, contract-administrator, hud or vendor.
        #[arg(long, value_parser = organization_kind)]
        kind: OrganizationKind,
        #[arg(long)]
        name: String,
        #[arg(long)]
        tax_id: Option<String>,
    },
    /// List the organizations.
    List,
    /// The networks (CIDR) the organization's vendor software connects from: system-to-system
    /// calls for its M-IDs and its mailboxes from anywhere else are refused as a wrong
    /// password (issue 30).
    AllowNetworks {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        list: super::allow_networks::AllowNetworksArgs,
    },
}

pub(super) async fn organization_command(
    admin: &Admin,
    command: OrganizationCommand,
) -> Result<(), String> {
    match command {
        OrganizationCommand::Create {
            id,
            kind,
            name,
            tax_id,
        } => create(admin, &id, kind, &name, tax_id.as_deref()).await,
        OrganizationCommand::List => list(admin).await,
        OrganizationCommand::AllowNetworks { id, list } => {
            super::allow_networks::organization(admin, &id, &list).await
        }
    }
}

async fn create(
    admin: &Admin,
    id: &str,
    kind: OrganizationKind,
    name: &str,
    tax_id: Option<&str>,
) -> Result<(), String> {
    admin
        .create_organization(id, kind, name, tax_id)
        .await
        .map_err(s)?;
    println!("organization {} created", id.trim().to_ascii_uppercase());
    Ok(())
}

async fn list(admin: &Admin) -> Result<(), String> {
    for o in admin.organizations().await.map_err(s)? {
        println!("{:<20} {:<24} {}", o.org_id, o.kind.as_str(), o.name);
    }
    Ok(())
}

/// `--kind`, read once at the door into the directory's own type.
fn organization_kind(s: &str) -> Result<OrganizationKind, String> {
    OrganizationKind::parse(s).ok_or_else(|| {
        "owner, management-agent, service-bureau, contract-administrator, hud or vendor".to_string()
    })
}
