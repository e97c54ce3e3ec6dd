//! Mailbox profiles (R23) and the state of Help Desk password resets (R24).

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::{from_epoch, to_epoch};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

/// A mailbox's profile: the primary contact, the firm, and a secondary contact. PINs are
/// argon2id hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The primary point of contact, first and last name apart (R23).
    pub contact_first: String,
    pub contact_last: String,
    pub description: String,
    pub title: String,
    pub organization: String,
    pub firm_name: String,
    pub street1: String,
    pub street2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub pin_hash: String,
    pub secondary_first: String,
    pub secondary_last: String,
    pub secondary_email: String,
    pub secondary_pin_hash: Option<String>,
}

impl Profile {
    /// The primary contact's whole name, as a caller says it to the Help Desk.
    pub fn contact_name(&self) -> String {
        format!("{} {}", self.contact_first.trim(), self.contact_last.trim())
            .trim()
            .to_string()
    }

    /// The addresses the profile holds (the primary contact's, then the secondary's), each
    /// once: where the notice of a change goes (R23).
    pub fn addresses(&self) -> Vec<String> {
        let mut to: Vec<String> = Vec::new();
        for a in [&self.email, &self.secondary_email] {
            let a = a.trim();
            if !a.is_empty() && !to.iter().any(|t| t.eq_ignore_ascii_case(a)) {
                to.push(a.to_string());
            }
        }
        to
    }

    /// Whether the country is the United States (then a state and a ZIP code are asked for).
    fn in_us(&self) -> bool {
        matches!(
            self.country.trim().to_ascii_uppercase().as_str(),
            "US" | "USA" | "UNITED STATES" | "UNITED STATES OF AMERICA"
        )
    }

    /// What is missing or malformed, as a sentence (none: the profile is complete, R23): the
    /// primary contact's first and last name, title, organization, firm name, street address,
    /// city, country and email; in the United States a state and a ZIP code (12345 or
    /// 12345-6789), elsewhere a postal code as the country writes it; and a secondary contact,
    /// when one is given, with first and last name and email.
    pub fn problem(&self) -> Option<String> {
        let required = [
            ("the contact's first name", &self.contact_first),
            ("the contact's last name", &self.contact_last),
            ("a title", &self.title),
            ("an organization", &self.organization),
            ("a firm name", &self.firm_name),
            ("a street address", &self.street1),
            ("a city", &self.city),
            ("a country", &self.country),
            ("an email address", &self.email),
        ];
        if let Some((what, _)) = required.iter().find(|(_, v)| v.trim().is_empty()) {
            return Some(format!("The profile needs {what}."));
        }
        let email_ok = |e: &str| {
            let e = e.trim();
            e.len() <= 254
                && e.split_once('@')
                    .is_some_and(|(a, d)| !a.is_empty() && d.contains('.'))
        };
        if !email_ok(&self.email) {
            return Some("The email address is not one (name@example.org).".into());
        }
        if self.in_us() {
            let state = self.state.trim();
            if state.len() != 2 || !state.chars().all(|c| c.is_ascii_alphabetic()) {
                return Some(
                    "In the United States the state or territory is its two-letter code (MA, PR)."
                        .into(),
                );
            }
            let zip = self.postal_code.trim();
            let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
            let zip_ok = match zip.split_once('-') {
                Some((five, four)) => digits(five, 5) && digits(four, 4),
                None => digits(zip, 5),
            };
            if !zip_ok {
                return Some("A U.S. ZIP code is 12345 or 12345-6789.".into());
            }
        } else if self.postal_code.len() > 16 {
            return Some("A foreign postal code has at most 16 characters.".into());
        }
        let secondary = [
            &self.secondary_first,
            &self.secondary_last,
            &self.secondary_email,
        ];
        if secondary.iter().any(|v| !v.trim().is_empty()) {
            if secondary.iter().any(|v| v.trim().is_empty()) {
                return Some(
                    "A secondary contact needs a first name, a last name and an email address."
                        .into(),
                );
            }
            if !email_ok(&self.secondary_email) {
                return Some("The secondary contact's email address is not one.".into());
            }
        }
        None
    }
}

/// How a field is read from a profile.
type FieldOf = fn(&Profile) -> &str;

/// What a profile change names, field by field: the label a notice and the Help Desk's page
/// show, and whether changing it needs the mailbox's password again (R23). Guarded are the
/// fields a Help Desk reset (R24) mails to or checks a secret against: the email addresses
/// and, apart (they are hashes here), the PINs.
const FIELDS: &[(&str, bool, FieldOf)] = &[
    ("contact's first name", false, |p| &p.contact_first),
    ("contact's last name", false, |p| &p.contact_last),
    ("description", false, |p| &p.description),
    ("title", false, |p| &p.title),
    ("organization", false, |p| &p.organization),
    ("firm name", false, |p| &p.firm_name),
    ("street address 1", false, |p| &p.street1),
    ("street address 2", false, |p| &p.street2),
    ("city", false, |p| &p.city),
    ("state", false, |p| &p.state),
    ("postal code", false, |p| &p.postal_code),
    ("country", false, |p| &p.country),
    ("telephone", false, |p| &p.phone),
    ("fax", false, |p| &p.fax),
    ("email address", true, |p| &p.email),
    ("secondary contact's first name", false, |p| {
        &p.secondary_first
    }),
    ("secondary contact's last name", false, |p| {
        &p.secondary_last
    }),
    ("secondary contact's email address", true, |p| {
        &p.secondary_email
    }),
];

/// The label of the primary contact's PIN in a change.
pub const PIN: &str = "PIN";
/// The label of the secondary contact's PIN in a change.
pub const SECONDARY_PIN: &str = "secondary contact's PIN";

/// The fields of a profile change, in the form's order (PINs named by the caller, who alone
/// knows whether one was given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedFields {
    labels: Vec<&'static str>,
    guarded: bool,
}

impl ChangedFields {
    /// The text fields that differ between `old` and `new` (spacing and case of an email
    /// address aside); everything when there was no profile.
    pub fn between(old: Option<&Profile>, new: &Profile) -> ChangedFields {
        let mut c = ChangedFields::default();
        for (label, guarded, get) in FIELDS {
            let differs = match old {
                None => !get(new).trim().is_empty(),
                Some(old) if label.contains("email") => {
                    !get(old).trim().eq_ignore_ascii_case(get(new).trim())
                }
                Some(old) => get(old).trim() != get(new).trim(),
            };
            if differs {
                c.labels.push(label);
                c.guarded |= guarded;
            }
        }
        c
    }

    /// A PIN (or the secondary contact's) was set: always guarded.
    pub fn pin(&mut self, label: &'static str) {
        self.labels.push(label);
        self.guarded = true;
    }

    /// Whether the change needs the mailbox's password (R23): an email address or a PIN.
    pub fn guarded(&self) -> bool {
        self.guarded
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[&'static str] {
        &self.labels
    }

    /// "email address, PIN": how notices, audit records and the Help Desk's page name them.
    pub fn sentence(&self) -> String {
        self.labels.join(", ")
    }
}

/// The last change of a profile, for the Help Desk's reset page (R24): when, who (the M-ID, or
/// `admin` for the operator) and which fields (never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    pub at: OffsetDateTime,
    pub by: String,
    pub fields: String,
}

/// This part of the store (`Store::profiles()`).
#[derive(Clone, Copy)]
pub struct Profiles<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Profiles<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Profiles { pool, writer }
    }

    pub async fn save(
        &self,
        mailbox: i64,
        p: &Profile,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.save_change(mailbox, p, None, audit).await
    }

    /// Saves the profile and, with `change`, records it as the last change (shown to the Help
    /// Desk, R24), in the same transaction as its audit record.
    pub async fn save_change(
        &self,
        mailbox: i64,
        p: &Profile,
        change: Option<&ProfileChange>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO mailbox_profiles (mailbox_id, contact_name, description, title,
                organization, firm_name,
                 street1, street2, city, state, postal_code, country, phone, fax, email, pin_hash,
                 secondary_first, secondary_last, secondary_email, secondary_pin_hash,
                 contact_first, contact_last)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
             $17, $18, $19, $20, $21, $22)
             ON CONFLICT (mailbox_id) DO UPDATE SET contact_name = excluded.contact_name,
                 contact_first = excluded.contact_first, contact_last = excluded.contact_last,
                 description = excluded.description, title = excluded.title,
                 organization = excluded.organization, firm_name = excluded.firm_name,
                 street1 = excluded.street1, street2 = excluded.street2, city = excluded.city,
                 state = excluded.state, postal_code = excluded.postal_code,
                 country = excluded.country,
                 phone = excluded.phone, fax = excluded.fax, email = excluded.email,
                 pin_hash = excluded.pin_hash, secondary_first = excluded.secondary_first,
                 secondary_last = excluded.secondary_last,
                 secondary_email = excluded.secondary_email,
                 secondary_pin_hash = excluded.secondary_pin_hash",
                )
                .bind(mailbox)
                .bind(p.contact_name())
                .bind(&p.description)
                .bind(&p.title)
                .bind(&p.organization)
                .bind(&p.firm_name)
                .bind(&p.street1)
                .bind(&p.street2)
                .bind(&p.city)
                .bind(&p.state)
                .bind(&p.postal_code)
                .bind(&p.country)
                .bind(&p.phone)
                .bind(&p.fax)
                .bind(&p.email)
                .bind(&p.pin_hash)
                .bind(&p.secondary_first)
                .bind(&p.secondary_last)
                .bind(&p.secondary_email)
                .bind(&p.secondary_pin_hash)
                .bind(&p.contact_first)
                .bind(&p.contact_last)
                .execute(&mut *tx)
                .await?;
                if let Some(c) = change {
                    sqlx::query(
                        "UPDATE mailbox_profiles SET profile_changed_at = $1,
                         profile_changed_by = $2, profile_changed_fields = $3
                         WHERE mailbox_id = $4",
                    )
                    .bind(to_epoch(c.at))
                    .bind(&c.by)
                    .bind(&c.fields)
                    .bind(mailbox)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            })
            .await
    }
    /// The profile and the reset state: failures so far and until when resets are frozen.
    pub async fn load(
        &self,
        mailbox: i64,
    ) -> Result<Option<(Profile, i64, Option<OffsetDateTime>)>, StoreError> {
        let pool = self.pool;
        let row = sqlx::query(
            "SELECT contact_first, contact_last, description, title, organization, firm_name,
            street1, street2,
            city, state,
                postal_code, country, phone, fax, email, pin_hash, secondary_first, secondary_last,
                secondary_email, secondary_pin_hash
         FROM mailbox_profiles WHERE mailbox_id = $1",
        )
        .bind(mailbox)
        .fetch_optional(pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let text = |c: &str| r.try_get::<String, _>(c);
        let profile = Profile {
            contact_first: text("contact_first")?,
            contact_last: text("contact_last")?,
            description: text("description")?,
            title: text("title")?,
            organization: text("organization")?,
            firm_name: text("firm_name")?,
            street1: text("street1")?,
            street2: text("street2")?,
            city: text("city")?,
            state: text("state")?,
            postal_code: text("postal_code")?,
            country: text("country")?,
            phone: text("phone")?,
            fax: text("fax")?,
            email: text("email")?,
            pin_hash: text("pin_hash")?,
            secondary_first: text("secondary_first")?,
            secondary_last: text("secondary_last")?,
            secondary_email: text("secondary_email")?,
            secondary_pin_hash: r.try_get("secondary_pin_hash")?,
        };
        let (failures, frozen): (i64, Option<i64>) = sqlx::query_as(
        "SELECT reset_failures, resets_frozen_until FROM mailbox_profiles WHERE mailbox_id = $1",
    )
    .bind(mailbox)
    .fetch_one(pool)
    .await?;
        Ok(Some((profile, failures, frozen.map(from_epoch))))
    }
    /// The profile's last recorded change (none before migration 18 or when never changed).
    pub async fn last_change(&self, mailbox: i64) -> Result<Option<ProfileChange>, StoreError> {
        let row: Option<(Option<i64>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT profile_changed_at, profile_changed_by, profile_changed_fields
               FROM mailbox_profiles WHERE mailbox_id = $1",
        )
        .bind(mailbox)
        .fetch_optional(self.pool)
        .await?;
        Ok(match row {
            Some((Some(at), by, fields)) => Some(ProfileChange {
                at: from_epoch(at),
                by: by.unwrap_or_default(),
                fields: fields.unwrap_or_default(),
            }),
            _ => None,
        })
    }

    /// Counts a refused reset; at `limit` failures, freezes resets until `freeze_until`.
    pub async fn count_failure(
        &self,
        mailbox: i64,
        limit: i64,
        freeze_until: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "UPDATE mailbox_profiles SET
                 resets_frozen_until = CASE WHEN reset_failures + 1 >= $1 THEN $2 ELSE
                 resets_frozen_until END,
                 reset_failures = CASE WHEN reset_failures + 1 >= $1 THEN 0 ELSE reset_failures
                 + 1 END
             WHERE mailbox_id = $3",
                )
                .bind(limit)
                .bind(to_epoch(freeze_until))
                .bind(mailbox)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }
}
