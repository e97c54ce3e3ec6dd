//! The worked example of `docs/receipts.md`, whose values were computed apart from this code
//! (Python's `cryptography`): the canonical bytes, key id, PEM and signature must match.

use super::*;

const SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
const KEY_ID: &str = "56475aa75463474c";
const BYTES: &str = "0000000f696d61782d726563656970742d76310000001932303237303330312d3031323334353637383961626364656600000014323032372d30332d30315431343a30353a30395a0000000a545241434d30303030310000000554524143530000000a54454e414e542e444154000000043132333400000040326366323464626135666230613330653236653833623261633562396532396531623136316535633166613734323565373330343333363239333862393832340000001035363437356161373534363334373463";
const SIGNATURE: &str =
    "9Qb/LIzJkUeobURFKJHU3416iHyEcDbUBpFNAtLL34sKly5FkklQlKKBvNcOo8KAJ9UcK5Yf9VhoOex67fatBg==";

fn example() -> Statement {
    Statement {
        message_id: "20270301-0123456789abcdef".into(),
        // Sub-second digits are not part of a receipt's time.
        received_at: time::macros::datetime!(2027-03-01 09:05:09.75 -5),
        from_mailbox: "TRACM00001".into(),
        to_mailbox: "TRACS".into(),
        file_name: "TENANT.DAT".into(),
        size_bytes: 1234,
        // SHA-256 of "hello".
        sha256: "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824".into(),
    }
}

#[test]
fn the_documented_test_vector_holds() {
    let key = SigningKey::from_seed_hex(SEED, None).expect("key");
    assert_eq!(key.public().to_pem(), PEM);
    assert_eq!(key.public().id().as_str(), KEY_ID);
    assert_eq!(hex::encode(example().canonical_bytes(KEY_ID)), BYTES);
    let r = key.sign(&example());
    assert_eq!(r.received_at, "2027-03-01T14:05:09Z");
    assert_eq!(r.signature, SIGNATURE);
    assert_eq!(hex::encode(r.canonical_bytes()), BYTES);
    let public = PublicKey::all_from_pem(PEM);
    assert_eq!(public, vec![key.public().clone()]);
    assert_eq!(r.verify(&public[0]), Ok(()));
}

#[test]
fn any_changed_field_fails_and_another_key_is_named() {
    let key = SigningKey::from_seed_hex(SEED, None).expect("key");
    let r = key.sign(&example());
    let changes: [fn(&mut SignedReceipt); 8] = [
        |r| r.message_id.push('0'),
        |r| r.received_at = "2027-03-01T14:05:10Z".into(),
        |r| r.from_mailbox = "TRACM00002".into(),
        |r| r.to_mailbox = "TRACM00001".into(),
        |r| r.file_name = "VOUCHER.DAT".into(),
        |r| r.size_bytes += 1,
        |r| r.sha256.replace_range(0..1, "3"),
        |r| r.signature = r.signature.replace('9', "8"),
    ];
    for change in changes {
        let mut changed = r.clone();
        change(&mut changed);
        assert_eq!(changed.verify(key.public()), Err(Invalid::Signature));
    }
    let other = SigningKey::from_seed_hex(&"11".repeat(32), None).expect("key");
    assert!(matches!(
        r.verify(other.public()),
        Err(Invalid::OtherKey { .. })
    ));
    let mut renamed = r.clone();
    renamed.key_id = other.public().id().to_string();
    assert_eq!(renamed.verify(other.public()), Err(Invalid::Signature));
    let json = r.to_json();
    assert_eq!(SignedReceipt::from_json(&json), Ok(r));
}

#[test]
fn rotation_keeps_the_old_keys_and_a_new_current_one() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("keys/receipt-keys");
    let keys = ReceiptKeys::new("", file.clone());
    let first = keys.current().expect("made on first use");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&file).expect("file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let second = keys.rotate(OffsetDateTime::now_utc()).expect("rotated");
    assert_ne!(first.public(), second.public());
    let again = ReceiptKeys::new("", file);
    let all = again.all().expect("read");
    let ids: Vec<_> = all.iter().map(|k| k.public().id()).collect();
    assert_eq!(ids, vec![first.public().id(), second.public().id()]);
    let inline = ReceiptKeys::new(SEED, dir.path().join("unused"));
    assert_eq!(
        inline.current().expect("inline").public().id().as_str(),
        KEY_ID
    );
    assert!(inline.rotate(OffsetDateTime::now_utc()).is_err());
}
