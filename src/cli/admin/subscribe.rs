//! `imax admin account subscribe --mid M --mailbox IMAX_ID [--remove]`: arrival notices
//! (issue 30) for a person, of a mailbox they may open (R6).

use super::*;
use imax_gateway::store::notices::Subscription;

pub(super) async fn subscribe(
    admin: &Admin,
    mid: &str,
    mailbox: &str,
    remove: bool,
) -> Result<(), String> {
    let change = if remove {
        Subscription::Off
    } else {
        Subscription::On
    };
    let changed = admin.subscribe(mid, mailbox, change).await.map_err(s)?;
    let state = match (change, changed) {
        (Subscription::On, true) => "is now subscribed to",
        (Subscription::On, false) => "was already subscribed to",
        (Subscription::Off, true) => "is no longer subscribed to",
        (Subscription::Off, false) => "was not subscribed to",
    };
    println!("{mid} {state} {mailbox}");
    Ok(())
}
