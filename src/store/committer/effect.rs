//! The writes a request may ask the committer for ([`Effect`]), and how each is applied.

use crate::audit::AuditEntry;
use crate::clock::to_epoch;
use crate::directory::MessageId;
use sqlx::AnyConnection;
use time::OffsetDateTime;

/// A message row, written after its body is sealed.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message_id: MessageId,
    pub from_mailbox: i64,
    pub to_mailbox: i64,
    pub sent_by: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub body_key: String,
    /// The body is listed as an upload in progress, which this row's transaction ends
    /// (database bodies; see `bodies::chunks`).
    pub claim_upload: bool,
    /// A small body written by this row's transaction (database bodies up to
    /// `bodies::INLINE` bytes).
    pub inline_body: Option<Vec<u8>>,
    pub received_at: OffsetDateTime,
    /// The TRACS transmission key (sender | date stamp | time stamp), for TRACS files.
    pub tracs_key: Option<String>,
    /// How the recipient was chosen (stored as its name: `sender`, `directory`, …).
    pub routed_by: crate::mailbox::RoutedBy,
    /// Marked by the sender as a deliberate resend (not a duplicate).
    pub resend: bool,
    /// Accepted although the recipient disagrees with the directory (when the operator
    /// chose to accept and mark such files).
    pub misrouted: bool,
    /// The message this one answers (its public message id).
    pub in_reply_to: Option<MessageId>,
    /// Whether it repeats an earlier transmission is asked by its commit, not before it
    /// (`committer::repeats`; a file whose context the node remembered, `Store::file_context`).
    pub repeat_check: Option<RepeatCheck>,
}

/// What the commit asks of a new message before writing it: an earlier message with its TRACS
/// key (not a resend), or else, when `since` is given, with its content from its sender to its
/// recipient since then ([`Messages::find_duplicate`](crate::store::messages::Messages::find_duplicate)'s
/// rule and statement). Found, the message is not written and its job is answered
/// [`CommitError::Repeats`](super::CommitError::Repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatCheck {
    /// The start of the same-content window (`None`: the key only).
    pub since: Option<OffsetDateTime>,
}

/// A write a request asks for.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Boxed: a message row is far larger than any other effect.
    InsertMessage(Box<NewMessage>),
    /// First retrieval by the recipient (later fetches keep the first time).
    MarkRetrieved {
        message: i64,
        at: OffsetDateTime,
    },
    MarkAcked {
        message: i64,
        at: OffsetDateTime,
    },
    /// R13: the M-ID used iMAX at `at` (a successful sign-in, too).
    RecordActivity {
        account: i64,
        at: OffsetDateTime,
    },
    /// A browser sign-in (R10, R16): the M-ID was used, though iMAX not yet (R13).
    RecordSignIn {
        account: i64,
        at: OffsetDateTime,
    },
    /// A wrong password that was the last one allowed on its side (R14's smart lockout):
    /// from a familiar address it locks the M-ID (if active, or its last failure lock has
    /// run out) until `until`; from a stranger's, it locks strangers' addresses only. The
    /// attempt itself was counted before the password was checked. Neither moves the
    /// account's `auth_epoch`: nobody's open session ends for someone else's failures.
    LockForFailures {
        account: i64,
        side: crate::store::accounts::Side,
        at: OffsetDateTime,
        until: OffsetDateTime,
    },
    /// A TRACSMail ID was opened or used at `at` (its inactivity counts from here).
    RecordMailboxUse {
        mailbox: i64,
        at: OffsetDateTime,
    },
    /// A wrong TRACSMail password that was `account`'s last one allowed at `mailbox`:
    /// freezes the mailbox for that M-ID until `until`, and, with `everyone`, for every M-ID
    /// that has not opened it within 90 days (several M-IDs' freezes at once). No session on
    /// the mailbox ends (its `auth_epoch` stays).
    FreezeMailbox {
        mailbox: i64,
        account: i64,
        at: OffsetDateTime,
        until: OffsetDateTime,
        everyone: bool,
    },
    /// The access decision found that time has locked or terminated the account.
    SetStatus {
        account: i64,
        status: crate::directory::AccountStatus,
    },
}

/// `job`'s effects, in its transaction; `seq`: the sequence number its audit record will be
/// written as.
pub(super) async fn apply_effects(
    conn: &mut AnyConnection,
    job: &super::Job,
    seq: i64,
) -> Result<(), sqlx::Error> {
    for effect in &job.effects {
        apply_effect(conn, effect, (&job.audit, seq)).await?;
    }
    Ok(())
}

/// One effect, in the job's transaction; `record`: the job's audit record and the sequence
/// number it will be written as (a new message notes its receipt's, `rows::receipt_record`).
pub(super) async fn apply_effect(
    conn: &mut AnyConnection,
    effect: &Effect,
    record: (&AuditEntry, i64),
) -> Result<(), sqlx::Error> {
    match effect {
        Effect::InsertMessage(m) => {
            let receipt = super::rows::receipt_record(m, record.0, record.1);
            super::rows::write_messages(conn, &[(&**m, receipt)]).await
        }
        // A retrieval, an acknowledgement, a use: the text a batch in one trip writes too.
        Effect::MarkRetrieved { .. }
        | Effect::MarkAcked { .. }
        | Effect::RecordActivity { .. }
        | Effect::RecordSignIn { .. }
        | Effect::RecordMailboxUse { .. } => super::updates::apply(conn, effect).await,
        Effect::LockForFailures {
            account,
            side,
            at,
            until,
        } => lock_for_failures(conn, *account, *side, *at, *until).await,
        Effect::FreezeMailbox {
            mailbox,
            account,
            at,
            until,
            everyone,
        } => freeze_mailbox(conn, *mailbox, *account, (*at, *until), *everyone).await,
        Effect::SetStatus { account, status } => set_status(conn, *account, *status).await,
    }
}

/// The run of failures starts again when the lock ends; attempts during it are not counted
/// (`accounts::claim_attempt`).
async fn lock_for_failures(
    conn: &mut AnyConnection,
    account: i64,
    side: crate::store::accounts::Side,
    at: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let sql = match side {
        crate::store::accounts::Side::Familiar => {
            "UPDATE accounts SET status = 'locked', lock_reason = 'failed_signins',
                locked_until = $2, failed_signins = 0, failure_locks = failure_locks + 1
             WHERE id = $1 AND (status = 'active' OR (status = 'locked'
                AND lock_reason = 'failed_signins' AND locked_until <= $3))"
        }
        crate::store::accounts::Side::Stranger => {
            "UPDATE accounts SET stranger_locked_until = $2, stranger_failures = 0,
                stranger_locks = stranger_locks + 1
             WHERE id = $1 AND (stranger_locked_until IS NULL OR stranger_locked_until <= $3)"
        }
    };
    sqlx::query(sql)
        .bind(account)
        .bind(to_epoch(until))
        .bind(to_epoch(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The run of failures starts again when the freeze ends; attempts during it are not counted
/// (`mailboxes::claim_attempt`). `(at, until)`: when, and until when.
async fn freeze_mailbox(
    conn: &mut AnyConnection,
    mailbox: i64,
    account: i64,
    (at, until): (OffsetDateTime, OffsetDateTime),
    everyone: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mailbox_attempts SET frozen_until = $3, failed = 0
         WHERE mailbox_id = $1 AND account_id = $2
           AND (frozen_until IS NULL OR frozen_until <= $4)",
    )
    .bind(mailbox)
    .bind(account)
    .bind(to_epoch(until))
    .bind(to_epoch(at))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE mailboxes SET mid_frozen_until = $2,
            frozen_until = CASE WHEN $3 = 1 AND (frozen_until IS NULL OR frozen_until <= $4)
                THEN $2 ELSE frozen_until END
         WHERE id = $1",
    )
    .bind(mailbox)
    .bind(to_epoch(until))
    .bind(i64::from(everyone))
    .bind(to_epoch(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applied once: a node that finds the transition already made by another (both saw the same
/// stale state) changes nothing.
async fn set_status(
    conn: &mut AnyConnection,
    account: i64,
    status: crate::directory::AccountStatus,
) -> Result<(), sqlx::Error> {
    let (status, lock_reason) = status.to_columns();
    sqlx::query("UPDATE accounts SET status = $1, lock_reason = $2, auth_epoch = auth_epoch + 1 WHERE id = $3 AND status <> $1")
        .bind(status)
        .bind(lock_reason)
        .bind(account)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
