//! Organizations (issue 27): the owners, management agents, service bureaus, contract
//! administrators and HUD that properties, mailboxes and people belong to. R2 counts
//! coordinators per owner or agent across its properties; R3 lets a service bureau's or a CA's
//! coordinator manage that organization's staff; R6 opens a mailbox to its own organization's
//! people; R23's profile Description comes from the kind.

use std::fmt;

/// What an organization is to HUD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrganizationKind {
    Owner,
    ManagementAgent,
    ServiceBureau,
    ContractAdministrator,
    Hud,
    /// A software vendor (issue 31): it has sandbox mailboxes (`TRACX…`) to certify its
    /// software against, never properties or production mailboxes.
    Vendor,
}

impl OrganizationKind {
    pub const ALL: [OrganizationKind; 6] = [
        OrganizationKind::Owner,
        OrganizationKind::ManagementAgent,
        OrganizationKind::ServiceBureau,
        OrganizationKind::ContractAdministrator,
        OrganizationKind::Hud,
        OrganizationKind::Vendor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationKind::Owner => "owner",
            OrganizationKind::ManagementAgent => "management-agent",
            OrganizationKind::ServiceBureau => "service-bureau",
            OrganizationKind::ContractAdministrator => "contract-administrator",
            OrganizationKind::Hud => "hud",
            OrganizationKind::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The mailbox profile's Description (R23) for a mailbox of this kind of organization:
    /// iMAX's own words for the business relationship a TRACSMail ID belongs to.
    pub fn description(self) -> &'static str {
        match self {
            OrganizationKind::Owner => "Owner",
            OrganizationKind::ManagementAgent => "Management Agent",
            OrganizationKind::ServiceBureau => "Service Bureau",
            OrganizationKind::ContractAdministrator => "Contract Administrator",
            OrganizationKind::Hud => "HUD",
            OrganizationKind::Vendor => "Software Vendor",
        }
    }

    /// Owners and agents have properties, and R2's count of coordinators; a service bureau
    /// or a CA has staff a coordinator with a BPR with it manages (R3).
    pub fn has_properties(self) -> bool {
        matches!(
            self,
            OrganizationKind::Owner | OrganizationKind::ManagementAgent
        )
    }
}

/// An organization's own identifier, chosen by HUD (e.g. `ALPHA`, `ABC`): 1 to 20 capital
/// letters, digits or hyphens, so it reads the same on a page, in an audit record and at the
/// command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(s: &str) -> Option<OrgId> {
        let s = s.trim().to_ascii_uppercase();
        let ok = !s.is_empty()
            && s.len() <= 20
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        ok.then_some(OrgId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: i64,
    pub org_id: OrgId,
    pub kind: OrganizationKind,
    pub name: String,
    pub tax_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_ids_are_capitals() {
        for k in OrganizationKind::ALL {
            assert_eq!(OrganizationKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OrgId::parse(" alpha ").unwrap().as_str(), "ALPHA");
        assert!(OrgId::parse("").is_none());
        assert!(OrgId::parse("A B").is_none());
        assert!(OrgId::parse(&"A".repeat(21)).is_none());
    }
}
