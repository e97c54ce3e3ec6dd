//! Fuzzes the streaming TRACS checker: no input may make it panic, feeding the same bytes in
//! two pieces (split where the fuzzer says) must give the same report as feeding them whole,
//! and the format-error reply to any file must itself pass the checker cleanly.
//!
//! `cargo +nightly fuzz run tracs_scan` (the test command runs a short smoke run).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The gateway's own checker, compiled in from its sources.
#[allow(dead_code, unused_imports)]
#[path = "../../src/tracs/mod.rs"]
mod tracs;

fuzz_target!(|data: &[u8]| {
    let whole = tracs::scan::check(data);
    assert!(whole.problems.len() <= tracs::scan::MAX_PROBLEMS);
    assert!(whole.provisional.len() <= tracs::scan::MAX_PROVISIONAL);
    // Whatever the file, a format-error reply to it is itself a clean TRACS file.
    if let Some(reply) = tracs::reply::format_errors(&whole, time::OffsetDateTime::UNIX_EPOCH) {
        let back = tracs::scan::check(&reply.file);
        assert!(back.problems.is_empty() && back.provisional.is_empty());
    }
    if let Some((&cut, rest)) = data.split_first() {
        let at = cut as usize % (rest.len() + 1);
        let mut s = tracs::scan::Scanner::new();
        s.feed(&rest[..at]);
        s.feed(&rest[at..]);
        let split = s.finish();
        assert_eq!(split, tracs::scan::check(rest));
    }
});
