//! The directory: who people are (M-IDs), what they may do (actions and roles, the working
//! group), the TRACSMail mailboxes files travel between, and which administrator (HUD or a CA)
//! receives each property's files.
//!
//! These are plain domain types; the [`crate::store`] persists them.

mod ids;
mod networks;
mod organization;
pub mod password;
pub mod second_factor;
mod types;

pub use ids::{ImaxId, MId, MessageId, PropertyNumber, Recipient, HUD_MAILBOX, SANDBOX_TRACS};
pub use networks::{AllowListOf, AllowedNetworks};
pub use organization::{OrgId, Organization, OrganizationKind};
pub use types::{
    Account, AccountKind, AccountStatus, Affiliation, LockReason, Mailbox, MailboxKind, Right,
    Rights,
};
