//! What a yearly certification covers, and what lapses at its deadline (R18, R19; seed Q25,
//! Q28).
//!
//! A coordinator certifies a user for the properties it has a Business Partner Relationship
//! with: a user working for properties of two coordinators with different BPRs needs each
//! one's certification for those properties, one suffices where their BPRs cover the same. At
//! the deadline, a certified user's assignments to properties no certification of the cycle
//! covers lapse, and so do assignments a coordinator flagged for removal; the global iMAX role
//! lapses only when no certification covers the user at all (`access::decide`).

use super::StoreError;
use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use crate::directory::PropertyNumber;
use sqlx::AnyPool;
use time::OffsetDateTime;

/// An assignment of a person to a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub account_id: i64,
    pub mid: String,
    pub property_id: i64,
    pub property_number: PropertyNumber,
}

/// An assignment that lapsed at a certification deadline (R19): to a property, or to an
/// organization (issue 27: a service bureau, a CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lapse {
    Property(Assignment),
    Organization {
        account_id: i64,
        mid: String,
        organization_id: i64,
        /// The organization's own ID.
        org_id: String,
    },
}

/// As the deadline's audit record lists it: `M-ID:property number` or `M-ID:organization ID`.
impl std::fmt::Display for Lapse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lapse::Property(a) => write!(f, "{}:{}", a.mid, a.property_number),
            Lapse::Organization { mid, org_id, .. } => write!(f, "{mid}:organization {org_id}"),
        }
    }
}

/// A property assignment flagged for removal at the deadline: the assignment and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedAssignment {
    pub assignment: Assignment,
    pub flagged_at: i64,
}

/// The coordinators who certified `a.id` for cycle `$1`: a row of each coordinator's own
/// certifications, and the cycle's first certification (which builds before version 15
/// recorded alone).
const CERTIFIERS: &str =
    "SELECT coordinator_id FROM cycle_certifications WHERE user_id = a.id AND cycle = $1
     UNION SELECT coordinator_id FROM recertifications WHERE user_id = a.id AND cycle = $1";

/// This part of the store (`Store::certifications()`).
#[derive(Clone, Copy)]
pub struct Certifications<'a> {
    pool: &'a AnyPool,
    /// Every change goes through the committer (its one write path).
    writer: &'a super::Committer,
}

impl<'a> Certifications<'a> {
    pub(crate) fn new(pool: &'a AnyPool, writer: &'a super::Committer) -> Self {
        Certifications { pool, writer }
    }

    /// Applies the deadline of `cycle` to property assignments, once (whichever node gets
    /// there first): every user created before `created_before` with a certification for the
    /// cycle loses its assignments to properties none of the cycle's certifications covers, in
    /// one transaction with `audit` (which lists them). Returns what was removed; empty when
    /// the deadline was applied before.
    ///
    /// A deadline that passed before this gateway first applied deadlines to assignments
    /// ([`Certifications::mark_start`], which must have run) is not applied after the fact.
    pub async fn apply_deadline(
        &self,
        cycle: i32,
        deadline: OffsetDateTime,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Vec<Lapse>, StoreError> {
        let pool = self.pool;
        let created_before = deadline;
        self.writer
            .change(pool, async |tx| {
                let since: Option<i64> = sqlx::query_scalar(
                    "SELECT applied_at FROM certification_deadlines WHERE cycle = $1",
                )
                .bind(START)
                .fetch_optional(&mut *tx)
                .await?;
                if since.is_none_or(|since| to_epoch(deadline) <= since) {
                    return Ok((Vec::new(), None));
                }
                let first = sqlx::query(
                    "INSERT INTO certification_deadlines (cycle, applied_at) VALUES ($1, $2)
                     ON CONFLICT (cycle) DO NOTHING",
                )
                .bind(i64::from(cycle))
                .bind(to_epoch(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if first == 0 {
                    return Ok((Vec::new(), None));
                }
                let mut lapsed = lapse_properties(tx, cycle, created_before).await?;
                lapsed.extend(lapse_organizations(tx, cycle, created_before).await?);
                let listed: Vec<String> = lapsed.iter().map(Lapse::to_string).collect();
                let audit = audit.clone().detail(format!(
                    "cycle={cycle} lapsed (not covered by a certification)=[{}]",
                    listed.join(", ")
                ));
                Ok((lapsed, Some(audit)))
            })
            .await
    }

    /// Records when this gateway began applying certification deadlines to property
    /// assignments (once, audited; the first caller's time stands), so that deadlines which
    /// passed before are never applied retroactively.
    pub async fn mark_start(
        &self,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let pool = self.pool;
        self.writer
            .change(pool, async |tx| {
                let n = sqlx::query(
                    "INSERT INTO certification_deadlines (cycle, applied_at) VALUES ($1, $2)
                     ON CONFLICT (cycle) DO NOTHING",
                )
                .bind(START)
                .bind(to_epoch(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                Ok(((), (n == 1).then(|| audit.clone())))
            })
            .await
    }

    /// Flags a property assignment for removal at the deadline (`Some((by, at))`) or clears
    /// the flag (R18's review); false if the person is not assigned to the property.
    pub async fn flag_assignment(
        &self,
        account: i64,
        property: i64,
        flag: Option<(&str, OffsetDateTime)>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let pool = self.pool;
        self.writer
            .change(pool, async |tx| {
                let n = sqlx::query(
                    "UPDATE property_assignments SET flagged_by = $3, flagged_at = $4
                      WHERE account_id = $1 AND property_id = $2",
                )
                .bind(account)
                .bind(property)
                .bind(flag.map(|(by, _)| by.to_string()))
                .bind(flag.map(|(_, at)| to_epoch(at)))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                Ok((n == 1, (n == 1).then(|| audit.clone())))
            })
            .await
    }

    /// Who certified a user for `cycle` (coordinators' ids): what Assigned Staff shows as
    /// "certified by you" and "certified elsewhere", never who (R19).
    pub async fn certifiers_for(&self, user: i64, cycle: i32) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT coordinator_id FROM cycle_certifications WHERE user_id = $1 AND cycle = $2
             UNION SELECT coordinator_id FROM recertifications WHERE user_id = $1 AND cycle = $2",
        )
        .bind(user)
        .bind(i64::from(cycle))
        .fetch_all(self.pool)
        .await?)
    }

    /// Property numbers of a person's assignments flagged for removal.
    pub async fn flagged_of(&self, account: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT p.property_number FROM property_assignments pa
               JOIN properties p ON p.id = pa.property_id
              WHERE pa.account_id = $1 AND pa.flagged_at IS NOT NULL ORDER BY 1",
        )
        .bind(account)
        .fetch_all(self.pool)
        .await?)
    }

    /// Every property assignment flagged for removal.
    pub async fn flagged_assignments(&self) -> Result<Vec<FlaggedAssignment>, StoreError> {
        let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(
            "SELECT pa.account_id, a.mid, pa.property_id, p.property_number, pa.flagged_at
               FROM property_assignments pa
               JOIN accounts a ON a.id = pa.account_id
               JOIN properties p ON p.id = pa.property_id
              WHERE pa.flagged_at IS NOT NULL ORDER BY a.mid, p.property_number",
        )
        .fetch_all(self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(account_id, mid, property_id, property_number, flagged_at)| FlaggedAssignment {
                    assignment: Assignment {
                        account_id,
                        mid,
                        property_id,
                        property_number: PropertyNumber::stored(property_number),
                    },
                    flagged_at,
                },
            )
            .collect())
    }

    /// Removes a flagged assignment once its deadline passed; false (nothing written) if it is
    /// no longer there as flagged then (another node, or a coordinator, got there first).
    pub async fn remove_flagged(
        &self,
        flagged: &FlaggedAssignment,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let pool = self.pool;
        let a = &flagged.assignment;
        self.writer
            .change(pool, async |tx| {
                let gone =
                    remove(tx, a.account_id, a.property_id, Some(flagged.flagged_at)).await?;
                Ok((gone, gone.then(|| audit.clone())))
            })
            .await
    }
}

/// The uncertified assignments `query` selects for `cycle` (users created before
/// `created_before`, with a certifier at all): account, M-ID, the property's or organization's
/// row id and its number or ID.
async fn uncertified(
    tx: &mut sqlx::AnyConnection,
    query: &str,
    cycle: i32,
    created_before: OffsetDateTime,
) -> Result<Vec<(i64, String, i64, String)>, sqlx::Error> {
    sqlx::query_as(query)
        .bind(i64::from(cycle))
        .bind(to_epoch(created_before))
        .fetch_all(&mut *tx)
        .await
}

/// R19: removes the user assignments to properties that no certification of `cycle` covers,
/// and returns them.
async fn lapse_properties(
    tx: &mut sqlx::AnyConnection,
    cycle: i32,
    created_before: OffsetDateTime,
) -> Result<Vec<Lapse>, sqlx::Error> {
    let query = format!(
        "SELECT pa.account_id, a.mid, pa.property_id, p.property_number
           FROM property_assignments pa
           JOIN accounts a ON a.id = pa.account_id
           JOIN properties p ON p.id = pa.property_id
          WHERE a.kind = 'user' AND a.created_at < $2
            AND EXISTS ({CERTIFIERS})
            AND NOT EXISTS (
                SELECT 1 FROM business_partners b
                 WHERE b.property_id = pa.property_id
                   AND b.account_id IN ({CERTIFIERS}))
          ORDER BY a.mid, p.property_number"
    );
    let mut lapsed = Vec::new();
    for (account_id, mid, property_id, property_number) in
        uncertified(tx, &query, cycle, created_before).await?
    {
        remove(tx, account_id, property_id, None).await?;
        lapsed.push(Lapse::Property(Assignment {
            account_id,
            mid,
            property_id,
            property_number: PropertyNumber::stored(property_number),
        }));
    }
    Ok(lapsed)
}

/// Issue 27, R19: at `cycle`'s deadline, a certified user's assignments to organizations (a
/// service bureau, a CA) that none of the cycle's certifications covers lapse, as property
/// assignments do.
async fn lapse_organizations(
    tx: &mut sqlx::AnyConnection,
    cycle: i32,
    created_before: OffsetDateTime,
) -> Result<Vec<Lapse>, sqlx::Error> {
    let query = format!(
        "SELECT oa.account_id, a.mid, oa.organization_id, o.org_id
           FROM organization_assignments oa
           JOIN accounts a ON a.id = oa.account_id
           JOIN organizations o ON o.id = oa.organization_id
          WHERE a.kind = 'user' AND a.created_at < $2
            AND EXISTS ({CERTIFIERS})
            AND NOT EXISTS (
                SELECT 1 FROM organization_partners op
                 WHERE op.organization_id = oa.organization_id
                   AND op.account_id IN ({CERTIFIERS}))
          ORDER BY a.mid, o.org_id"
    );
    let mut lapsed = Vec::new();
    for (account_id, mid, organization_id, org_id) in
        uncertified(tx, &query, cycle, created_before).await?
    {
        sqlx::query(
            "DELETE FROM organization_assignments WHERE account_id = $1 AND organization_id = $2",
        )
        .bind(account_id)
        .bind(organization_id)
        .execute(&mut *tx)
        .await?;
        new_epoch(tx, account_id).await?;
        lapsed.push(Lapse::Organization {
            account_id,
            mid,
            organization_id,
            org_id,
        });
    }
    Ok(lapsed)
}

/// The row of cycle -1 marks when deadlines began to be applied (`mark_start`).
const START: i64 = -1;

/// Deletes an assignment (only while flagged at `flagged_at`, when given); whether it was there.
async fn remove(
    tx: &mut sqlx::AnyConnection,
    account: i64,
    property: i64,
    flagged_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "DELETE FROM property_assignments WHERE account_id = $1 AND property_id = $2
            AND ($3 IS NULL OR flagged_at = $3)",
    )
    .bind(account)
    .bind(property)
    .bind(flagged_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        new_epoch(tx, account).await?;
    }
    Ok(n > 0)
}

/// Sessions and cached credentials see a change of `account`'s assignments at once.
async fn new_epoch(tx: &mut sqlx::AnyConnection, account: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET auth_epoch = auth_epoch + 1 WHERE id = $1")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
