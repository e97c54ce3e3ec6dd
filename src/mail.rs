//! Sending mail through an SMTP relay: just what password resets need (R24).
//!
//! A small client: EHLO, STARTTLS when the relay offers it (or always, or never, by setting),
//! MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT, with a deadline on the whole exchange. The
//! relay is trusted through the CA file given in the settings.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
            starttls: "opportunistic".into(),
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
    #[error("SMTP: {0}")]
    Io(#[from] std::io::Error),
    #[error("the SMTP relay refused: {0}")]
    Refused(String),
    #[error("the SMTP relay does not offer STARTTLS, which the settings require")]
    NoStartTls,
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

pub async fn send(cfg: &SmtpConfig, msg: &Message<'_>) -> Result<(), MailError> {
    if cfg.relay.is_empty() {
        return Err(MailError::NotConfigured);
    }
    let deadline = Duration::from_secs(cfg.timeout_secs.max(1));
    tokio::time::timeout(deadline, exchange(cfg, msg))
        .await
        .map_err(|_| MailError::Timeout(cfg.relay.clone()))?
}

async fn exchange(cfg: &SmtpConfig, msg: &Message<'_>) -> Result<(), MailError> {
    let tcp = TcpStream::connect(&cfg.relay).await?;
    let mut plain = BufReader::new(tcp);
    expect(&mut plain, 220).await?;
    let offers = command(&mut plain, "EHLO imax-gateway", 250).await?;
    let offered = offers
        .iter()
        .any(|l| l.to_ascii_uppercase().starts_with("STARTTLS"));
    let use_tls = match cfg.starttls.as_str() {
        "never" => false,
        "required" if !offered => return Err(MailError::NoStartTls),
        _ => offered,
    };
    if !use_tls {
        return transaction(&mut plain, cfg, msg).await;
    }
    command(&mut plain, "STARTTLS", 220).await?;
    let tls = crate::tls::client_config(std::path::Path::new(&cfg.ca_file))
        .map_err(|e| MailError::Tls(e.to_string()))?;
    let host = cfg
        .relay
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(&cfg.relay);
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| MailError::Tls(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::<rustls::ClientConfig>::clone(&tls))
        .connect(name, plain.into_inner())
        .await
        .map_err(|e| MailError::Tls(e.to_string()))?;
    let mut secure = BufReader::new(stream);
    command(&mut secure, "EHLO imax-gateway", 250).await?;
    transaction(&mut secure, cfg, msg).await
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    cfg: &SmtpConfig,
    msg: &Message<'_>,
) -> Result<(), MailError> {
    let clean = |v: &str| v.replace(['\r', '\n', '<', '>'], "");
    command(s, &format!("MAIL FROM:<{}>", clean(&cfg.from)), 250).await?;
    command(s, &format!("RCPT TO:<{}>", clean(msg.to)), 250).await?;
    command(s, "DATA", 354).await?;
    let mut data = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        clean(&cfg.from),
        clean(msg.to),
        msg.subject.replace(['\r', '\n'], " ")
    );
    for line in msg.body.lines() {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    s.get_mut().write_all(data.as_bytes()).await?;
    expect(s, 250).await?;
    let _ = command(s, "QUIT", 221).await;
    Ok(())
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    line: &str,
    code: u16,
) -> Result<Vec<String>, MailError> {
    s.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await?;
    s.get_mut().flush().await?;
    expect(s, code).await
}

/// Reads a (possibly multi-line) reply and checks its code; returns the text of its lines.
async fn expect<S: AsyncRead + Unpin>(
    s: &mut BufReader<S>,
    code: u16,
) -> Result<Vec<String>, MailError> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Err(MailError::Refused("the connection closed".into()));
        }
        if line.len() > 1000 || lines.len() > 100 {
            return Err(MailError::Refused("an over-long reply".into()));
        }
        let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").trim_end().to_string());
        if last {
            if got != code {
                return Err(MailError::Refused(line.trim_end().to_string()));
            }
            return Ok(lines);
        }
    }
}
