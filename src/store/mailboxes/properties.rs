//! Properties (their numbers, names and the mailbox each sends from) and contracts (who
//! administers them), and a property's change of ownership (R25).

use super::Mailboxes;
use crate::audit::AuditEntry;
use crate::directory::PropertyNumber;
use crate::store::StoreError;

impl Mailboxes<'_> {
    /// Creates a property served by `mailbox` (its TRACSMail ID), or updates its name and mailbox.
    pub async fn upsert_property(
        &self,
        number: &PropertyNumber,
        name: &str,
        mailbox: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                let id = sqlx::query_scalar(
                    "INSERT INTO properties (property_number, name, mailbox_id) VALUES ($1, $2, $3)
             ON CONFLICT (property_number) DO UPDATE SET name = excluded.name, mailbox_id =
             excluded.mailbox_id
             RETURNING id",
                )
                .bind(number.as_str())
                .bind(name)
                .bind(mailbox)
                .fetch_one(&mut *tx)
                .await?;
                Ok(id)
            })
            .await
    }
    pub async fn property_id(&self, number: &PropertyNumber) -> Result<Option<i64>, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_scalar("SELECT id FROM properties WHERE property_number = $1")
                .bind(number.as_str())
                .fetch_optional(pool)
                .await?,
        )
    }
    /// A property's id and the id of the mailbox it sends from, if any.
    pub async fn property_with_mailbox(
        &self,
        number: &PropertyNumber,
    ) -> Result<Option<(i64, Option<i64>)>, StoreError> {
        let pool = self.pool;
        Ok(
            sqlx::query_as("SELECT id, mailbox_id FROM properties WHERE property_number = $1")
                .bind(number.as_str())
                .fetch_optional(pool)
                .await?,
        )
    }
    /// Records that `administrator` (HUD or a CA) administers `contract` of `property`.
    pub async fn upsert_contract(
        &self,
        contract: &str,
        property: i64,
        administrator: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .audited(pool, audit, async |tx| {
                sqlx::query(
                "INSERT INTO contracts (contract_number, property_id, administrator_mailbox) VALUES
                ($1, $2, $3)
             ON CONFLICT (contract_number) DO UPDATE SET property_id = excluded.property_id,
                 administrator_mailbox = excluded.administrator_mailbox",
            )
            .bind(contract)
            .bind(property)
            .bind(administrator)
            .execute(&mut *tx)
            .await?;
                Ok(())
            })
            .await
    }
    /// A change of ownership (R25): the property passes to `new_mailbox` in one step, and the
    /// old owner's people lose it: its users' assignments to the property and its
    /// coordinators' Business Partner Relationships with it end. The old mailbox keeps its
    /// history (R26). Returns how many assignments and relationships ended.
    pub async fn transfer_property(
        &self,
        property: i64,
        new_mailbox: i64,
        audit: &AuditEntry,
    ) -> Result<(u64, u64), StoreError> {
        let pool = self.pool;
        self.writer
            .change(pool, async |tx| {
                sqlx::query("UPDATE properties SET mailbox_id = $1 WHERE id = $2")
                    .bind(new_mailbox)
                    .bind(property)
                    .execute(&mut *tx)
                    .await?;
                let assignments =
                    sqlx::query("DELETE FROM property_assignments WHERE property_id = $1")
                        .bind(property)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                let relationships =
                    sqlx::query("DELETE FROM business_partners WHERE property_id = $1")
                        .bind(property)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                let audit = audit.clone().detail(format!(
                    "{} assignments_ended={assignments} relationships_ended={relationships}",
                    audit.detail
                ));
                Ok(((assignments, relationships), Some(audit)))
            })
            .await
    }
}
