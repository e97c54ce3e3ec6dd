//! Attempts at one principal take turns.
//!
//! Every attempt is counted before its password is checked, so that parallel guesses get no
//! more tries than sequential ones. Left at that, a burst of *right* passwords (vendor
//! software opening sixteen connections at once with a cold credential cache) would count
//! past the limit and be refused. So attempts at one M-ID or mailbox take turns: the first
//! right password is remembered by the credential cache, and the attempts waiting behind it
//! with the same password pass on the cache without being counted; wrong ones are still
//! counted and checked one by one. The locks are striped (a fixed number, whatever the number
//! of principals) and waited for at most a bound, so a flood at one principal costs neither
//! memory nor unbounded waiting: beyond the bound it is refused as busy, uncounted.

use std::hash::{Hash, Hasher};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

#[derive(Debug)]
pub struct Turns {
    stripes: Vec<Mutex<()>>,
    max_wait: Duration,
}

impl Turns {
    pub fn new(max_wait: Duration) -> Turns {
        Turns {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            max_wait,
        }
    }

    /// The turn of `principal`, or `None` when it did not come within the bound.
    pub async fn take(&self, principal: &str) -> Option<MutexGuard<'_, ()>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        principal.hash(&mut h);
        let stripe = &self.stripes[(h.finish() as usize) % STRIPES];
        tokio::time::timeout(self.max_wait, stripe.lock())
            .await
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_principal_waits_its_turn_and_gives_up_at_the_bound() {
        let turns = Turns::new(Duration::from_millis(50));
        let first = turns.take("M10001").await.expect("first");
        assert!(turns.take("M10001").await.is_none(), "waited in vain");
        drop(first);
        assert!(turns.take("M10001").await.is_some(), "its turn came");
    }
}
