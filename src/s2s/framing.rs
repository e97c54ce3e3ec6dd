//! How a SOAP request's file is framed, and the one way this door reads either framing: a
//! plain envelope whose `<content>` holds base64 ([`Plain`]), or MTOM's `multipart/related`
//! whose binary part holds the bytes (`mtom::Mtom`). A framing reads on to what the door acts
//! on ([`Found`]): the content about to start (the credentials before it are then in the
//! skeleton), a piece of the file, or the end of the request. Once the credentials are
//! accepted it is handed to the core's one upload pump as its [`Content`] ([`Pumped`]).

use super::body::RequestBody;
use super::envelope::{self, Envelope, Extent};
use super::scan::{Fed, ScanError, Scanner};
use crate::config::Limits;
use crate::error::{Code, Refusal};
use crate::gateway::Content;
use axum::body::Body;
use std::future::Future;

/// What a framing read on to.
pub(super) enum Found<'a> {
    /// The content element opened: everything before it (the credentials) is in the
    /// skeleton, and nothing of the file is stored before they are checked.
    ContentStarts,
    /// The next bytes of the file.
    Content(&'a [u8]),
    /// The request body ended, and its framing is whole.
    End,
}

/// A SOAP request's framing, read as it streams.
pub(super) trait Framing: Send {
    /// Reads on to the next thing the door acts on.
    fn advance(&mut self) -> impl Future<Output = Result<Found<'_>, Refusal>> + Send;
    /// The envelope read so far, without the content.
    fn skeleton(&self) -> &[u8];
    /// The whole envelope, once [`Found::End`] was reached.
    fn envelope(&mut self) -> Result<Envelope, Refusal>;
    /// The request body under the framing.
    fn body(&mut self) -> &mut RequestBody;
}

pub(super) fn malformed(why: impl Into<String>) -> Refusal {
    Refusal::with_detail(Code::MalformedRequest, why)
}

pub(super) fn scan_refusal(e: ScanError) -> Refusal {
    match e {
        ScanError::ContentTooLarge => Refusal::new(Code::FileTooLarge),
        other => malformed(format!("{}.", capitalise(&other.to_string()))),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A plain SOAP request: the envelope streams through the [`Scanner`], which decodes the
/// content's base64 as it arrives. Every byte outside the content counts against the envelope
/// cap, so before the credentials (which come before the content) at most the cap is read,
/// plus the rest of the piece in which it was passed (issue 25, item 2).
pub(super) struct Plain {
    body: RequestBody,
    scanner: Scanner,
    /// The file bytes of the last piece (one buffer, reused piece after piece).
    decoded: Vec<u8>,
    /// `decoded` still waits to be handed over.
    waiting: bool,
}

impl Plain {
    pub fn new(body: Body, limits: &Limits) -> Plain {
        Plain {
            body: RequestBody::new(body, limits),
            scanner: Scanner::new(limits.max_envelope_bytes, limits.max_file_bytes),
            decoded: Vec::new(),
            waiting: false,
        }
    }
}

impl Framing for Plain {
    async fn advance(&mut self) -> Result<Found<'_>, Refusal> {
        loop {
            if std::mem::take(&mut self.waiting) && !self.decoded.is_empty() {
                return Ok(Found::Content(&self.decoded));
            }
            let Some(chunk) = self.body.next().await? else {
                return Ok(Found::End);
            };
            self.body.pre.take(chunk.len());
            self.decoded.clear();
            let fed = self
                .scanner
                .feed(&chunk, &mut self.decoded)
                .map_err(scan_refusal)?;
            self.waiting = true;
            if fed == Fed::ContentStarted {
                return Ok(Found::ContentStarts);
            }
        }
    }

    fn skeleton(&self) -> &[u8] {
        self.scanner.skeleton()
    }

    fn envelope(&mut self) -> Result<Envelope, Refusal> {
        self.scanner.finish().map_err(scan_refusal)?;
        let env = envelope::parse(self.scanner.skeleton(), Extent::Whole)?;
        if env.xop_include.is_some() {
            return Err(malformed(
                "The content is an xop:Include, but the request is not multipart/related (MTOM).",
            ));
        }
        Ok(env)
    }

    fn body(&mut self) -> &mut RequestBody {
        &mut self.body
    }
}

/// A framing handed to the core's pump once the credentials were accepted: the file's bytes
/// to the end of the request.
pub(super) struct Pumped<'f, F> {
    pub framing: &'f mut F,
    /// The pump asked for bytes (so a refusal came while the content was being received).
    pub started: bool,
}

impl<F: Framing> Content for Pumped<'_, F> {
    async fn next(&mut self) -> Result<Option<&[u8]>, Refusal> {
        self.started = true;
        match self.framing.advance().await? {
            Found::Content(bytes) => Ok(Some(bytes)),
            Found::End => Ok(None),
            Found::ContentStarts => Err(malformed("The file content appears twice.")),
        }
    }
}
