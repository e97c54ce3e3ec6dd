//! Fuzzes what every stranger reaches first: the system-to-system door's streaming SOAP
//! scanner and the envelope parser behind it. No input may make them panic; feeding the same
//! bytes in two pieces (split where the fuzzer says, as TCP may) must give the same skeleton,
//! content and verdict as feeding them whole; and the parser's answers must be refusals with
//! a code, never a crash.
//!
//! `cargo +nightly fuzz run soap_envelope` (the test command runs a short smoke run).
#![no_main]

use imax_gateway::s2s::envelope;
use imax_gateway::s2s::envelope::Extent;
use imax_gateway::s2s::scan::{Fed, Scanner};
use libfuzzer_sys::fuzz_target;

/// Scans `pieces` as the door does; the skeleton, the content and the first error.
fn scan(pieces: &[&[u8]]) -> (Vec<u8>, Vec<u8>, Option<String>) {
    let mut s = Scanner::new(16 * 1024, 64 * 1024);
    let mut content = Vec::new();
    for piece in pieces {
        match s.feed(piece, &mut content) {
            Ok(fed) => {
                if fed == Fed::ContentStarted {
                    // What the door does at that moment: parse the credentials so far.
                    let _ = envelope::parse(s.skeleton(), Extent::Prefix).map(|e| {
                        let _ = e.person();
                        let _ = e.mailbox();
                    });
                }
            }
            Err(e) => return (s.skeleton().to_vec(), content, Some(e.to_string())),
        }
    }
    let end = s.finish().err().map(|e| e.to_string());
    // Every byte outside the content counts against the cap (issue 25, item 2).
    assert!(end.is_some() || s.envelope_bytes() <= 16 * 1024);
    (s.skeleton().to_vec(), content, end)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let whole = scan(&[rest]);
    let at = cut as usize * 7 % (rest.len() + 1);
    let split = scan(&[&rest[..at], &rest[at..]]);
    // However TCP splits a request, it is refused both ways or accepted both ways, and when
    // accepted, with the same envelope and content. (Which refusal comes first may depend on
    // where a piece ends: a size limit or bad base64, say; nothing is stored either way.)
    assert_eq!(
        whole.2.is_some(),
        split.2.is_some(),
        "feeding in pieces changed the verdict: {:?} / {:?}",
        whole.2,
        split.2
    );
    if whole.2.is_none() {
        assert_eq!(whole.0, split.0, "feeding in pieces changed the envelope");
        assert_eq!(whole.1, split.1, "feeding in pieces changed the content");
    }
    if whole.2.is_none() {
        if let Ok(env) = envelope::parse(&whole.0, Extent::Whole) {
            let _ = env.person();
            let _ = env.request();
        }
    }
    // The parser alone, on raw bytes (as if the scanner had passed them).
    if let Ok(env) = envelope::parse(rest, Extent::Whole) {
        let _ = env.person();
        let _ = env.request();
    }
});
