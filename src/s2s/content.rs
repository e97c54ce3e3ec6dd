//! A plain SOAP SendFile's file content: base64 text inside `<content>`, decoded as it streams
//! (the [`Scanner`](super::scan::Scanner) hands it the text between the element's tags).
//! Whitespace and whitespace character references are skipped (clients break lines); any other
//! byte is refused where it stands, and the text is bounded by the file limit.

use super::scan::ScanError;
use base64::Engine;

/// The base64 decoder of one content element.
#[derive(Debug)]
pub(super) struct Base64Text {
    /// Base64 characters waiting for a whole quad.
    b64: Vec<u8>,
    /// A character reference being read (after `&`).
    reference: Vec<u8>,
    /// Raw bytes of the content so far, and their bound.
    raw: u64,
    max_raw: u64,
    /// Padding was decoded: no more quads may follow.
    padded: bool,
}

impl Base64Text {
    /// `max_content` is the largest decoded file; the base64 text may be 4/3 of it plus
    /// whitespace.
    pub fn new(max_content: u64) -> Self {
        Base64Text {
            b64: Vec::new(),
            reference: Vec::new(),
            raw: 0,
            max_raw: max_content.saturating_mul(3) / 2 + 64 * 1024,
            padded: false,
        }
    }

    /// Takes a run of content text (no `<` or `&` in it), decoding the whole quads gathered so
    /// far into `out` (all of them when `last`: the element ends).
    pub fn text(&mut self, run: &[u8], out: &mut Vec<u8>, last: bool) -> Result<(), ScanError> {
        // A byte that is neither base64 nor whitespace is refused where it stands, whichever
        // piece it arrives in.
        let bad = self.take(run);
        self.raw += bad.unwrap_or(run.len()) as u64;
        if self.raw > self.max_raw {
            return Err(ScanError::ContentTooLarge);
        }
        if bad.is_some() {
            return Err(ScanError::BadBase64);
        }
        self.flush(out, last)
    }

    /// A character reference begins (`&`).
    pub fn open_reference(&mut self) {
        self.reference.clear();
    }

    /// One byte of a character reference; `true` once it ended (`;`). Only whitespace
    /// references may appear in base64 text.
    pub fn reference_byte(&mut self, b: u8) -> Result<bool, ScanError> {
        if b == b';' {
            return match self.reference.as_slice() {
                b"#13" | b"#10" | b"#9" | b"#32" | b"#xD" | b"#xA" | b"#x9" | b"#x20" | b"#xd"
                | b"#xa" => Ok(true),
                _ => Err(ScanError::BadBase64),
            };
        }
        if self.reference.len() > 8 {
            return Err(ScanError::BadBase64);
        }
        self.reference.push(b);
        Ok(false)
    }

    /// Appends `text`'s base64 characters to those waiting to be decoded, skipping
    /// whitespace; one pass, copying runs rather than bytes. Returns the position of the first
    /// byte that is neither, if any.
    fn take(&mut self, text: &[u8]) -> Option<usize> {
        self.b64.reserve(text.len());
        let mut start = 0;
        while start < text.len() {
            let run = start + base64_run(&text[start..]);
            self.b64.extend_from_slice(&text[start..run]);
            match text.get(run) {
                None => return None,
                Some(&b) if BYTE_CLASS[b as usize] == SPACE => start = run + 1,
                Some(_) => return Some(run),
            }
        }
        None
    }

    /// Decodes whole base64 quads gathered so far (all of them at the end of the content).
    fn flush(&mut self, out: &mut Vec<u8>, last: bool) -> Result<(), ScanError> {
        let take = if last {
            self.b64.len()
        } else {
            self.b64.len() / 4 * 4
        };
        if take == 0 {
            return Ok(());
        }
        if self.padded {
            return Err(ScanError::BadBase64);
        }
        if last && take % 4 != 0 {
            return Err(ScanError::BadBase64);
        }
        let quads = &self.b64[..take];
        self.padded = quads.ends_with(b"=");
        base64::engine::general_purpose::STANDARD
            .decode_vec(quads, out)
            .map_err(|_| ScanError::BadBase64)?;
        self.b64.drain(..take);
        Ok(())
    }
}

/// How many bytes at the start of `text` are base64 characters. Whole blocks are tested
/// without a branch per byte (range comparisons the compiler turns into vector instructions:
/// a per-byte search with a table was a tenth of the gateway's CPU on large uploads), then
/// the block that holds the end is searched byte by byte.
fn base64_run(text: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let mut whole = 0;
    for block in text.chunks_exact(BLOCK) {
        if !block.iter().fold(true, |all, &c| all & is_base64(c)) {
            break;
        }
        whole += BLOCK;
    }
    whole
        + text[whole..]
            .iter()
            .position(|&b| BYTE_CLASS[b as usize] != BASE64)
            .unwrap_or(text.len() - whole)
}

/// A character of the base64 alphabet, padding included: range comparisons, no table, so
/// that a loop over a block of them becomes vector instructions.
const fn is_base64(c: u8) -> bool {
    c.wrapping_sub(b'A') < 26
        || c.wrapping_sub(b'a') < 26
        || c.wrapping_sub(b'0') < 10
        || c == b'+'
        || c == b'/'
        || c == b'='
}

/// Kinds of byte in [`BYTE_CLASS`]: a character of the base64 alphabet (padding included),
/// whitespace, anything else.
const BASE64: u8 = 0;
const SPACE: u8 = 1;
const OTHER: u8 = 2;

/// Each byte's kind in base64 text, looked up rather than tested (the scanner's inner loop runs
/// over every byte of a file's base64).
static BYTE_CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if is_base64(c) {
            table[b] = BASE64;
        } else if c.is_ascii_whitespace() {
            table[b] = SPACE;
        }
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The block test and the table agree on every byte, at every place in and across blocks.
    #[test]
    fn a_base64_run_ends_at_the_first_other_byte_wherever_it_stands() {
        let text: Vec<u8> = b"QUJD".iter().copied().cycle().take(100).collect();
        assert_eq!(base64_run(&text), 100);
        assert_eq!(base64_run(b""), 0);
        for b in 0..=255u8 {
            for at in [0, 1, 31, 32, 33, 63, 64, 99] {
                let mut t = text.clone();
                t[at] = b;
                let expected = if BYTE_CLASS[b as usize] == BASE64 {
                    100
                } else {
                    at
                };
                assert_eq!(base64_run(&t), expected, "byte {b:#04x} at {at}");
            }
        }
    }
}
