//! R14's smart lockout in the store: sign-in attempts counted per side (familiar addresses or
//! strangers') before their password is checked, given back when unchecked, forgiven by a
//! right one, and the addresses an M-ID signed in from lately.

use super::{Accounts, StoreError};
use crate::clock::to_epoch;
use time::OffsetDateTime;

impl Accounts<'_> {
    /// Whether `client` (an address, or an IPv6 prefix: `Throttle::client_key`) is familiar to
    /// `account`: it signed in successfully from there since `since` (smart lockout, R14).
    pub async fn is_familiar(
        &self,
        account: i64,
        client: &str,
        since: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM account_clients WHERE account_id = $1 AND client = $2
               AND signed_in_at >= $3",
        )
        .bind(account)
        .bind(client)
        .bind(to_epoch(since))
        .fetch_one(self.pool)
        .await?;
        Ok(n > 0)
    }
    /// Counts an attempt to sign in as `account` before its password is checked, so that
    /// parallel guesses are counted too, on the side the attempt comes from (`Side`: familiar
    /// addresses, or strangers'); returns the attempt's place in that side's current run of
    /// failures. While that side is locked nothing is counted: its run starts again from
    /// nothing when the lock ends.
    pub async fn claim_attempt(
        &self,
        account: i64,
        side: Side,
        now: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let sql = match side {
            Side::Familiar => {
                "UPDATE accounts SET failed_signins = CASE
                    WHEN status = 'locked' AND lock_reason = 'failed_signins'
                         AND (locked_until IS NULL OR locked_until > $2) THEN failed_signins
                    ELSE failed_signins + 1 END
                 WHERE id = $1 RETURNING failed_signins"
            }
            Side::Stranger => {
                "UPDATE accounts SET stranger_failures = CASE
                    WHEN stranger_locked_until > $2 THEN stranger_failures
                    ELSE stranger_failures + 1 END
                 WHERE id = $1 RETURNING stranger_failures"
            }
        };
        let n: i64 = sqlx::query_scalar(sql)
            .bind(account)
            .bind(to_epoch(now))
            .fetch_one(self.pool)
            .await?;
        Ok(n.try_into().unwrap_or(u32::MAX))
    }
    /// Gives back `n` counted attempts on `side`: an attempt the gateway could not check
    /// (`n` = 1) was no failure.
    pub async fn forgive_attempts(
        &self,
        account: i64,
        side: Side,
        n: u32,
    ) -> Result<(), StoreError> {
        let column = side.failures_column();
        let sql = format!(
            "UPDATE accounts SET {column} = CASE WHEN {column} > $2 THEN {column} - $2 ELSE 0 END
             WHERE id = $1"
        );
        sqlx::query(&sql)
            .bind(account)
            .bind(i64::from(n))
            .execute(self.pool)
            .await?;
        Ok(())
    }
    /// The right password for attempt `n` on `side`, from `client`, and the M-ID may sign in:
    /// the run of failures up to it is forgiven (later attempts, still being checked, stay
    /// counted), the side's locks in a row start again (R14's growing lock), a failure lock
    /// whose time has run out is lifted, and `client` becomes (or stays) familiar.
    ///
    /// The locks and the status are written only when one of them changes: they are marked
    /// (migration 31), and while strangers' addresses are locked out every call of the M-ID's
    /// own is checked in full, so writing them anyway would let a stranger's lock make every
    /// node read every caller's context again at each of those calls.
    pub async fn signed_in_from(
        &self,
        account: i64,
        side: Side,
        n: u32,
        client: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let column = side.failures_column();
        let locks = side.locks_column();
        let forgive = format!(
            "UPDATE accounts SET {column} = CASE WHEN {column} > $2 THEN {column} - $2 ELSE 0 END
             WHERE id = $1 AND {column} > 0"
        );
        sqlx::query(&forgive)
            .bind(account)
            .bind(i64::from(n))
            .execute(self.pool)
            .await?;
        let lifted = "status = 'locked' AND lock_reason = 'failed_signins' AND locked_until <= $2";
        let start_again = format!(
            "UPDATE accounts SET {locks} = 0,
                status = CASE WHEN {lifted} THEN 'active' ELSE status END,
                lock_reason = CASE WHEN {lifted} THEN NULL ELSE lock_reason END
             WHERE id = $1 AND ({locks} <> 0 OR {lifted})"
        );
        sqlx::query(&start_again)
            .bind(account)
            .bind(to_epoch(now))
            .execute(self.pool)
            .await?;
        if let Some(client) = client {
            sqlx::query(
                "INSERT INTO account_clients (account_id, client, signed_in_at) VALUES ($1, $2, $3)
                 ON CONFLICT (account_id, client) DO UPDATE SET signed_in_at = excluded.signed_in_at",
            )
            .bind(account)
            .bind(client)
            .bind(to_epoch(now))
            .execute(self.pool)
            .await?;
        }
        Ok(())
    }
    /// Forgets familiar addresses not signed in from since `before` (housekeeping: only the
    /// last 90 days count).
    pub async fn forget_old_clients(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM account_clients WHERE signed_in_at < $1")
            .bind(to_epoch(before))
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Where a sign-in attempt comes from, for the smart lockout (R14): an address from which
/// the M-ID signed in successfully within 90 days, or a stranger's. Each side counts its own
/// failures and has its own timed lock; a stranger's failures never lock the familiar side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Familiar,
    Stranger,
}

impl Side {
    fn failures_column(self) -> &'static str {
        match self {
            Side::Familiar => "failed_signins",
            Side::Stranger => "stranger_failures",
        }
    }
    fn locks_column(self) -> &'static str {
        match self {
            Side::Familiar => "failure_locks",
            Side::Stranger => "stranger_locks",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Familiar => "familiar",
            Side::Stranger => "stranger",
        }
    }
}
