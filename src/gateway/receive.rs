//! The one upload pump (issue 26, item 3): whichever door a file comes in by (SOAP's base64
//! `<content>`, an MTOM binary part, a browser's multipart field), its bytes go through the
//! same [`Gateway::receive`]: the size cap, SHA-256 and the store's staging
//! ([`StagedBody`]), the TRACS checker on the way ([`Scanner`]), clamd when configured
//! ([`VirusScan`]: only its clean verdict lets the file commit), and, when anything goes wrong
//! once the mailbox is open, one audited refusal that leaves nothing stored. A door only
//! adapts its framing to [`Content`]: it hands over the file's bytes, unframed, as they
//! arrive.

use super::virus::VirusScan;
use super::{Gateway, MailboxSession};
use crate::error::Refusal;
use crate::store::bodies::StageError;
use crate::store::StagedBody;
use crate::tracs::Scanner;
use std::future::Future;

/// A file body being received: staged to disk and read by the TRACS checker on the way, so
/// the check needs no second read.
#[derive(Debug)]
pub struct Upload {
    pub(super) body: StagedBody,
    pub(super) scan: Scanner,
    /// The bytes on their way to clamd too, when a scanner is configured (issue 30).
    pub(super) virus: Option<VirusScan>,
}

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        if let Some(v) = &mut self.virus {
            v.feed(chunk).await;
        }
        self.body.write(chunk).await?;
        self.scan.feed(chunk);
        Ok(())
    }
    pub fn size(&self) -> u64 {
        self.body.size()
    }
}

/// A door's framing of a file, unwrapped: the file's own bytes, as they arrive.
pub trait Content: Send {
    /// The next bytes of the file; `None` once the file (and whatever the door checks after
    /// it) has ended. A refusal ends the upload. The bytes borrow the door's buffer, so the
    /// pump copies nothing on its way to the store.
    fn next(&mut self) -> impl Future<Output = Result<Option<&[u8]>, Refusal>> + Send;
}

impl Gateway {
    /// Starts receiving a file body, bounded by the size limit.
    pub fn stage_body(&self) -> Result<Upload, Refusal> {
        Ok(Upload {
            body: self
                .inner
                .store
                .bodies
                .stage(self.inner.config.limits.max_file_bytes)?,
            scan: Scanner::new(),
            virus: self.start_virus_scan(),
        })
    }

    /// Receives a file for `s` from `content`, to its end: staged, capped, hashed and checked
    /// as TRACS on the way; then [`Gateway::send_file`] judges and commits it. A refusal while
    /// it arrives (too large, storage full, a framing error, a body that stopped) is audited
    /// for the open mailbox, and the staged bytes are removed. A body that could not be
    /// staged at all is refused unaudited (nothing of it was read).
    pub async fn receive(
        &self,
        s: &MailboxSession,
        content: &mut impl Content,
    ) -> Result<Upload, Refusal> {
        let mut upload = self.stage_body()?;
        loop {
            let refusal = match content.next().await {
                Ok(None) => return Ok(upload),
                Ok(Some(bytes)) => match upload.write(bytes).await {
                    Ok(()) => continue,
                    Err(e) => Refusal::from(e),
                },
                Err(r) => r,
            };
            drop(upload);
            return Err(self.abandon_send(s, refusal).await);
        }
    }
}
