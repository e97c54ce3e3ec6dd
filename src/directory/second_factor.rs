//! A second factor for the browser door (issue 30): time-based one-time codes (RFC 6238,
//! through `totp-rs`) and single-use recovery codes.
//!
//! * A code is six digits of HMAC-SHA-1 over 30-second time steps, the parameters every
//!   authenticator app reads from an `otpauth://` URI. A code of the step before or after the
//!   current one is accepted too (clocks drift), compared in constant time; the step a code
//!   was accepted for is returned so that the caller can refuse it, and every earlier step,
//!   ever after (RFC 6238 §5.2: a code is used once).
//! * The secret is 20 random bytes (160 bits, RFC 4226's recommendation), kept as base32.
//! * Recovery codes are ten random codes shown once; each starts with its slot (0–9), so that
//!   an attempt is checked against one argon2id hash, not ten.

use crate::ground::constant_time_eq;

/// Seconds per time step (RFC 6238's recommendation, and what every app assumes).
pub const STEP_SECS: u64 = 30;
/// Recovery codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The name an authenticator app shows beside the M-ID.
pub const ISSUER: &str = "HUD iMAX";

/// A TOTP secret, base32 without padding. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(String);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// What a code entered in the `code` field is: six digits, or a recovery code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnteredCode {
    Totp(String),
    /// The slot (its first character) and the whole code as entered, normalized.
    Recovery {
        slot: i64,
        code: String,
    },
    Malformed,
}

impl EnteredCode {
    /// Reads what a person typed: spaces and dashes are ignored, letters are case-blind.
    pub fn parse(raw: &str) -> EnteredCode {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            return EnteredCode::Totp(s);
        }
        let slot = s.bytes().next().filter(u8::is_ascii_digit);
        match slot {
            Some(d) if s.len() == 13 && s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                EnteredCode::Recovery {
                    slot: i64::from(d - b'0'),
                    code: s,
                }
            }
            _ => EnteredCode::Malformed,
        }
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> TotpSecret {
        TotpSecret(base32(&random_bytes::<20>()))
    }

    /// A secret as stored.
    pub fn from_stored(s: String) -> TotpSecret {
        TotpSecret(s)
    }

    /// The base32 text, to store and to show on the enrolment page (never to log).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn totp(&self, account: &str) -> Option<totp_rs::Totp> {
        let secret = totp_rs::Secret::try_from_base32(&self.0).ok()?;
        totp_rs::Builder::new()
            .with_secret(secret)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_issuer(Some(ISSUER))
            .with_account_name(account)
            .build()
            .ok()
    }

    /// The `otpauth://totp/…` URI an authenticator app reads (from the QR code, or pasted).
    pub fn uri(&self, mid: &str) -> String {
        self.totp(mid)
            .and_then(|t| t.to_url().ok())
            .unwrap_or_default()
    }

    /// The code of the step `unix_secs` falls in (for tests and the command line's help).
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp("-")
            .map(|t| t.generate(unix_secs).to_string())
            .unwrap_or_default()
    }

    /// The step `code` is right for, within one step either side of `unix_secs` (compared in
    /// constant time), if any.
    pub fn matching_step(&self, code: &str, unix_secs: u64) -> Option<i64> {
        let totp = self.totp("-")?;
        let origin = unix_secs / STEP_SECS;
        // Every candidate is computed and compared, whichever matches, so the time taken does
        // not tell which step (if any) was right.
        let mut found = None;
        for step in origin.saturating_sub(1)..=origin + 1 {
            let expected = totp.generate(step * STEP_SECS).to_string();
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
                found = i64::try_from(step).ok();
            }
        }
        found
    }
}

/// Ten new recovery codes: the slot digit, then twelve base32 characters (60 random bits),
/// shown grouped as `0ABCD-EFGH-JKLM`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|slot| {
            let body: String = base32(&random_bytes::<8>()).chars().take(12).collect();
            format!("{slot}{}-{}-{}", &body[..4], &body[4..8], &body[8..])
        })
        .collect()
}

/// The form a recovery code is hashed in: what [`EnteredCode::parse`] makes of it.
pub fn normalized(code: &str) -> String {
    match EnteredCode::parse(code) {
        EnteredCode::Recovery { code, .. } => code,
        _ => String::new(),
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if let Err(e) = getrandom::getrandom(&mut b) {
        // Without randomness no secret may be made; a fixed one would be a vulnerability.
        panic!("the operating system's random number generator failed: {e}");
    }
    b
}

/// RFC 4648 base32, upper case, without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890", six digits.
    #[test]
    fn codes_are_rfc_6238s() {
        let s = TotpSecret(base32(b"12345678901234567890"));
        assert_eq!(s.code_at(59), "287082");
        assert_eq!(s.code_at(1_111_111_109), "081804");
        assert_eq!(s.code_at(1_234_567_890), "005924");
        assert_eq!(s.matching_step("287082", 59), Some(1));
        // One step either side, not two.
        assert_eq!(s.matching_step("287082", 59 + 30), Some(1));
        assert_eq!(s.matching_step("287082", 59 + 60), None);
        assert_eq!(s.matching_step("000000", 59), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let s = TotpSecret::generate();
        assert_eq!(s.expose().len(), 32);
        let uri = s.uri("M10002");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains("M10002"), "{uri}");
        assert!(uri.contains(&format!("secret={}", s.expose())), "{uri}");
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn entered_codes_are_told_apart() {
        assert_eq!(
            EnteredCode::parse(" 123 456 "),
            EnteredCode::Totp("123456".into())
        );
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        for (i, c) in codes.iter().enumerate() {
            match EnteredCode::parse(&c.to_lowercase()) {
                EnteredCode::Recovery { slot, code } => {
                    assert_eq!(slot, i as i64);
                    assert_eq!(code, normalized(c));
                }
                other => panic!("{c}: {other:?}"),
            }
        }
        assert_eq!(EnteredCode::parse("12345"), EnteredCode::Malformed);
        assert_eq!(EnteredCode::parse("X2345678901234"), EnteredCode::Malformed);
    }
}
