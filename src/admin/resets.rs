//! The Help Desk's mailbox password reset (R24), checked against the mailbox's profile
//! (`profiles.rs`, R23).
//!
//! The reset checks what the requester says (name, title, organization, firm name, firm
//! address, email, PIN) against the primary or the secondary contact of the profile. Only on a
//! full match does it make a new random password, mail it to that contact's address in the
//! profile and then set it; the password is never shown, logged or returned. A mismatch is
//! refused without saying which detail was wrong, counted and audited; three in a row freeze
//! resets of that mailbox for a day.

use super::{forbidden, invalid, Admin, AdminOp, AdminResult};
use crate::audit::{Action, Outcome};
use crate::directory::password::{self, Secret};
use crate::directory::ImaxId;
use crate::error::{Code, Refusal};
use crate::mail;
use crate::store::profiles::Profile;
use time::Duration;

/// Mismatches in a row that freeze resets of a mailbox.
pub const RESET_FAILURE_LIMIT: i64 = 3;
/// How long resets stay frozen.
pub const RESET_FREEZE: Duration = Duration::hours(24);

/// What the person asking for a reset tells the Help Desk.
#[derive(Debug, Clone)]
pub struct ResetRequest {
    pub name: String,
    pub title: String,
    pub organization: String,
    pub firm_name: String,
    pub firm_address: String,
    pub email: String,
    pub pin: Secret,
    /// How the request came (R24): recorded with the reset, whatever its outcome.
    pub channel: ResetChannel,
}

/// How a reset request reached the Help Desk (R24): a letter on company letterhead, with its
/// date and the Help Desk's reference, or an email to the TRACS address, with its reference.
/// Never a telephone call: the request must be on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetChannel {
    Letter { dated: String, reference: String },
    Email { reference: String },
}

impl ResetChannel {
    /// A letter dated `dated` (`YYYY-MM-DD`), or (no date) an email; both with a reference.
    pub fn new(letter_dated: Option<&str>, reference: &str) -> Self {
        let reference = reference.trim().to_string();
        match letter_dated {
            Some(d) => ResetChannel::Letter {
                dated: d.trim().to_string(),
                reference,
            },
            None => ResetChannel::Email { reference },
        }
    }

    /// The record's words: `letter dated 2027-11-02, reference HD-1`.
    pub fn describe(&self) -> String {
        match self {
            ResetChannel::Letter { dated, reference } => {
                format!("letter on company letterhead dated {dated}, reference {reference}")
            }
            ResetChannel::Email { reference } => {
                format!("email to the TRACS address, reference {reference}")
            }
        }
    }

    /// Refuses a channel without a reference, or a letter without a valid, past date.
    fn check(&self, now: time::OffsetDateTime) -> AdminResult<()> {
        let reference = match self {
            ResetChannel::Letter { reference, .. } | ResetChannel::Email { reference } => reference,
        };
        if reference.is_empty() || reference.len() > 100 {
            return Err(invalid(
                "a reset request needs the reference of its letter or email (1 to 100 characters), for the record (R24)",
            ));
        }
        if let ResetChannel::Letter { dated, .. } = self {
            let ok = crate::calendar::parse_iso_date(dated)
                .is_some_and(|d| d <= crate::calendar::day_in_washington(now));
            if !ok {
                return Err(invalid("the letter's date is a past day as YYYY-MM-DD"));
            }
        }
        Ok(())
    }
}

/// Case, spacing and punctuation do not matter when details are compared.
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == '@')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// R24: the firm's whole address as the profile holds it (street lines, city, state or
/// territory, ZIP or foreign postal code), compared whole after normalising, never by prefix:
/// the street line alone no longer matches.
fn whole_address(p: &crate::store::profiles::Profile) -> String {
    [&p.street1, &p.street2, &p.city, &p.state, &p.postal_code]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn same(a: &str, b: &str) -> bool {
    !a.trim().is_empty() && norm(a) == norm(b)
}

/// A random password: 18 characters from an unambiguous alphabet, with every class present.
fn random_password() -> AdminResult<String> {
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"-_.!#%+=",
    ];
    let mut bytes = [0u8; 18];
    getrandom::getrandom(&mut bytes).map_err(|e| Refusal::internal(format_args!("random: {e}")))?;
    let pw: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let set = SETS[i % SETS.len()];
            set[*b as usize % set.len()] as char
        })
        .collect();
    Ok(pw)
}

impl Admin {
    /// The Help Desk's reset of a mailbox password (R24). Returns the address the new
    /// password was mailed to.
    pub async fn reset_mailbox_password(
        &self,
        imax_id: &str,
        req: &ResetRequest,
    ) -> AdminResult<String> {
        self.permit(AdminOp::ResetMailboxPassword)?;
        let id = Self::imax_id(imax_id)?;
        let store = &self.store;
        let m = self.mailbox(&id).await?;
        let (profile, _, frozen) = store.profiles().load(m.id).await?.ok_or_else(|| {
            invalid(format!(
                "{id} has no profile to check a reset against (R23)"
            ))
        })?;
        let now = self.now();
        req.channel.check(now)?;
        let channel = req.channel.describe();
        let entry = self
            .entry(Action::ResetMailboxPassword)
            .mailbox(id.as_str());
        if let Some(until) = frozen.filter(|u| *u > now) {
            let audit = entry
                .outcome(Outcome::ResetsFrozen)
                .detail(format!("channel={channel}"));
            store.accounts().record(&audit).await?;
            return Err(forbidden(format!(
                "Password resets of {id} are frozen after {RESET_FAILURE_LIMIT} mismatches until {}.",
                crate::clock::rfc3339(until)
            )));
        }
        let contact = matching_contact(&profile, req).await?;
        let Some(to) = contact else {
            let audit = entry
                .outcome(Outcome::ResetMismatch)
                .detail(format!("requester={} channel={channel}", req.name));
            store
                .profiles()
                .count_failure(m.id, RESET_FAILURE_LIMIT, now + RESET_FREEZE, &audit)
                .await?;
            return Err(forbidden(format!(
                "The details given do not match the profile of {id}; no password was reset."
            )));
        };
        let new_password = random_password()?;
        self.mail_new_password(&id, &to, &req.name, &new_password)
            .await?;
        let hash = self.hash(&Secret::new(new_password)).await?;
        // The reset reactivates an inactive mailbox (its unused time counts from now).
        let inactive = m.inactive_since(now, self.config.accounts.mailbox_inactive_days);
        let reactivated = match inactive {
            Some(since) => format!(
                " reactivated (inactive since {})",
                crate::clock::rfc3339(since)
            ),
            None => String::new(),
        };
        let audit = entry.detail(format!(
            "requester={} channel={channel} mailed_to={to}{reactivated}",
            req.name
        ));
        store
            .mailboxes()
            .set_password(m.id, &hash, now, &audit)
            .await?;
        Ok(to)
    }

    /// Mails the new password to the contact the request matched (R24); a relay that is down
    /// stops the reset before the password is set.
    async fn mail_new_password(
        &self,
        id: &ImaxId,
        to: &str,
        requester: &str,
        new_password: &str,
    ) -> AdminResult<()> {
        let body = format!(
            "The password of the iMAX (TRACSMail) mailbox {id} was reset\nby the Help Desk at the request of {}.\n\nNew password: {new_password}\n\nSign in and keep it safe.\nIf you did not ask for this, call the Help Desk.\n",
            requester
        );
        mail::send(
            &self.config.smtp,
            &mail::Message {
                to,
                subject: &format!("iMAX mailbox {id}: new password"),
                body: &body,
                identity: None,
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "mail failed");
            Refusal::new(Code::MailUnavailable)
        })?;
        Ok(())
    }
}

/// The address of the profile's contact (primary, else secondary) whom every detail of the
/// request matches, PIN included (checked against its hash on the blocking threads); `None`
/// on any mismatch, which is never said.
async fn matching_contact(profile: &Profile, req: &ResetRequest) -> AdminResult<Option<String>> {
    let firm = same(&req.title, &profile.title)
        && same(&req.organization, &profile.organization)
        && same(&req.firm_name, &profile.firm_name)
        && same(&req.firm_address, &whole_address(profile));
    let secondary_name = format!("{} {}", profile.secondary_first, profile.secondary_last);
    let pin = req.pin.clone();
    let (primary_pin, secondary_pin) =
        (profile.pin_hash.clone(), profile.secondary_pin_hash.clone());
    let (pin_primary, pin_secondary) = tokio::task::spawn_blocking(move || {
        (
            password::verify(pin.expose(), &primary_pin),
            secondary_pin.is_some_and(|h| password::verify(pin.expose(), &h)),
        )
    })
    .await
    .map_err(|e| Refusal::internal(format_args!("password check: {e}")))?;
    let contact = if firm
        && same(&req.name, &profile.contact_name())
        && same(&req.email, &profile.email)
        && pin_primary
    {
        Some(profile.email.clone())
    } else if firm
        && same(&req.name, &secondary_name)
        && same(&req.email, &profile.secondary_email)
        && pin_secondary
    {
        Some(profile.secondary_email.clone())
    } else {
        None
    };
    Ok(contact)
}
