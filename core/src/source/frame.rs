//! Whether a line is plainly one JSON object: the check that lets the prefilter skip a line
//! without hiding a broken record.
//!
//! The [`Prefilter`](crate::rule::prefilter::Prefilter) proves that a line cannot *match*; it says
//! nothing about whether the line is a well-formed record. Skipping every line it rules out
//! would count truncated, binary or non-object lines as "not matched" instead of reporting
//! them. So a scan skips a ruled-out line only when it is **plainly one JSON object**:
//!
//! - after JSON whitespace is trimmed, it starts with `{` and ends with `}`, and it holds as
//!   many closing brackets (`}`, `]`) as opening ones (`{`, `[`) (a record cut short, a
//!   top-level array, number or string, or garbage fails this, unless brackets inside strings
//!   happen to make up for the missing ones);
//! - it is valid UTF-8;
//! - it holds no byte below 0x20 (JSON allows none inside strings; tabs between tokens are
//!   legal but rare, and such a line is simply parsed);
//! - it holds no more `{` and `[` bytes than the depth limit (an upper bound of its nesting).
//!
//! Every other ruled-out line is parsed like a candidate, so it is rejected with its exact
//! error, or counted as not matched if it turns out well-formed. What this check cannot see is
//! a syntax error or a duplicate key *inside* a well-framed line that cannot match; only a scan
//! without the prefilter validates those (`docs/robustness.md`).
//!
//! # Cost
//! One pass over the line, sixteen bytes at a time with SSE2 on x86_64 (byte by byte
//! elsewhere), and the standard library's UTF-8 validation only for a line that is not all
//! ASCII. No allocation.

use crate::view::json::is_whitespace;

/// Whether `line` (one NDJSON record without its `\n`) is plainly one JSON object nested at
/// most `max_depth` deep, in the sense of the module documentation. `false` means "parse it
/// to know", never "it is malformed".
pub(crate) fn is_plain_object(line: &[u8], max_depth: usize) -> bool {
    let start = line.iter().position(|&b| !is_whitespace(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|&b| !is_whitespace(b)).map_or(start, |i| i + 1);
    let line = &line[start..end];
    if line.len() < 2 || line[0] != b'{' || line[line.len() - 1] != b'}' {
        return false;
    }
    let tally = Tally::of(line);
    !tally.control
        && tally.opens <= max_depth
        && tally.balance == 0
        && (tally.ascii || std::str::from_utf8(line).is_ok())
}

/// What one pass over a line counts.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// `{` and `[` bytes minus `}` and `]` bytes.
    balance: isize,
    /// `{` and `[` bytes.
    opens: usize,
    /// Whether some byte is below 0x20.
    control: bool,
    /// Whether every byte is ASCII (and so the line valid UTF-8).
    ascii: bool,
}

impl Tally {
    fn of(bytes: &[u8]) -> Tally {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { Tally::of_sse2(bytes) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Tally::of_bytes(bytes)
        }
    }

    /// The portable version, byte by byte (the reference for the vectorised one).
    #[cfg(any(test, not(target_arch = "x86_64")))]
    fn of_bytes(bytes: &[u8]) -> Tally {
        let mut tally = Tally { ascii: true, ..Tally::default() };
        tally.add_bytes(bytes);
        tally
    }

    fn add_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            // `[` and `]` are `{` and `}` less 0x20, and no other byte ORs 0x20 into them.
            let (open, close) = (b | 0x20 == b'{', b | 0x20 == b'}');
            self.balance += isize::from(open) - isize::from(close);
            self.opens += usize::from(open);
            self.control |= b < 0x20;
            self.ascii &= b < 0x80;
        }
    }

    /// Sixteen bytes at a time: each byte class is a comparison mask (0 or -1) added to
    /// per-lane 8-bit counters, which are summed every 127 vectors, before they can overflow
    /// (a lane moves by at most 1 per vector).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    unsafe fn of_sse2(bytes: &[u8]) -> Tally {
        use std::arch::x86_64::*;

        /// The sum of the lanes as signed bytes.
        unsafe fn sum_signed(v: __m128i) -> isize {
            sum_unsigned(_mm_xor_si128(v, _mm_set1_epi8(i8::MIN))) as isize - 16 * 128
        }
        /// The sum of the lanes as unsigned bytes.
        unsafe fn sum_unsigned(v: __m128i) -> usize {
            let sums = _mm_sad_epu8(v, _mm_setzero_si128());
            (_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums))) as usize
        }

        let mut tally = Tally { ascii: true, ..Tally::default() };
        let (open, close, case) = (_mm_set1_epi8(b'{' as i8), _mm_set1_epi8(b'}' as i8), _mm_set1_epi8(0x20));
        let last_control = _mm_set1_epi8(0x1f);
        let (mut control, mut any) = (_mm_setzero_si128(), _mm_setzero_si128());
        let vectors = bytes.chunks_exact(16);
        let tail = vectors.remainder();
        let mut vectors = vectors.peekable();
        while vectors.peek().is_some() {
            let (mut balance, mut opens) = (_mm_setzero_si128(), _mm_setzero_si128());
            for vector in vectors.by_ref().take(127) {
                // SAFETY: `vector` is 16 readable bytes; the load is unaligned.
                let x = unsafe { _mm_loadu_si128(vector.as_ptr().cast()) };
                let folded = _mm_or_si128(x, case);
                let (opening, closing) = (_mm_cmpeq_epi8(folded, open), _mm_cmpeq_epi8(folded, close));
                balance = _mm_add_epi8(_mm_sub_epi8(balance, opening), closing);
                opens = _mm_sub_epi8(opens, opening);
                control = _mm_or_si128(control, _mm_cmpeq_epi8(_mm_min_epu8(x, last_control), x));
                any = _mm_or_si128(any, x);
            }
            tally.balance += sum_signed(balance);
            tally.opens += sum_unsigned(opens);
        }
        tally.control = _mm_movemask_epi8(control) != 0;
        tally.ascii = _mm_movemask_epi8(any) == 0;
        tally.add_bytes(tail);
        tally
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{is_plain_object, Tally};

    proptest! {
        /// The vectorised tally is the byte-by-byte one, across the 127-vector batches and
        /// tails, on lines made mostly of the bytes it counts.
        #[test]
        fn the_vector_tally_is_the_byte_tally(line in prop::collection::vec(
            prop::sample::select(vec![b'{', b'}', b'[', b']', b'"', b'a', b' ', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xff]),
            0..6000,
        )) {
            prop_assert_eq!(Tally::of(&line), Tally::of_bytes(&line));
        }
    }

    #[test]
    fn the_tally_survives_long_runs_of_one_bracket() {
        for byte in [b'{', b'}', b'[', b']'] {
            for len in [127 * 16, 127 * 16 + 1, 255 * 16 + 7, 10_000] {
                let line = vec![byte; len];
                assert_eq!(Tally::of(&line), Tally::of_bytes(&line), "{} x {len}", byte as char);
            }
        }
    }

    #[test]
    fn well_framed_objects_are_plain() {
        for line in [&br#"{}"#[..], br#"{"a":1}"#, b"  {\"a\":[1,{\"b\":2}]} \r", "{\"k\":\"\u{212a}\"}".as_bytes()] {
            assert!(is_plain_object(line, 1000), "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn anything_else_must_be_parsed() {
        let cases: [&[u8]; 15] = [
            b"",
            br#"{"a":{"b":1}"#,
            br#"{"a":[1}"#,
            br#"{"a":"{"}"#,
            b"   ",
            b"{",
            br#"{"a":1"#,
            br#"[{"a":1}]"#,
            b"42",
            br#""{}""#,
            b"not json",
            b"{\"a\":\"\0\"}",
            b"{\"a\":\t1}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\xe2\x82\"}",
        ];
        for line in cases {
            assert!(!is_plain_object(line, 1000), "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn the_depth_bound_counts_every_opening_bracket() {
        let nested = |n: usize| format!("{}{}", "{\"a\":".repeat(n), "1".to_owned() + &"}".repeat(n));
        assert!(is_plain_object(nested(3).as_bytes(), 3));
        assert!(!is_plain_object(nested(4).as_bytes(), 3));
        // Brackets inside strings count too: the bound is conservative, never too lax.
        assert!(!is_plain_object(br#"{"a":"{{{}}}"}"#, 3));
        // Across the vector batches the count adds up.
        let wide = format!("{{\"a\":\"{}{}\"}}", "[".repeat(300), "]".repeat(300));
        assert!(!is_plain_object(wide.as_bytes(), 300));
        assert!(is_plain_object(wide.as_bytes(), 301));
    }
}
