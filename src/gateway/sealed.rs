//! TOTP secrets sealed at rest (issue 30): ChaCha20-Poly1305 under a key derived from the
//! audit key (`checkpoint::AuditKey::derive`), which is kept outside the database, with the
//! account's id as associated data, so that a copy of the database gives no secret and a sealed
//! secret moved to another account's row does not open. Stored as `sealed1:` and hex (nonce,
//! then ciphertext and tag); a value without the prefix is a secret stored before sealing (or by
//! a gateway given no key), read as it is.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

const PREFIX: &str = "sealed1:";
/// What the audit key is derived for.
pub const PURPOSE: &str = "imax-second-factor-secrets-v1";

/// `plain` sealed for `account`; `None` only if the system's randomness failed.
pub fn seal(key: &[u8; 32], account: i64, plain: &str) -> Option<String> {
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).ok()?);
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).ok()?;
    let mut data = plain.as_bytes().to_vec();
    let aad = Aad::from(account.to_be_bytes());
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad, &mut data)
        .ok()?;
    Some(format!(
        "{PREFIX}{}{}",
        hex::encode(nonce),
        hex::encode(data)
    ))
}

/// The secret `stored` holds for `account`: opened when sealed (`None` if it does not open
/// under `key`), as it is otherwise.
pub fn open(key: Option<&[u8; 32]>, account: i64, stored: &str) -> Option<String> {
    let Some(sealed) = stored.strip_prefix(PREFIX) else {
        return Some(stored.to_string());
    };
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key?).ok()?);
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, data) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut data = data.to_vec();
    let aad = Aad::from(account.to_be_bytes());
    let plain = key.open_in_place(nonce, aad, &mut data).ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_account() {
        let key = [7u8; 32];
        let sealed = seal(&key, 42, "JBSWY3DPEHPK3PXP").expect("sealed");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(seal(&key, 42, "JBSWY3DPEHPK3PXP"), Some(sealed.clone()));
        assert_eq!(
            open(Some(&key), 42, &sealed).as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(open(Some(&key), 43, &sealed), None, "another account's row");
        assert_eq!(open(Some(&[8u8; 32]), 42, &sealed), None, "another key");
        assert_eq!(open(None, 42, &sealed), None);
        assert_eq!(open(None, 42, "PLAIN").as_deref(), Some("PLAIN"));
    }
}
