//! `[ledger]`: the TRACS round-trip ledger (issue 31, `docs/ledger.md`).

use serde::{Deserialize, Serialize};

/// When a month's voucher is late, and how much one ledger reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ledger {
    /// Day of the following month (Washington time) by whose end a month's voucher must have
    /// been sent; after it, the ledger lists the voucher as missing. 1 to 28, so that every
    /// month has the day.
    pub voucher_due_day: u8,
    /// TRACS files one ledger reads back (each stored body is scanned again for its kind and
    /// record count); more are left out and the ledger says so.
    pub max_files: u32,
    /// Seconds between the gateway's watches over the ledgers (of contracts whose property's
    /// mailbox has subscribers): an item newly missing is noticed to them once, through the
    /// notifications outbox. 0: no watch.
    pub watch_secs: u64,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            voucher_due_day: 10,
            max_files: 500,
            watch_secs: 900,
        }
    }
}

impl Ledger {
    /// Refuses values no gateway should run with.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=28).contains(&self.voucher_due_day) {
            return Err("ledger.voucher_due_day must be between 1 and 28".into());
        }
        if self.max_files == 0 {
            return Err("ledger.max_files must be positive".into());
        }
        Ok(())
    }
}
