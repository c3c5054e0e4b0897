//! A validating JSON lexer over one record, with no allocation.
//!
//! The ECS decoder ([`crate::view::ecs`]) drives it token by token. It accepts exactly RFC 8259 JSON
//! (what Elasticsearch's Jackson parser accepts): no comments, no trailing commas, no
//! unescaped control characters in strings, no leading zeros. The input is already known to be
//! UTF-8 (the decoder checks the whole record first), so every span it returns is a valid
//! `str` slice.
//!
//! Strings are returned as raw spans plus an "escaped" flag; [`unescape_into`] decodes them
//! into a caller-owned buffer only when needed. Every position is a byte offset into the
//! record, for error messages.

use crate::error::{DecodeError, ErrorKind};

/// JSON's insignificant whitespace (RFC 8259: space, tab, line feed, carriage return).
#[inline]
pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// What may follow a number or a literal: whitespace, `,`, `}` or `]`.
#[inline]
fn is_delimiter(b: u8) -> bool {
    matches!(b, b',' | b'}' | b']') || is_whitespace(b)
}

/// A string token: the byte range of its contents (without quotes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawStr {
    pub start: usize,
    pub end: usize,
    /// Whether the contents hold at least one backslash escape.
    pub escaped: bool,
}

pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(bytes: &'a [u8]) -> Lexer<'a> {
        Lexer { bytes, pos: 0 }
    }

    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    fn error(&self, kind: ErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if is_whitespace(b) {
                self.pos += 1;
            } else {
                return Some(b);
            }
        }
        None
    }

    /// Consumes one byte (after whitespace), which must be `expected`.
    #[inline]
    pub fn expect(&mut self, expected: u8, what: &'static str) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b) if b == expected => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.error(ErrorKind::Syntax(what))),
            None => Err(self.error(ErrorKind::Truncated)),
        }
    }

    /// Consumes one byte known to be there (after a `peek`).
    #[inline]
    pub fn bump(&mut self) {
        self.pos += 1;
    }

    /// Lexes a string; the current byte must be `"`.
    pub fn string(&mut self) -> Result<RawStr, DecodeError> {
        debug_assert_eq!(self.bytes.get(self.pos), Some(&b'"'));
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = find_special(self.bytes, i);
            match self.bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(RawStr { start, end: i, escaped });
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i)?;
                }
                Some(_) => {
                    self.pos = i;
                    return Err(self.error(ErrorKind::ControlCharacter));
                }
                None => {
                    self.pos = self.bytes.len();
                    return Err(self.error(ErrorKind::Truncated));
                }
            }
        }
    }

    /// Validates the escape at `i` (a backslash) and returns the index after it.
    fn escape(&mut self, i: usize) -> Result<usize, DecodeError> {
        match self.bytes.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
            Some(b'u') => {
                let hex = self.bytes.get(i + 2..i + 6);
                match hex {
                    Some(h) if h.iter().all(u8::is_ascii_hexdigit) => Ok(i + 6),
                    Some(_) => {
                        self.pos = i;
                        Err(self.error(ErrorKind::BadEscape))
                    }
                    None => {
                        self.pos = self.bytes.len();
                        Err(self.error(ErrorKind::Truncated))
                    }
                }
            }
            Some(_) => {
                self.pos = i;
                Err(self.error(ErrorKind::BadEscape))
            }
            None => {
                self.pos = self.bytes.len();
                Err(self.error(ErrorKind::Truncated))
            }
        }
    }

    /// Lexes a number; returns its exact text span.
    pub fn number(&mut self) -> Result<(usize, usize), DecodeError> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while matches!(b.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.number_error());
            }
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                self.pos = i;
                return Err(self.number_error());
            }
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                self.pos = i;
                return Err(self.number_error());
            }
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        // A number must end at a delimiter (`01`, `1x` are errors).
        if matches!(b.get(i), Some(&c) if !is_delimiter(c)) {
            self.pos = i;
            return Err(self.number_error());
        }
        self.pos = i;
        Ok((start, i))
    }

    fn number_error(&self) -> DecodeError {
        if self.pos >= self.bytes.len() {
            self.error(ErrorKind::Truncated)
        } else {
            self.error(ErrorKind::Syntax("a valid number"))
        }
    }

    /// Lexes `true`, `false` or `null`; returns the span.
    pub fn word(&mut self, word: &'static [u8]) -> Result<(usize, usize), DecodeError> {
        let start = self.pos;
        let end = start + word.len();
        match self.bytes.get(start..end) {
            Some(w) if w == word => {}
            Some(_) => return Err(self.error(ErrorKind::Syntax("a JSON value"))),
            None if word.starts_with(&self.bytes[start..]) => {
                self.pos = self.bytes.len();
                return Err(self.error(ErrorKind::Truncated));
            }
            None => return Err(self.error(ErrorKind::Syntax("a JSON value"))),
        }
        self.pos = end;
        if matches!(self.bytes.get(end), Some(&c) if !is_delimiter(c)) {
            return Err(self.error(ErrorKind::Syntax("a delimiter after the literal")));
        }
        Ok((start, end))
    }
}

/// The index of the first byte at or after `i` that ends a run of plain string bytes: `"`,
/// `\\` or a control character (below 0x20); `bytes.len()` if there is none.
///
/// Sixteen bytes at a time with SSE2 on x86-64 (always available there), then eight at a time
/// with the classic SWAR zero-byte test, then byte by byte.
#[inline]
fn find_special(bytes: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
            _mm_xor_si128,
        };
        while i + 16 <= bytes.len() {
            // SAFETY: SSE2 is part of the x86-64 baseline; the load reads bytes[i..i + 16],
            // which the loop condition keeps in bounds (loadu has no alignment requirement).
            let mask = unsafe {
                let v = _mm_loadu_si128(bytes.as_ptr().add(i) as *const __m128i);
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // Unsigned v < 0x20 as a signed compare after flipping the sign bits.
                let flip = _mm_set1_epi8(i8::MIN);
                let control = _mm_cmplt_epi8(_mm_xor_si128(v, flip), _mm_set1_epi8((0x20u8 ^ 0x80) as i8));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = bytes.get(i..i + 8) {
        let v = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        // `(x - 0x01…) & !x & 0x80…` flags every zero byte exactly up to and including the
        // first one; later flags may be borrow artefacts, but only the lowest is used.
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v);
        let flags = flags & HIGH;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// Appends the decoded contents of a validated string span to `out`.
///
/// Unpaired surrogates (`"\ud800"`) become U+FFFD, as they do when Lucene encodes the Java
/// string Jackson produced. Amortised allocation only: `out` is reused by the caller.
pub(crate) fn unescape_into(raw: &str, out: &mut String) {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(off) = memchr::memchr(b'\\', &bytes[i..]) else {
            out.push_str(&raw[i..]);
            return;
        };
        out.push_str(&raw[i..i + off]);
        i += off;
        let (c, next) = match bytes[i + 1] {
            b'"' => ('"', i + 2),
            b'\\' => ('\\', i + 2),
            b'/' => ('/', i + 2),
            b'b' => ('\u{8}', i + 2),
            b'f' => ('\u{c}', i + 2),
            b'n' => ('\n', i + 2),
            b'r' => ('\r', i + 2),
            b't' => ('\t', i + 2),
            _ => {
                let hi = hex4(&bytes[i + 2..i + 6]);
                match hi {
                    0xD800..=0xDBFF => {
                        let lo = (bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u'))
                            .then(|| hex4(&bytes[i + 8..i + 12]))
                            .filter(|lo| (0xDC00..=0xDFFF).contains(lo));
                        match lo {
                            Some(lo) => {
                                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                (char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER), i + 12)
                            }
                            None => (char::REPLACEMENT_CHARACTER, i + 6),
                        }
                    }
                    _ => (char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER), i + 6),
                }
            }
        };
        out.push(c);
        i = next;
    }
}

fn hex4(h: &[u8]) -> u32 {
    h.iter().fold(0, |acc, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        (acc << 4) | u32::from(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescape(raw: &str) -> String {
        let mut out = String::new();
        unescape_into(raw, &mut out);
        out
    }

    #[test]
    fn escapes_decode() {
        assert_eq!(unescape(r"\u0044COM"), "DCOM");
        assert_eq!(unescape(r#"C:\\Windows\/x\n\t\"q\""#), "C:\\Windows/x\n\t\"q\"");
        assert_eq!(unescape(r"\ud83d\ude00!"), "😀!");
        assert_eq!(unescape(r"\ud800x"), "\u{FFFD}x");
        assert_eq!(unescape(r"\ude00"), "\u{FFFD}");
        assert_eq!(unescape(r"\ud800\u0041"), "\u{FFFD}A");
    }

    #[test]
    fn special_bytes_are_found_exactly() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes.extend_from_slice(&[0x20, 0x7f, 0x80, 0xff, b'!']);
                    if at < len {
                        bytes[at] = special;
                    }
                    let expected = if at < len { at } else { bytes.len() };
                    assert_eq!(find_special(&bytes, 0), expected, "len {len} at {at} byte {special}");
                }
            }
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        for (src, ok) in
            [("0", true), ("-12.5e+3", true), ("01", false), ("1.", false), ("-", false), ("1e", false), ("2]", true)]
        {
            let mut lx = Lexer::new(src.as_bytes());
            assert_eq!(lx.number().is_ok(), ok, "{src}");
        }
    }
}
