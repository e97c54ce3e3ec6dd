//! What a stranger's guesses cost everyone else (the threat model): the nodes remember
//! callers' contexts while the directory's mark stands (`store::context::remembered`), and a
//! wrong password moves no mark (migration 31). Only a lock does, once; and while strangers'
//! addresses are locked out of an M-ID, its person's own calls (each checked in full) move
//! none either.

use crate::helpers::*;

const STRANGER: [u8; 4] = [127, 0, 0, 5];
const BUREAU_MAILBOX: (&str, &str) = ("TRACM30001", "Bureau-Mailbox-2026");
const HOME: [u8; 4] = [127, 0, 0, 1];

async fn remembered(t: &TestApp) -> f64 {
    let (_, page) = crate::ops::get(t, "/metrics", &[]).await;
    crate::ops::sample(
        &page,
        "imax_caller_contexts_total",
        &["read=\"remembered\""],
    )
}

/// One call of the bystander's (a service bureau's listing of its own mailbox), and whether
/// its context was served from memory.
async fn bystander_served_from_memory(t: &TestApp) -> bool {
    let before = remembered(t).await;
    assert_ok(
        &t.list(BUREAU_USER, BUREAU_MAILBOX, "receivedFromOthers")
            .await,
    );
    remembered(t).await > before
}

#[tokio::test]
async fn a_strangers_guesses_leave_everyone_elses_contexts_remembered() {
    let t = TestApp::start().await;
    // The person signs in from home; the bystander's first calls record its uses, then read
    // its context with them and keep it.
    assert_ok(&t.send_from(HOME, SITE_USER, MAPLE, b"home").await);
    for _ in 0..2 {
        bystander_served_from_memory(&t).await;
    }
    assert!(bystander_served_from_memory(&t).await);

    // Wrong passwords below the limit: each is counted, none moves the mark.
    for n in 1..3 {
        assert_as_wrong_password(
            &t.send_from(STRANGER, (SITE_USER.0, "Wrong-Guess-1"), MAPLE, b"x")
                .await,
        );
        assert!(
            bystander_served_from_memory(&t).await,
            "served from memory after guess {n}"
        );
    }

    // The guess that locks strangers out moves the mark once: the next call reads whole.
    assert_as_wrong_password(
        &t.send_from(STRANGER, (SITE_USER.0, "Wrong-Guess-1"), MAPLE, b"x")
            .await,
    );
    assert!(!bystander_served_from_memory(&t).await, "the lock is read");
    assert!(bystander_served_from_memory(&t).await);

    // Locked out, the stranger's further guesses, and the person's own calls from home
    // (checked in full while strangers are locked out), leave the bystander remembered.
    for n in 5..8 {
        assert_as_wrong_password(
            &t.send_from(STRANGER, (SITE_USER.0, "Wrong-Guess-1"), MAPLE, b"x")
                .await,
        );
        assert_ok(&t.send_from(HOME, SITE_USER, MAPLE, b"home").await);
        assert!(
            bystander_served_from_memory(&t).await,
            "served from memory while strangers are locked out ({n})"
        );
    }
}
