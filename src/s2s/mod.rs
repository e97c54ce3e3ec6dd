//! The system-to-system door: SOAP 1.1, document/literal, over HTTPS `POST /s2s` (R9).
//!
//! A thin adapter: it streams the request through the [`scan::Scanner`] (file content straight
//! to the body store, memory bounded), parses the rest ([`envelope`]), calls the
//! [`Gateway`](crate::gateway::Gateway), and writes the answer or a SOAP Fault ([`reply`]).
//! For `SendFile`, the credentials that precede the content are checked as soon as the content
//! starts, so an unauthorised client cannot make the gateway store anything. Until then every
//! byte taken from the body counts against `limits.max_envelope_bytes`, whatever it is
//! (comments, whitespace, CDATA, processing instructions, MTOM preamble, part headers): a
//! stranger makes the gateway read at most that and one read buffer (issue 25, item 2).

pub mod envelope;
mod mtom;
pub mod multipart;
mod notice;
mod operations;
pub mod reply;
pub mod scan;

use crate::access::{Door, Operation};
use crate::error::{Code, Refusal};
use crate::gateway::{Caller, Delivery, Gateway, MailboxSession, SendRequest, Upload};
use crate::ground::RequestId;
use crate::mailbox::{ListQuery, MessageInfo, Order};
use crate::server::ClientAddr;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine;
use bytes::Bytes;
use envelope::Request;
use futures_util::StreamExt;
use scan::{ScanError, Scanner};
use std::sync::atomic::{AtomicBool, Ordering};

pub const WSDL: &str = include_str!("../../schemas/imax-s2s.wsdl");
pub const XSD: &str = include_str!("../../schemas/imax-s2s.xsd");
const XML: &str = "text/xml; charset=utf-8";

/// Routes of this door.
pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/s2s", get(get_description).post(post_call))
        .route("/imax-s2s.xsd", get(get_xsd))
        .route("/s2s/imax-s2s.xsd", get(get_xsd))
}

fn xml_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(XML));
    r
}

fn fault_response(r: &Refusal, id: Option<&RequestId>) -> Response {
    // SOAP 1.1 over HTTP: a Fault travels with status 500; RateLimited and Unavailable also
    // say when to retry.
    let mut resp = xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        reply::fault(r, id.map(|i| i.to_string()).as_deref()),
    );
    let retry = match r.code {
        Code::RateLimited => Some("60"),
        Code::Unavailable => Some("5"),
        Code::StorageFull => Some("300"),
        _ => None,
    };
    if let Some(after) = retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(after));
    }
    resp
}

/// The URL clients should call, for the WSDL's address: the configured public URL, or the
/// address the gateway listens on (a loopback or wildcard address as `localhost`, the name
/// the development certificate carries). Never the request's `Host` header: a stranger must
/// not be able to make the gateway hand out a WSDL that points elsewhere (issue 25, item 8).
fn own_url(gw: &Gateway) -> String {
    let config = gw.config();
    if !config.public_url.is_empty() {
        return config.public_url.trim_end_matches('/').to_string();
    }
    let listen = config.listen;
    if listen.ip().is_loopback() || listen.ip().is_unspecified() {
        format!("https://localhost:{}", listen.port())
    } else {
        format!("https://{listen}")
    }
}

async fn get_description(State(gw): State<Gateway>, RawQuery(q): RawQuery) -> Response {
    match q.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("wsdl") => {
            let wsdl = WSDL.replace(
                "https://localhost:8443/s2s",
                &reply::escape(&format!("{}/s2s", own_url(&gw))),
            );
            xml_response(StatusCode::OK, wsdl)
        }
        Some("xsd") => xml_response(StatusCode::OK, XSD),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "POST SOAP 1.1 requests here; GET /s2s?wsdl describes them.\n",
        )
            .into_response(),
    }
}

async fn get_xsd() -> Response {
    xml_response(StatusCode::OK, XSD)
}

async fn post_call(
    State(gw): State<Gateway>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    id: Option<Extension<RequestId>>,
    version: Version,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let caller = Caller {
        addr: Some(peer.ip()),
        door: Door::SystemToSystem,
        request: id.as_ref().map(|Extension(i)| *i),
    };
    // MTOM/XOP: a multipart/related request, and the answer of GetMessage in kind when the
    // client sent one or says it takes one.
    let reply_mtom = mtom::wanted(&headers);
    let cut = AtomicBool::new(false);
    let result = match mtom::request_boundary(&headers) {
        Some(Ok(related)) => mtom::handle(&gw, caller, &related, body, reply_mtom, &cut).await,
        Some(Err(r)) => Err(r),
        None => handle(&gw, caller, body, reply_mtom, &cut).await,
    };
    let mut response = match result {
        Ok(r) => r,
        Err(refusal) => fault_response(&refusal, id.as_ref().map(|Extension(i)| i)),
    };
    // HTTP/2 has no such header: there the stream alone ends.
    if cut.load(Ordering::Relaxed) && version < Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn scan_refusal(e: ScanError) -> Refusal {
    match e {
        ScanError::ContentTooLarge => Refusal::new(Code::FileTooLarge),
        other => Refusal::with_detail(
            Code::MalformedRequest,
            format!("{}.", capitalise(&other.to_string())),
        ),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Why a request body could not be read to its end.
fn body_refusal(e: &axum::Error) -> Refusal {
    match crate::server::body::BodyTooSlow::find(e) {
        Some(slow) if slow.stalled => Refusal::with_detail(
            Code::MalformedRequest,
            "The request body stopped arriving before it was complete.",
        ),
        Some(_) => Refusal::with_detail(
            Code::MalformedRequest,
            "The request body arrived too slowly (below limits.body_min_rate_bytes_per_sec); it was not stored.",
        ),
        None => Refusal::with_detail(
            Code::MalformedRequest,
            "The request body could not be read to its end.",
        ),
    }
}

/// How long a refused request's remaining body is read before the connection is given up.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards what is left of a refused request, bounded in bytes and time, so the
/// client reads the Fault instead of a reset connection. When the body did not end within
/// those bounds, `cut` is set: the connection is not reused (HTTP/1.1's `Connection: close`),
/// so a client does not send its next request on a connection about to close.
async fn drain(stream: &mut axum::body::BodyDataStream, limit: u64, cut: &AtomicBool) {
    let discard = async {
        let mut seen = 0u64;
        loop {
            match stream.next().await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(chunk)) => {
                    seen += chunk.len() as u64;
                    if seen > limit {
                        return false;
                    }
                }
            }
        }
    };
    let whole = tokio::time::timeout(DRAIN_TIME, discard)
        .await
        .unwrap_or(false);
    if !whole {
        cut.store(true, Ordering::Relaxed);
    }
}

/// How much of a refused request's rest is read (and discarded, unparsed) before the
/// connection is closed: after the credentials were accepted, about a whole file (a client
/// that meant well reads its Fault and keeps its connection); before, sixteen times the
/// envelope cap (1 MiB by default), so a modest request refused before sign-in still leaves
/// the connection usable while a stranger's costs at most that, within [`DRAIN_TIME`]
/// (issue 25, item 2).
fn drain_limit(limits: &crate::config::Limits, signed_in: bool) -> u64 {
    if signed_in {
        limits.max_file_bytes.saturating_mul(3) / 2 + (1 << 20)
    } else {
        (limits.max_envelope_bytes as u64).saturating_mul(16)
    }
}

/// The bytes taken from a request body before its credentials were checked (or the request
/// ended or was refused), recorded once as `imax_s2s_precredential_bytes`: what a stranger
/// can make the gateway read, bounded by `limits.max_envelope_bytes` and one read buffer.
struct PreCredential {
    bytes: u64,
    open: bool,
}

impl PreCredential {
    fn new() -> Self {
        PreCredential {
            bytes: 0,
            open: true,
        }
    }

    /// Counts bytes taken while the credentials are still unchecked.
    fn take(&mut self, n: usize) {
        if self.open {
            self.bytes += n as u64;
        }
    }

    /// The credentials are being checked now: nothing after counts.
    fn close(&mut self) {
        if std::mem::replace(&mut self.open, false) {
            metrics::histogram!("imax_s2s_precredential_bytes").record(self.bytes as f64);
        }
    }

    fn checked(&self) -> bool {
        !self.open
    }
}

impl Drop for PreCredential {
    fn drop(&mut self) {
        self.close();
    }
}

async fn handle(
    gw: &Gateway,
    caller: Caller,
    body: Body,
    reply_mtom: bool,
    cut: &AtomicBool,
) -> Result<Response, Refusal> {
    let limits = &gw.config().limits;
    // The scanner counts every byte outside the file content against the envelope cap, so
    // before the credentials (which come before the content) at most the cap is read, plus
    // the rest of the piece in which it was passed (issue 25, item 2).
    let mut scanner = Scanner::new(limits.max_envelope_bytes, limits.max_file_bytes);
    let mut stream = body.into_data_stream();
    let mut upload: Option<(Upload, MailboxSession)> = None;
    let mut pre = PreCredential::new();
    // The server paces every request body (a stall or a dribble ends it with BodyTooSlow).
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let r = body_refusal(&e);
                return Err(match upload.take() {
                    Some((_, session)) => gw.abandon_send(&session, r).await,
                    None => r,
                });
            }
        };
        pre.take(chunk.len());
        let fed = match scanner.feed(&chunk) {
            Ok(f) => f,
            Err(e) => {
                pre.close();
                let limit = drain_limit(limits, upload.is_some());
                let r = scan_refusal(e);
                let r = match upload.take() {
                    Some((_, session)) => gw.abandon_send(&session, r).await,
                    None => r,
                };
                drain(&mut stream, limit, cut).await;
                return Err(r);
            }
        };
        if fed.content_started {
            pre.close();
            match start_upload(gw, caller, scanner.skeleton()).await {
                Ok(u) => upload = Some(u),
                Err(r) => {
                    drain(&mut stream, drain_limit(limits, false), cut).await;
                    return Err(r);
                }
            }
        }
        if let (false, Some((staged, session))) = (fed.content.is_empty(), upload.as_mut()) {
            if let Err(e) = staged.write(&fed.content).await {
                let r = Refusal::from(e);
                let r = gw.abandon_send(session, r).await;
                drain(&mut stream, drain_limit(limits, true), cut).await;
                return Err(r);
            }
        }
    }
    pre.close();
    scanner.finish().map_err(scan_refusal)?;
    let env = envelope::parse(scanner.skeleton(), false)?;
    if env.xop_include.is_some() {
        return Err(Refusal::with_detail(
            Code::MalformedRequest,
            "The content is an xop:Include, but the request is not multipart/related (MTOM).",
        ));
    }
    dispatch(gw, caller, env, upload, reply_mtom).await
}

/// Calls the operation an envelope names, with the upload its content went to.
async fn dispatch(
    gw: &Gateway,
    caller: Caller,
    env: envelope::Envelope,
    upload: Option<(Upload, MailboxSession)>,
    reply_mtom: bool,
) -> Result<Response, Refusal> {
    let request = env.request()?;
    let person = env.person()?;
    let call = operations::Call {
        gw,
        caller,
        person: &person,
        notices: Default::default(),
    };
    let answer = match request {
        Request::SendFile {
            mailbox,
            to,
            file_name,
            sha256,
            resend,
            in_reply_to,
        } => {
            let send = SendRequest {
                to: to.as_deref(),
                file_name: &file_name,
                expected_sha256: sha256.as_deref(),
                resend,
                in_reply_to: in_reply_to.as_deref(),
            };
            call.send_file(&mailbox, send, upload).await
        }
        Request::ListMessages {
            mailbox,
            folder,
            since,
            until,
            after,
            include_acknowledged,
        } => {
            let q = ListQuery {
                folder,
                since,
                until,
                include_acknowledged,
                after,
                page_size: gw.config().limits.page_size,
                order: Order::OldestFirst,
            };
            call.list_messages(&mailbox, q).await
        }
        Request::GetMessage {
            mailbox,
            message_id,
        } => call.get_message(&mailbox, &message_id, reply_mtom).await,
        Request::AckMessage {
            mailbox,
            message_id,
        } => call.ack_message(&mailbox, &message_id).await,
        Request::ChangePassword { new_password } => call.change_password(new_password).await,
    }?;
    Ok(call.notices.attach(answer)) // R21: the notices after the status
}

/// Checks the credentials that precede the content and opens the staging body.
async fn start_upload(
    gw: &Gateway,
    caller: Caller,
    prefix: &[u8],
) -> Result<(Upload, MailboxSession), Refusal> {
    let env = envelope::parse(prefix, true)?;
    if env.operation.as_deref() != Some("SendFile") {
        return Err(Refusal::with_detail(
            Code::MalformedRequest,
            "Only SendFile carries content.",
        ));
    }
    let person = env.person()?;
    let mailbox = env.mailbox()?;
    let session = gw
        .authorize_mailbox(caller, &person, Operation::SendFile, &mailbox)
        .await?;
    Ok((gw.stage_body()?, session))
}

/// The GetMessage response, with the content base64-encoded on the fly as the delivery hands
/// it over (chunks of a multiple of 3 bytes, so no padding until the end). A body that does
/// not match its row ends the response before its closing tags.
fn streamed_message(info: &MessageInfo, body: Delivery) -> Body {
    let prefix = format!(
        "{}<tns:GetMessageResponse><tns:status>200</tns:status>{}<tns:content>",
        reply::envelope_open(),
        reply::message_info("message", info)
    );
    let suffix = format!(
        "</tns:content></tns:GetMessageResponse>{}",
        reply::ENVELOPE_CLOSE
    );
    let content = body.map(|chunk| {
        chunk.map(|c| Bytes::from(base64::engine::general_purpose::STANDARD.encode(c)))
    });
    let stream = futures_util::stream::once(async move { Ok(Bytes::from(prefix)) })
        .chain(content)
        .chain(futures_util::stream::once(async move {
            Ok(Bytes::from(suffix))
        }));
    Body::from_stream(stream)
}
