//! Body keys: the names bodies are stored under, always the gateway's own random ones, never
//! anything a client sent, and checked again when read back from the database.

use std::io;

pub(super) fn random_key() -> io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(io::Error::other)?;
    Ok(hex::encode(b))
}

/// Length of a body key: 16 random bytes in lower-case hex ([`random_key`]).
pub const KEY_LEN: usize = 32;

/// Whether `key` has exactly the shape the gateway gives its keys ([`random_key`]).
pub fn is_key(key: &str) -> bool {
    key.len() == KEY_LEN && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Refuses a body key read from the database that the gateway did not make: a row whose key
/// is anything else (`../../etc/passwd`, an absolute path) was written by someone else, and is
/// reported as corruption rather than joined to a path (issue 25, item 8).
pub fn checked_key(key: &str) -> io::Result<&str> {
    if is_key(key) {
        Ok(key)
    } else {
        // Never the key itself in full: it is whatever the database holds.
        let shown: String = key
            .chars()
            .take(40)
            .flat_map(char::escape_default)
            .collect();
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("body key \"{shown}\" is not one the gateway made: the row is corrupt"),
        ))
    }
}
