//! The corpus: valid and invalid files for every kind and release, generated from the layout
//! tables; and property tests that no input makes the checker panic or depend on chunking.

use super::layout::{FileKind, RELEASES};
use super::*;
use proptest::prelude::*;

fn sample(kind: FileKind, release: &'static str) -> Sample {
    Sample {
        release,
        batches: 2,
        records_per_batch: 4,
        ..Sample::new(kind, "TRACM10001")
    }
}

fn lines(file: &[u8]) -> Vec<Vec<u8>> {
    file.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.to_vec())
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| {
            let mut l = l.clone();
            l.push(b'\n');
            l
        })
        .collect()
}

#[test]
fn valid_files_of_every_kind_and_release_pass() {
    for rel in &RELEASES {
        for kind in FileKind::ALL {
            let file = sample(kind, rel.name).build();
            let r = check(&file);
            assert!(
                r.is_valid_tracs(),
                "{} {kind:?}: {:?}",
                rel.name,
                r.problems
            );
            assert_eq!(
                r.verdict,
                Verdict::Tracs {
                    kind: Some(kind),
                    release: Some(rel.name)
                }
            );
            assert_eq!(r.batch_count, 2);
            assert_eq!(r.records, 2 * 6 + 1);
            assert_eq!(r.batches[0].project.as_deref(), Some("TRACM10001"));
            assert_eq!(
                r.transmission_key().as_deref(),
                Some("TRACM10001|03022026|090000")
            );
        }
    }
}

#[test]
fn a_missing_header_is_refused() {
    let file = sample(FileKind::Tenant, "2.0.2.D").build();
    let l = lines(&file);
    let r = check(&join(&l[1..]));
    assert!(r.is_tracs());
    assert_eq!(r.problems[0].line, 1);
    assert!(
        r.problems[0].expected.contains("header"),
        "{:?}",
        r.problems
    );
}

/// Issue 16: record lengths are not confirmed, so a length that differs is reported back,
/// never refused.
#[test]
fn a_record_of_the_wrong_length_is_located_but_only_provisionally() {
    let file = sample(FileKind::Voucher, "2.0.2.C").build();
    let mut l = lines(&file);
    let short = l[2].len() - 11;
    l[2].truncate(short); // 10 characters short (and the \r)
    let r = check(&join(&l));
    assert!(r.is_valid_tracs(), "{:?}", r.problems);
    assert_eq!(r.provisional.len(), 1, "{:?}", r.provisional);
    let p = &r.provisional[0];
    assert_eq!(
        (p.line, p.record.as_str(), p.field.as_str()),
        (3, "MAT31", "Record length")
    );
    assert_eq!(p.expected, "100 characters");
}

#[test]
fn trailer_counts_that_differ_are_provisional_problems() {
    let file = sample(FileKind::Tenant, "2.0.3.A").build();
    let mut l = lines(&file);
    // Drop one body record: the batch trailer's count and the record numbers after it break.
    l.remove(2);
    let r = check(&join(&l));
    assert!(r.is_valid_tracs(), "{:?}", r.problems);
    let fields: Vec<&str> = r.provisional.iter().map(|p| p.field.as_str()).collect();
    assert!(
        fields.contains(&"Batch record count"),
        "{:?}",
        r.provisional
    );
    assert!(
        fields.contains(&"Total record count"),
        "{:?}",
        r.provisional
    );
    assert!(fields.contains(&"Record number"), "{:?}", r.provisional);
}

/// HUD's published header positions are certain: a header too short to hold the Sender's
/// iMAX ID is refused, not guessed at.
#[test]
fn a_header_too_short_for_a_confirmed_field_is_certainly_wrong() {
    let file = sample(FileKind::Tenant, "2.0.2.D").build();
    let mut l = lines(&file);
    l[0].truncate(250);
    let r = check(&join(&l));
    let p = r
        .problems
        .iter()
        .find(|p| p.field == "Sender's iMAX ID")
        .unwrap_or_else(|| panic!("{:?}", r.problems));
    assert_eq!(p.expected, "columns 273-282");
    assert_eq!(p.found, "a record of 250 characters");
    assert!(r.provisional.iter().any(|p| p.field == "Record length"));
}

#[test]
fn an_unknown_release_stops_the_check() {
    let mut file = sample(FileKind::Iser, "2.0.2.D").build();
    file[5..12].copy_from_slice(b"9.9.9.Z");
    let r = check(&file);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].field, "Release/version");
    assert!(r.problems[0].expected.contains("2.0.3.A"));
}

#[test]
fn header_fields_are_checked() {
    let mut s = sample(FileKind::Tenant, "2.0.2.D");
    s.date = "02302026".into(); // 30 February
    s.sender = "TRACMXYZ12".into();
    let r = check(&s.build());
    let fields: Vec<&str> = r.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "Date stamp",
            "Sender's iMAX ID",
            "Date stamp",
            "Sender's iMAX ID"
        ]
    );
    assert_eq!(r.batches[0].sender, None);
}

#[test]
fn a_missing_file_trailer_and_an_unclosed_batch_are_reported() {
    let file = sample(FileKind::Tenant, "2.0.2.D").build();
    let l = lines(&file);
    let r = check(&join(&l[..l.len() - 1]));
    assert!(r
        .problems
        .iter()
        .any(|p| p.expected.contains("file trailer TENTR")));
    let mut l2 = l.clone();
    l2.remove(5); // the first batch trailer
    let r = check(&join(&l2));
    assert!(
        r.problems
            .iter()
            .any(|p| p.expected.contains("TENND before the next header")),
        "{:?}",
        r.problems
    );
}

#[test]
fn other_files_are_not_tracs() {
    for other in [
        &b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"[..],
        b"PK\x03\x04zip",
        b"Name,Unit\n",
    ] {
        assert_eq!(check(other).verdict, Verdict::NotTracs);
    }
    assert_eq!(check(b"").verdict, Verdict::Empty);
}

#[test]
fn problems_stop_at_their_caps_and_are_counted() {
    let mut s = sample(FileKind::Tenant, "2.0.2.D");
    s.records_per_batch = 160;
    let file = s.build();
    let mut l = lines(&file);
    for line in l.iter_mut().skip(1).take(150) {
        line.insert(20, b'X'); // one character too long: provisional
    }
    for line in l.iter_mut().skip(1).take(30) {
        line[40] = 0x01; // not printable: certain
    }
    let r = check(&join(&l));
    assert_eq!(r.problems.len(), MAX_PROBLEMS);
    assert_eq!(r.more_problems, 10);
    // The provisional ones have a cap of their own: the certain ones still all count.
    assert_eq!(r.provisional.len(), super::scan::MAX_PROVISIONAL);
    assert_eq!(r.more_provisional, 50);
}

#[test]
fn the_existing_layouts_accept_lf_and_crlf_alike() {
    let file = sample(FileKind::Voucher, "2.0.3.A").build();
    let lf: Vec<u8> = file.iter().copied().filter(|&b| b != b'\r').collect();
    assert!(check(&lf).is_valid_tracs());
}

/// Found by the fuzzer: a first line ending in `\r\r\n` lost both `\r` when read whole and
/// one when read in pieces.
#[test]
fn a_first_line_ending_in_two_carriage_returns_reads_the_same_in_pieces() {
    let mut file = sample(FileKind::Tenant, "2.0.2.D").build();
    let first_end = file.iter().position(|&b| b == b'\n').unwrap_or(0);
    file.insert(first_end, b'\r');
    let whole = check(&file);
    let mut s = Scanner::new();
    s.feed(&file[..10]);
    s.feed(&file[10..]);
    assert_eq!(s.finish(), whole);
    assert!(
        whole
            .provisional
            .iter()
            .any(|p| p.field == "Record length" && p.found == "301"),
        "{:?}",
        whole.provisional
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_byte_string_makes_the_checker_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let r = check(&bytes);
        prop_assert!(r.problems.len() <= MAX_PROBLEMS);
        prop_assert!(r.provisional.len() <= super::scan::MAX_PROVISIONAL);
    }

    #[test]
    fn mutated_valid_files_never_panic_and_chunking_does_not_matter(
        kind in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let mut file = sample(FileKind::ALL[kind], "2.0.2.D").build();
        for (at, b) in edits {
            let i = at % file.len();
            file[i] = b;
        }
        let whole = check(&file);
        // Whatever the damage, a format-error reply to the file is itself a clean file.
        if let Some(reply) = reply::format_errors(&whole, time::OffsetDateTime::UNIX_EPOCH) {
            let back = check(&reply.file);
            prop_assert!(back.problems.is_empty(), "{:?}", back.problems);
            prop_assert!(back.provisional.is_empty(), "{:?}", back.provisional);
        }
        let mut s = Scanner::new();
        let at = cut % (file.len() + 1);
        s.feed(&file[..at]);
        s.feed(&file[at..]);
        prop_assert_eq!(s.finish(), whole);
    }

    #[test]
    fn byte_by_byte_feeding_is_the_same(bytes in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'T'), Just(b'E'), Just(b'N'), Just(b'H'), Just(b'R'), any::<u8>()], 0..600)) {
        let whole = check(&bytes);
        let mut s = Scanner::new();
        for b in &bytes {
            s.feed(std::slice::from_ref(b));
        }
        prop_assert_eq!(s.finish(), whole);
    }
}
