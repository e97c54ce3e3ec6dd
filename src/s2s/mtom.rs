//! MTOM/XOP (SOAP 1.1 over `multipart/related`, as .NET WCF and Java JAX-WS send large
//! binaries): the envelope is the root part, and SendFile's `<content>` holds
//! `<xop:Include href="cid:…"/>` naming a later part whose raw bytes are the file, with no
//! base64 to decode. The parts are split as they stream in ([`multipart`](super::multipart)):
//! the root goes through the same [`Scanner`] as a plain request (so the credentials before the
//! content are checked before anything is stored), and the file part goes straight to the body
//! store. GetMessage answers in kind, the file as a binary part, when the request came as MTOM
//! or its `Accept` names `multipart/related`.

use super::multipart::{header, Piece, SplitError, Splitter, MAX_BOUNDARY};
use super::{
    body_refusal, dispatch, drain, drain_limit, envelope, reply, scan_refusal, start_upload,
    PreCredential, Scanner,
};
use crate::error::{Code, Refusal};
use crate::gateway::{Caller, Delivery, Gateway, MailboxSession, Upload};
use crate::mailbox::MessageInfo;
use axum::body::Body;
use axum::http::{header as http, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;

fn malformed(why: impl Into<String>) -> Refusal {
    Refusal::with_detail(Code::MalformedRequest, why)
}

/// The media type and parameters of a Content-Type value: (`type/subtype` in lower case,
/// parameters with lower-case names and unquoted values).
fn media(value: &str) -> (String, Vec<(String, String)>) {
    // Split at semicolons outside quoted strings (a boundary may hold one).
    let mut items = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ';' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    let mut items = items.into_iter();
    let kind = items.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = items
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    (kind, params)
}

/// What the Content-Type of a `multipart/related` request says about its parts.
#[derive(Debug, Clone)]
pub(super) struct Related {
    pub boundary: String,
    /// The root part's Content-ID (`start`), without angle brackets, when given; without it
    /// the root is the first part (RFC 2387).
    pub start: Option<String>,
}

/// The boundary and root of a `multipart/related` request (`None`: not one; an error: one
/// whose boundary is missing or unusable).
pub(super) fn request_boundary(headers: &HeaderMap) -> Option<Result<Related, Refusal>> {
    let value = headers.get(http::CONTENT_TYPE)?.to_str().ok()?;
    let (kind, params) = media(value);
    if kind != "multipart/related" {
        return None;
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let start = param("start").map(|v| content_id(&v));
    Some(match param("boundary") {
        Some(b) if !b.is_empty() && b.len() <= MAX_BOUNDARY && b.is_ascii() => {
            Ok(Related { boundary: b, start })
        }
        _ => Err(malformed(
            "A multipart/related request needs a boundary of 1 to 70 characters.",
        )),
    })
}

/// Whether the client sent MTOM or says it takes it (`Accept: multipart/related`).
pub(super) fn wanted(headers: &HeaderMap) -> bool {
    let has = |name: http::HeaderName| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|v| v.to_ascii_lowercase().contains("multipart/related"))
                .unwrap_or(false)
        })
    };
    has(http::CONTENT_TYPE) || has(http::ACCEPT)
}

fn split_refusal(e: SplitError) -> Refusal {
    malformed(format!("The multipart/related request is malformed: {e}."))
}

/// A Content-ID without its angle brackets; an href's `cid:` URL decoded (RFC 2392).
fn content_id(value: &str) -> String {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn cid_of_href(href: &str) -> Option<String> {
    let rest = href.trim().strip_prefix("cid:")?;
    Some(
        percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// Where the parts have got to.
enum Stage {
    /// Before the root part.
    Start,
    /// In the root part: the envelope.
    Root,
    /// After the root: the envelope parsed, waiting for the part its Include names.
    AfterRoot {
        env: envelope::Envelope,
        cid: Option<String>,
    },
    /// In the file part.
    File { env: envelope::Envelope },
    /// After the file part: only the closing boundary may follow.
    AfterFile { env: envelope::Envelope },
    /// After the closing boundary.
    Done {
        env: envelope::Envelope,
        file_seen: bool,
    },
}

/// A SOAP call as MTOM.
///
/// Before the credentials are checked (when SendFile's `<content>` opens in the root part,
/// or, for the other operations, once the request is whole) no more than
/// `limits.max_envelope_bytes` of the body is looked at, counted in raw bytes: the preamble,
/// the root's part headers and the envelope with everything in it (issue 25, item 2). The
/// root must come first, and the only other part is the one the Include names, after the
/// credentials: any other part is refused at its headers, unread.
pub(super) async fn handle(
    gw: &Gateway,
    caller: Caller,
    related: &Related,
    body: Body,
    reply_mtom: bool,
    cut: &std::sync::atomic::AtomicBool,
) -> Result<Response, Refusal> {
    let limits = &gw.config().limits;
    let cap = limits.max_envelope_bytes as u64;
    let mut stream = body.into_data_stream();
    let mut upload: Option<(Upload, MailboxSession)> = None;
    let abandon = |upload: &mut Option<(Upload, MailboxSession)>, r: Refusal| {
        let taken = upload.take();
        async move {
            match taken {
                Some((_, session)) => gw.abandon_send(&session, r).await,
                None => r,
            }
        }
    };
    let mut splitter = Splitter::new(&related.boundary);
    let mut scanner = Scanner::new(limits.max_envelope_bytes, limits.max_file_bytes);
    let mut stage = Stage::Start;
    let mut pieces = Vec::new();
    let mut pre = PreCredential::new();
    // After the credentials the whole body is bounded too (the file part by the file limit,
    // the epilogue by this), so nobody keeps the gateway reading for ever.
    let max_body = cap
        .saturating_add(limits.max_file_bytes)
        .saturating_add(1 << 20);
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return Err(abandon(&mut upload, body_refusal(&e)).await),
        };
        let mut rest: &[u8] = &chunk;
        while !rest.is_empty() {
            // Before the credentials, only what is left of the envelope cap is looked at; the
            // rest of the piece only once they were checked within that.
            let take = if pre.checked() {
                rest.len()
            } else {
                rest.len()
                    .min(usize::try_from(cap.saturating_sub(pre.bytes)).unwrap_or(usize::MAX))
            };
            if take == 0 {
                pre.close();
                drain(&mut stream, drain_limit(limits, false), cut).await;
                return Err(malformed(format!(
                    "The multipart/related request is larger than {cap} bytes (limits.max_envelope_bytes) before its credentials: the preamble, the envelope's part headers and the envelope count together."
                )));
            }
            let (now, later) = rest.split_at(take);
            rest = later;
            pre.take(now.len());
            seen += now.len() as u64;
            if seen > max_body {
                let limit = drain_limit(limits, upload.is_some());
                let r = malformed(format!(
                    "The multipart/related request is larger than the gateway accepts ({max_body} bytes)."
                ));
                let r = abandon(&mut upload, r).await;
                drain(&mut stream, limit, cut).await;
                return Err(r);
            }
            pieces.clear();
            if let Err(e) = splitter.feed(now, &mut pieces) {
                pre.close();
                let limit = drain_limit(limits, upload.is_some());
                let r = abandon(&mut upload, split_refusal(e)).await;
                drain(&mut stream, limit, cut).await;
                return Err(r);
            }
            for piece in pieces.drain(..) {
                let at = Step {
                    gw,
                    caller,
                    start: related.start.as_deref(),
                };
                match at
                    .step(&mut scanner, &mut upload, &mut pre, stage, piece)
                    .await
                {
                    Ok(next) => stage = next,
                    Err(r) => {
                        pre.close();
                        let limit = drain_limit(limits, upload.is_some());
                        let r = abandon(&mut upload, r).await;
                        drain(&mut stream, limit, cut).await;
                        return Err(r);
                    }
                }
            }
        }
    }
    pre.close();
    if let Err(e) = splitter.finish() {
        return Err(abandon(&mut upload, split_refusal(e)).await);
    }
    let Stage::Done { env, file_seen } = stage else {
        return Err(abandon(&mut upload, split_refusal(SplitError::Unfinished)).await);
    };
    if env.xop_include.is_some() && !file_seen {
        let r = malformed("No part has the Content-ID the content's xop:Include names.");
        return Err(abandon(&mut upload, r).await);
    }
    dispatch(gw, caller, env, upload, reply_mtom).await
}

/// What every step of one request needs.
struct Step<'a> {
    gw: &'a Gateway,
    caller: Caller,
    /// The root's Content-ID, when the Content-Type names it.
    start: Option<&'a str>,
}

impl Step<'_> {
    /// One piece of the body, at `stage`; the stage after it.
    async fn step(
        &self,
        scanner: &mut Scanner,
        upload: &mut Option<(Upload, MailboxSession)>,
        pre: &mut PreCredential,
        stage: Stage,
        piece: Piece,
    ) -> Result<Stage, Refusal> {
        Ok(match (stage, piece) {
            (Stage::Start, Piece::Part(headers)) => {
                let (kind, params) = media(header(&headers, "content-type").unwrap_or(""));
                let xop = kind == "application/xop+xml"
                    && params
                        .iter()
                        .any(|(k, v)| k == "type" && v.eq_ignore_ascii_case("text/xml"));
                if !(xop || kind == "text/xml") {
                    return Err(malformed(
                        "The first part of an MTOM request is the SOAP 1.1 envelope, as application/xop+xml; type=\"text/xml\".",
                    ));
                }
                // The root comes first; a `start` naming another part would put it later.
                if let Some(start) = self.start {
                    if header(&headers, "content-id").map(content_id).as_deref() != Some(start) {
                        return Err(malformed(
                            "The first part of an MTOM request must be the root the Content-Type's start parameter names.",
                        ));
                    }
                }
                Stage::Root
            }
            (Stage::Start, Piece::Done) => return Err(malformed("The request has no parts.")),
            (Stage::Root, Piece::Data(bytes)) => {
                let fed = scanner.feed(&bytes).map_err(scan_refusal)?;
                if fed.content_started {
                    pre.close();
                    *upload = Some(start_upload(self.gw, self.caller, scanner.skeleton()).await?);
                }
                // A client may still send a small file inline, as base64.
                if let (false, Some((staged, _))) = (fed.content.is_empty(), upload.as_mut()) {
                    staged.write(&fed.content).await.map_err(Refusal::from)?;
                }
                Stage::Root
            }
            (Stage::Root, Piece::PartEnd) => {
                scanner.finish().map_err(scan_refusal)?;
                let env = envelope::parse(scanner.skeleton(), false)?;
                let cid = match &env.xop_include {
                    Some(href) => Some(
                        cid_of_href(href)
                            .ok_or_else(|| malformed("An xop:Include's href is not a cid: URL."))?,
                    ),
                    None => None,
                };
                Stage::AfterRoot { env, cid }
            }
            (Stage::AfterRoot { env, cid }, Piece::Part(headers)) => {
                let id = header(&headers, "content-id").map(content_id);
                match (&cid, id) {
                    (Some(want), Some(id)) if *want == id => {
                        if upload.is_none() {
                            return Err(malformed("Only SendFile carries content."));
                        }
                        Stage::File { env }
                    }
                    // Refused at its headers, unread: before the file, nothing but the file.
                    (Some(_), _) => {
                        return Err(malformed(
                            "A part the envelope does not reference comes after the envelope; it was not read. An MTOM request has two parts: the envelope, then the part its xop:Include names.",
                        ))
                    }
                    (None, _) => {
                        return Err(malformed(
                            "The envelope references no other part, but the request has one; it was not read.",
                        ))
                    }
                }
            }
            (Stage::AfterRoot { env, .. }, Piece::Done) => Stage::Done {
                env,
                file_seen: false,
            },
            (Stage::File { env }, Piece::Data(bytes)) => {
                if let Some((staged, _)) = upload.as_mut() {
                    staged.write(&bytes).await.map_err(Refusal::from)?;
                }
                Stage::File { env }
            }
            (Stage::File { env }, Piece::PartEnd) => Stage::AfterFile { env },
            (Stage::AfterFile { env }, Piece::Done) => Stage::Done {
                env,
                file_seen: true,
            },
            (Stage::AfterFile { .. }, Piece::Part(_)) => {
                return Err(malformed(
                    "An MTOM SendFile has two parts: the envelope, then the file.",
                ))
            }
            (_, _) => return Err(split_refusal(SplitError::Unfinished)),
        })
    }
}

/// A boundary no file can contain by chance: 32 random hex digits.
fn boundary() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::getrandom(&mut b);
    format!("imax-mtom-{}", hex::encode(b))
}

const ROOT_ID: &str = "root.message@imax-gateway";
const FILE_ID: &str = "content.message@imax-gateway";

/// GetMessage's answer as MTOM: the envelope, whose content is an Include of the second part,
/// and the file's bytes as they are read (a body that does not match its row ends the
/// response before its closing boundary, as in the plain answer).
pub(super) fn message_response(info: &MessageInfo, body: Delivery) -> Response {
    let b = boundary();
    let head = format!(
        "--{b}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\nContent-Transfer-Encoding: 8bit\r\nContent-ID: <{ROOT_ID}>\r\n\r\n{}<tns:GetMessageResponse><tns:status>200</tns:status>{}<tns:content><xop:Include xmlns:xop=\"{}\" href=\"cid:{FILE_ID}\"/></tns:content></tns:GetMessageResponse>{}\r\n--{b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{FILE_ID}>\r\n\r\n",
        reply::envelope_open(),
        reply::message_info("message", info),
        envelope::XOP,
        reply::ENVELOPE_CLOSE,
    );
    let tail = format!("\r\n--{b}--\r\n");
    let stream = futures_util::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(body)
        .chain(futures_util::stream::once(
            async move { Ok(Bytes::from(tail)) },
        ));
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    let ct = format!(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"{b}\"; start=\"<{ROOT_ID}>\"; start-info=\"text/xml\""
    );
    if let Ok(v) = HeaderValue::from_str(&ct) {
        r.headers_mut().insert(http::CONTENT_TYPE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_cids_are_read_as_the_rfcs_write_them() {
        let (kind, params) = media(
            "Multipart/Related; type=\"application/xop+xml\"; boundary=\"uuid:1;2\"; start=\"<root>\"",
        );
        assert_eq!(kind, "multipart/related");
        assert!(params.contains(&("type".into(), "application/xop+xml".into())));
        assert_eq!(content_id(" <file@x> "), "file@x");
        assert_eq!(cid_of_href("cid:a%40b").as_deref(), Some("a@b"));
        assert_eq!(cid_of_href("http://x"), None);
    }
}
