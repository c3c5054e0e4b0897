//! [`Text`]: one borrowed field value, UTF-8 or UTF-16.
//!
//! Windows sensors receive strings from ETW as UTF-16; everything else is UTF-8. The matcher
//! compares either kind without converting, so the UTF-16 path never copies to the heap.

use std::fmt;

/// One borrowed field value.
///
/// Invariant: the UTF-16 form always holds well-formed UTF-16 (no unpaired surrogate);
/// [`Text::from_utf16`] checks it, [`Text::from_utf16_unchecked`] makes the caller promise it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text<'a>(Repr<'a>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Repr<'a> {
    Utf8(&'a str),
    Utf16(&'a [u16]),
}

/// The error of [`Text::from_utf16`]: the value holds an unpaired surrogate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf16 {
    /// Index, in code units, of the unpaired surrogate.
    pub index: usize,
}

impl fmt::Display for InvalidUtf16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid UTF-16: unpaired surrogate at code unit {}", self.index)
    }
}

impl std::error::Error for InvalidUtf16 {}

impl<'a> Text<'a> {
    /// A UTF-8 value.
    #[inline]
    pub const fn utf8(value: &'a str) -> Text<'a> {
        Text(Repr::Utf8(value))
    }

    /// A UTF-16 value, checked for unpaired surrogates (O(n), no allocation).
    pub fn from_utf16(units: &'a [u16]) -> Result<Text<'a>, InvalidUtf16> {
        validate_utf16(units)?;
        Ok(Text(Repr::Utf16(units)))
    }

    /// A UTF-16 value that the caller has already checked.
    ///
    /// # Safety
    /// `units` must be well-formed UTF-16 (for example, [`validate_utf16`] returned `Ok`).
    /// Matching never reads out of bounds either way, but an unpaired surrogate would be
    /// compared as U+FFFD instead of being reported.
    #[inline]
    pub unsafe fn from_utf16_unchecked(units: &'a [u16]) -> Text<'a> {
        Text(Repr::Utf16(units))
    }

    /// The value as `&str` when it is UTF-8.
    #[inline]
    pub fn as_str(&self) -> Option<&'a str> {
        match self.0 {
            Repr::Utf8(s) => Some(s),
            Repr::Utf16(_) => None,
        }
    }

    /// The value's UTF-16 code units when it is UTF-16 (well-formed by the type's invariant).
    #[inline]
    pub fn as_utf16(&self) -> Option<&'a [u16]> {
        match self.0 {
            Repr::Utf8(_) => None,
            Repr::Utf16(u) => Some(u),
        }
    }

    /// The value's code points.
    #[inline]
    pub fn chars(&self) -> Chars<'a> {
        match self.0 {
            Repr::Utf8(s) => Chars::Utf8(s.chars()),
            Repr::Utf16(u) => Chars::Utf16(char::decode_utf16(u.iter().copied())),
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        match self.0 {
            Repr::Utf8(s) => s.is_empty(),
            Repr::Utf16(u) => u.is_empty(),
        }
    }

    /// Whether the value is longer than `limit` UTF-16 code units, the unit of
    /// Elasticsearch's `ignore_above`.
    ///
    /// O(1) for UTF-16 and for UTF-8 values of at most `limit` bytes (a UTF-8 string never
    /// has more UTF-16 units than bytes); otherwise O(n), stopping once past the limit.
    #[inline]
    pub fn exceeds_utf16_units(&self, limit: usize) -> bool {
        match self.0 {
            Repr::Utf16(u) => u.len() > limit,
            Repr::Utf8(s) if s.len() <= limit => false,
            Repr::Utf8(s) => {
                let mut n = 0;
                s.chars().any(|c| {
                    n += c.len_utf16();
                    n > limit
                })
            }
        }
    }

    /// Whether the value equals `other` code point for code point.
    #[inline]
    pub fn eq_str(&self, other: &str) -> bool {
        match self.0 {
            Repr::Utf8(s) => s == other,
            Repr::Utf16(u) => u.iter().copied().eq(other.encode_utf16()),
        }
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(value: &'a str) -> Text<'a> {
        Text::utf8(value)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Utf8(s) => f.write_str(s),
            Repr::Utf16(_) => {
                use fmt::Write;
                self.chars().try_for_each(|c| f.write_char(c))
            }
        }
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Utf8(s) => fmt::Debug::fmt(s, f),
            Repr::Utf16(_) => write!(f, "utf16{:?}", self.to_string()),
        }
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_str(other)
    }
}

/// Checks that `units` is well-formed UTF-16 (O(n), no allocation).
pub fn validate_utf16(units: &[u16]) -> Result<(), InvalidUtf16> {
    let mut i = 0;
    while i < units.len() {
        match units[i] {
            0xD800..=0xDBFF => {
                if !matches!(units.get(i + 1), Some(0xDC00..=0xDFFF)) {
                    return Err(InvalidUtf16 { index: i });
                }
                i += 2;
            }
            0xDC00..=0xDFFF => return Err(InvalidUtf16 { index: i }),
            _ => i += 1,
        }
    }
    Ok(())
}

/// Iterator over the code points of a [`Text`].
#[derive(Clone)]
pub enum Chars<'a> {
    #[doc(hidden)]
    Utf8(std::str::Chars<'a>),
    #[doc(hidden)]
    Utf16(std::char::DecodeUtf16<std::iter::Copied<std::slice::Iter<'a, u16>>>),
}

impl Iterator for Chars<'_> {
    type Item = char;

    #[inline]
    fn next(&mut self) -> Option<char> {
        match self {
            Chars::Utf8(c) => c.next(),
            Chars::Utf16(c) => c.next().map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_validation() {
        assert!(Text::from_utf16(&[0x61, 0xD83D, 0xDE00]).is_ok());
        assert_eq!(Text::from_utf16(&[0x61, 0xD83D]).unwrap_err().index, 1);
        assert_eq!(Text::from_utf16(&[0xDE00, 0x61]).unwrap_err().index, 0);
    }

    #[test]
    fn utf16_length_is_counted_in_code_units() {
        assert!(!Text::utf8("a😀").exceeds_utf16_units(3));
        assert!(Text::utf8("a😀").exceeds_utf16_units(2));
        let long = "é".repeat(600); // 1200 bytes, 600 units
        assert!(!Text::utf8(&long).exceeds_utf16_units(1024));
        let longer = "😀".repeat(600); // 2400 bytes, 1200 units
        assert!(Text::utf8(&longer).exceeds_utf16_units(1024));
        assert!(!Text::utf8(&"x".repeat(1024)).exceeds_utf16_units(1024));
        assert!(Text::utf8(&"x".repeat(1025)).exceeds_utf16_units(1024));
        let units: Vec<u16> = "😀".repeat(512).encode_utf16().collect();
        assert!(!Text::from_utf16(&units).unwrap().exceeds_utf16_units(1024));
        assert!(Text::from_utf16(&units).unwrap().exceeds_utf16_units(1023));
    }
}
