//! How the store's failures read to a client. The store knows nothing of refusals (it is
//! below them, `tests/layers.rs`); the core maps its errors here, once, for every door.

use crate::error::{Code, Refusal};
use crate::store::bodies::StageError;
use crate::store::{CommitError, StoreError};

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io(e) => e.into(),
            e => Refusal::internal(format_args!("{e}")),
        }
    }
}

/// What a client is told when its request's commit failed: a full disk plainly, anything
/// else as `Unavailable` (the cause is logged).
impl From<CommitError> for Refusal {
    fn from(e: CommitError) -> Self {
        if e.is_storage_full() {
            tracing::warn!(error = %e, "a commit failed for lack of storage");
            return Refusal::new(Code::StorageFull);
        }
        if let CommitError::Repeats(_) = e {
            // The sending door words it with the transmission it repeats (`send`).
            return Refusal::with_detail(
                Code::DuplicateFile,
                "The file repeats an earlier transmission.",
            );
        }
        Refusal::internal(e)
    }
}

/// What a client is told when its upload could not be staged.
impl From<StageError> for Refusal {
    fn from(e: StageError) -> Self {
        match e {
            StageError::TooLarge { .. } => Refusal::new(Code::FileTooLarge),
            StageError::StorageFull => {
                tracing::warn!("an upload was refused: the storage floor was reached");
                Refusal::new(Code::StorageFull)
            }
            StageError::Io(e) => e.into(),
        }
    }
}
