//! The receipt signing keys: Ed25519, made on first start like the audit key, rotated by
//! `imax admin receipt-key --rotate` without forgetting the old ones (their receipts must stay
//! verifiable).
//!
//! The key file (`receipts.key_file`, by default `<data_dir>/receipt-keys`, mode 0600) holds
//! one key a line, `<created, RFC 3339> <seed, 64 hex digits>`, oldest first; the last line is
//! the current key. A running gateway reads the file again when it changes, so a rotation
//! made with the command line takes effect without a restart. `receipts.key` (hex, usually
//! `IMAX_RECEIPTS_KEY`) gives one key inline instead: then there is nothing to rotate.

use super::{receipt_time, SignedReceipt, Statement, FORMAT};
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// DER of an Ed25519 SubjectPublicKeyInfo up to the key (RFC 8410): SEQUENCE { SEQUENCE {
/// OID 1.3.101.112 }, BIT STRING (0 unused bits) of 32 bytes }.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key's id: the first 8 bytes of the SHA-256 of its 32-byte public key, in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Ed25519 public key (32 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn id(&self) -> KeyId {
        KeyId(hex::encode(&Sha256::digest(self.0)[..8]))
    }

    /// `-----BEGIN PUBLIC KEY-----`: the SubjectPublicKeyInfo in base64, 64 columns.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Every Ed25519 public key in `text`: PEM blocks (one, or several, as the well-known
    /// list's `public_key_pem` values hold them; JSON escapes are undone first).
    pub fn all_from_pem(text: &str) -> Vec<PublicKey> {
        let text = text.replace("\\n", "\n");
        let mut keys = Vec::new();
        for block in text.split("-----BEGIN PUBLIC KEY-----").skip(1) {
            let Some((body, _)) = block.split_once("-----END PUBLIC KEY-----") else {
                continue;
            };
            let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                continue;
            };
            if der.len() == 44 && der[..12] == SPKI_PREFIX {
                let mut k = [0u8; 32];
                k.copy_from_slice(&der[12..]);
                keys.push(PublicKey(k));
            }
        }
        keys
    }

    pub(super) fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), ring::error::Unspecified> {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(msg, sig)
    }
}

/// A private signing key and when it was made. Its `Debug` never shows the seed.
#[derive(Clone)]
pub struct SigningKey {
    pair: Arc<Ed25519KeyPair>,
    public: PublicKey,
    pub created: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public.id())
    }
}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

impl SigningKey {
    /// The key of a 32-byte seed given in hex.
    pub fn from_seed_hex(hex_seed: &str, created: Option<OffsetDateTime>) -> io::Result<Self> {
        let seed = hex::decode(hex_seed.trim()).map_err(|_| bad("a receipt key is not hex"))?;
        if seed.len() != 32 {
            return Err(bad("a receipt key must be 32 bytes (64 hex digits)"));
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| bad("a receipt key was rejected"))?;
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(SigningKey {
            pair: Arc::new(pair),
            public: PublicKey(public),
            created,
        })
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// `msg` signed with this key, base64.
    pub fn sign_bytes(&self, msg: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.pair.sign(msg).as_ref())
    }

    /// The statement signed with this key.
    pub fn sign(&self, s: &Statement) -> SignedReceipt {
        let id = self.public.id();
        let sig = self.pair.sign(&s.canonical_bytes(id.as_str()));
        SignedReceipt {
            format: FORMAT.to_string(),
            message_id: s.message_id.clone(),
            received_at: receipt_time(s.received_at),
            from_mailbox: s.from_mailbox.clone(),
            to_mailbox: s.to_mailbox.clone(),
            file_name: s.file_name.clone(),
            size_bytes: s.size_bytes,
            sha256: s.sha256.to_ascii_lowercase(),
            key_id: id.to_string(),
            signature: base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        }
    }
}

/// The keys as last read: the file's identity when read (length, modification time) and its
/// keys, oldest first.
type Loaded = (Option<(u64, std::time::SystemTime)>, Arc<Vec<SigningKey>>);

/// The gateway's receipt keys (`[receipts]`).
#[derive(Debug)]
pub struct ReceiptKeys {
    inline: String,
    file: PathBuf,
    loaded: Mutex<Option<Loaded>>,
}

impl ReceiptKeys {
    /// The keys `receipts.key` or `receipts.key_file` name; nothing is read until first use.
    pub fn new(inline_hex: &str, file: PathBuf) -> ReceiptKeys {
        ReceiptKeys {
            inline: inline_hex.trim().to_string(),
            file,
            loaded: Mutex::new(None),
        }
    }

    pub fn from_config(c: &crate::config::Config) -> ReceiptKeys {
        let file = if c.receipts.key_file.is_empty() {
            c.data_dir.join("receipt-keys")
        } else {
            PathBuf::from(&c.receipts.key_file)
        };
        ReceiptKeys::new(&c.receipts.key, file)
    }

    /// The key file (used unless the key is given inline).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every key, oldest first, the current one last; the key file is made with a new key if
    /// it is missing, and read again when it changed.
    pub fn all(&self) -> io::Result<Arc<Vec<SigningKey>>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if !self.inline.is_empty() {
            if let Some((_, keys)) = loaded.as_ref() {
                return Ok(keys.clone());
            }
            let keys = Arc::new(vec![SigningKey::from_seed_hex(&self.inline, None)?]);
            *loaded = Some((None, keys.clone()));
            return Ok(keys);
        }
        if !self.file.exists() {
            append_new_key(&self.file, OffsetDateTime::now_utc(), true)?;
        }
        let meta = std::fs::metadata(&self.file)?;
        let stamp = Some((meta.len(), meta.modified()?));
        if let Some((seen, keys)) = loaded.as_ref() {
            if *seen == stamp {
                return Ok(keys.clone());
            }
        }
        crate::ground::private::tighten(&self.file)?;
        let keys = Arc::new(read_keys(&std::fs::read_to_string(&self.file)?)?);
        *loaded = Some((stamp, keys.clone()));
        Ok(keys)
    }

    /// [`ReceiptKeys::all`], but a missing key file is an error rather than a new key: a
    /// verifier must not make the key it checks with.
    pub fn existing(&self) -> io::Result<Arc<Vec<SigningKey>>> {
        if self.inline.is_empty() && !self.file.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the receipt key file {} is missing", self.file.display()),
            ));
        }
        self.all()
    }

    /// The key new receipts are signed with.
    pub fn current(&self) -> io::Result<SigningKey> {
        self.all()?
            .last()
            .cloned()
            .ok_or_else(|| bad("the receipt key file holds no key"))
    }

    /// Makes a new current key; the old ones stay (their receipts stay verifiable).
    pub fn rotate(&self, now: OffsetDateTime) -> io::Result<SigningKey> {
        if !self.inline.is_empty() {
            return Err(bad(
                "receipts.key is given inline: set a new one there (and keep publishing the old public key), or use receipts.key_file",
            ));
        }
        self.all()?;
        append_new_key(&self.file, now, false)?;
        self.current()
    }
}

/// Keys from the key file's text: `<created> <seed hex>` a line, `#` comments ignored.
fn read_keys(text: &str) -> io::Result<Vec<SigningKey>> {
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (created, seed) = line
            .split_once(' ')
            .ok_or_else(|| bad("a line of the receipt key file is not `<created> <seed>`"))?;
        let created = crate::clock::parse_rfc3339(created);
        keys.push(SigningKey::from_seed_hex(seed, created)?);
    }
    Ok(keys)
}

/// Appends a fresh random key (32 bytes from the system's generator) to `file`, made with mode
/// 0600 (and its directory private) when `create` says it is new.
fn append_new_key(file: &Path, now: OffsetDateTime, create: bool) -> io::Result<()> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(io::Error::other)?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::ground::private::dir(dir)?;
    }
    let mut options = crate::ground::private::file_options();
    if create {
        options.write(true).create_new(true);
    } else {
        options.append(true);
    }
    let mut f = options.open(file)?;
    f.write_all(format!("{} {}\n", receipt_time(now), hex::encode(seed)).as_bytes())?;
    f.sync_all()?;
    tracing::info!(file = %file.display(), "made a receipt signing key");
    Ok(())
}
