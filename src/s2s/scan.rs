//! Streaming scan of a SOAP request: the file content goes straight to the body store, the
//! rest (the "skeleton") is kept, bounded, for the XML parser.
//!
//! A `SendFile` request carries its file as base64 text inside `<content>`, which may be 130 MiB
//! of text. A general XML parser would hold it as one text event, so this scanner walks the
//! bytes with a small lexer (tags, comments, CDATA, processing instructions, quoted attribute
//! values), tracks the element path by local name, and when it enters
//! `Envelope/Body/SendFile/content` it decodes the text there in a stream
//! ([`Base64Text`]) and leaves the element empty in the skeleton. Namespaces and everything
//! else are then checked by the real XML parser on the skeleton (`envelope.rs`), which
//! therefore proves that the streamed element was where it had to be.

use super::content::Base64Text;

const CONTENT_PATH: [&[u8]; 3] = [b"Envelope", b"Body", b"SendFile"];
const MAX_TAG: usize = 8 * 1024;
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("the SOAP envelope (apart from the file content; comments, whitespace, CDATA and processing instructions included) is larger than {0} bytes")]
    EnvelopeTooLarge(usize),
    #[error("the file content is larger than the gateway accepts")]
    ContentTooLarge,
    #[error("the file content is not valid base64")]
    BadBase64,
    #[error("the XML is malformed: {0}")]
    Malformed(&'static str),
    #[error("the request contains a document type declaration, which is not allowed")]
    Doctype,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// After `<`, collecting the tag up to `>`; `quote` is the open attribute quote if any.
    Tag {
        quote: Option<u8>,
    },
    Comment,
    Cdata,
    Pi,
    /// Inside the content element's text.
    Content,
    /// After `&` inside content: collecting a character reference.
    ContentRef,
}

/// What one piece of input did besides adding to the skeleton and the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// Nothing else.
    Read,
    /// The content element opened in this piece: everything before it (header, mailbox
    /// credentials, recipient, file name) is now in the skeleton.
    ContentStarted,
}

#[derive(Debug)]
pub struct Scanner {
    state: State,
    skeleton: Vec<u8>,
    max_skeleton: usize,
    tag: Vec<u8>,
    stack: Vec<Vec<u8>>,
    content: Base64Text,
    content_seen: bool,
    /// Every byte read outside the file content, whatever construct it belongs to (comments,
    /// whitespace, CDATA, processing instructions, tags, text): what a stranger can make the
    /// gateway read before the credentials are checked (issue 25, item 2).
    envelope_raw: usize,
}

fn local_name(qname: &[u8]) -> &[u8] {
    match qname.iter().position(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

impl Scanner {
    /// `max_content` is the largest decoded file; the base64 text may be 4/3 of it plus
    /// whitespace.
    pub fn new(max_skeleton: usize, max_content: u64) -> Self {
        Scanner {
            state: State::Text,
            skeleton: Vec::with_capacity(4096),
            max_skeleton,
            tag: Vec::new(),
            stack: Vec::new(),
            content: Base64Text::new(max_content),
            content_seen: false,
            envelope_raw: 0,
        }
    }

    pub fn skeleton(&self) -> &[u8] {
        &self.skeleton
    }

    fn push_skeleton(&mut self, bytes: &[u8]) -> Result<(), ScanError> {
        if self.skeleton.len() + bytes.len() > self.max_skeleton {
            return Err(ScanError::EnvelopeTooLarge(self.max_skeleton));
        }
        self.skeleton.extend_from_slice(bytes);
        Ok(())
    }

    /// Counts `n` raw bytes of the envelope (anything but the file content) against the cap:
    /// the bound is on bytes read, not on what the parser keeps, so comments (which the
    /// skeleton drops) count as much as everything else.
    fn count_envelope(&mut self, n: usize) -> Result<(), ScanError> {
        self.envelope_raw = self.envelope_raw.saturating_add(n);
        if self.envelope_raw > self.max_skeleton {
            return Err(ScanError::EnvelopeTooLarge(self.max_skeleton));
        }
        Ok(())
    }

    /// Bytes of the envelope read so far (everything but the file content).
    pub fn envelope_bytes(&self) -> usize {
        self.envelope_raw
    }

    /// Scans the next piece of the request; the file bytes it holds are appended to `content`
    /// (the caller's buffer, reused from piece to piece).
    pub fn feed(&mut self, chunk: &[u8], content: &mut Vec<u8>) -> Result<Fed, ScanError> {
        let mut fed = Fed::Read;
        let mut i = 0;
        while let Some(rest) = chunk.get(i..).filter(|r| !r.is_empty()) {
            i += match self.state {
                State::Content => self.content_text(rest, content)?,
                State::ContentRef => {
                    if self.content.reference_byte(rest[0])? {
                        self.state = State::Content;
                    }
                    1
                }
                State::Text => self.text(rest)?,
                State::Tag { quote } => {
                    if self.tag_byte(rest[0], quote)? {
                        fed = Fed::ContentStarted;
                    }
                    1
                }
                State::Comment | State::Cdata | State::Pi => self.markup_byte(rest[0])?,
            };
        }
        Ok(fed)
    }

    /// Content text up to the next `<` or `&` (the fast path: a run at a time); the bytes
    /// taken.
    fn content_text(&mut self, rest: &[u8], out: &mut Vec<u8>) -> Result<usize, ScanError> {
        let end = memchr::memchr2(b'<', b'&', rest).unwrap_or(rest.len());
        let next = rest.get(end).copied();
        self.content.text(&rest[..end], out, next == Some(b'<'))?;
        match next {
            None => return Ok(end),
            Some(b'&') => {
                self.content.open_reference();
                self.state = State::ContentRef;
            }
            Some(_) => {
                self.count_envelope(1)?;
                self.open_tag();
            }
        }
        Ok(end + 1)
    }

    /// Text between tags, up to the next `<`; the bytes taken.
    fn text(&mut self, rest: &[u8]) -> Result<usize, ScanError> {
        let end = memchr::memchr(b'<', rest).unwrap_or(rest.len());
        // The '<' that ends the text counts too.
        self.count_envelope(end + usize::from(end < rest.len()))?;
        self.push_skeleton(&rest[..end])?;
        if end == rest.len() {
            return Ok(end);
        }
        self.open_tag();
        Ok(end + 1)
    }

    fn open_tag(&mut self) {
        self.state = State::Tag { quote: None };
        self.tag.clear();
        self.tag.push(b'<');
    }

    /// One byte of a tag; `true` when it completed the content element's start tag.
    fn tag_byte(&mut self, b: u8, quote: Option<u8>) -> Result<bool, ScanError> {
        self.count_envelope(1)?;
        self.tag.push(b);
        if self.tag.len() > MAX_TAG {
            return Err(ScanError::Malformed("a tag is too long"));
        }
        if self.tag.starts_with(b"<!--") {
            self.state = State::Comment;
            return Ok(false);
        }
        if self.tag.starts_with(b"<![CDATA[") {
            self.state = State::Cdata;
            return Ok(false);
        }
        if self.tag.len() >= 9 && self.tag[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
            return Err(ScanError::Doctype);
        }
        if self.tag.starts_with(b"<?") {
            self.state = State::Pi;
            return Ok(false);
        }
        match (quote, b) {
            (Some(q), b) if b == q => self.state = State::Tag { quote: None },
            (Some(_), _) => {}
            (None, b'"' | b'\'') => self.state = State::Tag { quote: Some(b) },
            (None, b'>') => return self.end_tag(),
            (None, _) => {}
        }
        Ok(false)
    }

    /// One byte of a comment, CDATA section or processing instruction; the bytes taken.
    fn markup_byte(&mut self, b: u8) -> Result<usize, ScanError> {
        self.count_envelope(1)?;
        self.tag.push(b);
        if self.tag.len() > self.max_skeleton {
            return Err(ScanError::EnvelopeTooLarge(self.max_skeleton));
        }
        let done = match self.state {
            State::Comment => self.tag.ends_with(b"-->") && self.tag.len() >= 7,
            State::Cdata => self.tag.ends_with(b"]]>"),
            _ => self.tag.ends_with(b"?>"),
        };
        if done {
            let whole = std::mem::take(&mut self.tag);
            // Comments are dropped; CDATA and PIs go to the parser.
            if self.state != State::Comment {
                self.push_skeleton(&whole)?;
            }
            self.state = State::Text;
        }
        Ok(1)
    }

    /// A complete tag `<...>` is in `self.tag`; `true` when it opened the content element.
    fn end_tag(&mut self) -> Result<bool, ScanError> {
        let tag = std::mem::take(&mut self.tag);
        self.push_skeleton(&tag)?;
        self.state = State::Text;
        let inner = &tag[1..tag.len() - 1];
        if let Some(name) = inner.strip_prefix(b"/") {
            let name = local_name(
                name.split(|b| b.is_ascii_whitespace())
                    .next()
                    .unwrap_or(b""),
            );
            match self.stack.pop() {
                Some(open) if open == name => {}
                _ => {
                    return Err(ScanError::Malformed(
                        "an end tag does not match its start tag",
                    ))
                }
            }
            return Ok(false);
        }
        let self_closing = inner.ends_with(b"/");
        let qname = inner
            .split(|b| b.is_ascii_whitespace() || *b == b'/')
            .next()
            .unwrap_or(b"");
        if qname.is_empty() {
            return Err(ScanError::Malformed("a tag has no name"));
        }
        let name = local_name(qname).to_vec();
        if self_closing {
            return Ok(false);
        }
        let is_content = name == b"content"
            && self.stack.len() == CONTENT_PATH.len()
            && self
                .stack
                .iter()
                .zip(CONTENT_PATH)
                .all(|(a, b)| a.as_slice() == b);
        self.stack.push(name);
        if self.stack.len() > MAX_DEPTH {
            return Err(ScanError::Malformed("elements are nested too deeply"));
        }
        if !is_content {
            return Ok(false);
        }
        if self.content_seen {
            return Err(ScanError::Malformed("the file content appears twice"));
        }
        self.content_seen = true;
        self.state = State::Content;
        Ok(true)
    }

    /// Checks that the document ended cleanly.
    pub fn finish(&self) -> Result<(), ScanError> {
        match self.state {
            State::Text if self.stack.is_empty() => Ok(()),
            _ => Err(ScanError::Malformed(
                "the document ends before it is complete",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn envelope(content: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><!-- hi --><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <t:SendFile xmlns:t=\"urn:x\" a='>'><t:fileName>f</t:fileName><t:content>{content}</t:content></t:SendFile></s:Body></s:Envelope>"
        )
    }

    fn scan_in_chunks(doc: &[u8], size: usize) -> (Vec<u8>, Vec<u8>) {
        let mut s = Scanner::new(64 * 1024, 1 << 30);
        let mut content = Vec::new();
        for chunk in doc.chunks(size) {
            s.feed(chunk, &mut content).expect("feed");
        }
        s.finish().expect("finish");
        (content, s.skeleton().to_vec())
    }

    #[test]
    fn content_is_streamed_out_at_any_chunking() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut b64 = STANDARD.encode(&data);
        b64.insert_str(76, "\r\n");
        b64.insert_str(200, "&#13;&#10;");
        let doc = envelope(&b64);
        for size in [1, 3, 7, 64, 4096, doc.len()] {
            let (content, skeleton) = scan_in_chunks(doc.as_bytes(), size);
            assert_eq!(content, data, "chunk size {size}");
            let sk = String::from_utf8(skeleton).expect("utf8");
            assert!(sk.contains("<t:content></t:content>"), "{sk}");
            assert!(!sk.contains("hi"), "comments dropped");
        }
    }

    #[test]
    fn refuses_doctype_bad_base64_and_oversize() {
        let mut s = Scanner::new(1024, 100);
        assert_eq!(
            s.feed(b"<!DOCTYPE x [<!ENTITY a 'b'>]>", &mut Vec::new())
                .err(),
            Some(ScanError::Doctype)
        );
        let mut s = Scanner::new(64 * 1024, 100);
        assert_eq!(
            s.feed(envelope("QQ==QQ==").as_bytes(), &mut Vec::new())
                .err(),
            Some(ScanError::BadBase64)
        );
        let mut s = Scanner::new(64 * 1024, 100);
        assert_eq!(
            s.feed(envelope("@@@@").as_bytes(), &mut Vec::new()).err(),
            Some(ScanError::BadBase64)
        );
        let mut s = Scanner::new(64 * 1024, 10);
        let big = STANDARD.encode(vec![0u8; 200_000]);
        assert_eq!(
            s.feed(envelope(&big).as_bytes(), &mut Vec::new()).err(),
            Some(ScanError::ContentTooLarge)
        );
        let mut s = Scanner::new(100, 10);
        assert!(matches!(
            s.feed(&[b'x'; 200], &mut Vec::new()),
            Err(ScanError::EnvelopeTooLarge(_))
        ));
        let mut s = Scanner::new(1024, 10);
        assert!(s.feed(b"<a><b></a>", &mut Vec::new()).is_err());
        let mut s = Scanner::new(1024, 10);
        s.feed(b"<a><b>", &mut Vec::new()).expect("ok so far");
        assert!(s.finish().is_err());
    }

    proptest::proptest! {
        /// Whatever whitespace a client breaks its base64 with, and however the body is cut
        /// into pieces, the decoded content is the file; a byte that is neither base64 nor
        /// whitespace is refused wherever it stands.
        #[test]
        fn base64_with_any_whitespace_at_any_chunking_is_the_file(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            breaks in proptest::collection::vec((0usize..4000, 0usize..4), 0..40),
            size in 1usize..600,
            bad in proptest::option::of((0usize..4000, proptest::sample::select(b"@!-_.*<>\0\x7f\xff".to_vec()))),
        ) {
            let mut b64 = STANDARD.encode(&data).into_bytes();
            for (at, which) in breaks {
                let at = at % (b64.len() + 1);
                let space: &[u8] = [&b"\r\n"[..], b"\n", b" ", b"\t"][which];
                b64.splice(at..at, space.iter().copied());
            }
            let refused = bad.map(|(at, b)| {
                let at = at % (b64.len() + 1);
                b64.insert(at, b);
                b
            });
            let shell = envelope("#");
            let (head, tail) = shell.split_once('#').expect("the content's place");
            let doc = [head.as_bytes(), &b64, tail.as_bytes()].concat();
            let mut s = Scanner::new(64 * 1024, 1 << 30);
            let mut content = Vec::new();
            let mut failed = None;
            for chunk in doc.chunks(size) {
                match s.feed(chunk, &mut content) {
                    Ok(_) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match refused {
                None => {
                    proptest::prop_assert_eq!(failed, None);
                    proptest::prop_assert!(s.finish().is_ok());
                    proptest::prop_assert_eq!(content, data);
                }
                // '<' or '>' change the document's structure instead; any other stray byte is
                // bad base64.
                Some(b'<') | Some(b'>') => proptest::prop_assert!(failed.is_some() || s.finish().is_err() || content != data),
                Some(_) => proptest::prop_assert_eq!(failed, Some(ScanError::BadBase64)),
            }
        }
    }

    /// Issue 25, item 2: the cap is on bytes read, whatever they are. A header stuffed with
    /// comments (which the skeleton drops), whitespace, processing instructions or CDATA is
    /// refused once the cap is passed, at any chunking, and before the content starts.
    #[test]
    fn every_byte_outside_the_content_counts_against_the_cap() {
        const CAP: usize = 4096;
        let fillers: [(&str, String); 5] = [
            ("comments", "<!-- x -->".repeat(100)),
            ("one long comment", format!("<!--{}-->", "x".repeat(3000))),
            ("whitespace", " ".repeat(1000)),
            ("processing instructions", "<?pi x?>".repeat(100)),
            ("CDATA", "<![CDATA[x]]>".repeat(100)),
        ];
        for (what, filler) in fillers {
            let doc = format!(
                "<s:Envelope xmlns:s=\"urn:s\"><s:Header>{}</s:Header><s:Body><t:SendFile xmlns:t=\"urn:t\"><t:content>QUJD</t:content></t:SendFile></s:Body></s:Envelope>",
                filler.repeat(20)
            );
            for size in [1, 100, 4096, doc.len()] {
                let mut s = Scanner::new(CAP, 1 << 20);
                let mut fed = 0;
                let mut refused = None;
                for chunk in doc.as_bytes().chunks(size) {
                    fed += chunk.len();
                    match s.feed(chunk, &mut Vec::new()) {
                        Ok(f) => assert_eq!(f, Fed::Read, "{what}: the content never starts"),
                        Err(e) => {
                            refused = Some(e);
                            break;
                        }
                    }
                }
                assert_eq!(refused, Some(ScanError::EnvelopeTooLarge(CAP)), "{what}");
                assert!(s.envelope_bytes() <= CAP + size, "{what}");
                assert!(
                    fed <= CAP + size,
                    "{what}: read {fed} bytes in pieces of {size}"
                );
            }
        }
        // Only the content is outside the count.
        let doc = envelope(&STANDARD.encode(vec![7u8; 30_000]));
        let (content, _) = scan_in_chunks(doc.as_bytes(), 512);
        assert_eq!(content.len(), 30_000);
    }

    #[test]
    fn content_elsewhere_is_not_streamed() {
        let doc = "<Envelope><Body><Other><content>QUJD</content></Other></Body></Envelope>";
        let (content, skeleton) = scan_in_chunks(doc.as_bytes(), 5);
        assert!(content.is_empty());
        assert_eq!(skeleton, doc.as_bytes());
    }
}
