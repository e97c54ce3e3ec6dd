//! Address allow-lists (issue 30, item 5): the networks an organization's or a mailbox's
//! vendor software connects from, kept as canonical CIDR text (`10.9.0.0/16,127.0.0.0/8`) on
//! the organization's or the mailbox's row. A system-to-system call reads them with its
//! caller's context (`context`), in the same statement.

use super::{Store, StoreError};
use crate::audit::AuditEntry;
use crate::directory::{AllowedNetworks, OrgId};

/// The row an allow-list is kept on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListHolder {
    Organization(i64),
    Mailbox(i64),
}

impl ListHolder {
    fn table(self) -> (&'static str, i64) {
        match self {
            ListHolder::Organization(id) => ("organizations", id),
            ListHolder::Mailbox(id) => ("mailboxes", id),
        }
    }
}

impl Store {
    /// Replaces the allow-list of `holder` (empty: any address), audited.
    pub async fn set_allowed_networks(
        &self,
        holder: ListHolder,
        networks: &AllowedNetworks,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (table, id) = holder.table();
        let sql = format!("UPDATE {table} SET allowed_networks = $1 WHERE id = $2");
        let text = networks.to_string();
        self.committer
            .audited(&self.pool, audit, async |tx| {
                sqlx::query(&sql)
                    .bind(&text)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }

    /// The allow-list of `holder` as it stands.
    pub async fn allowed_networks(
        &self,
        holder: ListHolder,
    ) -> Result<AllowedNetworks, StoreError> {
        let (table, id) = holder.table();
        let sql = format!("SELECT allowed_networks FROM {table} WHERE id = $1");
        let text: Option<String> = sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(AllowedNetworks::from_stored(&text.unwrap_or_default()))
    }

    /// The allow-list of the organization `account` works for, when it has one (the calls
    /// that name no mailbox: `ChangePassword`).
    pub async fn employer_networks(
        &self,
        account: i64,
    ) -> Result<Option<(OrgId, AllowedNetworks)>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT o.org_id, o.allowed_networks FROM organizations o
               JOIN accounts a ON a.organization_id = o.id
              WHERE a.id = $1 AND o.allowed_networks <> ''",
        )
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(org, nets)| {
            Some((OrgId::parse(&org)?, AllowedNetworks::from_stored(&nets)))
        }))
    }
}
