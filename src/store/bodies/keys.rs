//! Body keys: the names bodies are stored under, always the gateway's own (random, or for a
//! body kept in the database time-ordered and random), never anything a client sent, and
//! checked again when read back from the database.

use std::io;

pub(super) fn random_key() -> io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(io::Error::other)?;
    Ok(hex::encode(b))
}

/// A key for a body kept in the database (its row in `body_chunks`): the time in
/// milliseconds, then 10 random bytes, in lower-case hex, the shape of [`random_key`]. Issue
/// 29: keys that grow with time add each new row to the end of `body_chunks`' index, on a
/// page the batch's other bodies change too, where a random key changes a page of its own
/// (a frame of the write-ahead log, and a page for the checkpoint to copy, per message).
/// Never a file's name: files keep random keys, whose first two digits spread them over
/// 256 directories.
pub(super) fn ordered_key() -> io::Result<String> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    getrandom::getrandom(&mut b[6..]).map_err(io::Error::other)?;
    Ok(hex::encode(b))
}

/// Length of a body key: 16 bytes in lower-case hex ([`random_key`], [`ordered_key`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 29: a database body's key has a file's key's shape (so `checked_key` takes it),
    /// and a later one sorts after an earlier one (the index grows at its end).
    #[test]
    fn ordered_keys_have_the_random_keys_shape_and_grow_with_time() {
        let first = ordered_key().expect("key");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = ordered_key().expect("key");
        assert!(is_key(&first) && is_key(&later) && checked_key(&later).is_ok());
        assert!(later > first, "{later} after {first}");
        assert_ne!(ordered_key().expect("key"), ordered_key().expect("key"));
    }
}
