//! Organizations (issue 27) and what hangs on them: the owner and agent of each property, the
//! organization of each mailbox and the employer of each person, coordinators' Business
//! Partner Relationships with non-property organizations (R3) and people assigned to them, and
//! whether a person is affiliated with a mailbox (R6).

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use crate::directory::{OrgId, Organization, OrganizationKind};
use sqlx::{AnyConnection, AnyPool};
use time::OffsetDateTime;

/// This part of the store (`Store::organizations()`).
#[derive(Clone, Copy)]
pub struct Organizations<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

type Row = (i64, String, String, String, Option<String>);

fn decode(r: Row) -> Result<Organization, StoreError> {
    let (id, org_id, kind, name, tax_id) = r;
    Ok(Organization {
        id,
        org_id: OrgId::parse(&org_id).ok_or_else(|| corrupt("organization id"))?,
        kind: OrganizationKind::parse(&kind).ok_or_else(|| corrupt("organization kind"))?,
        name,
        tax_id,
    })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(format!("unreadable {what}").into()))
}

const COLUMNS: &str = "o.id, o.org_id, o.kind, o.name, o.tax_id";

impl<'a> Organizations<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Organizations { pool, writer }
    }

    pub async fn create(
        &self,
        o: &Organization,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                Ok(sqlx::query_scalar(
                    "INSERT INTO organizations (org_id, kind, name, tax_id, created_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(o.org_id.as_str())
                .bind(o.kind.as_str())
                .bind(&o.name)
                .bind(o.tax_id.as_deref())
                .bind(to_epoch(at))
                .fetch_one(&mut *tx)
                .await?)
            })
            .await
    }

    pub async fn load(&self, org: &OrgId) -> Result<Option<Organization>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM organizations o WHERE o.org_id = $1");
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(org.as_str())
            .fetch_optional(self.pool)
            .await?;
        row.map(decode).transpose()
    }

    /// Every organization, by ID.
    pub async fn all(&self) -> Result<Vec<Organization>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM organizations o ORDER BY o.org_id");
        let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(self.pool).await?;
        rows.into_iter().map(decode).collect()
    }

    /// The organization a person works for, if any.
    pub async fn employer_of(&self, account: i64) -> Result<Option<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN accounts a ON a.organization_id = o.id
              WHERE a.id = $1"
        );
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(account)
            .fetch_optional(self.pool)
            .await?;
        row.map(decode).transpose()
    }

    /// The organization a mailbox belongs to, if any.
    pub async fn of_mailbox(&self, mailbox: i64) -> Result<Option<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN mailboxes m ON m.organization_id = o.id
              WHERE m.id = $1"
        );
        let row: Option<Row> = sqlx::query_as(&sql)
            .bind(mailbox)
            .fetch_optional(self.pool)
            .await?;
        row.map(decode).transpose()
    }

    /// The owner and (optional) agent of a property: the organizations R2 counts its
    /// coordinators for.
    pub async fn of_property(&self, property: i64) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN properties p
                 ON o.id = p.owner_id OR o.id = p.agent_id
              WHERE p.id = $1 ORDER BY o.org_id"
        );
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(property)
            .fetch_all(self.pool)
            .await?;
        rows.into_iter().map(decode).collect()
    }

    /// A column of one row: `table.column = value` where `table.id = row`, audited.
    async fn set_column(
        &self,
        table_column: (&'static str, &'static str),
        row: i64,
        value: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (table, column) = table_column;
        let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
        self.writer
            .audited(self.pool, audit, async |tx| {
                sqlx::query(&sql)
                    .bind(value)
                    .bind(row)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }

    /// R25: the owner of a property (and its agent, `None`: none).
    pub async fn set_property_owner(
        &self,
        property: i64,
        owner: i64,
        agent: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                sqlx::query("UPDATE properties SET owner_id = $1, agent_id = $2 WHERE id = $3")
                    .bind(owner)
                    .bind(agent)
                    .bind(property)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await
    }

    pub async fn set_mailbox_organization(
        &self,
        mailbox: i64,
        org: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.set_column(("mailboxes", "organization_id"), mailbox, Some(org), audit)
            .await
    }

    pub async fn set_employer(
        &self,
        account: i64,
        org: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.set_column(("accounts", "organization_id"), account, org, audit)
            .await
    }

    /// R3: a coordinator's Business Partner Relationship with a non-property organization.
    pub async fn add_partner(
        &self,
        coordinator: i64,
        org: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                sqlx::query(
                    "INSERT INTO organization_partners (account_id, organization_id)
                     VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(coordinator)
                .bind(org)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
            .await
    }

    /// The organizations a coordinator has a BPR with, by ID.
    pub async fn partner_organizations(
        &self,
        coordinator: i64,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN organization_partners op
                 ON op.organization_id = o.id
              WHERE op.account_id = $1 ORDER BY o.org_id"
        );
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(coordinator)
            .fetch_all(self.pool)
            .await?;
        rows.into_iter().map(decode).collect()
    }

    /// Assigns a person to an organization (its staff), or removes the assignment.
    pub async fn set_assignment(
        &self,
        account: i64,
        org: i64,
        assigned: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.writer
            .audited(self.pool, audit, async |tx| {
                set_assignment(tx, account, org, assigned).await
            })
            .await
    }

    /// The organizations a person is assigned to, by ID.
    pub async fn assigned_organizations(
        &self,
        account: i64,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN organization_assignments oa
                 ON oa.organization_id = o.id
              WHERE oa.account_id = $1 ORDER BY o.org_id"
        );
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(account)
            .fetch_all(self.pool)
            .await?;
        rows.into_iter().map(decode).collect()
    }

    /// R2: the coordinators of an owner or agent, across all its properties (a BPR with any
    /// property it owns or manages, or with the organization itself).
    pub async fn coordinators_of(&self, org: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT b.account_id FROM business_partners b
               JOIN properties p ON p.id = b.property_id
               JOIN accounts a ON a.id = b.account_id
              WHERE (p.owner_id = $1 OR p.agent_id = $1) AND a.kind = 'coordinator'
             UNION
             SELECT op.account_id FROM organization_partners op
               JOIN accounts a ON a.id = op.account_id
              WHERE op.organization_id = $1 AND a.kind = 'coordinator'
             ORDER BY 1",
        )
        .bind(org)
        .fetch_all(self.pool)
        .await?)
    }

    /// R6: whether a person may open a mailbox: it is assigned to a property of the mailbox,
    /// or to (or has a BPR with) the organization that owns or manages such a property, that
    /// the mailbox belongs to, or that services it (a service bureau whose mailbox may send
    /// for it, R11), or, a coordinator, has a BPR with such a property. A
    /// mailbox with neither properties nor an organization (made before organizations, and
    /// never given one) is open to anyone, as before. One statement: both doors ask it on
    /// every mailbox request.
    pub async fn affiliated(&self, account: i64, mailbox: i64) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT {} FROM mailboxes mb WHERE mb.id = $2",
            affiliated_sql("$1", "mb")
        );
        let n: Option<i64> = sqlx::query_scalar(&sql)
            .bind(account)
            .bind(mailbox)
            .fetch_optional(self.pool)
            .await?;
        Ok(n.unwrap_or(0) > 0)
    }

    /// Every mailbox R6 opens to `account` by [`Organizations::affiliated`]'s own condition (one
    /// decision, asked of every mailbox at once), and HUD's mailbox, whose own rule the caller
    /// applies (`access::opens_to`): (id, iMAX ID), by iMAX ID. The Notifications page lists
    /// these.
    pub async fn openable(&self, account: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = format!(
            "SELECT mb.id, mb.imax_id FROM mailboxes mb
              WHERE mb.imax_id = $2 OR {} = 1 ORDER BY mb.imax_id",
            affiliated_sql("$1", "mb")
        );
        Ok(sqlx::query_as(&sql)
            .bind(account)
            .bind(crate::directory::HUD_MAILBOX)
            .fetch_all(self.pool)
            .await?)
    }
}

/// R6's condition, whether the person `person` (an SQL expression: a parameter or a column)
/// may open the mailbox whose row is `mailbox` (an alias of `mailboxes`), 1 or 0: shared by
/// [`Organizations::affiliated`] (one mailbox, asked by the browser door),
/// [`Organizations::openable`] (every mailbox, for the Notifications page) and the
/// system-to-system caller's context (`store::context`, read with the account and the mailbox
/// in one statement), so that none can disagree.
pub(super) fn affiliated_sql(person: &str, mailbox: &str) -> String {
    format!(
        "CASE
       WHEN NOT EXISTS (SELECT 1 FROM properties WHERE mailbox_id = {mailbox}.id)
        AND {mailbox}.organization_id IS NULL
       THEN 1
       WHEN EXISTS (SELECT 1 FROM properties p
                      JOIN property_assignments pa ON pa.property_id = p.id
                     WHERE pa.account_id = {person} AND p.mailbox_id = {mailbox}.id)
       THEN 1
       WHEN EXISTS (SELECT 1 FROM properties p
                      JOIN business_partners b ON b.property_id = p.id
                     WHERE b.account_id = {person} AND p.mailbox_id = {mailbox}.id)
       THEN 1
       WHEN EXISTS (SELECT 1 FROM organizations o
        WHERE (o.id IN (SELECT organization_id FROM organization_assignments WHERE account_id = {person})
               OR o.id IN (SELECT organization_id FROM organization_partners WHERE account_id = {person}))
          AND (o.id = {mailbox}.organization_id
               OR o.id IN (SELECT owner_id FROM properties WHERE mailbox_id = {mailbox}.id)
               OR o.id IN (SELECT agent_id FROM properties WHERE mailbox_id = {mailbox}.id)
               OR o.id IN (SELECT sm.organization_id FROM mailbox_senders s
                             JOIN mailboxes sm ON sm.id = s.sender_mailbox_id
                            WHERE s.mailbox_id = {mailbox}.id)))
       THEN 1
       ELSE 0 END"
    )
}

/// Inside a transaction: assigns (or unassigns) a person to an organization.
pub(super) async fn set_assignment(
    tx: &mut AnyConnection,
    account: i64,
    org: i64,
    assigned: bool,
) -> Result<(), StoreError> {
    let sql = if assigned {
        "INSERT INTO organization_assignments (account_id, organization_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM organization_assignments WHERE account_id = $1 AND organization_id = $2"
    };
    sqlx::query(sql)
        .bind(account)
        .bind(org)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
