//! Whether a mailbox opens to a person (R6), as a rule apart from the password: the decision
//! the doors make when a mailbox is opened (`gateway::mailbox`, `gateway::authorize`), asked
//! also by what must not reach further than opening would, such as arrival notices (issue
//! 30): nobody learns of a mailbox's files through a subscription who could not open it.

use crate::directory::{Account, ImaxId};
use crate::error::Code;

/// HUD's mailbox opens to HUD's own staff and contractors only (`HudMailboxOnly`); any other
/// to the people R6 affiliates with it (`affiliated`: `store::organizations::affiliated`),
/// else `NotAffiliated`.
pub fn opens_to(account: &Account, mailbox: &ImaxId, affiliated: bool) -> Result<(), Code> {
    if mailbox.is_hud() {
        return if account.affiliation.is_hud() {
            Ok(())
        } else {
            Err(Code::HudMailboxOnly)
        };
    }
    if affiliated {
        Ok(())
    } else {
        Err(Code::NotAffiliated)
    }
}
