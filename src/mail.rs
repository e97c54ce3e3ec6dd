//! Sending mail through an SMTP relay: just what password resets need (R24), with lettre.
//!
//! A reset's new password travels in the mail, so the relay is reached over TLS unless the
//! operator explicitly chooses otherwise: `starttls = "required"` (the default) refuses to send
//! anything to a relay that does not offer STARTTLS (an attacker on the path who strips it
//! gets nothing), `"opportunistic"` uses it when offered, `"never"` sends in clear (a relay on
//! the same host). The relay's certificate is checked against the CA bundle `ca_file`; the
//! whole exchange has a deadline.

use lettre::message::header::ContentType;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub relay: String,
    pub from: String,
    pub starttls: String,
    pub ca_file: String,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            relay: String::new(),
            from: "imax-gateway@localhost".into(),
            starttls: "required".into(),
            ca_file: "/etc/ssl/certs/ca-certificates.crt".into(),
            timeout_secs: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no SMTP relay is configured ([smtp] relay)")]
    NotConfigured,
    #[error("the SMTP relay {0} did not answer in time")]
    Timeout(String),
    #[error("the mail could not be built: {0}")]
    Build(String),
    #[error("the SMTP relay: {0}")]
    Smtp(String),
    #[error("TLS to the SMTP relay: {0}")]
    Tls(String),
}

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// The relay's certificate authorities, from a PEM bundle.
fn roots(ca_file: &str) -> Result<Vec<Certificate>, MailError> {
    use rustls_pki_types::pem::PemObject;
    let tls = |e: String| MailError::Tls(format!("{ca_file}: {e}"));
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| tls(e.to_string()))?
        .map(|c| {
            c.map_err(|e| tls(e.to_string()))
                .and_then(|c| Certificate::from_der(c.to_vec()).map_err(|e| tls(e.to_string())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(tls("no certificate".into()));
    }
    Ok(certs)
}

fn transport(cfg: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let (host, port) = match cfg.relay.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>()
                .map_err(|_| MailError::Smtp(format!("bad relay address {}", cfg.relay)))?,
        ),
        None => (cfg.relay.as_str(), 25),
    };
    let tls = match cfg.starttls.as_str() {
        "never" => Tls::None,
        mode => {
            // Exactly the CAs of `ca_file` (by default the system's bundle), nothing else.
            let mut params =
                TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::None);
            for root in roots(&cfg.ca_file)? {
                params = params.add_root_certificate(root);
            }
            let params = params
                .build_rustls()
                .map_err(|e| MailError::Tls(e.to_string()))?;
            if mode == "opportunistic" {
                Tls::Opportunistic(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                "imax-gateway".into(),
            ))
            .timeout(Some(Duration::from_secs(cfg.timeout_secs.max(1))))
            .build(),
    )
}

/// The text as it is (7-bit) when it can travel so, so that a person reads the new password
/// exactly as written; quoted-printable otherwise.
fn body(text: &str) -> lettre::message::Body {
    use lettre::message::header::ContentTransferEncoding;
    use lettre::message::Body;
    Body::new_with_encoding(text.to_string(), ContentTransferEncoding::SevenBit)
        .unwrap_or_else(Body::new)
}

pub async fn send(cfg: &SmtpConfig, msg: &Message<'_>) -> Result<(), MailError> {
    if cfg.relay.is_empty() {
        return Err(MailError::NotConfigured);
    }
    let build = |e: String| MailError::Build(e);
    let email = lettre::Message::builder()
        .from(cfg.from.parse().map_err(|e| build(format!("from: {e}")))?)
        .to(msg.to.parse().map_err(|e| build(format!("to: {e}")))?)
        .subject(msg.subject.replace(['\r', '\n'], " "))
        .header(ContentType::TEXT_PLAIN)
        .body(body(msg.body))
        .map_err(|e| build(e.to_string()))?;
    let transport = transport(cfg)?;
    let deadline = Duration::from_secs(cfg.timeout_secs.max(1));
    match tokio::time::timeout(deadline, transport.send(email)).await {
        Err(_) => Err(MailError::Timeout(cfg.relay.clone())),
        Ok(Err(e)) => Err(MailError::Smtp(e.to_string())),
        Ok(Ok(_)) => Ok(()),
    }
}
