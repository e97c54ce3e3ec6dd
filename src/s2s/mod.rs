//! The system-to-system door: SOAP 1.1, document/literal, over HTTPS `POST /s2s` (R9).
//!
//! A thin adapter: it reads the request in its framing (`framing.rs`: a plain envelope through
//! the [`scan::Scanner`], or MTOM's parts), hands the file's bytes to the core's one upload
//! pump (`Gateway::receive`: memory bounded, straight to the body store), parses the rest
//! ([`envelope`]), calls the [`Gateway`](crate::gateway::Gateway), and writes the answer or a
//! SOAP Fault ([`reply`]).
//! For `SendFile`, the credentials that precede the content are checked as soon as the content
//! starts, so an unauthorised client cannot make the gateway store anything. Until then every
//! byte taken from the body counts against `limits.max_envelope_bytes`, whatever it is
//! (comments, whitespace, CDATA, processing instructions, MTOM preamble, part headers): a
//! stranger makes the gateway read at most that and one read buffer (issue 25, item 2).

mod body;
mod content;
pub mod envelope;
mod framing;
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
use body::Stage;
use bytes::Bytes;
use envelope::{Extent, Request};
use framing::{malformed, Found, Framing, Plain, Pumped};
use futures_util::StreamExt;

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
    let limits = &gw.config().limits;
    let (result, cut) = match mtom::request_boundary(&headers) {
        Some(Ok(related)) => {
            let mut framing = mtom::Mtom::new(body, limits, related);
            let result = call(&gw, caller, &mut framing, reply_mtom).await;
            (result, framing.body().cut)
        }
        Some(Err(r)) => (Err(r), false),
        None => {
            let mut framing = Plain::new(body, limits);
            let result = call(&gw, caller, &mut framing, reply_mtom).await;
            (result, framing.body().cut)
        }
    };
    let mut response = match result {
        Ok(r) => r,
        Err(refusal) => fault_response(&refusal, id.as_ref().map(|Extension(i)| i)),
    };
    // HTTP/2 has no such header: there the stream alone ends.
    if cut && version < Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// One SOAP call, in either framing: the envelope read up to its content (or its end); when
/// the content starts, the credentials before it checked and the file taken through the
/// core's one upload pump ([`Gateway::receive`]); then the operation the whole envelope names.
async fn call(
    gw: &Gateway,
    caller: Caller,
    framing: &mut impl Framing,
    reply_mtom: bool,
) -> Result<Response, Refusal> {
    let upload = match framing.advance().await {
        Ok(Found::End) => None,
        Ok(Found::ContentStarts) => Some(receive(gw, caller, framing).await?),
        Ok(Found::Content(_)) => return Err(malformed("Only SendFile carries content.")),
        Err(r) => {
            framing.body().drain(Stage::Stranger).await;
            return Err(r);
        }
    };
    framing.body().pre.close();
    let env = framing.envelope()?;
    dispatch(gw, caller, env, upload, reply_mtom).await
}

/// The content started: the credentials before it are checked, then the file is received
/// for the open mailbox. A refused request's rest is drained (issue 25, item 2).
async fn receive(
    gw: &Gateway,
    caller: Caller,
    framing: &mut impl Framing,
) -> Result<(Upload, MailboxSession), Refusal> {
    framing.body().pre.close();
    let session = match authorize_upload(gw, caller, framing.skeleton()).await {
        Ok(s) => s,
        Err(r) => {
            framing.body().drain(Stage::Stranger).await;
            return Err(r);
        }
    };
    let mut content = Pumped {
        framing,
        started: false,
    };
    match gw.receive(&session, &mut content).await {
        Ok(upload) => Ok((upload, session)),
        Err(r) => {
            let stage = if content.started {
                Stage::Receiving
            } else {
                Stage::Stranger
            };
            content.framing.body().drain(stage).await;
            Err(r)
        }
    }
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
        Request::GetReceipt {
            mailbox,
            message_id,
            include_proof,
        } => call.get_receipt(&mailbox, &message_id, include_proof).await,
        Request::ChangePassword { new_password } => call.change_password(new_password).await,
    }?;
    Ok(call.notices.attach(answer)) // R21: the notices after the status
}

/// Checks the credentials that precede the content (R9, R10): the mailbox session the
/// file is received for.
async fn authorize_upload(
    gw: &Gateway,
    caller: Caller,
    prefix: &[u8],
) -> Result<MailboxSession, Refusal> {
    let env = envelope::parse(prefix, Extent::Prefix)?;
    if env.operation.as_deref() != Some("SendFile") {
        return Err(malformed("Only SendFile carries content."));
    }
    let person = env.person()?;
    let mailbox = env.mailbox()?;
    gw.authorize_mailbox(caller, &person, Operation::SendFile, &mailbox)
        .await
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
