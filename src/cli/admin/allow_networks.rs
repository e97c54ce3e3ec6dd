//! `imax admin mailbox allow-networks` and `imax admin organization allow-networks` (issue 30,
//! item 5): the networks a mailbox's or an organization's vendor software connects from.

use super::*;

/// The new list: `--network CIDR` (repeated), or `--clear` for any address again.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct AllowNetworksArgs {
    /// A network (CIDR, e.g. 10.9.0.0/16) system-to-system calls may come from; repeat it for
    /// more. Replaces the list.
    #[arg(long)]
    network: Vec<String>,
    /// End the list: calls from any address again.
    #[arg(long)]
    clear: bool,
}

impl AllowNetworksArgs {
    /// The networks to keep (none with `--clear`).
    fn networks(&self) -> &[String] {
        if self.clear {
            &[]
        } else {
            &self.network
        }
    }
}

/// Prints the list as it now stands.
fn print(whose: &str, networks: &imax_gateway::directory::AllowedNetworks) {
    if networks.is_empty() {
        println!("{whose}: system-to-system calls from any address");
    } else {
        println!("{whose}: system-to-system calls only from {networks}");
    }
}

pub(super) async fn mailbox(
    admin: &Admin,
    imax_id: &str,
    args: &AllowNetworksArgs,
) -> Result<(), String> {
    let list = admin
        .set_mailbox_networks(imax_id, args.networks())
        .await
        .map_err(s)?;
    print(
        &format!("mailbox {}", imax_id.trim().to_ascii_uppercase()),
        &list,
    );
    Ok(())
}

pub(super) async fn organization(
    admin: &Admin,
    id: &str,
    args: &AllowNetworksArgs,
) -> Result<(), String> {
    let list = admin
        .set_organization_networks(id, args.networks())
        .await
        .map_err(s)?;
    print(
        &format!("organization {}", id.trim().to_ascii_uppercase()),
        &list,
    );
    Ok(())
}
