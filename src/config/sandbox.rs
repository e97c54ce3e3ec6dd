//! The vendor sandbox's settings (issue 31).

use serde::{Deserialize, Serialize};

/// How long the sandbox keeps its files: vendors' test files are no records HUD must keep
/// (R26 is about production mailboxes), so they go sooner, with the same purge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sandbox {
    /// Days a sandbox mailbox's files and their simulated answers are kept.
    pub retention_days: i64,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

impl Sandbox {
    /// Between a day and the production history's retention: longer would keep test files
    /// past records that matter.
    pub fn check(&self, history_days: i64) -> Result<(), String> {
        if self.retention_days < 1 || self.retention_days > history_days {
            return Err(format!(
                "sandbox.retention_days must be between 1 and history.retention_days ({history_days})"
            ));
        }
        Ok(())
    }
}
