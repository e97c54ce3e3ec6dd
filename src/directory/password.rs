//! Password hashing (argon2id), verification in constant time, and the rules a new password
//! must meet.
//!
//! Hashing and verification are CPU-bound (~25 ms at the recommended parameters), so callers on
//! the async runtime use [`verify_blocking`] / [`hash_blocking`], which move the work to the
//! blocking pool. An unknown principal is checked against [`dummy_hash`] so that it costs the
//! same time and gives the same answer as a wrong password.

use crate::config::Argon2Config;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::fmt;
use std::sync::OnceLock;

/// A password or other secret: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for hashing or comparing. Never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn hasher(cfg: &Argon2Config) -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id and a fresh random salt, as a PHC string.
pub fn hash(password: &str, cfg: &Argon2Config) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    hasher(cfg)
        .map_err(|e| e.to_string())?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC string; the comparison is constant-time (argon2 crate).
/// A malformed stored hash verifies nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password at the default parameters, verified against when the principal
/// does not exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 24];
        let _ = getrandom::getrandom(&mut pw);
        hash(&hex::encode(pw), &Argon2Config::default()).unwrap_or_default()
    })
}

/// [`verify`] on the blocking pool.
pub async fn verify_blocking(password: Secret, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(password.expose(), &phc))
        .await
        .unwrap_or(false)
}

/// [`hash`] on the blocking pool.
pub async fn hash_blocking(password: Secret, cfg: Argon2Config) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash(password.expose(), &cfg))
        .await
        .map_err(|e| e.to_string())?
}

/// The rules a new M-ID password must meet, listed in the refusal so the person can fix it.
#[derive(Debug, Clone)]
pub struct PasswordRules {
    pub min_length: usize,
    pub history: u32,
}

impl PasswordRules {
    pub fn describe(&self) -> String {
        format!(
            "A password must be {} to 128 characters long, contain an upper-case letter, a lower-case letter and a digit, not contain the M-ID, and differ from the last {} passwords.",
            self.min_length, self.history
        )
    }

    /// Checks the rules that need no previous hashes. Returns the first broken rule.
    pub fn check(&self, mid: &str, password: &str) -> Result<(), String> {
        let n = password.chars().count();
        if n < self.min_length || n > 128 {
            return Err(format!("It has {n} characters."));
        }
        if !password.chars().any(|c| c.is_uppercase())
            || !password.chars().any(|c| c.is_lowercase())
            || !password.chars().any(|c| c.is_ascii_digit())
        {
            return Err("It lacks an upper-case letter, a lower-case letter or a digit.".into());
        }
        if password
            .to_ascii_uppercase()
            .contains(&mid.to_ascii_uppercase())
        {
            return Err("It contains the M-ID.".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Config {
        Argon2Config {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("Correct-Horse-9", &cheap()).expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Correct-Horse-9", &h));
        assert!(!verify("correct-horse-9", &h));
        assert!(!verify("x", "not a hash"));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }

    #[test]
    fn password_rules() {
        let r = PasswordRules {
            min_length: 12,
            history: 6,
        };
        assert!(r.check("M10001", "Winter-Garden-42").is_ok());
        assert!(r.check("M10001", "Short1a").is_err());
        assert!(r.check("M10001", "alllowercase-42").is_err());
        assert!(r.check("M10001", "Pass-m10001-Word").is_err());
        assert!(r.describe().contains("12"));
    }
}
