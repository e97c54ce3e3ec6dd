//! TLS: certificates from PEM files, or a development CA and server certificate generated on
//! first start; a rustls server configuration restricted to TLS 1.2 and 1.3 with AEAD suites
//! and ALPN for HTTP/2 and HTTP/1.1.

use rustls::crypto::ring as provider;
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
    crate::store::private::dir(dir).map_err(|source| TlsError::Write {
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

/// Loads the chain and key and builds the server configuration.
pub fn server_config(paths: &CertPaths) -> Result<Arc<ServerConfig>, TlsError> {
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
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: paths.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(pem_err(&paths.key))?;
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
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
