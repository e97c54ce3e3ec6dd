//! Signed receipts (issue 31, item 3): every stored file's receipt is signed with the
//! gateway's receipt key (`crate::receipt`), for both doors: the SOAP door returns it in the
//! SendFile response, the browser offers it for download, and the sender can fetch it again
//! later (`Gateway::signed_receipt`), signed with the key current then.

use super::{Gateway, MailboxSession};
use crate::access::Operation;
use crate::error::{Code, Refusal};
use crate::mailbox::Receipt;
use crate::receipt::{ReceiptKeys, SignedReceipt, Statement};

/// The audit action of a receipt fetched again (PascalCase, as the other actions).
pub const GET_RECEIPT: &str = "GetReceipt";

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
            message_id: receipt.message_id.clone(),
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

    /// The signed receipt of a message this mailbox sent, for its sender only (anyone else
    /// is told there is no such message, as for a message of another mailbox).
    pub async fn signed_receipt(
        &self,
        s: &MailboxSession,
        message_id: &str,
    ) -> Result<SignedReceipt, Refusal> {
        Self::expect_op(s, Operation::GetMessage)?;
        let info = self.find(s, message_id).await?;
        let entry = self
            .session_audit(s)
            .message(&info.message_id)
            .detail(GET_RECEIPT);
        if info.from_mailbox != s.mailbox.imax_id.as_str() {
            return Err(self
                .refuse(vec![], entry, Code::UnknownMessage.into())
                .await);
        }
        let statement = Statement {
            message_id: info.message_id,
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
