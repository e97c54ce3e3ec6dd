//! `imax admin check`: verifies a store end to end. Every message row has its body with the
//! SHA-256 and size the row records, every body has its row, and the audit chain holds.

use super::Store;
use crate::audit;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// What a check found; empty lists mean a sound store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub messages: u64,
    pub bytes: u64,
    /// Rows whose body is missing, or whose body's SHA-256 or size differs: (message ID, what).
    pub bad_rows: Vec<(String, String)>,
    /// Bodies no row refers to (left by a crash between sealing and committing; swept at the
    /// next start after an unclean stop).
    pub orphan_bodies: Vec<String>,
    pub audit_records: i64,
    /// The first broken audit record and why.
    pub audit_broken: Option<(i64, String)>,
    /// Bodies being received, not yet messages (not a problem: on several nodes some are
    /// always arriving; those of a stopped node are swept after an hour).
    pub uploads_in_progress: u64,
}

impl CheckReport {
    pub fn is_sound(&self) -> bool {
        self.bad_rows.is_empty() && self.orphan_bodies.is_empty() && self.audit_broken.is_none()
    }
}

impl Store {
    /// Reads every body once (streaming) and walks the audit chain.
    pub async fn check(&self) -> Result<CheckReport, super::StoreError> {
        let mut report = CheckReport::default();
        let mut after = i64::MIN;
        let mut known = std::collections::HashSet::new();
        loop {
            let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
                "SELECT id, message_id, body_key, sha256, size_bytes FROM messages
                  WHERE id > $1 ORDER BY id LIMIT 500",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (_, message_id, key, sha, size) in rows {
                report.messages += 1;
                known.insert(key.clone());
                match self.body_digest(&key, size.max(0) as u64).await {
                    Ok((digest, n)) => {
                        report.bytes += n;
                        if digest != sha {
                            report.bad_rows.push((
                                message_id,
                                format!("body SHA-256 is {digest}, row says {sha}"),
                            ));
                        } else if n != size.max(0) as u64 {
                            report
                                .bad_rows
                                .push((message_id, format!("body has {n} bytes, row says {size}")));
                        }
                    }
                    Err(e) => report
                        .bad_rows
                        .push((message_id, format!("body {key}: {e}"))),
                }
            }
        }
        report.uploads_in_progress = self.bodies.uploads_in_progress().await?;
        for key in self.bodies.keys().await? {
            if !known.contains(&key) {
                report.orphan_bodies.push(key);
            }
        }
        match self.audit_log().verify().await? {
            audit::Verdict::Intact { records } => report.audit_records = records,
            audit::Verdict::Broken { seq, reason } => report.audit_broken = Some((seq, reason)),
        }
        Ok(report)
    }

    async fn body_digest(&self, key: &str, size: u64) -> std::io::Result<(String, u64)> {
        let mut f = self.bodies.open(key, size).await?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = 0u64;
        loop {
            let got = f.read(&mut buf).await?;
            if got == 0 {
                break;
            }
            h.update(&buf[..got]);
            n += got as u64;
        }
        Ok((hex::encode(h.finalize()), n))
    }
}
