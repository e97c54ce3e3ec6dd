//! MTOM/XOP (SOAP 1.1 over `multipart/related`, as .NET WCF and Java JAX-WS send large
//! binaries): the envelope is the root part, and SendFile's `<content>` holds
//! `<xop:Include href="cid:…"/>` naming a later part whose raw bytes are the file, with no
//! base64 to decode. The parts are split as they stream in ([`multipart`](super::multipart)):
//! the root goes through the same [`Scanner`] as a plain request (so the credentials before the
//! content are checked before anything is stored), and the file part goes straight to the body
//! store. GetMessage answers in kind, the file as a binary part, when the request came as MTOM
//! or its `Accept` names `multipart/related`.

use super::body::RequestBody;
use super::envelope::{self, Extent};
use super::framing::{malformed, scan_refusal, Found, Framing};
use super::multipart::{header, Piece, SplitError, Splitter, MAX_BOUNDARY};
use super::reply;
use super::scan::{Fed, Scanner};
use crate::config::Limits;
use crate::error::Refusal;
use crate::gateway::Delivery;
use crate::mailbox::MessageInfo;
use axum::body::Body;
use axum::http::{header as http, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;

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
enum Part {
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

/// What one piece of the body did.
enum Next {
    /// Nothing the door acts on.
    Read,
    /// The content element opened in the root.
    ContentStarts,
    /// `Mtom::file` holds the next bytes of the file part.
    File,
}

/// A SOAP call as MTOM.
///
/// Before the credentials are checked (when SendFile's `<content>` opens in the root part,
/// or, for the other operations, once the request is whole) no more than
/// `limits.max_envelope_bytes` of the body is looked at, counted in raw bytes: the preamble,
/// the root's part headers and the envelope with everything in it (issue 25, item 2). The
/// root must come first, and the only other part is the one the Include names, after the
/// credentials: any other part is refused at its headers, unread. After the credentials the
/// whole body is bounded too (the file part by the file limit, the epilogue by a mebibyte),
/// so nobody keeps the gateway reading for ever.
pub(super) struct Mtom {
    body: RequestBody,
    related: Related,
    splitter: Splitter,
    scanner: Scanner,
    part: Part,
    /// Pieces split but not yet stepped through, last first.
    pieces: Vec<Piece>,
    /// The body's current chunk, and how much of it was split.
    chunk: Bytes,
    at: usize,
    /// The envelope cap, the bound on the whole body, and the bytes split so far.
    cap: u64,
    max_body: u64,
    seen: u64,
    /// The root's `<content>` opened: the credentials before it were accepted.
    started: bool,
    /// Inline base64 content decoded from the root (a client may still send a small file so),
    /// and whether it waits to be handed over.
    decoded: Vec<u8>,
    waiting: bool,
    /// The file part's last piece.
    file: Vec<u8>,
}

impl Mtom {
    pub fn new(body: Body, limits: &Limits, related: Related) -> Mtom {
        let cap = limits.max_envelope_bytes as u64;
        Mtom {
            body: RequestBody::new(body, limits),
            splitter: Splitter::new(&related.boundary),
            related,
            scanner: Scanner::new(limits.max_envelope_bytes, limits.max_file_bytes),
            part: Part::Start,
            pieces: Vec::new(),
            chunk: Bytes::new(),
            at: 0,
            cap,
            max_body: cap
                .saturating_add(limits.max_file_bytes)
                .saturating_add(1 << 20),
            seen: 0,
            started: false,
            decoded: Vec::new(),
            waiting: false,
            file: Vec::new(),
        }
    }

    /// Splits the next bytes of the body into pieces; `false` at the body's end. Before the
    /// credentials, only what is left of the envelope cap is looked at; the rest of a chunk
    /// only once they were checked within that.
    async fn split_next(&mut self) -> Result<bool, Refusal> {
        while self.at == self.chunk.len() {
            match self.body.next().await? {
                None => return Ok(false),
                Some(chunk) => (self.chunk, self.at) = (chunk, 0),
            }
        }
        let rest = self.chunk.len() - self.at;
        let take = if self.body.pre.checked() {
            rest
        } else {
            let left = self.cap.saturating_sub(self.body.pre.bytes);
            rest.min(usize::try_from(left).unwrap_or(usize::MAX))
        };
        if take == 0 {
            let cap = self.cap;
            return Err(malformed(format!(
                "The multipart/related request is larger than {cap} bytes (limits.max_envelope_bytes) before its credentials: the preamble, the envelope's part headers and the envelope count together."
            )));
        }
        let now = &self.chunk[self.at..self.at + take];
        self.at += take;
        self.body.pre.take(take);
        self.seen += take as u64;
        if self.seen > self.max_body {
            let max_body = self.max_body;
            return Err(malformed(format!(
                "The multipart/related request is larger than the gateway accepts ({max_body} bytes)."
            )));
        }
        self.splitter
            .feed(now, &mut self.pieces)
            .map_err(split_refusal)?;
        self.pieces.reverse();
        Ok(true)
    }

    /// The body ended: its closing boundary came, and the part the Include names with it.
    fn end(&mut self) -> Result<(), Refusal> {
        self.body.pre.close();
        self.splitter.finish().map_err(split_refusal)?;
        let Part::Done { env, file_seen } = &self.part else {
            return Err(split_refusal(SplitError::Unfinished));
        };
        if env.xop_include.is_some() && !file_seen {
            return Err(malformed(
                "No part has the Content-ID the content's xop:Include names.",
            ));
        }
        Ok(())
    }

    /// One piece of the body, at the current part; what it did.
    fn step(&mut self, piece: Piece) -> Result<Next, Refusal> {
        let mut next = Next::Read;
        self.part = match (std::mem::replace(&mut self.part, Part::Start), piece) {
            (Part::Start, Piece::Part(headers)) => {
                self.root_headers(&headers)?;
                Part::Root
            }
            (Part::Start, Piece::Done) => return Err(malformed("The request has no parts.")),
            (Part::Root, Piece::Data(bytes)) => {
                self.decoded.clear();
                let fed = self
                    .scanner
                    .feed(&bytes, &mut self.decoded)
                    .map_err(scan_refusal)?;
                self.waiting = true;
                if fed == Fed::ContentStarted {
                    self.started = true;
                    next = Next::ContentStarts;
                }
                Part::Root
            }
            (Part::Root, Piece::PartEnd) => self.root_end()?,
            (Part::AfterRoot { env, cid }, Piece::Part(headers)) => {
                self.file_headers(cid.as_deref(), &headers)?;
                Part::File { env }
            }
            (Part::AfterRoot { env, .. }, Piece::Done) => Part::Done {
                env,
                file_seen: false,
            },
            (Part::File { env }, Piece::Data(bytes)) => {
                self.file = bytes;
                next = Next::File;
                Part::File { env }
            }
            (Part::File { env }, Piece::PartEnd) => Part::AfterFile { env },
            (Part::AfterFile { env }, Piece::Done) => Part::Done {
                env,
                file_seen: true,
            },
            (Part::AfterFile { .. }, Piece::Part(_)) => {
                return Err(malformed(
                    "An MTOM SendFile has two parts: the envelope, then the file.",
                ))
            }
            (_, _) => return Err(split_refusal(SplitError::Unfinished)),
        };
        Ok(next)
    }

    /// The first part's headers: the root, the SOAP 1.1 envelope.
    fn root_headers(&self, headers: &[(String, String)]) -> Result<(), Refusal> {
        let (kind, params) = media(header(headers, "content-type").unwrap_or(""));
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
        if let Some(start) = self.related.start.as_deref() {
            if header(headers, "content-id").map(content_id).as_deref() != Some(start) {
                return Err(malformed(
                    "The first part of an MTOM request must be the root the Content-Type's start parameter names.",
                ));
            }
        }
        Ok(())
    }

    /// The root ended: the whole envelope, and the part its Include names.
    fn root_end(&mut self) -> Result<Part, Refusal> {
        self.scanner.finish().map_err(scan_refusal)?;
        let env = envelope::parse(self.scanner.skeleton(), Extent::Whole)?;
        let cid = match &env.xop_include {
            Some(href) => Some(
                cid_of_href(href)
                    .ok_or_else(|| malformed("An xop:Include's href is not a cid: URL."))?,
            ),
            None => None,
        };
        Ok(Part::AfterRoot { env, cid })
    }

    /// A part after the root: only the one the Include names, refused at its headers, unread,
    /// otherwise (before the file, nothing but the file).
    fn file_headers(&self, cid: Option<&str>, headers: &[(String, String)]) -> Result<(), Refusal> {
        let id = header(headers, "content-id").map(content_id);
        match (cid, id) {
            (Some(want), Some(id)) if want == id => {
                if self.started {
                    Ok(())
                } else {
                    Err(malformed("Only SendFile carries content."))
                }
            }
            (Some(_), _) => Err(malformed(
                "A part the envelope does not reference comes after the envelope; it was not read. An MTOM request has two parts: the envelope, then the part its xop:Include names.",
            )),
            (None, _) => Err(malformed(
                "The envelope references no other part, but the request has one; it was not read.",
            )),
        }
    }
}

impl Framing for Mtom {
    async fn advance(&mut self) -> Result<Found<'_>, Refusal> {
        loop {
            if std::mem::take(&mut self.waiting) && !self.decoded.is_empty() {
                return Ok(Found::Content(&self.decoded));
            }
            if let Some(piece) = self.pieces.pop() {
                match self.step(piece)? {
                    Next::Read => continue,
                    Next::ContentStarts => return Ok(Found::ContentStarts),
                    Next::File => return Ok(Found::Content(&self.file)),
                }
            }
            if !self.split_next().await? {
                self.end()?;
                return Ok(Found::End);
            }
        }
    }

    fn skeleton(&self) -> &[u8] {
        self.scanner.skeleton()
    }

    fn envelope(&mut self) -> Result<envelope::Envelope, Refusal> {
        match std::mem::replace(&mut self.part, Part::Start) {
            Part::Done { env, .. } => Ok(env),
            _ => Err(split_refusal(SplitError::Unfinished)),
        }
    }

    fn body(&mut self) -> &mut RequestBody {
        &mut self.body
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
