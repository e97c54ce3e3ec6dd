//! Callers' reads, shared: concurrent calls' contexts (or only their directory marks) in one
//! statement.

use super::batch::MAX_PER_READ;
use super::CallerContext;
use crate::directory::{AllowListOf, AllowedNetworks, Mailbox, OrgId};
use crate::store::accounts::{account_from_rows, ACCOUNT_COLUMNS, ACCOUNT_FROM, RIGHT_COLUMNS};
use crate::store::columns::Columns;
use crate::store::mailboxes::{mailbox_from, prefixed_columns};
use crate::store::organizations::affiliated_sql;
use crate::store::read_sessions::Kept;
use crate::store::StoreError;
use futures_util::future::BoxFuture;
use rusqlite::types::Value;
use std::sync::OnceLock;

/// What is read for a caller: its whole context ([`callers_sql`]), or only the directory's
/// mark and the client's throttle count ([`marks_sql`]) when the node remembers the rest
/// (`remembered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Context,
    Mark,
}

/// The directory's mark (none: its row is missing, and nothing may be remembered) and the
/// client's failed attempts with the start of their window, if it has any.
#[derive(Debug)]
pub(super) struct Mark {
    pub mark: Option<i64>,
    pub throttle: Option<(i64, i64)>,
}

/// What a caller's read answers, each from its caller's rows of its statement.
pub(super) trait Reading: Sized + Send + 'static {
    const KIND: Kind;
    fn from_rows<R: Columns>(rows: &[R], asked_throttle: bool) -> Result<Self, StoreError>;
}

impl Reading for CallerContext {
    const KIND: Kind = Kind::Context;
    fn from_rows<R: Columns>(rows: &[R], asked_throttle: bool) -> Result<Self, StoreError> {
        context_from(rows, asked_throttle)
    }
}

impl Reading for Mark {
    const KIND: Kind = Kind::Mark;
    fn from_rows<R: Columns>(rows: &[R], asked_throttle: bool) -> Result<Self, StoreError> {
        let first = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        Ok(Mark {
            mark: first.opt_int("directory_mark")?,
            throttle: throttle_from(first, asked_throttle)?,
        })
    }
}

/// One caller's read, asked for.
pub(super) struct Asked {
    pub mid: String,
    pub client_key: Option<String>,
    pub imax_id: Option<String>,
}

impl CallerContext {
    /// No such account (then nothing else was read).
    pub(super) fn nobody() -> CallerContext {
        CallerContext {
            account: None,
            throttle: None,
            mailbox: None,
            allow_lists: Vec::new(),
            affiliated: false,
            mark: None,
        }
    }
}

/// The directory's mark, read in the statement that reads what it marks (one snapshot).
const MARK_COLUMN: &str = "(SELECT mark FROM directory_changes WHERE id = 1) AS directory_mark";

/// The statement reading `n` callers' contexts (1 ≤ n ≤ [`MAX_PER_READ`]), made once
/// per size: its text does not change, and building it was a visible part of every call.
pub(super) fn callers_sql(n: usize) -> &'static str {
    static SQL: [OnceLock<String>; MAX_PER_READ] = [const { OnceLock::new() }; MAX_PER_READ];
    SQL[n.clamp(1, MAX_PER_READ) - 1].get_or_init(|| {
        let mailbox_columns = prefixed_columns("m", "mb_");
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
                CASE WHEN m.id IS NULL THEN 0 ELSE {affiliated} END AS r6_affiliated,
                {MARK_COLUMN}
           {ACCOUNT_FROM}
           JOIN ({asked}) q ON q.mid = a.mid
           LEFT JOIN auth_throttle t ON t.client_addr = q.client
           LEFT JOIN mailboxes m ON m.imax_id = q.imax
           LEFT JOIN organizations ao ON ao.id = a.organization_id
           LEFT JOIN organizations mo ON mo.id = m.organization_id
          {order}",
            asked = asked_rows(n, &["mid", "client", "imax"])
        )
    })
}

/// The statement reading `n` callers' marks and throttle counts: one row each, in order.
pub(super) fn marks_sql(n: usize) -> &'static str {
    static SQL: [OnceLock<String>; MAX_PER_READ] = [const { OnceLock::new() }; MAX_PER_READ];
    SQL[n.clamp(1, MAX_PER_READ) - 1].get_or_init(|| {
        let order = if n > 1 { "ORDER BY q.n" } else { "" };
        format!(
            "SELECT CAST(q.n AS BIGINT) AS q_n, {MARK_COLUMN},
                t.failures AS throttle_failures, t.window_start AS throttle_window_start
           FROM ({asked}) q
           LEFT JOIN auth_throttle t ON t.client_addr = q.client
          {order}",
            asked = asked_rows(n, &["client"])
        )
    })
}

/// One row of parameters per caller, named `columns` and numbered `n` (not `VALUES`, whose
/// columns SQLite cannot name).
fn asked_rows(n: usize, columns: &[&str]) -> String {
    (0..n)
        .map(|row| {
            let named = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${} AS {c}", row * columns.len() + i + 1))
                .collect::<Vec<_>>()
                .join(", ");
            format!("SELECT {named}, {row} AS n")
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The statement reading `n` callers' `kind`.
pub(super) fn sql(kind: Kind, n: usize) -> &'static str {
    match kind {
        Kind::Context => callers_sql(n),
        Kind::Mark => marks_sql(n),
    }
}

/// The reads of `batch`, in its order, in one statement.
pub(super) fn read_batch<'a, T: Reading>(
    sessions: &'a Kept,
    batch: &'a [Asked],
) -> BoxFuture<'a, Result<Vec<T>, StoreError>> {
    Box::pin(async move {
        let sql = sql(T::KIND, batch.len());
        // No direct read here: on SQLite a caller reaches this task only when its direct read
        // (`Store::caller_context`) failed, so it is made through a session.
        // A read: once more on a fresh session if this one broke (`reconnect`).
        let rows = crate::store::reconnect::once_more("read", || async move {
            let mut query = sqlx::query(sql);
            for a in batch {
                let imax = a.imax_id.as_deref();
                for value in params(T::KIND, &a.mid, a.client_key.as_deref(), imax) {
                    query = query.bind(value);
                }
            }
            let mut session = sessions.lend().await?;
            let rows = query.fetch_all(&mut *session).await?;
            session.done();
            Ok::<_, sqlx::Error>(rows)
        })
        .await?;
        let throttles: Vec<bool> = batch.iter().map(|a| a.client_key.is_some()).collect();
        reads_from(&rows, &throttles)
    })
}

/// One caller's parameters of `kind`'s statement; a key no client has when the call has no
/// address (the throttle is not asked about it).
fn params(kind: Kind, mid: &str, client_key: Option<&str>, imax_id: Option<&str>) -> Vec<String> {
    let client = client_key.unwrap_or("").to_string();
    match kind {
        Kind::Context => vec![mid.to_string(), client, imax_id.unwrap_or("").to_string()],
        Kind::Mark => vec![client],
    }
}

/// [`params`] as a direct read (SQLite, `store::direct`) binds them.
pub(super) fn direct_params(
    kind: Kind,
    mid: &str,
    client_key: Option<&str>,
    imax_id: Option<&str>,
) -> Vec<Value> {
    params(kind, mid, client_key, imax_id)
        .into_iter()
        .map(Value::Text)
        .collect()
}

/// The reads of `kind`'s statement, one per caller in order, from its rows; `throttles[n]`:
/// whether the n-th caller's throttle count was asked for.
pub(super) fn reads_from<T: Reading, R: Columns>(
    rows: &[R],
    throttles: &[bool],
) -> Result<Vec<T>, StoreError> {
    let mut reads = Vec::with_capacity(throttles.len());
    let mut rest = rows;
    for (n, asked_throttle) in throttles.iter().enumerate() {
        let mut mine = 0;
        while mine < rest.len() && rest[mine].int("q_n")? == n as i64 {
            mine += 1;
        }
        let (rows, after) = rest.split_at(mine);
        rest = after;
        reads.push(T::from_rows(rows, *asked_throttle)?);
    }
    Ok(reads)
}

fn throttle_from<R: Columns>(row: &R, asked: bool) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(
        match (
            row.opt_int("throttle_failures")?,
            row.opt_int("throttle_window_start")?,
        ) {
            (Some(n), Some(start)) if asked => Some((n, start)),
            _ => None,
        },
    )
}

/// One caller's context from its rows (none: no such account).
fn context_from<R: Columns>(rows: &[R], asked_throttle: bool) -> Result<CallerContext, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(CallerContext::nobody());
    };
    let mailbox = match first.opt_int("mb_id")? {
        Some(_) => Some(mailbox_from(first, "mb_")?),
        None => None,
    };
    let allow_lists = allow_lists_from(first, mailbox.as_ref())?;
    let affiliated = first.int("r6_affiliated")? == 1;
    Ok(CallerContext {
        account: account_from_rows(rows)?,
        throttle: throttle_from(first, asked_throttle)?,
        mailbox: Some(mailbox),
        allow_lists,
        affiliated,
        mark: first.opt_int("directory_mark")?,
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
