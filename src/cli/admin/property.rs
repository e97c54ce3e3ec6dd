//! `imax admin property …`: properties, their changes of ownership (R25) and contracts.

use super::*;

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
