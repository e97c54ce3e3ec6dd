//! A push splitter for `multipart/related` bodies (MTOM/XOP, RFC 2387 and 2046): fed the bytes
//! as they arrive, it yields each part's headers and then its content in pieces, holding at
//! most one part's headers ([`MAX_HEADERS`] bytes) and a delimiter's length of content, never a
//! part. The preamble and the epilogue are skipped, within bounds of their own.

use memchr::memmem::Finder;

/// The longest header block of a part.
pub const MAX_HEADERS: usize = 8 * 1024;
/// The longest preamble (text before the first boundary) skipped.
const MAX_PREAMBLE: usize = 8 * 1024;
/// The longest boundary (RFC 2046: 70 characters).
pub const MAX_BOUNDARY: usize = 70;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("no part begins with the boundary the Content-Type names")]
    NoBoundary,
    #[error("a part's headers are longer than {MAX_HEADERS} bytes")]
    HeadersTooLong,
    #[error("a part's header line is not \"Name: value\"")]
    BadHeader,
    #[error("the boundary is not followed by a line end or the closing \"--\"")]
    BadDelimiter,
    #[error("the body ended before its closing boundary")]
    Unfinished,
}

/// What a piece of input produced, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A part begins: its headers, names in lower case.
    Part(Vec<(String, String)>),
    /// The next bytes of the current part's content.
    Data(Vec<u8>),
    /// The current part ended.
    PartEnd,
    /// The closing boundary: no more parts.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    /// Right after a delimiter: `--` closes, a line end starts a part's headers.
    AfterDelimiter,
    Headers,
    Content,
    Epilogue,
}

/// Whether the splitter can go on with what it holds, or waits for more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    On,
    Wait,
}

/// The splitter. Feed it with [`Splitter::feed`], then call [`Splitter::finish`].
pub struct Splitter {
    /// `\r\n--` and the boundary: what ends a part (and, at the start, begins the first).
    delimiter: Vec<u8>,
    finder: Finder<'static>,
    state: State,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Splitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Splitter")
            .field("state", &self.state)
            .finish()
    }
}

impl Splitter {
    /// A splitter for `boundary` (1 to 70 characters, checked by the caller).
    pub fn new(boundary: &str) -> Splitter {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        let finder = Finder::new(&delimiter).into_owned();
        Splitter {
            delimiter,
            finder,
            state: State::Preamble,
            // The first boundary may open the body without a line end before it.
            buf: b"\r\n".to_vec(),
        }
    }

    /// Feeds the next bytes; what they complete is appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Piece>) -> Result<(), SplitError> {
        if self.state == State::Epilogue {
            return Ok(());
        }
        self.buf.extend_from_slice(chunk);
        loop {
            let flow = match self.state {
                State::Preamble => self.preamble()?,
                State::AfterDelimiter => self.after_delimiter(out)?,
                State::Headers => self.headers(out)?,
                State::Content => self.content(out),
                State::Epilogue => Flow::Wait,
            };
            if flow == Flow::Wait {
                return Ok(());
            }
        }
    }

    /// Skips the preamble up to the first delimiter.
    fn preamble(&mut self) -> Result<Flow, SplitError> {
        match self.finder.find(&self.buf) {
            Some(i) => {
                self.buf.drain(..i + self.delimiter.len());
                self.state = State::AfterDelimiter;
                Ok(Flow::On)
            }
            None if self.buf.len() > MAX_PREAMBLE + self.delimiter.len() => {
                Err(SplitError::NoBoundary)
            }
            None => Ok(Flow::Wait),
        }
    }

    /// After a delimiter: `--` closes the body, a line end starts a part.
    fn after_delimiter(&mut self, out: &mut Vec<Piece>) -> Result<Flow, SplitError> {
        // Transport padding (spaces, tabs) may follow a delimiter.
        let pad = self
            .buf
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if pad > MAX_BOUNDARY {
            return Err(SplitError::BadDelimiter);
        }
        let rest = &self.buf[pad..];
        if rest.len() < 2 {
            return Ok(Flow::Wait);
        }
        if rest.starts_with(b"--") {
            out.push(Piece::Done);
            self.state = State::Epilogue;
            self.buf = Vec::new();
            return Ok(Flow::Wait);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(SplitError::BadDelimiter);
        }
        self.buf.drain(..pad + 2);
        self.state = State::Headers;
        Ok(Flow::On)
    }

    /// A part's header block, once whole.
    fn headers(&mut self, out: &mut Vec<Piece>) -> Result<Flow, SplitError> {
        // An empty header block is the line end alone.
        let end = if self.buf.starts_with(b"\r\n") {
            Some((0, 2))
        } else {
            memchr::memmem::find(&self.buf, b"\r\n\r\n").map(|i| (i, 4))
        };
        let Some((i, skip)) = end else {
            if self.buf.len() > MAX_HEADERS {
                return Err(SplitError::HeadersTooLong);
            }
            return Ok(Flow::Wait);
        };
        if i > MAX_HEADERS {
            return Err(SplitError::HeadersTooLong);
        }
        let headers = parse_headers(&self.buf[..i])?;
        self.buf.drain(..i + skip);
        out.push(Piece::Part(headers));
        self.state = State::Content;
        Ok(Flow::On)
    }

    /// A part's content, up to the next delimiter.
    fn content(&mut self, out: &mut Vec<Piece>) -> Flow {
        match self.finder.find(&self.buf) {
            Some(i) => {
                if i > 0 {
                    out.push(Piece::Data(self.buf[..i].to_vec()));
                }
                out.push(Piece::PartEnd);
                self.buf.drain(..i + self.delimiter.len());
                self.state = State::AfterDelimiter;
                Flow::On
            }
            None => {
                // Everything but what could be the start of a delimiter split across pieces.
                let keep = self.delimiter.len() - 1;
                if self.buf.len() > keep {
                    let give = self.buf.len() - keep;
                    out.push(Piece::Data(self.buf[..give].to_vec()));
                    self.buf.drain(..give);
                }
                Flow::Wait
            }
        }
    }

    /// Checks that the closing boundary came.
    pub fn finish(&self) -> Result<(), SplitError> {
        match self.state {
            State::Epilogue => Ok(()),
            State::Preamble => Err(SplitError::NoBoundary),
            _ => Err(SplitError::Unfinished),
        }
    }
}

fn parse_headers(block: &[u8]) -> Result<Vec<(String, String)>, SplitError> {
    let text = std::str::from_utf8(block).map_err(|_| SplitError::BadHeader)?;
    let mut headers = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(SplitError::BadHeader)?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(SplitError::BadHeader);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(headers)
}

/// A header of a part, by lower-case name.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] = b"preamble\r\n--b0\r\nContent-Type: application/xop+xml\r\nContent-ID: <root>\r\n\r\n<Envelope/>\r\n--b0\r\nContent-ID: <file>\r\n\r\n\x00\r\n--b\r\n-binary\r\n--b0--\r\nepilogue";

    fn split(pieces: &[&[u8]]) -> Result<Vec<Piece>, SplitError> {
        let mut s = Splitter::new("b0");
        let mut out = Vec::new();
        for p in pieces {
            s.feed(p, &mut out)?;
        }
        s.finish()?;
        // Adjacent data pieces joined, so that any cutting compares equal.
        let mut joined: Vec<Piece> = Vec::new();
        for p in out {
            match (joined.last_mut(), p) {
                (Some(Piece::Data(d)), Piece::Data(more)) => d.extend(more),
                (_, p) => joined.push(p),
            }
        }
        Ok(joined)
    }

    #[test]
    fn parts_headers_and_content_come_out_whole() {
        let got = split(&[BODY]).expect("split");
        assert_eq!(
            got,
            vec![
                Piece::Part(vec![
                    ("content-type".into(), "application/xop+xml".into()),
                    ("content-id".into(), "<root>".into())
                ]),
                Piece::Data(b"<Envelope/>".to_vec()),
                Piece::PartEnd,
                Piece::Part(vec![("content-id".into(), "<file>".into())]),
                Piece::Data(b"\x00\r\n--b\r\n-binary".to_vec()),
                Piece::PartEnd,
                Piece::Done,
            ]
        );
    }

    #[test]
    fn an_unfinished_body_and_endless_headers_are_refused() {
        assert_eq!(split(&[&BODY[..60]]), Err(SplitError::Unfinished));
        let mut endless = b"--b0\r\n".to_vec();
        endless.extend(std::iter::repeat_n(b'x', MAX_HEADERS + 10));
        assert_eq!(split(&[&endless]), Err(SplitError::HeadersTooLong));
        assert_eq!(
            split(&[&vec![b'y'; MAX_PREAMBLE * 2]]),
            Err(SplitError::NoBoundary)
        );
    }

    proptest! {
        #[test]
        fn any_cutting_gives_the_same_pieces(cuts in proptest::collection::vec(0usize..BODY.len(), 0..6)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&BODY[at..c]);
                at = c;
            }
            pieces.push(&BODY[at..]);
            prop_assert_eq!(split(&pieces), split(&[BODY]));
        }

        #[test]
        fn no_input_makes_it_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = split(&[&bytes]);
        }
    }
}
