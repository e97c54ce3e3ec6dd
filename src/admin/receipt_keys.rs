//! The receipt key's rotation (issue 31): a new current key, the old ones kept so that the
//! receipts they signed stay verifiable, and the rotation recorded in the audit chain.

use super::{Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::error::Refusal;
use crate::receipt::{ReceiptKeys, SigningKey};

/// The audit action of a rotation (PascalCase, as the other actions).
pub const ROTATE_RECEIPT_KEY: Action = Action::RotateReceiptKey;

impl Admin {
    /// The receipt keys this configuration names (`[receipts]`).
    pub fn receipt_keys(&self) -> ReceiptKeys {
        ReceiptKeys::from_config(&self.config)
    }

    /// Makes a new current receipt key; a running gateway reads it from the key file at its
    /// next receipt. The old public keys stay published.
    pub async fn rotate_receipt_key(&self) -> AdminResult<SigningKey> {
        self.permit(AdminOp::RotateReceiptKey)?;
        let keys = self.receipt_keys();
        let old = keys.current().map_err(Refusal::internal)?;
        let new = keys.rotate(self.now()).map_err(Refusal::internal)?;
        let audit = self.entry(ROTATE_RECEIPT_KEY).detail(format!(
            "receipt key {} replaced by {}",
            old.public().id(),
            new.public().id()
        ));
        self.store
            .committer
            .commit(vec![], audit)
            .await
            .map_err(Refusal::from)?;
        Ok(new)
    }
}
