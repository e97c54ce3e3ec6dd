//! A small system-to-system client: what `imax client …`, the integration tests and the load
//! benchmark use to talk to a gateway over real TLS.
//!
//! It speaks HTTP/1.1 over one kept-alive connection and streams `SendFile` content from a
//! file, so it can send files far larger than it holds in memory.

use crate::s2s::envelope::{SOAP_ENV, TNS, WSSE};
use crate::s2s::reply::escape;
use base64::Engine;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use quick_xml::events::Event;
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

/// A SOAP Fault's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: String,
    pub status: u16,
    pub message: String,
    /// The gateway's id of the refused request, to quote to its support desk.
    pub request_id: Option<String>,
}

/// A parsed response: the leaf elements in document order, or a Fault.
#[derive(Debug, Clone)]
pub struct Reply {
    pub http_status: u16,
    pub status: u16,
    pub fault: Option<Fault>,
    pub fields: Vec<(String, String)>,
}

impl Reply {
    /// The first leaf element with this local name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every leaf element with this local name.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// The decoded `content` element.
    pub fn content(&self) -> Option<Vec<u8>> {
        let text = self.get("content")?;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
    }
    /// The fault code, or `ok`.
    pub fn code(&self) -> &str {
        self.fault.as_ref().map(|f| f.code.as_str()).unwrap_or("ok")
    }
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
        let (host, port) = split_url(url)?;
        let mut config = (*crate::tls::client_config(ca)?).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
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
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
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
                streamed(prefix, tokio::fs::File::open(path).await?, suffix, true)
            }
        };
        self.post(body).await
    }

    /// `SendFile` as MTOM/XOP (`multipart/related`, as WCF and JAX-WS send large files): the
    /// envelope's content is an `xop:Include` of a second part carrying the file's raw bytes.
    pub async fn send_file_mtom(
        &mut self,
        mailbox: &str,
        mailbox_password: &str,
        to: Option<&str>,
        file_name: &str,
        content: Content,
    ) -> Result<Reply, ClientError> {
        let mut fields = vec![("mailbox", mailbox), ("mailboxPassword", mailbox_password)];
        if let Some(t) = to {
            fields.push(("toMailbox", t));
        }
        fields.push(("fileName", file_name));
        if self.resend {
            fields.push(("resend", "true"));
        }
        let b = mime_boundary();
        let prefix = format!(
            "--{b}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\nContent-ID: <root@imax-client>\r\n\r\n{}{}<t:content><xop:Include xmlns:xop=\"{}\" href=\"cid:file@imax-client\"/></t:content></t:SendFile></soap:Body></soap:Envelope>\r\n--{b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <file@imax-client>\r\n\r\n",
            self.open("SendFile"),
            Self::fields(&fields),
            crate::s2s::envelope::XOP,
        );
        let suffix = format!("\r\n--{b}--\r\n");
        let body = match content {
            Content::Bytes(bytes) => {
                let mut all = prefix.into_bytes();
                all.extend_from_slice(&bytes);
                all.extend_from_slice(suffix.as_bytes());
                full(all)
            }
            Content::File(path) => {
                streamed(prefix, tokio::fs::File::open(path).await?, suffix, false)
            }
        };
        let ct = format!(
            "multipart/related; type=\"application/xop+xml\"; boundary=\"{b}\"; start=\"<root@imax-client>\"; start-info=\"text/xml\""
        );
        let (status, _, bytes) = self.exchange(body, &ct, None).await?;
        parse_reply(status, &bytes)
    }

    /// `GetMessage` asking for MTOM (`Accept: multipart/related`): the reply, and the file's
    /// bytes from the binary part its content's `xop:Include` names (`None` if it answered
    /// otherwise, a Fault for one).
    pub async fn get_message_mtom(
        &mut self,
        mailbox: &str,
        mailbox_password: &str,
        message_id: &str,
    ) -> Result<(Reply, Option<Vec<u8>>), ClientError> {
        let xml = format!(
            "{}{}</t:GetMessage></soap:Body></soap:Envelope>",
            self.open("GetMessage"),
            Self::fields(&[
                ("mailbox", mailbox),
                ("mailboxPassword", mailbox_password),
                ("messageId", message_id),
            ])
        );
        let (status, ct, bytes) = self
            .exchange(
                full(xml),
                "text/xml; charset=utf-8",
                Some("multipart/related, text/xml"),
            )
            .await?;
        let Some(boundary) = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string())
        else {
            return Ok((parse_reply(status, &bytes)?, None));
        };
        let mut splitter = crate::s2s::multipart::Splitter::new(&boundary);
        let mut pieces = Vec::new();
        splitter
            .feed(&bytes, &mut pieces)
            .map_err(|e| ClientError::Response(e.to_string()))?;
        splitter
            .finish()
            .map_err(|e| ClientError::Response(e.to_string()))?;
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for p in pieces {
            match p {
                crate::s2s::multipart::Piece::Part(_) => parts.push(Vec::new()),
                crate::s2s::multipart::Piece::Data(d) => {
                    if let Some(last) = parts.last_mut() {
                        last.extend_from_slice(&d);
                    }
                }
                _ => {}
            }
        }
        let mut parts = parts.into_iter();
        let root = parts
            .next()
            .ok_or_else(|| ClientError::Response("an MTOM answer without parts".into()))?;
        Ok((parse_reply(status, &root)?, parts.next()))
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
        let bytes = resp.into_body().collect().await?.to_bytes();
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

fn full(b: impl Into<Bytes>) -> ReqBody {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A MIME boundary no file contains by chance.
fn mime_boundary() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::getrandom(&mut b);
    format!("imax-client-{}", hex::encode(b))
}

/// `prefix`, the file (base64-encoded when `encode`, raw otherwise), `suffix`, as read.
fn streamed(prefix: String, file: tokio::fs::File, suffix: String, encode: bool) -> ReqBody {
    enum P {
        Start(String, tokio::fs::File, String),
        Body(tokio::fs::File, String),
        End(String),
        Done,
    }
    let s = futures_util::stream::unfold(P::Start(prefix, file, suffix), move |p| async move {
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
    });
    BodyExt::boxed(StreamBody::new(s))
}

/// Parses a response envelope into its leaf elements (or its Fault).
pub fn parse_reply(http_status: u16, bytes: &[u8]) -> Result<Reply, ClientError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::Text(t)) => text.push_str(
                &t.unescape()
                    .map_err(|e| ClientError::Response(e.to_string()))?,
            ),
            Ok(Event::End(_)) => {
                if let Some(name) = stack.pop() {
                    if !text.is_empty() {
                        fields.push((name, std::mem::take(&mut text)));
                    }
                }
                text.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(ClientError::Response(e.to_string())),
        }
        buf.clear();
    }
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v): &(String, String)| v.clone())
    };
    let fault = get("faultstring").map(|message| Fault {
        code: get("code").unwrap_or_default(),
        status: get("status").and_then(|s| s.parse().ok()).unwrap_or(0),
        message,
        request_id: get("requestId"),
    });
    let status = get("status").and_then(|s| s.parse().ok()).unwrap_or(0);
    if fault.is_none() && status == 0 {
        return Err(ClientError::Response(
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
        ));
    }
    Ok(Reply {
        http_status,
        status,
        fault,
        fields,
    })
}
