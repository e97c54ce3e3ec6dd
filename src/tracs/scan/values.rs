//! The values of a TRACS record: its fields cut from the line, checked against their format,
//! and shown in a problem.

use super::super::layout::{Field, Format};

/// A value as a problem shows it: quoted, its first 24 bytes, unprintable bytes as `?`.
pub(super) fn shown(bytes: &[u8]) -> String {
    let s: String = bytes
        .iter()
        .take(24)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    if bytes.len() > 24 {
        format!("{s:?}…")
    } else {
        format!("{s:?}")
    }
}

/// Printable ASCII: space to tilde.
pub(super) fn printable(b: u8) -> bool {
    b.wrapping_sub(b' ') < 0x5F
}

/// A run of digits as a number (no allocation); `None` if any byte is not a digit.
pub(super) fn number(v: &[u8]) -> Option<u64> {
    v.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
    })
}

pub(super) fn valid(format: Format, v: &[u8]) -> bool {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let num = |s: &[u8]| {
        s.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    match format {
        Format::Text => v.iter().all(|&b| printable(b)),
        Format::Digits => digits(v),
        Format::Date => {
            if v.len() != 8 || !digits(v) {
                return false;
            }
            let (m, d, y) = (num(&v[0..2]), num(&v[2..4]), num(&v[4..8]));
            match (m, d, y) {
                (Some(m), Some(d), Some(y)) if (1900..=2199).contains(&y) => {
                    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
                    let days = match m {
                        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                        4 | 6 | 9 | 11 => 30,
                        2 if leap => 29,
                        2 => 28,
                        _ => 0,
                    };
                    d >= 1 && d <= days
                }
                _ => false,
            }
        }
        Format::Time => {
            v.len() == 6
                && digits(v)
                && matches!((num(&v[0..2]), num(&v[2..4]), num(&v[4..6])),
                    (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60)
        }
        Format::ImaxId => v.len() == 10 && v.starts_with(b"TRACM") && digits(&v[5..]),
    }
}

pub(super) fn field<'a>(line: &'a [u8], f: &Field) -> Option<&'a [u8]> {
    line.get(f.start - 1..f.start - 1 + f.len)
}

pub(super) fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).trim().to_string()
}
