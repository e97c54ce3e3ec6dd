//! `imax admin account …`: M-IDs, their rights, states and property assignments; one function
//! per subcommand so each grows on its own.

use super::account_args::NewAccountArgs;
use super::*;

pub(super) async fn account_command(admin: &Admin, command: AccountCommand) -> Result<(), String> {
    use AccountCommand as C;
    match command {
        C::Create(args) => create(admin, new_person(args)?).await,
        C::Revoke { mid, right } => revoke(admin, &mid, &right).await,
        C::AssignProperty { mid, property } => assign_property(admin, &mid, &property).await,
        C::UnassignProperty { mid, property } => unassign_property(admin, &mid, &property).await,
        C::AssignStaff { mid } => assign_staff(admin, &mid).await,
        C::Certifier { mid, off } => certifier(admin, &mid, off).await,
        C::TakeOnStaff { mid } => take_on_staff(admin, &mid).await,
        C::FlagStaff { mid, clear } => flag_staff(admin, &mid, clear).await,
        C::RecertifyStaff { mid } => recertify_staff(admin, &mid).await,
        C::Demote { mid } => demote(admin, &mid).await,
        C::Promote { mid, properties } => promote(admin, &mid, &properties).await,
        C::HelpDesk { mid } => help_desk(admin, &mid).await,
        C::ReacTac { mid, remove } => reac_tac(admin, &mid, !remove).await,
        C::Subscribe {
            mid,
            mailbox,
            remove,
        } => super::subscribe::subscribe(admin, &mid, &mailbox, remove).await,
        C::Flag {
            mid,
            right,
            property,
            clear,
        } => flag(admin, &mid, right, property, clear).await,
        C::Recertify { mid } => recertify(admin, &mid).await,
        C::Report { csv } => super::compliance::report(admin, csv).await,
        C::Training {
            mid,
            completed,
            certificate,
        } => super::compliance::training(admin, &mid, &completed, &certificate).await,
        C::Grant { mid, right } => grant(admin, &mid, &right).await,
        C::Admit { mid } => admit(admin, &mid).await,
        C::SetPassword { mid, temporary, .. } => set_password(admin, &mid, temporary).await,
        C::AcceptRob { mid } => accept_rob(admin, &mid).await,
        C::Unlock { mid } => set_status(admin, &mid, AccountStatus::Active, "unlocked").await,
        C::Lock { mid } => {
            let locked = AccountStatus::Locked(LockReason::Administrative);
            set_status(admin, &mid, locked, "locked").await
        }
        C::Terminate { mid } => {
            set_status(admin, &mid, AccountStatus::Terminated, "terminated").await
        }
        C::Restore { mid } => set_status(admin, &mid, AccountStatus::Active, "restored").await,
        C::Bpr {
            mid,
            property,
            organization,
        } => bpr(admin, &mid, property, organization).await,
        C::Find { mid } => find(admin, &mid).await,
        C::AssignOrganization {
            mid,
            organization,
            remove,
        } => assign_organization(admin, &mid, &organization, !remove).await,
        C::Staff => staff(admin).await,
        C::Release { mid } => release(admin, &mid).await,
        C::Show { mid } => show(admin, &mid).await,
        // Acts for the person `--as` names, before `--as` narrows the operator (`main.rs`).
        C::TwoFactor { .. } => Err("two-factor needs --as M-ID: whose second factor".into()),
    }
}

/// The person `imax admin account create` describes; the password from standard input.
fn new_person(args: NewAccountArgs) -> Result<NewPerson, String> {
    Ok(NewPerson {
        mid: args.mid,
        kind: args.kind,
        full_name: args.name,
        email: args.email,
        organization: args.organization,
        password: read_password()?,
        temporary: args.temporary,
        properties: args.properties,
        affiliation: affiliation_of(args.affiliation)?,
    })
}

fn affiliation_of(
    affiliation: Option<String>,
) -> Result<Option<imax_gateway::directory::Affiliation>, String> {
    affiliation
        .map(|a| {
            imax_gateway::directory::Affiliation::parse(&a)
                .ok_or_else(|| "affiliation is hud, contractor or industry".to_string())
        })
        .transpose()
}

async fn create(admin: &Admin, person: NewPerson) -> Result<(), String> {
    admin.create_account(&person).await.map_err(s)?;
    println!("{} created", person.mid);
    Ok(())
}

async fn revoke(admin: &Admin, mid: &str, r: &str) -> Result<(), String> {
    admin.revoke(mid, right(r)?).await.map_err(s)?;
    println!("{mid} no longer holds {r}");
    Ok(())
}

async fn assign_property(admin: &Admin, mid: &str, property: &str) -> Result<(), String> {
    admin
        .assign_property(mid, property, true)
        .await
        .map_err(s)?;
    println!("{mid} is assigned to property {property}");
    Ok(())
}

async fn unassign_property(admin: &Admin, mid: &str, property: &str) -> Result<(), String> {
    admin
        .assign_property(mid, property, false)
        .await
        .map_err(s)?;
    println!("{mid} is no longer assigned to property {property}");
    Ok(())
}

async fn assign_staff(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.assign_staff(mid).await.map_err(s)?;
    println!("{mid} is assigned to {}", admin.actor().name());
    Ok(())
}

async fn certifier(admin: &Admin, mid: &str, off: bool) -> Result<(), String> {
    admin.designate_certifier(mid, !off).await.map_err(s)?;
    let what = if off {
        "no longer certifies"
    } else {
        "certifies"
    };
    println!("{mid} {what} HUD's staff and contractors");
    Ok(())
}

async fn take_on_staff(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.take_on_staff(mid).await.map_err(s)?;
    println!("{mid} is on your staff");
    Ok(())
}

async fn flag_staff(admin: &Admin, mid: &str, clear: bool) -> Result<(), String> {
    admin
        .flag_staff_right(mid, Right::Imax, !clear)
        .await
        .map_err(s)?;
    println!("the iMAX role of {mid} is {}", flag_text(clear));
    Ok(())
}

fn flag_text(clear: bool) -> &'static str {
    if clear {
        "no longer flagged"
    } else {
        "flagged for removal at the deadline"
    }
}

async fn recertify_staff(admin: &Admin, mid: &str) -> Result<(), String> {
    let cycle = admin.recertify_staff(mid).await.map_err(s)?;
    println!("{mid} is recertified for the {cycle} internal cycle");
    Ok(())
}

async fn demote(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.demote(mid).await.map_err(s)?;
    println!("{mid} is no longer a coordinator: its BPRs, assignments and rights are removed");
    Ok(())
}

async fn promote(admin: &Admin, mid: &str, properties: &[String]) -> Result<(), String> {
    admin.promote(mid, properties).await.map_err(s)?;
    println!("{mid} is now a coordinator");
    Ok(())
}

async fn reac_tac(admin: &Admin, mid: &str, member: bool) -> Result<(), String> {
    admin.set_reac_tac(mid, member).await.map_err(s)?;
    if member {
        println!("{mid} is REAC-TAC staff");
    } else {
        println!("{mid} is no longer REAC-TAC staff");
    }
    Ok(())
}

async fn help_desk(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.add_help_desk(mid).await.map_err(s)?;
    println!("{mid} is Help Desk staff");
    Ok(())
}

async fn flag(
    admin: &Admin,
    mid: &str,
    r: Option<String>,
    property: Option<String>,
    clear: bool,
) -> Result<(), String> {
    let what = flag_text(clear);
    match (r, property) {
        (Some(r), _) => {
            admin.flag_right(mid, right(&r)?, !clear).await.map_err(s)?;
            println!("{r} of {mid} is {what}");
        }
        (None, Some(p)) => {
            admin.flag_assignment(mid, &p, !clear).await.map_err(s)?;
            println!("the assignment of {mid} to property {p} is {what}");
        }
        (None, None) => return Err("give --right or --property".into()),
    }
    Ok(())
}

async fn recertify(admin: &Admin, mid: &str) -> Result<(), String> {
    let cycle = admin.recertify(mid).await.map_err(s)?;
    println!("{mid} is recertified for the {cycle} cycle");
    Ok(())
}

async fn grant(admin: &Admin, mid: &str, r: &str) -> Result<(), String> {
    admin.grant(mid, right(r)?).await.map_err(s)?;
    println!("{mid} holds {r}");
    Ok(())
}

async fn admit(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.admit(mid).await.map_err(s)?;
    println!("{mid} admitted to the iMAX working group");
    Ok(())
}

async fn set_password(admin: &Admin, mid: &str, temporary: bool) -> Result<(), String> {
    admin
        .set_password(mid, &read_password()?, temporary)
        .await
        .map_err(s)?;
    println!("password of {mid} set");
    Ok(())
}

async fn accept_rob(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.accept_rules_of_behavior(mid).await.map_err(s)?;
    println!("{mid} accepted the Rules of Behavior");
    Ok(())
}

/// Unlock, lock, terminate and restore: one state change each, said in `done`.
async fn set_status(
    admin: &Admin,
    mid: &str,
    status: AccountStatus,
    done: &str,
) -> Result<(), String> {
    admin.set_status(mid, status).await.map_err(s)?;
    println!("{mid} {done}");
    Ok(())
}

async fn bpr(
    admin: &Admin,
    mid: &str,
    property: Option<String>,
    organization: Option<String>,
) -> Result<(), String> {
    match (property, organization) {
        (Some(property), _) => {
            admin
                .add_business_partner(mid, &property)
                .await
                .map_err(s)?;
            println!("{mid} has a Business Partner Relationship with property {property}");
        }
        (None, Some(org)) => {
            admin.add_organization_partner(mid, &org).await.map_err(s)?;
            let org = org.to_ascii_uppercase();
            println!("{mid} has a Business Partner Relationship with organization {org}");
        }
        (None, None) => return Err("give --property or --organization".into()),
    }
    Ok(())
}

/// Search for User: the same four facts whoever the M-ID is (R3).
async fn find(admin: &Admin, mid: &str) -> Result<(), String> {
    let f = admin.find_account(mid).await.map_err(s)?;
    println!("M-ID:         {}", f.mid);
    println!("name:         {}", f.full_name);
    println!("organization: {}", f.organization);
    println!("state:        {}", f.state);
    Ok(())
}

async fn assign_organization(
    admin: &Admin,
    mid: &str,
    org: &str,
    assigned: bool,
) -> Result<(), String> {
    admin
        .assign_organization(mid, org, assigned)
        .await
        .map_err(s)?;
    let org = org.to_ascii_uppercase();
    if assigned {
        println!("{mid} is assigned to organization {org}");
    } else {
        println!("{mid} is no longer assigned to organization {org}");
    }
    Ok(())
}

/// Assigned Staff: the users the acting coordinator manages.
async fn staff(admin: &Admin) -> Result<(), String> {
    for f in admin.assigned_staff().await.map_err(s)? {
        println!(
            "{:<10} {:<32} {:<32} {}",
            f.mid, f.full_name, f.organization, f.state
        );
    }
    Ok(())
}

async fn release(admin: &Admin, mid: &str) -> Result<(), String> {
    admin.release_staff(mid).await.map_err(s)?;
    println!("{mid} is no longer on your staff");
    Ok(())
}

async fn show(admin: &Admin, mid: &str) -> Result<(), String> {
    print!("{}", admin.describe_account(mid).await.map_err(s)?);
    Ok(())
}
