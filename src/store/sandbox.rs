//! What a vendor's sandbox mailboxes did (issue 31), read for its certification report from
//! the audit log and the messages themselves, never from a copy kept for the purpose.
//!
//! The audit log has no index on its mailbox column (every request writes a record; an index
//! would slow them all), so a report reads it through once: it is asked for rarely, by HUD.

use super::StoreError;
use crate::directory::SANDBOX_TRACS;
use sqlx::AnyPool;

/// How often one operation on one door was done on a vendor's sandboxes, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercised {
    /// The audit record's action (`SendFile`, `ListMessages`, `GetMessage`, `AckMessage`, …).
    pub action: String,
    /// `s2s` or `web`.
    pub door: String,
    pub succeeded: u64,
    pub refused: u64,
}

/// The sandbox mailboxes of an organization, as SQL over `$1` (its row id).
const MAILBOXES: &str =
    "SELECT imax_id FROM mailboxes WHERE organization_id = $1 AND kind = 'sandbox'";

/// This part of the store (`Store::sandbox()`).
#[derive(Clone, Copy)]
pub struct Sandbox<'a> {
    pool: &'a AnyPool,
}

impl<'a> Sandbox<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Sandbox { pool }
    }

    /// The iMAX IDs of organization `org`'s sandbox mailboxes.
    pub async fn mailboxes(&self, org: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(&format!("{MAILBOXES} ORDER BY imax_id"))
            .bind(org)
            .fetch_all(self.pool)
            .await?)
    }

    /// Each operation and door the audit log records on `org`'s sandboxes.
    pub async fn exercised(&self, org: i64) -> Result<Vec<Exercised>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT action, door,
                    SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END)
               FROM audit_log WHERE mailbox IN ({MAILBOXES})
              GROUP BY action, door ORDER BY action, door"
        ))
        .bind(org)
        .fetch_all(self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(action, door, ok, refused)| Exercised {
                action,
                door,
                succeeded: ok.max(0) as u64,
                refused: refused.max(0) as u64,
            })
            .collect())
    }

    /// What the audit records of the files `org`'s sandboxes sent say of each (`SendFile`
    /// accepted: name, recipient, size, TRACS kind and release).
    pub async fn sent(&self, org: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT detail FROM audit_log WHERE mailbox IN ({MAILBOXES})
                AND action = 'SendFile' AND outcome = 'ok' ORDER BY seq"
        ))
        .bind(org)
        .fetch_all(self.pool)
        .await?)
    }

    /// The file names of the simulated TRACS's answers to `org`'s sandboxes, with whether
    /// each was fetched.
    pub async fn answers(&self, org: i64) -> Result<Vec<(String, bool)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT m.file_name, CASE WHEN m.retrieved_at IS NULL THEN 0 ELSE 1 END
               FROM messages m JOIN mailboxes t ON t.id = m.to_mailbox
               JOIN mailboxes f ON f.id = m.from_mailbox
              WHERE t.organization_id = $1 AND t.kind = 'sandbox' AND f.imax_id = $2
              ORDER BY m.received_at, m.id",
        )
        .bind(org)
        .bind(SANDBOX_TRACS)
        .fetch_all(self.pool)
        .await?;
        Ok(rows.into_iter().map(|(n, r)| (n, r == 1)).collect())
    }
}
