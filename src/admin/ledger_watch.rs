//! The ledgers' watch (issue 31, item 2, `docs/ledger.md`): every `ledger.watch_secs` the
//! gateway reads the ledgers of last month and this month (Washington time, the injected
//! clock) of each contract whose property's mailbox has subscribers, and when an item becomes
//! missing (the month's voucher after its due day, a file unanswered past
//! `tracs.answer_expected_hours`) it records the item once and queues one notice for each
//! subscriber of that mailbox, in the notifications outbox (issue 30), whose sender mails it.
//!
//! What is missing is the ledger's own `missing` list, read from the stored files and replies
//! as the page reads it, so a notice never says what the ledger would not. The record of what
//! was noticed is keyed by (contract, month, item): nodes watching at once notice an item once.

use super::ledger::Missing;
use super::{Admin, AdminOp, AdminResult};
use crate::calendar::day_in_washington;
use crate::store::ledger::FoundMissing;
use crate::store::notices::MissingWhat;

/// What one watch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watched {
    /// Contracts whose ledgers were read.
    pub contracts: u64,
    /// Items newly found missing (each noticed to its mailbox's subscribers).
    pub found: u64,
}

impl Admin {
    /// One watch over the ledgers (the gateway's scheduled job, or the operator).
    pub async fn watch_ledgers(&self) -> AdminResult<Watched> {
        self.permit(AdminOp::WatchLedgers)?;
        let store = self.store.ledger();
        let months = watched_months(self.clock.now());
        let mut done = Watched::default();
        for contract in store.watched().await? {
            let Some(parties) = store.contract(&contract).await? else {
                continue;
            };
            let Some((mailbox, _)) = parties.property_mailbox else {
                continue;
            };
            done.contracts += 1;
            for month in &months {
                let known = store.known_missing(&contract, month).await?;
                let ledger = self.read_ledger(parties.clone(), month).await?;
                for m in &ledger.missing {
                    let found = found(&contract, month, mailbox, m);
                    if known.contains(&found.item) {
                        continue;
                    }
                    if store.record_missing(&found, self.clock.now()).await? {
                        done.found += 1;
                        metrics::counter!("imax_ledger_missing_total", "what" => found.what.as_str())
                            .increment(1);
                    }
                }
            }
        }
        metrics::gauge!("imax_ledger_watched_contracts").set(done.contracts as f64);
        Ok(done)
    }
}

/// Last month (whose voucher falls due this month) and this month (whose files may go
/// unanswered), as `YYYY-MM` in Washington.
fn watched_months(now: time::OffsetDateTime) -> [String; 2] {
    let today = day_in_washington(now);
    let (y, m) = (today.year(), today.month());
    let last = if m == time::Month::January {
        (y - 1, time::Month::December)
    } else {
        (y, m.previous())
    };
    [
        format!("{:04}-{:02}", last.0, u8::from(last.1)),
        format!("{y:04}-{:02}", u8::from(m)),
    ]
}

fn found(contract: &str, month: &str, mailbox: i64, m: &Missing) -> FoundMissing {
    let (what, item, due) = match m {
        Missing::Voucher { due } => (MissingWhat::Voucher, "voucher".to_string(), due.clone()),
        Missing::Reply { message_id, .. } => {
            (MissingWhat::Reply, message_id.clone(), String::new())
        }
    };
    FoundMissing {
        contract: contract.to_string(),
        month: month.to_string(),
        what,
        item,
        due,
        mailbox,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_reads_last_month_and_this_one_in_washington() {
        // 1 January 2027, 03:00 UTC, is still 31 December 2026 in Washington.
        let t = time::macros::datetime!(2027-01-01 03:00 UTC);
        assert_eq!(watched_months(t), ["2026-11".to_string(), "2026-12".into()]);
        let t = time::macros::datetime!(2027-01-01 06:00 UTC);
        assert_eq!(watched_months(t), ["2026-12".to_string(), "2027-01".into()]);
    }
}
