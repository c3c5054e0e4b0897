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
//!
//! The lexer reads the record through its [`index`], built once per record: for each 64
//! bytes, a mask of the bytes that end a run of plain string contents (`"`, `\\`, control
//! characters) and a mask of the dots. A string without escapes ends at the first such bit
//! after its opening quote, when that bit is a quote; any other string is lexed escape by
//! escape from there, so errors and their positions are those of a byte-by-byte lexer.

use crate::error::{DecodeError, ErrorKind};

/// JSON's insignificant whitespace (RFC 8259: space, tab, line feed, carriage return).
#[inline]
pub(crate) fn is_whitespace(b: u8) -> bool {
    // Bit `b` of the mask for each of the four (all below 64); `&` rather than `&&`, so no
    // branch depends on the byte.
    const MASK: u64 = 1 << b' ' | 1 << b'\t' | 1 << b'\n' | 1 << b'\r';
    (b < 64) & (MASK >> (b & 63) & 1 == 1)
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
    /// The [`index`] of `bytes`.
    blocks: &'a [Block],
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer over `bytes`, whose [`index`] is `blocks`.
    pub fn new(bytes: &'a [u8], blocks: &'a [Block]) -> Lexer<'a> {
        debug_assert_eq!(blocks.len(), bytes.len().div_ceil(64));
        Lexer { bytes, blocks, pos: 0 }
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

    /// Lexes a string; the current byte must be `"`. Inlined for the common string, one
    /// without escapes that ends inside the record; the others take [`Lexer::string_rest`].
    #[inline]
    pub fn string(&mut self) -> Result<RawStr, DecodeError> {
        debug_assert_eq!(self.bytes.get(self.pos), Some(&b'"'));
        let start = self.pos + 1;
        let end = self.next_special(start);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(RawStr { start, end, escaped: false });
        }
        self.string_rest(start, end)
    }

    /// The rest of a string starting at `start` whose first special byte is at `i`.
    #[inline(never)]
    fn string_rest(&mut self, start: usize, mut i: usize) -> Result<RawStr, DecodeError> {
        let mut escaped = false;
        loop {
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
            i = self.next_special(i);
        }
    }

    /// The index of the first byte at or after `i` that is `"`, `\\` or a control character
    /// (below 0x20); `bytes.len()` if there is none. A bit scan of the record's [`index`]:
    /// O(1) per 64 bytes skipped, without touching the bytes.
    #[inline]
    fn next_special(&self, i: usize) -> usize {
        let mut block = i / 64;
        let Some(first) = self.blocks.get(block) else {
            return self.bytes.len();
        };
        let mut bits = first.specials & (!0u64 << (i % 64));
        loop {
            if bits != 0 {
                return block * 64 + bits.trailing_zeros() as usize;
            }
            block += 1;
            match self.blocks.get(block) {
                Some(next) => bits = next.specials,
                None => return self.bytes.len(),
            }
        }
    }

    /// Whether `bytes[start..end]` holds a `.`: O(1) per 64 bytes, from the [`index`].
    #[inline]
    pub fn has_dot(&self, start: usize, end: usize) -> bool {
        if start >= end {
            return false;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let low = !0u64 << (start % 64);
        let high = !0u64 >> (63 - (end - 1) % 64);
        if first == last {
            return self.blocks[first].dots & low & high != 0;
        }
        self.blocks[first].dots & low != 0
            || self.blocks[first + 1..last].iter().any(|b| b.dots != 0)
            || self.blocks[last].dots & high != 0
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

/// One 64-byte block of a record's [`index`]: bit `i` of each mask describes byte `i` of
/// the block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Block {
    /// The bytes that end a run of plain string contents ([`is_special`]).
    specials: u64,
    /// The `.` bytes (dotted keys are expanded: [`Lexer::has_dot`]).
    dots: u64,
}

/// Writes into `out` (cleared first) the index of `bytes`: one [`Block`] per 64 bytes, the
/// last one padded. The [`Lexer`] finds string ends in it with a bit scan instead of reading
/// each string again, and tells dotted keys without reading them.
///
/// # Cost
/// One pass over `bytes`, sixty-four bytes at a time (SSE2 comparisons of sixteen on
/// x86-64, the x86-64 baseline; byte by byte elsewhere). No allocation once `out` has held
/// `bytes.len() / 64 + 1` blocks.
pub(crate) fn index(bytes: &[u8], out: &mut Vec<Block>) {
    out.clear();
    let blocks = bytes.chunks_exact(64);
    let tail = blocks.remainder();
    out.extend(blocks.map(|b| block(b.try_into().expect("64 bytes"))));
    if !tail.is_empty() {
        // A space is neither special nor a dot, so the padding sets no bit.
        let mut padded = [b' '; 64];
        padded[..tail.len()].copy_from_slice(tail);
        out.push(block(&padded));
    }
}

/// The [`Block`] of 64 bytes.
#[inline]
fn block(bytes: &[u8; 64]) -> Block {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
            _mm_xor_si128,
        };
        let mut block = Block::default();
        for lane in 0..4 {
            // SAFETY: SSE2 is part of the x86-64 baseline; the load reads
            // bytes[16 * lane..16 * lane + 16], inside the 64 bytes (loadu has no alignment
            // requirement).
            let (specials, dots) = unsafe {
                let v = _mm_loadu_si128(bytes.as_ptr().add(16 * lane) as *const __m128i);
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // Unsigned v < 0x20 as a signed compare after flipping the sign bits.
                let flip = _mm_set1_epi8(i8::MIN);
                let control = _mm_cmplt_epi8(_mm_xor_si128(v, flip), _mm_set1_epi8((0x20u8 ^ 0x80) as i8));
                let dot = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
                (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)), _mm_movemask_epi8(dot))
            };
            block.specials |= u64::from(specials as u16) << (16 * lane);
            block.dots |= u64::from(dots as u16) << (16 * lane);
        }
        block
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block_bytewise(bytes)
    }
}

/// Whether a byte ends a run of plain string bytes: `"`, `\\` or a control character.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// [`block`] byte by byte (the reference for the vectorised one).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn block_bytewise(bytes: &[u8; 64]) -> Block {
    bytes.iter().enumerate().fold(Block::default(), |block, (i, &b)| Block {
        specials: block.specials | u64::from(is_special(b)) << i,
        dots: block.dots | u64::from(b == b'.') << i,
    })
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

    fn indexed(bytes: &[u8]) -> Vec<Block> {
        let mut blocks = Vec::new();
        index(bytes, &mut blocks);
        blocks
    }

    fn next_special(bytes: &[u8], from: usize) -> usize {
        Lexer::new(bytes, &indexed(bytes)).next_special(from)
    }

    #[test]
    fn special_bytes_are_found_exactly() {
        for len in 0..140 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes.extend_from_slice(&[0x20, 0x7f, 0x80, 0xff, b'!']);
                    if at < len {
                        bytes[at] = special;
                    }
                    let expected = if at < len { at } else { bytes.len() };
                    assert_eq!(next_special(&bytes, 0), expected, "len {len} at {at} byte {special}");
                    if at < len {
                        assert_eq!(next_special(&bytes, at + 1), bytes.len(), "after: len {len} at {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn dots_are_found_in_every_range() {
        let bytes: Vec<u8> = (0..200).map(|i| if i % 37 == 5 || i == 64 || i == 127 { b'.' } else { b'a' }).collect();
        let blocks = indexed(&bytes);
        let lexer = Lexer::new(&bytes, &blocks);
        for start in 0..=bytes.len() {
            for end in start..=bytes.len() {
                assert_eq!(lexer.has_dot(start, end), bytes[start..end].contains(&b'.'), "{start}..{end}");
            }
        }
    }

    #[test]
    fn the_index_marks_every_byte_value_as_the_bytewise_test_does() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for offset in 0..64 {
            let chunk: [u8; 64] = bytes[offset..offset + 64].try_into().expect("64 bytes");
            assert_eq!(block(&chunk), block_bytewise(&chunk), "offset {offset}");
        }
        let blocks = indexed(&bytes);
        for (i, &b) in bytes.iter().enumerate() {
            assert_eq!(blocks[i / 64].specials >> (i % 64) & 1 == 1, is_special(b), "byte {b:#x} at {i}");
            assert_eq!(blocks[i / 64].dots >> (i % 64) & 1 == 1, b == b'.', "byte {b:#x} at {i}");
        }
    }

    #[test]
    fn whitespace_is_exactly_the_four_json_bytes() {
        for b in 0..=255u8 {
            assert_eq!(is_whitespace(b), matches!(b, b' ' | b'\t' | b'\n' | b'\r'), "{b:#x}");
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        for (src, ok) in
            [("0", true), ("-12.5e+3", true), ("01", false), ("1.", false), ("-", false), ("1e", false), ("2]", true)]
        {
            let blocks = indexed(src.as_bytes());
            let mut lx = Lexer::new(src.as_bytes(), &blocks);
            assert_eq!(lx.number().is_ok(), ok, "{src}");
        }
    }
}
