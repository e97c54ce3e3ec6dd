//! A request's context in as few statements as it can be read.
//!
//! * The caller's ([`Store::caller_context`]): a system-to-system call names an M-ID, a
//!   mailbox and comes from a client address, and the gateway needs the account with its
//!   rights, the mailbox, and the client's throttle count before anything else. One round trip
//!   instead of three on every call (`gateway::Gateway::authorize_mailbox`).
//! * A TRACS file's ([`Store::file_context`]): once the body has arrived, routing needs the
//!   mailbox the header's project names with its contracts' administrators, and the duplicate
//!   check needs the earlier transmission this one would repeat. One round trip instead of two
//!   on every file a property sends (`gateway::send`).

use super::accounts::{account_from_rows, ACCOUNT_COLUMNS, ACCOUNT_FROM, RIGHT_COLUMNS};
use super::columns::Columns;
use super::mailboxes::{distinct_mailboxes, mailbox_from, prefixed_columns};
use super::messages::Duplicate;
use super::organizations::affiliated_sql;
use super::read_sessions::Kept;
use super::{Store, StoreError};
use crate::clock::{from_epoch, to_epoch};
use crate::directory::{Account, AllowListOf, AllowedNetworks, ImaxId, MId, Mailbox, OrgId};
use rusqlite::types::Value;
use std::sync::{Arc, LazyLock, OnceLock};
use tokio::sync::{mpsc, oneshot, Semaphore};

#[cfg(test)]
mod plans;

/// What one statement read for a call.
#[derive(Debug, Clone)]
pub struct CallerContext {
    pub account: Option<Account>,
    /// The client's failed attempts and the start of their window, if it has any.
    pub throttle: Option<(i64, i64)>,
    /// `None` when the account does not exist (then nothing else was read).
    pub mailbox: Option<Option<Mailbox>>,
    /// The allow-lists that bear on the call (issue 30), those that are not empty: the
    /// organization the person works for, the mailbox, and the mailbox's organization.
    pub allow_lists: Vec<(AllowListOf, AllowedNetworks)>,
    /// R6: whether `mailbox` opens to the account by affiliation, read with both by the
    /// condition the browser door asks apart (`organizations::affiliated_sql`), so that the
    /// call needs no statement of its own for it. False when there is no such mailbox.
    pub affiliated: bool,
}

impl Store {
    /// The account `mid` (with its rights), the count under `client_key`, and the mailbox
    /// `imax_id`, in one statement. An unknown M-ID reads nothing else: its call is refused
    /// before the mailbox matters. Concurrent callers share a statement ([`CallerReads`]).
    pub async fn caller_context(
        &self,
        mid: &MId,
        client_key: Option<&str>,
        imax_id: Option<&ImaxId>,
    ) -> Result<CallerContext, StoreError> {
        // On SQLite the read is made here and now: with no trip to a connection's thread to
        // share, a batch would only add the trips to and from the batching task.
        if let Some(direct) = self.reads.direct() {
            let params = caller_params(mid.as_str(), client_key, imax_id.map(ImaxId::as_str));
            if let Ok(rows) = direct.rows(callers_sql(1), &params) {
                let mut contexts = contexts_from(&rows, &[client_key.is_some()])?;
                return Ok(contexts.pop().unwrap_or_else(CallerContext::nobody));
            }
        }
        let (reply, answer) = oneshot::channel();
        let asked = Asked {
            mid: mid.as_str().to_string(),
            client_key: client_key.map(str::to_string),
            imax_id: imax_id.map(|i| i.as_str().to_string()),
            reply,
        };
        if self.callers.tx.send(asked).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

/// Callers asked about in one statement at most.
const MAX_CALLERS_PER_READ: usize = 32;

/// Statements of [`CallerReads`] under way at once. One: callers arriving while it runs share
/// the next, so the database starts one statement for several of them (its executor's start-up
/// of the statement's plan is most of what a read costs it). With four at once nearly every
/// caller had a statement of its own (1.2 callers a statement at 2,000 calls/s); with one,
/// PostgreSQL spent 659–707 µs a SendFile instead of 845–1,046 and the gateway served 20 % more
/// (`docs/performance.md`, stop 40). A caller waits at most for the statement under way.
const READS_IN_FLIGHT: usize = 1;

/// One caller's context, asked for.
struct Asked {
    mid: String,
    client_key: Option<String>,
    imax_id: Option<String>,
    reply: oneshot::Sender<Result<CallerContext, StoreError>>,
}

/// Reads callers' contexts for many concurrent requests in one statement, as the committer
/// writes their effects in one transaction: every system-to-system call starts with this read,
/// and under load a statement per call is most of what the database does for it (on
/// PostgreSQL, a round trip, a bind and an executor start each; on SQLite, a trip to the
/// connection's thread and back). A task takes whatever callers are waiting, up to
/// [`MAX_CALLERS_PER_READ`], and answers them with one statement, with up to
/// [`READS_IN_FLIGHT`] statements under way; a caller alone is read at once, as before. On
/// SQLite callers are read on their own thread (`store::direct`) and come here only when that
/// failed.
#[derive(Debug, Clone)]
pub(super) struct CallerReads {
    tx: mpsc::Sender<Asked>,
}

impl CallerReads {
    pub(super) fn start(sessions: Arc<Kept>) -> CallerReads {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(serve_reads(sessions, rx));
        CallerReads { tx }
    }
}

async fn serve_reads(sessions: Arc<Kept>, mut rx: mpsc::Receiver<Asked>) {
    let slots = Arc::new(Semaphore::new(READS_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Callers arriving while every slot is busy wait here, and share the next statement.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_CALLERS_PER_READ {
            match rx.try_recv() {
                Ok(asked) => batch.push(asked),
                Err(_) => break,
            }
        }
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let _slot = slot;
            answer(&sessions, batch).await;
        });
    }
}

/// Answers every caller of `batch`; if the shared statement fails, each is read on its own, all
/// at once (so a database that is down costs each caller two waits, not one per caller before
/// it), and each gets its own answer.
async fn answer(sessions: &Kept, batch: Vec<Asked>) {
    metrics::histogram!("imax_caller_read_batch_size").record(batch.len() as f64);
    let read = read_callers(sessions, &batch).await;
    match read {
        Ok(contexts) => {
            for (asked, context) in batch.into_iter().zip(contexts) {
                let _ = asked.reply.send(Ok(context));
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(asked) = batch.into_iter().next() {
                let _ = asked.reply.send(Err(e));
            }
        }
        Err(_) => {
            let alone = batch.into_iter().map(|asked| async move {
                let one = read_callers(sessions, std::slice::from_ref(&asked)).await;
                let _ = asked
                    .reply
                    .send(one.map(|mut c| c.pop().unwrap_or_else(CallerContext::nobody)));
            });
            futures_util::future::join_all(alone).await;
        }
    }
}

impl CallerContext {
    /// No such account (then nothing else was read).
    fn nobody() -> CallerContext {
        CallerContext {
            account: None,
            throttle: None,
            mailbox: None,
            allow_lists: Vec::new(),
            affiliated: false,
        }
    }
}

/// The statement reading `n` callers' contexts (1 ≤ n ≤ [`MAX_CALLERS_PER_READ`]), made once
/// per size: its text does not change, and building it was a visible part of every call.
fn callers_sql(n: usize) -> &'static str {
    static SQL: [OnceLock<String>; MAX_CALLERS_PER_READ] =
        [const { OnceLock::new() }; MAX_CALLERS_PER_READ];
    SQL[n.clamp(1, MAX_CALLERS_PER_READ) - 1].get_or_init(|| {
        let mailbox_columns = prefixed_columns("m", "mb_");
        // One row of parameters per caller (not `VALUES`, whose columns SQLite cannot name).
        let asked = (0..n)
            .map(|n| {
                let k = n * 3;
                format!(
                    "SELECT ${} AS mid, ${} AS client, ${} AS imax, {n} AS n",
                    k + 1,
                    k + 2,
                    k + 3
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let affiliated = affiliated_sql("a.id", "m");
        // One caller's rows need no order: sorting them was a tenth of the statement on SQLite.
        let order = if n > 1 { "ORDER BY q.n" } else { "" };
        format!(
            "SELECT CAST(q.n AS BIGINT) AS q_n, {ACCOUNT_COLUMNS}, {RIGHT_COLUMNS},
                t.failures AS throttle_failures, t.window_start AS throttle_window_start,
                {mailbox_columns},
                ao.org_id AS al_person_org, ao.allowed_networks AS al_person_nets,
                m.allowed_networks AS al_mailbox_nets,
                mo.org_id AS al_mailbox_org, mo.allowed_networks AS al_mailbox_org_nets,
                CASE WHEN m.id IS NULL THEN 0 ELSE {affiliated} END AS r6_affiliated
           {ACCOUNT_FROM}
           JOIN ({asked}) q ON q.mid = a.mid
           LEFT JOIN auth_throttle t ON t.client_addr = q.client
           LEFT JOIN mailboxes m ON m.imax_id = q.imax
           LEFT JOIN organizations ao ON ao.id = a.organization_id
           LEFT JOIN organizations mo ON mo.id = m.organization_id
          {order}"
        )
    })
}

/// The contexts of `batch`, in its order, in one statement.
async fn read_callers(sessions: &Kept, batch: &[Asked]) -> Result<Vec<CallerContext>, StoreError> {
    let sql = callers_sql(batch.len());
    // No direct read here: on SQLite a caller reaches this task only when its direct read
    // (`Store::caller_context`) failed, so it is made through a session.
    let throttles: Vec<bool> = batch.iter().map(|a| a.client_key.is_some()).collect();
    // A read: once more on a fresh session if this one broke (`reconnect`).
    let rows = super::reconnect::once_more("read", || async move {
        let mut query = sqlx::query(sql);
        for a in batch {
            // A key no client has: the throttle is not asked about a call without an address.
            query = query
                .bind(a.mid.as_str())
                .bind(a.client_key.as_deref().unwrap_or(""))
                .bind(a.imax_id.as_deref().unwrap_or(""));
        }
        let mut session = sessions.lend().await?;
        let rows = query.fetch_all(&mut *session).await?;
        session.done();
        Ok::<_, sqlx::Error>(rows)
    })
    .await?;
    contexts_from(&rows, &throttles)
}

/// One caller's parameters of [`callers_sql`] as a direct read binds them; a key no client
/// has when the call has no address (the throttle is not asked about it).
fn caller_params(mid: &str, client_key: Option<&str>, imax_id: Option<&str>) -> [Value; 3] {
    [mid, client_key.unwrap_or(""), imax_id.unwrap_or("")].map(|t| Value::Text(t.to_string()))
}

/// The contexts of the callers read by [`callers_sql`], in their order, from its rows;
/// `throttles[n]`: whether the n-th caller's throttle count was asked for.
fn contexts_from<R: Columns>(
    rows: &[R],
    throttles: &[bool],
) -> Result<Vec<CallerContext>, StoreError> {
    let mut contexts = Vec::with_capacity(throttles.len());
    let mut rest = rows;
    for (n, asked_throttle) in throttles.iter().enumerate() {
        let mut mine = 0;
        while mine < rest.len() && rest[mine].int("q_n")? == n as i64 {
            mine += 1;
        }
        let (rows, after) = rest.split_at(mine);
        rest = after;
        contexts.push(context_from(rows, *asked_throttle)?);
    }
    Ok(contexts)
}

/// One caller's context from its rows (none: no such account).
fn context_from<R: Columns>(rows: &[R], asked_throttle: bool) -> Result<CallerContext, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(CallerContext::nobody());
    };
    let throttle = match (
        first.opt_int("throttle_failures")?,
        first.opt_int("throttle_window_start")?,
    ) {
        (Some(n), Some(start)) if asked_throttle => Some((n, start)),
        _ => None,
    };
    let mailbox = match first.opt_int("mb_id")? {
        Some(_) => Some(mailbox_from(first, "mb_")?),
        None => None,
    };
    let allow_lists = allow_lists_from(first, mailbox.as_ref())?;
    let affiliated = first.int("r6_affiliated")? == 1;
    Ok(CallerContext {
        account: account_from_rows(rows)?,
        throttle,
        mailbox: Some(mailbox),
        allow_lists,
        affiliated,
    })
}

/// The non-empty allow-lists of a caller's row (issue 30), each organization once.
fn allow_lists_from<R: Columns>(
    row: &R,
    mailbox: Option<&Mailbox>,
) -> Result<Vec<(AllowListOf, AllowedNetworks)>, StoreError> {
    let mut lists = Vec::new();
    let text = |c: &str| row.opt_text(c).map(Option::unwrap_or_default);
    for (org, nets) in [
        ("al_person_org", "al_person_nets"),
        ("al_mailbox_org", "al_mailbox_org_nets"),
    ] {
        let (org, nets) = (text(org)?, text(nets)?);
        if let (Some(org), false) = (OrgId::parse(&org), nets.is_empty()) {
            let whose = AllowListOf::Organization(org);
            if !lists.iter().any(|(w, _)| *w == whose) {
                lists.push((whose, AllowedNetworks::from_stored(&nets)));
            }
        }
    }
    let nets = text("al_mailbox_nets")?;
    if let (Some(m), false) = (mailbox, nets.is_empty()) {
        lists.push((
            AllowListOf::Mailbox(m.imax_id.clone()),
            AllowedNetworks::from_stored(&nets),
        ));
    }
    Ok(lists)
}

/// What [`Store::file_context`] looks for besides the project: a transmission this one
/// repeats.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateQuery<'a> {
    /// The TRACS transmission key (Sender's iMAX ID, date and time stamps).
    pub key: Option<&'a str>,
    /// The sending mailbox, for the same-content check.
    pub from: i64,
    pub sha256: &'a str,
    /// The start of the same-content window (`None`: no such check).
    pub since: Option<time::OffsetDateTime>,
}

/// The mailbox a TRACS header's Project's iMAX ID names, the administrators of its
/// contracts, and the transmission this file repeats, as far as one statement can tell.
#[derive(Debug, Clone)]
pub struct FileContext {
    pub project: Mailbox,
    /// Each once, by id.
    pub administrators: Vec<Mailbox>,
    /// The newest earlier transmission with the same key, or else with the same content from
    /// the sender to one of `administrators` (with the recipient it went to).
    duplicate: Option<(Duplicate, i64)>,
}

impl FileContext {
    /// The transmission a file sent to `to` repeats, if this context can tell: it can when
    /// `to` is one of the project's administrators (where a property's files go). `None`:
    /// ask [`Messages::find_duplicate`](super::messages::Messages::find_duplicate).
    pub fn duplicate_for(&self, to: i64) -> Option<Option<Duplicate>> {
        if !self.administrators.iter().any(|a| a.id == to) {
            return None;
        }
        match &self.duplicate {
            None => Some(None),
            Some((d @ Duplicate::SameKey { .. }, _)) => Some(Some(d.clone())),
            Some((d @ Duplicate::SameContent { .. }, went_to)) if *went_to == to => {
                Some(Some(d.clone()))
            }
            // The newest same content went to another administrator; an older one may have
            // gone to `to`.
            Some(_) => None,
        }
    }
}

/// [`Store::file_context`]'s statement: `$1` the project's iMAX ID, `$2` the TRACS key, `$3` the
/// sender's mailbox, `$4` the digest, `$5` the start of the same-content window.
static FILE_CONTEXT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, d.why AS d_why, d.message_id AS d_message_id,
                    d.received_at AS d_received_at, d.to_mailbox AS d_to
               FROM mailboxes p
               LEFT JOIN properties pr ON pr.mailbox_id = p.id
               LEFT JOIN contracts c ON c.property_id = pr.id
               LEFT JOIN mailboxes a ON a.id = c.administrator_mailbox
               LEFT JOIN (
                 SELECT why, message_id, received_at, to_mailbox FROM (
                   SELECT 2 AS why, message_id, received_at, to_mailbox FROM messages
                    WHERE tracs_key = $2 AND resend = 0
                   UNION ALL
                   SELECT 1 AS why, m.message_id, m.received_at, m.to_mailbox FROM messages m
                    WHERE $5 IS NOT NULL AND m.from_mailbox = $3 AND m.sha256 = $4
                      AND +m.received_at >= $5
                      AND +m.to_mailbox IN (
                        SELECT c2.administrator_mailbox FROM mailboxes p2
                          JOIN properties pr2 ON pr2.mailbox_id = p2.id
                          JOIN contracts c2 ON c2.property_id = pr2.id
                         WHERE p2.imax_id = $1)
                 ) x ORDER BY why DESC, received_at DESC LIMIT 1
               ) d ON 1 = 1
              WHERE p.imax_id = $1 ORDER BY a.id",
        prefixed_columns("p", "p_"),
        prefixed_columns("a", "a_")
    )
});

impl Store {
    /// The mailbox `project` with the administrators of its contracts, and the transmission
    /// `dup` describes, in one statement; `None` if there is no such mailbox. The same-content
    /// look-up is an equality on the sender and the digest, the head of the
    /// `messages_same_content` index (migration 16), whatever the sender's history.
    ///
    /// Only those two equalities may choose the index: the recipient and the time are written
    /// `+m.to_mailbox` and `+m.received_at` (a unary plus leaves a value alone and only stops
    /// an index from matching it), so the rows read are this sender's copies of this content
    /// and no more, on either engine. Left bare, each engine found a worse way in:
    /// PostgreSQL, on some pooled sessions, through `messages_to` (every message the
    /// administrator received in the window: a generic plan made while the table had no
    /// statistics, 330 pages read instead of 13, 3.4 ms instead of 0.06 ms and growing with the
    /// table); SQLite, once the recipient alone was wrapped, through `messages_from` (every
    /// message the sender sent in the window).
    pub async fn file_context(
        &self,
        project: &ImaxId,
        dup: DuplicateQuery<'_>,
    ) -> Result<Option<FileContext>, StoreError> {
        let sql = FILE_CONTEXT_SQL.as_str();
        if let Some(direct) = self.reads.direct() {
            let params = [
                Value::Text(project.as_str().to_string()),
                dup.key.map_or(Value::Null, |k| Value::Text(k.to_string())),
                Value::Integer(dup.from),
                Value::Text(dup.sha256.to_string()),
                dup.since
                    .map_or(Value::Null, |t| Value::Integer(to_epoch(t))),
            ];
            if let Ok(rows) = direct.rows(sql, &params) {
                return file_context_from(&rows);
            }
        }
        let rows = super::reconnect::once_more("read", || async move {
            let query = sqlx::query(sql)
                .bind(project.as_str())
                .bind(dup.key)
                .bind(dup.from)
                .bind(dup.sha256)
                .bind(dup.since.map(to_epoch));
            let mut session = self.reads.lend().await?;
            let rows = query.fetch_all(&mut *session).await?;
            session.done();
            Ok::<_, sqlx::Error>(rows)
        })
        .await?;
        file_context_from(&rows)
    }
}

/// A file's context from the rows of [`Store::file_context`]'s statement.
fn file_context_from<R: Columns>(rows: &[R]) -> Result<Option<FileContext>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let administrators = distinct_mailboxes(rows, "a_")?;
    let duplicate = match first.opt_int("d_why")? {
        None => None,
        Some(why) => {
            let id = first.text("d_message_id")?;
            let at = from_epoch(first.int("d_received_at")?);
            let to = first.int("d_to")?;
            let d = if why == 2 {
                Duplicate::SameKey { id, at }
            } else {
                Duplicate::SameContent { id, at }
            };
            Some((d, to))
        }
    };
    Ok(Some(FileContext {
        project: mailbox_from(first, "p_")?,
        administrators,
        duplicate,
    }))
}
