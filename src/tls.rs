//! TLS: certificates from PEM files, or a development CA and server certificate generated on
//! first start; a rustls server configuration restricted to TLS 1.2 and 1.3 with AEAD suites
//! and ALPN for HTTP/2 and HTTP/1.1.

use rustls::crypto::ring as provider;
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot generate the development certificate: {0}")]
    Generate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Paths of a certificate chain and its key, plus the CA that clients should trust when the
/// gateway generated its own.
#[derive(Debug, Clone)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub dev_ca: Option<PathBuf>,
}

/// The configured certificate, or the development one under `<data_dir>/tls`, generated if
/// missing and reused afterwards.
pub fn resolve(cert: &str, key: &str, data_dir: &Path) -> Result<CertPaths, TlsError> {
    if !cert.is_empty() || !key.is_empty() {
        return Ok(CertPaths {
            cert: cert.into(),
            key: key.into(),
            dev_ca: None,
        });
    }
    let dir = data_dir.join("tls");
    let paths = CertPaths {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        dev_ca: Some(dir.join("dev-ca.pem")),
    };
    if !paths.cert.exists() || !paths.key.exists() {
        generate_dev(&dir)?;
        tracing::info!(dir = %dir.display(), "generated a development CA and server certificate");
    } else if let Some(expires) = dev_expiry(&dir) {
        if expires - time::OffsetDateTime::now_utc() < time::Duration::days(RENEW_DAYS) {
            generate_dev(&dir)?;
            tracing::warn!(
                dir = %dir.display(),
                "renewed the development certificate (within {RENEW_DAYS} days of expiry): clients must trust the new dev-ca.pem"
            );
        }
    }
    Ok(paths)
}

/// The development certificate is valid this long, and renewed at start this close to expiry.
pub const DEV_VALID_DAYS: i64 = 365;
pub const RENEW_DAYS: i64 = 30;
const DEV_EXPIRY_FILE: &str = "dev-expires-at";

/// When the development certificate in `dir` expires, as recorded when it was made (none for
/// one made by an older version, which is kept as it is).
pub fn dev_expiry(dir: &Path) -> Option<time::OffsetDateTime> {
    let text = std::fs::read_to_string(dir.join(DEV_EXPIRY_FILE)).ok()?;
    text.trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
}

/// Writes `dev-ca.pem`, `server.pem` and `server.key` for localhost, 127.0.0.1 and ::1.
pub fn generate_dev(dir: &Path) -> Result<(), TlsError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let g = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let ca_key = KeyPair::generate().map_err(g)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "imax-gateway development CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // A year (testssl.sh and browsers frown on longer), from an hour ago for clock skew.
    let now = time::OffsetDateTime::now_utc();
    let not_after = now + time::Duration::days(DEV_VALID_DAYS);
    ca.not_before = now - time::Duration::hours(1);
    ca.not_after = not_after + time::Duration::days(1);
    let ca_cert = ca.self_signed(&ca_key).map_err(g)?;
    let key = KeyPair::generate().map_err(g)?;
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let mut leaf = CertificateParams::new(names).map_err(g)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.not_before = now - time::Duration::hours(1);
    leaf.not_after = not_after;
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(g)?;
    crate::ground::private::dir(dir).map_err(|source| TlsError::Write {
        path: dir.into(),
        source,
    })?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| TlsError::Write { path, source })
    };
    write("dev-ca.pem", ca_cert.pem())?;
    write(
        "server.pem",
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
    )?;
    write("server.key", key.serialize_pem())?;
    restrict(&dir.join("server.key"));
    write(DEV_EXPIRY_FILE, format!("{}\n", not_after.unix_timestamp()))?;
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict(_: &Path) {}

/// The server's certificate and key, swapped whole (for new handshakes; connections already
/// open keep theirs) when the files change or on SIGHUP, without a restart. A new pair that
/// does not load, or whose key does not match its certificate, is refused and logged, and the
/// old one keeps serving.
#[derive(Debug)]
pub struct CertStore {
    paths: CertPaths,
    current: std::sync::RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last loaded.
    loaded: std::sync::Mutex<Option<(std::time::SystemTime, std::time::SystemTime)>>,
    expires: std::sync::Mutex<Option<time::OffsetDateTime>>,
    /// New pairs refused since start (unreadable, or a key that is not the certificate's).
    refused: std::sync::atomic::AtomicU64,
}

impl rustls::server::ResolvesServerCert for CertStore {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn modified(paths: &CertPaths) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(&paths.cert)?, m(&paths.key)?))
}

/// Reads the chain and key and checks that they belong together.
fn load_certified(
    paths: &CertPaths,
) -> Result<(CertifiedKey, Option<time::OffsetDateTime>), TlsError> {
    let pem_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls_pki_types::pem::Error| TlsError::Pem {
            path: path.clone(),
            reason: e.to_string(),
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&paths.cert)
        .map_err(pem_err(&paths.cert))?
        .collect::<Result<_, _>>()
        .map_err(pem_err(&paths.cert))?;
    let Some(leaf) = certs.first() else {
        return Err(TlsError::NoCertificate {
            path: paths.cert.clone(),
        });
    };
    let expires = not_after(leaf);
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(pem_err(&paths.key))?;
    let signing = provider::sign::any_supported_type(&key)?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match()?;
    Ok((certified, expires))
}

impl CertStore {
    pub fn load(paths: &CertPaths) -> Result<Arc<CertStore>, TlsError> {
        let before = modified(paths);
        let (certified, expires) = load_certified(paths)?;
        set_expiry_metric(expires);
        Ok(Arc::new(CertStore {
            paths: paths.clone(),
            current: std::sync::RwLock::new(Arc::new(certified)),
            loaded: std::sync::Mutex::new(before),
            expires: std::sync::Mutex::new(expires),
            refused: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Loads the files again and swaps them in; on failure the old pair keeps serving.
    pub fn reload(&self) -> Result<(), TlsError> {
        let before = modified(&self.paths);
        let (certified, expires) = load_certified(&self.paths).inspect_err(|_| {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!("imax_tls_reloads_refused_total").increment(1);
        })?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = before;
        *self.expires.lock().unwrap_or_else(|e| e.into_inner()) = expires;
        set_expiry_metric(expires);
        tracing::info!(cert = %self.paths.cert.display(), expires = ?expires, "loaded a new TLS certificate");
        Ok(())
    }

    /// [`CertStore::reload`] when either file changed since the last load.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = modified(&self.paths);
        let last = *self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_none() || now == last {
            return Ok(false);
        }
        match self.reload() {
            Ok(()) => Ok(true),
            Err(e) => {
                // Not again until the files change again.
                *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = now;
                Err(e)
            }
        }
    }

    /// How many new pairs were refused since start (the old pair kept serving each time).
    pub fn refused_reloads(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// When the certificate being served expires.
    pub fn expires_at(&self) -> Option<time::OffsetDateTime> {
        *self.expires.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn set_expiry_metric(expires: Option<time::OffsetDateTime>) {
    if let Some(t) = expires {
        metrics::gauge!("imax_tls_certificate_expiry_timestamp_seconds")
            .set(t.unix_timestamp() as f64);
    }
}

/// The end of a certificate's validity (`tbsCertificate.validity.notAfter`), read from its DER.
pub fn not_after(cert: &[u8]) -> Option<time::OffsetDateTime> {
    /// One DER element: its tag, its value and what follows it.
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (_, cert, _) = tlv(cert)?;
    let (_, tbs, _) = tlv(cert)?;
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        rest = tlv(rest)?.2; // the version came first; this was the serial number
    }
    rest = tlv(rest)?.2; // signature algorithm
    rest = tlv(rest)?.2; // issuer
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after) = tlv(validity)?;
    let (tag, value, _) = tlv(after)?;
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i32 = digits.get(..2)?.parse().ok()?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                digits.get(2..)?,
            )
        }
        0x18 => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2)?.parse::<u8>().ok();
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(n(0)?).ok()?, n(2)?).ok()?;
    let at = time::Time::from_hms(n(4)?, n(6)?, n(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, at).assume_utc())
}

/// Builds the server configuration over a [`CertStore`] (TLS 1.2 and 1.3, AEAD suites, ALPN
/// for HTTP/2 and HTTP/1.1).
pub fn server_config(paths: &CertPaths) -> Result<(Arc<ServerConfig>, Arc<CertStore>), TlsError> {
    let store = CertStore::load(paths)?;
    let mut provider = provider::default_provider();
    // AEAD suites only (the ring provider offers no others, but say so explicitly).
    provider.cipher_suites = vec![
        provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Session tickets (TLS 1.2 and 1.3, keys rotated by rustls every 6 hours): much vendor
    // software opens a new connection per call, and a resumed handshake skips the certificate
    // signature, the dearest part of a full one, without any per-session state on the node.
    config.ticketer = provider::Ticketer::new()?;
    Ok((Arc::new(config), store))
}

/// A client configuration trusting `ca` (PEM), used by the built-in client, tests and benches.
pub fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| TlsError::Pem {
        path: ca.into(),
        reason: e.to_string(),
    })? {
        let cert = cert.map_err(|e| TlsError::Pem {
            path: ca.into(),
            reason: e.to_string(),
        })?;
        roots.add(cert)?;
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}
