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
    pub contact_name: String,
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
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO mailbox_profiles (mailbox_id, contact_name, description, title,
                organization, firm_name,
                 street1, street2, city, state, postal_code, country, phone, fax, email, pin_hash,
                 secondary_first, secondary_last, secondary_email, secondary_pin_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
             $17, $18, $19, $20)
             ON CONFLICT (mailbox_id) DO UPDATE SET contact_name = excluded.contact_name,
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
                .bind(&p.contact_name)
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
                .execute(&mut *tx)
                .await?;
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
            "SELECT contact_name, description, title, organization, firm_name, street1, street2,
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
            contact_name: text("contact_name")?,
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
