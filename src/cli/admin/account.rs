//! `imax admin account …`: M-IDs, their rights, states and property assignments.

use super::*;

pub(super) async fn account_command(admin: &Admin, command: AccountCommand) -> Result<(), String> {
    match command {
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
            println!(
                "{mid} is no longer a coordinator: its BPRs, assignments and rights are removed"
            );
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
    }
    Ok(())
}
