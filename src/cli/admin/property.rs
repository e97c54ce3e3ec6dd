//! `imax admin property …`: properties, their changes of ownership (R25) and contracts.

use super::*;

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

pub(super) async fn property_command(
    admin: &Admin,
    command: PropertyCommand,
) -> Result<(), String> {
    match command {
        PropertyCommand::Create {
            number,
            name,
            mailbox,
            owner,
            agent,
        } => {
            admin
                .create_property(&number, &name, mailbox.as_deref())
                .await
                .map_err(s)?;
            if let Some(owner) = owner {
                admin
                    .set_property_owner(&number, &owner, agent.as_deref())
                    .await
                    .map_err(s)?;
            } else if agent.is_some() {
                return Err("give the owner (--owner) with the agent".into());
            }
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
    Ok(())
}
