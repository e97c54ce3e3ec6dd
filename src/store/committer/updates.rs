//! The effects that update rows already there (a message retrieved or acknowledged, an M-ID's
//! or a mailbox's use), each kind one statement for any number of rows.
//!
//! The locked way applies them one effect at a time ([`apply`]); a batch in one trip carries
//! each kind as one part of its statement ([`Updates`], `batch::one_trip`), so that a CA's
//! downloads and acknowledgements commit in one round trip as files do. Both ways write the
//! same rule, from this one text.
//!
//! PostgreSQL cannot update one row twice in one statement (which part's change stands is
//! unspecified), so a trip carries a batch only when no row is named twice ([`Updates::of`]);
//! otherwise it goes the locked way, effect by effect, in order.

use super::rows::AnyQuery;
use super::{Effect, Job};
use crate::clock::to_epoch;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;

/// A kind of update, in the order a trip writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    /// First retrieval by the recipient (later fetches keep the first time).
    Retrieved,
    /// The recipient's acknowledgement (the first stands; it counts as a retrieval too).
    Acked,
    /// R13: the M-ID used iMAX (a successful sign-in, too).
    Activity,
    SignIn,
    /// A TRACSMail ID opened or used (its inactivity counts from here).
    MailboxUse,
}

/// A time stamp ratchets forward: the later of the row's and the update's.
macro_rules! later {
    ($column:literal) => {
        concat!(
            $column,
            " = CASE WHEN COALESCE(t.",
            $column,
            ", 0) > v.at THEN t.",
            $column,
            " ELSE v.at END"
        )
    };
}

impl Kind {
    /// The kind, the row and the time of `effect`, if it is an update.
    fn of(effect: &Effect) -> Option<(Kind, i64, OffsetDateTime)> {
        Some(match *effect {
            Effect::MarkRetrieved { message, at } => (Kind::Retrieved, message, at),
            Effect::MarkAcked { message, at } => (Kind::Acked, message, at),
            Effect::RecordActivity { account, at } => (Kind::Activity, account, at),
            Effect::RecordSignIn { account, at } => (Kind::SignIn, account, at),
            Effect::RecordMailboxUse { mailbox, at } => (Kind::MailboxUse, mailbox, at),
            _ => return None,
        })
    }

    fn table(self) -> &'static str {
        match self {
            Kind::Retrieved | Kind::Acked => "messages",
            Kind::Activity | Kind::SignIn => "accounts",
            Kind::MailboxUse => "mailboxes",
        }
    }

    /// The row `t`'s new values, given the update's `v.at`.
    fn set(self) -> &'static str {
        match self {
            Kind::Retrieved => "retrieved_at = v.at",
            Kind::Acked => "acked_at = v.at, retrieved_at = COALESCE(t.retrieved_at, v.at)",
            Kind::Activity => concat!(later!("last_activity_at"), ", ", later!("last_signin_at")),
            Kind::SignIn => later!("last_signin_at"),
            Kind::MailboxUse => "last_used_at = v.at",
        }
    }

    /// When the row takes them, beside being the one named.
    fn when(self) -> &'static str {
        match self {
            Kind::Retrieved => " AND t.retrieved_at IS NULL",
            Kind::Acked => " AND t.acked_at IS NULL",
            Kind::Activity | Kind::SignIn => "",
            Kind::MailboxUse => " AND (t.last_used_at IS NULL OR t.last_used_at < v.at)",
        }
    }

    /// The statement updating `rows` rows of this kind, each row's time and id as parameters
    /// from `$first` on. `through_lock`: the first time is read through the one-trip
    /// statement's lock (its part `l`), so that no row is locked before the chain's lock is
    /// held (another node's locked batch holds that, then updates rows: a deadlock otherwise).
    pub(super) fn sql(self, first: usize, rows: usize, through_lock: bool) -> String {
        let values = (0..rows)
            .map(|i| {
                let (at, id) = (first + 2 * i, first + 2 * i + 1);
                if i == 0 && through_lock {
                    format!("SELECT (SELECT ${at} FROM l) AS at, ${id} AS id")
                } else {
                    format!("SELECT ${at} AS at, ${id} AS id")
                }
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        format!(
            "UPDATE {} AS t SET {} FROM ({values}) AS v WHERE t.id = v.id{}",
            self.table(),
            self.set(),
            self.when()
        )
    }
}

/// One update `effect` on the locked way (any other effect is not one: nothing is written).
pub(super) async fn apply(conn: &mut AnyConnection, effect: &Effect) -> Result<(), sqlx::Error> {
    if let Some((kind, row, at)) = Kind::of(effect) {
        sqlx::query(&kind.sql(1, 1, false))
            .bind(to_epoch(at))
            .bind(row)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A batch's updates for one trip, by kind in [`Kind`]'s order: each row's (time, id).
#[derive(Debug, Default)]
pub(super) struct Updates {
    by_kind: BTreeMap<Kind, Vec<(i64, i64)>>,
}

impl Updates {
    /// The updates of `batch`'s effects (the rest are its new messages); `None` when it names
    /// a row twice, which one statement cannot update twice.
    pub(super) fn of(batch: &[Job]) -> Option<Updates> {
        let mut seen = HashSet::new();
        let mut by_kind: BTreeMap<Kind, Vec<(i64, i64)>> = BTreeMap::new();
        for effect in batch.iter().flat_map(|j| &j.effects) {
            let Some((kind, row, at)) = Kind::of(effect) else {
                continue;
            };
            if !seen.insert((kind.table(), row)) {
                return None;
            }
            by_kind.entry(kind).or_default().push((to_epoch(at), row));
        }
        Some(Updates { by_kind })
    }

    /// Whether `effect` is one these carry.
    pub(super) fn carries(effect: &Effect) -> bool {
        Kind::of(effect).is_some()
    }

    /// The parameters [`Updates::bind`] binds.
    pub(super) fn params(&self) -> usize {
        self.by_kind.values().map(|rows| 2 * rows.len()).sum()
    }

    /// The statements, named `u0`, `u1`…, their parameters from `$first` on.
    pub(super) fn parts(&self, first: usize, through_lock: bool) -> Vec<(String, String)> {
        let mut next = first;
        self.by_kind
            .iter()
            .enumerate()
            .map(|(i, (kind, rows))| {
                let sql = kind.sql(next, rows.len(), through_lock);
                next += 2 * rows.len();
                (format!("u{i}"), sql)
            })
            .collect()
    }

    /// Binds the parts' parameters, in their order.
    pub(super) fn bind<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        for (at, row) in self.by_kind.values().flatten() {
            query = query.bind(*at).bind(*row);
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_one_statement_for_any_number_of_rows() {
        assert_eq!(
            Kind::Retrieved.sql(1, 1, false),
            "UPDATE messages AS t SET retrieved_at = v.at FROM (SELECT $1 AS at, $2 AS id) AS v \
             WHERE t.id = v.id AND t.retrieved_at IS NULL"
        );
        assert_eq!(
            Kind::SignIn.sql(7, 2, true),
            "UPDATE accounts AS t SET last_signin_at = CASE WHEN COALESCE(t.last_signin_at, 0) \
             > v.at THEN t.last_signin_at ELSE v.at END FROM (SELECT (SELECT $7 FROM l) AS at, \
             $8 AS id UNION ALL SELECT $9 AS at, $10 AS id) AS v WHERE t.id = v.id"
        );
    }
}
