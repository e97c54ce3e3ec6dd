//! Signed receipts (issue 31, item 3): every stored file's receipt is signed with the
//! gateway's receipt key (`crate::receipt`), for both doors: the SOAP door returns it in the
//! SendFile response, the browser offers it for download, and the sender can fetch it again
//! later (`Gateway::signed_receipt`), signed with the key current then.

use super::{Gateway, MailboxSession};
use crate::access::Operation;
use crate::error::{Code, Refusal};
use crate::mailbox::Receipt;
use crate::receipt::{Proof, ProvenRecord, ReceiptKeys, SignedReceipt, Statement};

/// The audit detail of a receipt fetched again (the action is the session's, GetMessage).
pub const GET_RECEIPT: &str = "GetReceipt";
/// The audit detail of a receipt's inclusion proof fetched.
pub const GET_RECEIPT_PROOF: &str = "GetReceiptProof";

impl Gateway {
    /// The receipt keys (current and retired: `/.well-known/imax-receipt-keys`).
    pub fn receipt_keys(&self) -> &ReceiptKeys {
        &self.inner.receipts
    }

    /// `receipt` signed with the current key. The file is stored whatever happens here: a
    /// key that cannot be read is logged and counted, and the receipt goes out unsigned
    /// (the sender can fetch a signed one later, once the key is repaired).
    pub fn sign_receipt(&self, receipt: &Receipt) -> Option<SignedReceipt> {
        let statement = Statement {
            message_id: receipt.message_id.to_string(),
            received_at: receipt.received_at,
            from_mailbox: receipt.from_mailbox.clone(),
            to_mailbox: receipt.to_mailbox.clone(),
            file_name: receipt.file_name.clone(),
            size_bytes: receipt.size_bytes,
            sha256: receipt.sha256.clone(),
        };
        self.sign(&statement)
    }

    fn sign(&self, statement: &Statement) -> Option<SignedReceipt> {
        match self.inner.receipts.current() {
            Ok(key) => {
                metrics::counter!("imax_receipts_signed_total", "outcome" => "signed").increment(1);
                Some(key.sign(statement))
            }
            Err(e) => {
                metrics::counter!("imax_receipts_signed_total", "outcome" => "no_key").increment(1);
                tracing::error!(error = %e, "a receipt could not be signed: the receipt key is unreadable");
                None
            }
        }
    }

    /// A message this mailbox sent, for its sender only (anyone else is told there is no such
    /// message, as for a message of another mailbox), and the audit record of the request.
    async fn sent(
        &self,
        s: &MailboxSession,
        message_id: &str,
        what: &str,
    ) -> Result<(crate::mailbox::MessageInfo, crate::audit::AuditEntry), Refusal> {
        Self::expect_op(s, Operation::GetMessage)?;
        let info = self.find(s, message_id).await?;
        let entry = self
            .session_audit(s)
            .message(info.message_id.as_str())
            .detail(what);
        if info.from_mailbox != s.mailbox.imax_id.as_str() {
            return Err(self
                .refuse(vec![], entry, Code::UnknownMessage.into())
                .await);
        }
        Ok((info, entry))
    }

    /// The inclusion proof of a sent message's receipt: its audit record in the first
    /// checkpoint signed with the receipt key after it (`checkpoint::published`).
    pub async fn receipt_proof(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<Proof, Refusal> {
        let (info, entry) = self.sent(s, message_id, GET_RECEIPT_PROOF).await?;
        let store = &self.inner.store;
        let record = store
            .audit_log()
            .stored_file_record(info.message_id.as_str())
            .await?;
        let not_yet = || {
            Refusal::with_detail(
                Code::Unavailable,
                "No signed checkpoint covers this message yet: ask again after the next audit checkpoint (audit.checkpoint_secs).",
            )
        };
        let Some((seq, prev_hash, e)) = record else {
            return Err(not_yet());
        };
        let covering = self
            .inner
            .published
            .covering(store, seq)
            .await
            .map_err(Refusal::internal)?;
        let Some((checkpoint, path)) = covering else {
            return Err(not_yet());
        };
        self.commit(self.uses(s), entry).await?;
        Ok(Proof {
            format: crate::receipt::proof::PROOF_FORMAT.into(),
            record: ProvenRecord {
                seq,
                prev_hash,
                at: crate::clock::to_epoch(e.at),
                actor: e.actor,
                action: e.action,
                door: e.door,
                mailbox: e.mailbox,
                message_id: e.message_id,
                client_addr: e.client_addr,
                outcome: e.outcome,
                detail: e.detail,
                request_id: e.request_id,
            },
            path,
            checkpoint,
        })
    }

    /// The signed receipt of a message this mailbox sent, for its sender only.
    pub async fn signed_receipt(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<SignedReceipt, Refusal> {
        let (info, entry) = self.sent(s, message_id, GET_RECEIPT).await?;
        let statement = Statement {
            message_id: info.message_id.to_string(),
            received_at: info.received_at,
            from_mailbox: info.from_mailbox,
            to_mailbox: info.to_mailbox,
            file_name: info.file_name,
            size_bytes: info.size_bytes,
            sha256: info.sha256,
        };
        let signed = self.sign(&statement).ok_or_else(|| {
            Refusal::with_detail(
                Code::Unavailable,
                "The gateway cannot sign receipts at the moment (its receipt key is unreadable).",
            )
        })?;
        self.commit(self.uses(s), entry).await?;
        Ok(signed)
    }
}
