//! Sending mail through an SMTP relay: just what password resets (R24) and the notices of a
//! profile change (R23) need, with lettre.
//!
//! A reset's new password travels in the mail, so the relay is reached over TLS unless the
//! operator explicitly chooses otherwise: `starttls = "required"` (the default) refuses to send
//! anything to a relay that does not offer STARTTLS (an attacker on the path who strips it
//! gets nothing), `"opportunistic"` uses it when offered, `"never"` sends in clear (a relay on
//! the same host). The relay's certificate is checked against the CA bundle `ca_file`; the
//! whole exchange has a deadline.

pub use crate::config::SmtpConfig;
use crate::config::StartTls;
use lettre::message::header::ContentType;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

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
    /// A mail that may be sent again (the notices, issue 30) carries the Message-ID and Date
    /// it was composed with, so that a second copy is recognisably the same mail and dropped
    /// by mail software; otherwise lettre makes them up.
    pub identity: Option<Identity<'a>>,
}

/// The Message-ID (without its angle brackets) and Date of a mail composed once.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub message_id: &'a str,
    pub date: std::time::SystemTime,
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
    let tls = match cfg.starttls {
        StartTls::Never => Tls::None,
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
            if mode == StartTls::Opportunistic {
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
        .header(ContentType::TEXT_PLAIN);
    let email = match msg.identity {
        Some(id) => email
            .message_id(Some(format!("<{}>", id.message_id)))
            .date(id.date),
        None => email,
    };
    let email = email
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

/// The notice of a mailbox profile change (R23), for the addresses on file before it: which
/// fields changed, when and by whom, and how to undo it. Never a PIN or a password: only the
/// fields' names. Returns the subject and the text.
pub fn profile_change_notice(imax_id: &str, at: &str, by: &str, fields: &str) -> (String, String) {
    let subject = format!("iMAX mailbox {imax_id}: its profile was changed");
    let body = format!(
        "The profile of the iMAX (TRACSMail) mailbox {imax_id} was changed\n\
         on {at} by {by}.\n\n\
         Changed: {fields}.\n\n\
         You receive this notice at an address the profile held before\n\
         the change. The Help Desk mails new mailbox passwords only to the\n\
         profile's email address, and checks callers against its contacts\n\
         and PINs.\n\n\
         If you did not make or expect this change, call the HUD iMAX Help\n\
         Desk now with the mailbox's iMAX ID: they see this change on the\n\
         mailbox's reset page, put the profile back and reset the mailbox\n\
         password to you. If you can still open the mailbox, change its\n\
         password first (Mailbox, Change password): that ends every other\n\
         session on it.\n"
    );
    (subject, body)
}

/// Sends the same message to each address, every one tried; the first failure, if any.
pub async fn send_each(
    cfg: &SmtpConfig,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<(), MailError> {
    let mut first = None;
    for addr in to {
        if let Err(e) = send(
            cfg,
            &Message {
                to: addr,
                subject,
                body,
                identity: None,
            },
        )
        .await
        {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
