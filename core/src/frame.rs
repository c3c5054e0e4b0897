//! Whether a line is plainly one JSON object: the check that lets the prefilter skip a line
//! without hiding a broken record.
//!
//! The [`Prefilter`](crate::prefilter::Prefilter) proves that a line cannot *match*; it says
//! nothing about whether the line is a well-formed record. Skipping every line it rules out
//! would count truncated, binary or non-object lines as "not matched" instead of reporting
//! them. So a scan skips a ruled-out line only when it is **plainly one JSON object**:
//!
//! - after JSON whitespace is trimmed, it starts with `{` and ends with `}`, and its `{` and
//!   `}` bytes, and its `[` and `]` bytes, are as many (a record cut short, a top-level array,
//!   number or string, or garbage fails this, unless brackets inside strings happen to make
//!   up for the missing ones);
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
//! One pass over the line for the byte checks (the loop over 64-byte blocks is vectorised by
//! the compiler) and the standard library's UTF-8 validation (a word-at-a-time ASCII fast
//! path). No allocation.

/// JSON's insignificant whitespace, less `\n`, which never occurs inside a line.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// Whether `line` (one NDJSON record without its `\n`) is plainly one JSON object nested at
/// most `max_depth` deep, in the sense of the module documentation. `false` means "parse it
/// to know", never "it is malformed".
pub(crate) fn is_plain_object(line: &[u8], max_depth: usize) -> bool {
    let start = line.iter().position(|&b| !is_json_space(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|&b| !is_json_space(b)).map_or(start, |i| i + 1);
    let line = &line[start..end];
    if line.len() < 2 || line[0] != b'{' || line[line.len() - 1] != b'}' {
        return false;
    }
    // Opened minus closed, per kind of bracket; and all openings, for the depth bound.
    let (mut objects, mut arrays, mut opens) = (0isize, 0isize, 0usize);
    // Blocks of 64 keep the per-block counters in a byte, which lets the loop vectorise.
    for block in line.chunks(64) {
        let mut control = false;
        let [mut open_objects, mut close_objects, mut open_arrays, mut close_arrays] = [0u8; 4];
        for &b in block {
            control |= b < 0x20;
            open_objects += u8::from(b == b'{');
            close_objects += u8::from(b == b'}');
            open_arrays += u8::from(b == b'[');
            close_arrays += u8::from(b == b']');
        }
        objects += isize::from(open_objects) - isize::from(close_objects);
        arrays += isize::from(open_arrays) - isize::from(close_arrays);
        opens += usize::from(open_objects) + usize::from(open_arrays);
        if control || opens > max_depth {
            return false;
        }
    }
    objects == 0 && arrays == 0 && std::str::from_utf8(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_plain_object;

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
        // More than 255 in one 64-byte block cannot happen; across blocks the count adds up.
        let wide = format!("{{\"a\":\"{}{}\"}}", "[".repeat(300), "]".repeat(300));
        assert!(!is_plain_object(wide.as_bytes(), 300));
        assert!(is_plain_object(wide.as_bytes(), 301));
    }
}
