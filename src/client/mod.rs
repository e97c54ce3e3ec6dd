//! A small system-to-system client: what `imax client …`, the integration tests and the load
//! benchmark use to talk to a gateway over real TLS.
//!
//! It speaks HTTP/1.1 over one kept-alive connection and streams `SendFile` content from a
//! file, so it can send files far larger than it holds in memory.

mod mtom;
mod progress;
mod reply;

pub use progress::{Direction, Progress, ProgressSink};

pub use reply::{parse_reply, Fault, Reply};

use crate::s2s::envelope::{SOAP_ENV, TNS, WSSE};
use crate::s2s::reply::escape;
use base64::Engine;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A request body the client can post.
pub type ReqBody = BoxBody<Bytes, std::io::Error>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad URL {0:?}: use https://host:port")]
    Url(String),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the response is not a SOAP envelope: {0}")]
    Response(String),
}

/// What a file's content comes from.
#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// One connection to a gateway, with the person's credentials for the WS-Security header.
pub struct S2sClient {
    sender: SendRequest<ReqBody>,
    host: String,
    pub mid: String,
    pub password: String,
    /// Sends every file as a deliberate resend (`<resend>true</resend>`): the gateway does not
    /// refuse it as a duplicate.
    pub resend: bool,
    /// Told how far a file has gone (none by default: the library itself shows nothing).
    pub progress: Option<ProgressSink>,
}

impl std::fmt::Debug for S2sClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S2sClient")
            .field("host", &self.host)
            .field("mid", &self.mid)
            .finish()
    }
}

fn split_url(url: &str) -> Result<(String, u16), ClientError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| ClientError::Url(url.into()))?;
    let hostport = rest.split('/').next().unwrap_or("");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| ClientError::Url(url.into()))?),
        None => (hostport, 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(ClientError::Url(url.into()));
    }
    Ok((host.to_string(), port))
}

impl S2sClient {
    /// Connects to `url` (`https://host:port`), trusting the CA certificates in `ca`.
    pub async fn connect(
        url: &str,
        ca: &Path,
        mid: &str,
        password: &str,
    ) -> Result<S2sClient, ClientError> {
        Self::connect_from(url, ca, mid, password, None).await
    }

    /// [`S2sClient::connect`] from the local address `from` (a host with several addresses;
    /// the gateway counts sign-in failures per client address).
    pub async fn connect_from(
        url: &str,
        ca: &Path,
        mid: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<S2sClient, ClientError> {
        Self::connect_with(url, Self::config(ca)?, mid, password, from).await
    }

    /// The TLS configuration [`S2sClient::connect`] uses: HTTP/1.1, trusting `ca`. Connections
    /// made with one shared configuration ([`S2sClient::connect_with`]) resume their TLS
    /// sessions (tickets), as a vendor's client that connects once per call should.
    pub fn config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let mut config = (*crate::tls::client_config(ca)?).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// [`S2sClient::connect_from`] with a TLS configuration of [`S2sClient::config`], shared
    /// between connections so that they resume their sessions.
    pub async fn connect_with(
        url: &str,
        config: Arc<rustls::ClientConfig>,
        mid: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<S2sClient, ClientError> {
        let (host, port) = split_url(url)?;
        let tcp = match from {
            None => TcpStream::connect((host.as_str(), port)).await?,
            Some(local) => {
                let target = tokio::net::lookup_host((host.as_str(), port))
                    .await?
                    .find(|a| a.is_ipv4() == local.is_ipv4())
                    .ok_or_else(|| ClientError::Url(url.into()))?;
                let socket = match local {
                    std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                    std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                };
                socket.bind(std::net::SocketAddr::new(local, 0))?;
                socket.connect(target).await?
            }
        };
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(host.clone()).map_err(|_| ClientError::Url(url.into()))?;
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(S2sClient {
            sender,
            host: format!("{host}:{port}"),
            mid: mid.into(),
            password: password.into(),
            resend: false,
            progress: None,
        })
    }

    fn header(&self) -> String {
        format!(
            "<soap:Header><wsse:Security xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText\">{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>",
            escape(&self.mid),
            escape(&self.password)
        )
    }

    fn open(&self, op: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:t=\"{TNS}\">{}<soap:Body><t:{op}>",
            self.header()
        )
    }

    fn fields(fields: &[(&str, &str)]) -> String {
        fields
            .iter()
            .map(|(k, v)| format!("<t:{k}>{}</t:{k}>", escape(v)))
            .collect()
    }

    /// Calls an operation whose request has only the given simple fields.
    pub async fn call(&mut self, op: &str, fields: &[(&str, &str)]) -> Result<Reply, ClientError> {
        let xml = format!(
            "{}{}</t:{op}></soap:Body></soap:Envelope>",
            self.open(op),
            Self::fields(fields)
        );
        self.post(full(xml)).await
    }

    /// Posts any body (for tests of malformed requests).
    pub async fn raw(&mut self, xml: impl Into<Bytes>) -> Result<Reply, ClientError> {
        self.post(full(xml)).await
    }

    /// `SendFile` with the content streamed and base64-encoded on the way.
    pub async fn send_file(
        &mut self,
        mailbox: &str,
        mailbox_password: &str,
        to: Option<&str>,
        file_name: &str,
        content: Content,
        sha256: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let mut fields = vec![("mailbox", mailbox), ("mailboxPassword", mailbox_password)];
        if let Some(t) = to {
            fields.push(("toMailbox", t));
        }
        fields.push(("fileName", file_name));
        if let Some(s) = sha256 {
            fields.push(("sha256", s));
        }
        if self.resend {
            fields.push(("resend", "true"));
        }
        self.send_fields(&fields, content).await
    }

    /// `SendFile` answering `in_reply_to`, a message this mailbox received: the file goes back
    /// to its sender.
    pub async fn send_reply(
        &mut self,
        mailbox: &str,
        mailbox_password: &str,
        in_reply_to: &str,
        file_name: &str,
        content: Content,
    ) -> Result<Reply, ClientError> {
        let fields = [
            ("mailbox", mailbox),
            ("mailboxPassword", mailbox_password),
            ("fileName", file_name),
            ("inReplyTo", in_reply_to),
        ];
        self.send_fields(&fields, content).await
    }

    /// `SendFile` with these fields before the content.
    async fn send_fields(
        &mut self,
        fields: &[(&str, &str)],
        content: Content,
    ) -> Result<Reply, ClientError> {
        let prefix = format!(
            "{}{}<t:content>",
            self.open("SendFile"),
            Self::fields(fields)
        );
        let suffix = "</t:content></t:SendFile></soap:Body></soap:Envelope>".to_string();
        let body = match content {
            Content::Bytes(b) => {
                let enc = base64::engine::general_purpose::STANDARD.encode(b);
                full(format!("{prefix}{enc}{suffix}"))
            }
            Content::File(path) => {
                let file = tokio::fs::File::open(path).await?;
                self.expect_upload(&file).await;
                streamed(prefix, file, suffix, true, self.progress.clone())
            }
        };
        self.post(body).await
    }

    /// Tells the progress listener, if any, how long the file about to be sent is.
    pub(crate) async fn expect_upload(&self, file: &tokio::fs::File) {
        if let (Some(p), Ok(meta)) = (&self.progress, file.metadata().await) {
            p.expect(Direction::Upload, meta.len());
        }
    }

    /// Posts `body` as `content_type`; the answer's status, Content-Type and bytes.
    async fn exchange(
        &mut self,
        body: ReqBody,
        content_type: &str,
        accept: Option<&str>,
    ) -> Result<(u16, String, Bytes), ClientError> {
        self.sender.ready().await?;
        let mut req = hyper::Request::post("/s2s")
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header("SOAPAction", "\"\"");
        if let Some(a) = accept {
            req = req.header(hyper::header::ACCEPT, a);
        }
        let req = req
            .body(body)
            .map_err(|e| ClientError::Response(e.to_string()))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = match &self.progress {
            Some(sink) => {
                if let Some(total) = hyper::body::Body::size_hint(resp.body()).exact() {
                    sink.expect(Direction::Download, total);
                }
                progress::collect_told(resp.into_body(), sink).await?
            }
            None => resp.into_body().collect().await?.to_bytes(),
        };
        Ok((status, ct, bytes))
    }

    /// Posts any body with this Content-Type (for tests of malformed MTOM requests).
    pub async fn post_raw_as(
        &mut self,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let (status, _, bytes) = self.exchange(full(body), content_type, None).await?;
        parse_reply(status, &bytes)
    }

    /// Posts a prepared body to `/s2s`.
    pub async fn post_body(&mut self, body: ReqBody) -> Result<Reply, ClientError> {
        self.post(body).await
    }

    async fn post(&mut self, body: ReqBody) -> Result<Reply, ClientError> {
        let (status, _, bytes) = self.exchange(body, "text/xml; charset=utf-8", None).await?;
        parse_reply(status, &bytes)
    }

    /// `GET path` (for the WSDL).
    pub async fn get(&mut self, path: &str) -> Result<(u16, String), ClientError> {
        self.sender.ready().await?;
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, &self.host)
            .body(full(Vec::new()))
            .map_err(|e| ClientError::Response(e.to_string()))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// A body of bytes in memory.
fn full(b: impl Into<Bytes>) -> ReqBody {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed()
}

/// `prefix`, the file (base64-encoded when `encode`, raw otherwise), `suffix`, as read.
/// Each piece of the file read is told to `told`, if any.
fn streamed(
    prefix: String,
    file: tokio::fs::File,
    suffix: String,
    encode: bool,
    told: Option<ProgressSink>,
) -> ReqBody {
    enum P {
        Start(String, tokio::fs::File, String),
        Body(tokio::fs::File, String),
        End(String),
        Done,
    }
    let s = futures_util::stream::unfold(P::Start(prefix, file, suffix), move |p| {
        let told = told.clone();
        async move {
            match p {
                P::Start(a, f, s) => Some((Ok(Frame::data(Bytes::from(a))), P::Body(f, s))),
                P::Body(mut f, s) => {
                    let mut buf = vec![0u8; 48 * 1024];
                    let mut n = 0;
                    while n < buf.len() {
                        match f.read(&mut buf[n..]).await {
                            Ok(0) => break,
                            Ok(k) => n += k,
                            Err(e) => return Some((Err(e), P::Done)),
                        }
                    }
                    if n == 0 {
                        return Some((Ok(Frame::data(Bytes::from(s))), P::Done));
                    }
                    if let Some(t) = &told {
                        t.advance(Direction::Upload, n as u64);
                    }
                    let enc = if encode {
                        Bytes::from(base64::engine::general_purpose::STANDARD.encode(&buf[..n]))
                    } else {
                        Bytes::copy_from_slice(&buf[..n])
                    };
                    let next = if n < buf.len() {
                        P::End(s)
                    } else {
                        P::Body(f, s)
                    };
                    Some((Ok(Frame::data(enc)), next))
                }
                P::End(s) => Some((Ok(Frame::data(Bytes::from(s))), P::Done)),
                P::Done => None,
            }
        }
    });
    BodyExt::boxed(StreamBody::new(s))
}
