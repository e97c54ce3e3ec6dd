//! Mails of notices composed, and recorded, before their first try (issue 30, item 1: a crash
//! neither loses nor doubles a mail). A sender that dies after the relay took a mail but
//! before it settled the notices leaves them leased; once the lease runs out, a sender (this
//! node or another) finds them composed and sends that very mail again: the same Message-ID,
//! Date, recipient and text, which mail software drops as a duplicate. Notices that arrive
//! meanwhile are not added to it: they go into the next mail.

use super::{NoticeKind, Notices};
use crate::clock::{from_epoch, to_epoch};
use crate::store::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

/// A mail as composed before its first try; every try sends it as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedMail {
    /// The Message-ID header's value, without its angle brackets.
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Its Date header.
    pub composed_at: OffsetDateTime,
}

impl Notices<'_> {
    /// Records `mail` as the one that tells `account` of `owner`'s notices `ids` (of `kind`),
    /// before it is first sent: the mail's id, or none (nothing recorded) when `owner` no
    /// longer holds all of them uncomposed.
    pub async fn compose(
        &self,
        owner: &str,
        account: i64,
        kind: NoticeKind,
        ids: &[i64],
        mail: &ComposedMail,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mail_id: i64 = sqlx::query_scalar(
            "INSERT INTO notice_mails (account_id, kind, message_id, recipient, subject, body,
                                       composed_at, notices)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(&mail.message_id)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.body)
        .bind(to_epoch(mail.composed_at))
        .bind(i64::try_from(ids.len()).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await?;
        let list = crate::store::placeholders_at(3, ids.len(), 1, |p| p[0].clone());
        let sql = format!(
            "UPDATE notices SET mail_id = $1
              WHERE lease_owner = $2 AND mail_id IS NULL AND done_at IS NULL AND id IN ({list})"
        );
        let mut q = sqlx::query(&sql).bind(mail_id).bind(owner);
        for id in ids {
            q = q.bind(*id);
        }
        if q.execute(&mut *tx).await?.rows_affected() != ids.len() as u64 {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(mail_id))
    }

    /// The mail `mail_id` as composed, and how many notices it tells of.
    pub async fn composed(
        &self,
        mail_id: i64,
    ) -> Result<Option<(ComposedMail, usize)>, StoreError> {
        let row = sqlx::query(
            "SELECT message_id, recipient, subject, body, composed_at, notices
               FROM notice_mails WHERE id = $1",
        )
        .bind(mail_id)
        .fetch_optional(self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let mail = ComposedMail {
            message_id: r.try_get("message_id")?,
            recipient: r.try_get("recipient")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
            composed_at: from_epoch(r.try_get("composed_at")?),
        };
        let n = usize::try_from(r.try_get::<i64, _>("notices")?).unwrap_or(0);
        Ok(Some((mail, n)))
    }

    /// The composed mail `mail_id` will not be sent as it is (a notice in it was withdrawn,
    /// R6): `owner`'s other notices of it go back to the queue, to be composed anew.
    pub async fn recompose(&self, owner: &str, mail_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notices SET mail_id = NULL, lease_owner = NULL, lease_until = NULL
              WHERE lease_owner = $1 AND mail_id = $2 AND done_at IS NULL",
        )
        .bind(owner)
        .bind(mail_id)
        .execute(self.pool)
        .await?;
        Ok(())
    }

    /// Part of the claim: the free notices of every mail `owner` now holds part of (a claim's
    /// limit may fall inside a mail), so that a mail's notices go together.
    pub(super) async fn claim_whole_mails(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notices SET lease_owner = $1, lease_until = $2
              WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until <= $3)
                AND mail_id IN (SELECT h.mail_id FROM notices h
                                 WHERE h.lease_owner = $1 AND h.done_at IS NULL
                                   AND h.mail_id IS NOT NULL)",
        )
        .bind(owner)
        .bind(to_epoch(lease_until))
        .bind(to_epoch(now))
        .execute(self.pool)
        .await?;
        Ok(())
    }
}
