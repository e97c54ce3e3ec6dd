//! `imax admin import FILE`: a whole directory from one TOML file.
//!
//! Entries that already exist are left as they are (and reported), so an import can be run
//! again safely. See `examples/demo-directory.toml` for the format.

use super::{invalid, Admin, AdminResult, NewPerson};
use crate::directory::password::Secret;
use crate::directory::{AccountKind, MailboxKind, OrganizationKind, Right};
use crate::error::Code;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    #[serde(default)]
    organization: Vec<OrganizationEntry>,
    #[serde(default)]
    mailbox: Vec<MailboxEntry>,
    #[serde(default)]
    property: Vec<PropertyEntry>,
    #[serde(default)]
    contract: Vec<ContractEntry>,
    #[serde(default)]
    account: Vec<AccountEntry>,
}

/// An owner, management agent, service bureau, CA or HUD (issue 27).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganizationEntry {
    id: String,
    kind: String,
    name: String,
    tax_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailboxEntry {
    /// The organization it belongs to (listed under `[[organization]]`).
    organization: Option<String>,
    imax_id: String,
    kind: String,
    name: String,
    #[serde(default)]
    email: String,
    password: String,
    /// Mailboxes whose iMAX IDs may stand as Sender's iMAX ID in files sent from this one.
    #[serde(default)]
    senders: Vec<String>,
    /// Whether files that are not TRACS files may be sent to it (default: all but HUD's).
    accepts_attachments: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyEntry {
    number: String,
    name: String,
    mailbox: Option<String>,
    /// Its owner and management agent (organizations); default owner: the mailbox's.
    owner: Option<String>,
    agent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractEntry {
    number: String,
    property: String,
    administrator: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    mid: String,
    kind: String,
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    organization: String,
    password: String,
    #[serde(default)]
    rights: Vec<String>,
    #[serde(default)]
    working_group: bool,
    #[serde(default)]
    rules_of_behavior_accepted: bool,
    /// Coordinators: the properties it has a Business Partner Relationship with.
    #[serde(default)]
    business_partner_of: Vec<String>,
    /// hud, contractor or industry; absent: the one the ID's letter is issued for.
    #[serde(default)]
    affiliation: Option<String>,
    /// Users: the properties it is assigned to.
    #[serde(default)]
    properties: Vec<String>,
    /// HUD Help Desk staff.
    #[serde(default)]
    help_desk: bool,
    /// Users: already recertified for the current cycle by their (first) coordinator; HUD's
    /// staff by their certifier.
    #[serde(default)]
    recertified: bool,
    /// HUD staff (H-IDs): designated to certify HUD's staff and contractors (a supervisor, OTC
    /// or COR).
    #[serde(default)]
    certifier: bool,
    /// HUD's staff and contractors (H-IDs, C-IDs): the certifier who took them on (listed
    /// earlier in the file).
    certified_by: Option<String>,
    /// Coordinators: the organizations (a service bureau, a CA) it has a BPR with (R3).
    #[serde(default)]
    business_partner_organizations: Vec<String>,
    /// Users: coordinators of other companies who took it on for one of their properties
    /// (R3, R19), listed earlier in the file.
    #[serde(default)]
    taken_on_by: Vec<TakenOn>,
}

/// A coordinator (`--as`) who took a user on for one of its BPR properties.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TakenOn {
    coordinator: String,
    property: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub existing: Vec<String>,
}

/// Imports a directory file (TOML): mailboxes, then properties and contracts, then accounts
/// with their rights and roles. What exists already is reported as such, not changed.
pub async fn import_file(admin: &Admin, path: &Path) -> AdminResult<ImportReport> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    let file: DirectoryFile =
        toml::from_str(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let mut report = ImportReport::default();
    import_organizations(admin, &file.organization, &mut report).await?;
    import_mailboxes(admin, &file.mailbox, &mut report).await?;
    for p in &file.property {
        let r = admin
            .create_property(&p.number, &p.name, p.mailbox.as_deref())
            .await;
        note(r, format!("property {}", p.number), &mut report)?;
        if let Some(owner) = &p.owner {
            admin
                .set_property_owner(&p.number, owner, p.agent.as_deref())
                .await?;
        }
    }
    for c in &file.contract {
        let r = admin
            .create_contract(&c.number, &c.property, &c.administrator)
            .await;
        note(r, format!("contract {}", c.number), &mut report)?;
    }
    for a in &file.account {
        if import_account(admin, a, &mut report).await? == Created::Now {
            import_roles(admin, a).await?;
        }
    }
    Ok(report)
}

/// Whether an entry was created by this import or existed already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Created {
    Now,
    Before,
}

/// Reports `what` as created or existing; any other failure ends the import, naming it.
fn note(r: AdminResult<()>, what: String, report: &mut ImportReport) -> AdminResult<Created> {
    match r {
        Ok(()) => {
            report.created.push(what);
            Ok(Created::Now)
        }
        Err(e) if e.code == Code::AlreadyExists => {
            report.existing.push(what);
            Ok(Created::Before)
        }
        Err(e) => Err(e.concerning(what)),
    }
}

/// Owners, management agents, service bureaus, CAs and HUD (issue 27), before their mailboxes.
async fn import_organizations(
    admin: &Admin,
    organizations: &[OrganizationEntry],
    report: &mut ImportReport,
) -> AdminResult<()> {
    for o in organizations {
        let kind = OrganizationKind::parse(&o.kind).ok_or_else(|| {
            invalid(format!(
                "organization {}: unknown kind {:?} (owner, management-agent, service-bureau, contract-administrator, hud, vendor)",
                o.id, o.kind
            ))
        })?;
        let r = admin
            .create_organization(&o.id, kind, &o.name, o.tax_id.as_deref())
            .await;
        note(r, format!("organization {}", o.id), report)?;
    }
    Ok(())
}

/// The mailboxes, then (once every mailbox exists) who may send for whom.
async fn import_mailboxes(
    admin: &Admin,
    mailboxes: &[MailboxEntry],
    report: &mut ImportReport,
) -> AdminResult<()> {
    for m in mailboxes {
        let kind = MailboxKind::parse(&m.kind).ok_or_else(|| {
            invalid(format!(
                "mailbox {}: unknown kind {:?} (hud, ca, property, service-bureau, sandbox)",
                m.imax_id, m.kind
            ))
        })?;
        let r = admin
            .create_mailbox(
                &m.imax_id,
                kind,
                &m.name,
                &m.email,
                &Secret::new(m.password.clone()),
            )
            .await;
        note(r, format!("mailbox {}", m.imax_id), report)?;
        if let Some(accepts) = m.accepts_attachments {
            admin.set_accepts_attachments(&m.imax_id, accepts).await?;
        }
        if let Some(org) = &m.organization {
            admin.set_mailbox_organization(&m.imax_id, org).await?;
        }
    }
    for m in mailboxes {
        for sender in &m.senders {
            admin.set_mailbox_sender(&m.imax_id, sender, true).await?;
        }
    }
    Ok(())
}

/// One account, created with its properties (a coordinator's BPRs, R3; a user's assignments).
async fn import_account(
    admin: &Admin,
    a: &AccountEntry,
    report: &mut ImportReport,
) -> AdminResult<Created> {
    let kind = AccountKind::parse(&a.kind).ok_or_else(|| {
        invalid(format!(
            "account {}: unknown kind {:?} (coordinator, user)",
            a.mid, a.kind
        ))
    })?;
    let affiliation = match &a.affiliation {
        Some(name) => Some(crate::directory::Affiliation::parse(name).ok_or_else(|| {
            invalid(format!(
                "account {}: unknown affiliation {name:?} (hud, contractor, industry)",
                a.mid
            ))
        })?),
        None => None,
    };
    let properties = match kind {
        AccountKind::Coordinator => a.business_partner_of.clone(),
        AccountKind::User => a.properties.clone(),
    };
    let person = NewPerson {
        mid: a.mid.clone(),
        kind,
        full_name: a.name.clone(),
        email: a.email.clone(),
        organization: a.organization.clone(),
        password: Secret::new(a.password.clone()),
        temporary: false,
        properties,
        affiliation,
    };
    let r = admin.create_account(&person).await;
    note(r, format!("account {}", a.mid), report)
}

/// A new account's rights and roles: Working Group, Rules of Behavior, Help Desk, certifier,
/// the certifier who took it on, an imported recertification.
async fn import_roles(admin: &Admin, a: &AccountEntry) -> AdminResult<()> {
    // R5: the coordinator action before the iMAX role, as the documents order them.
    let mut rights = Vec::new();
    for name in &a.rights {
        rights.push(Right::parse(name).ok_or_else(|| {
            invalid(format!(
                "account {}: unknown right {name:?} (imax-coordinator, imax, tcc, tcr)",
                a.mid
            ))
        })?);
    }
    rights.sort_by_key(|r| Right::ALL.iter().position(|x| x == r));
    for r in rights {
        admin
            .grant(&a.mid, r)
            .await
            .map_err(|e| e.concerning(format_args!("account {}", a.mid)))?;
    }
    if a.working_group {
        admin.admit(&a.mid).await?;
    }
    if a.rules_of_behavior_accepted {
        admin.accept_rules_of_behavior(&a.mid).await?;
    }
    if a.help_desk {
        admin.add_help_desk(&a.mid).await?;
    }
    if a.certifier {
        admin.designate_certifier(&a.mid, true).await?;
    }
    if let Some(certifier) = &a.certified_by {
        admin
            .acting_as(certifier)
            .await?
            .take_on_staff(&a.mid)
            .await
            .map_err(|e| e.concerning(format_args!("account {}", a.mid)))?;
    }
    for org in &a.business_partner_organizations {
        admin.add_organization_partner(&a.mid, org).await?;
    }
    if a.recertified {
        admin.record_imported_recertification(&a.mid).await?;
    }
    for t in &a.taken_on_by {
        admin
            .acting_as(&t.coordinator)
            .await?
            .assign_property(&a.mid, &t.property, true)
            .await
            .map_err(|e| e.concerning(format_args!("account {}", a.mid)))?;
    }
    Ok(())
}
