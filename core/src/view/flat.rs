//! Flat records: an event given as `(ECS path, value)` pairs (a sensor's struct event)
//! written as one JSON object with dotted keys, so that whatever reads records (a
//! correlation session, an NDJSON file) can take it, and reads the same view as the pairs.
//!
//! The record is exactly determined by the pairs:
//! - pairs with the same path become one key, in pair order: a single value is written as a
//!   string, several as an array of strings (JSON must not repeat a key; the decoder rejects
//!   a duplicate, as Elasticsearch does);
//! - an absent value is skipped, and a path whose values are all absent is left out;
//! - keys come out in bytewise path order, so the record does not depend on the order in
//!   which different paths were given;
//! - strings are escaped as JSON requires (`"`, `\`, control characters); UTF-16 values are
//!   written as UTF-8.
//!
//! Nothing is checked here: a path the view cannot take (`""`, or `process` beside
//! `process.name`, a mapping conflict) is reported by the decoder that reads the record.
//!
//! # Cost
//! O(n log n) path comparisons to group `n` pairs (indices sorted in place) and O(bytes) to
//! write. No allocation once the buffers have grown to the largest event.

use crate::view::text::Text;

/// Writes flat records, reusing its buffers from one event to the next.
#[derive(Debug, Default)]
pub struct FlatRecord {
    json: Vec<u8>,
    /// Indices of the present pairs, sorted by (path, index).
    order: Vec<usize>,
    /// A UTF-16 value converted to UTF-8.
    utf8: String,
}

impl FlatRecord {
    /// A writer with empty buffers.
    pub fn new() -> FlatRecord {
        FlatRecord::default()
    }

    /// The record of the `count` pairs `pair(0)`, …, `pair(count - 1)`, each an ECS path and
    /// a value (`None`: absent). `pair` is called O(n log n) times and must return the same
    /// pair for the same index each time.
    pub fn write<'p>(&mut self, count: usize, pair: impl Fn(usize) -> (&'p str, Option<Text<'p>>)) -> &[u8] {
        let FlatRecord { json, order, utf8 } = self;
        order.clear();
        order.extend((0..count).filter(|&i| pair(i).1.is_some()));
        order.sort_unstable_by(|&a, &b| pair(a).0.cmp(pair(b).0).then(a.cmp(&b)));
        json.clear();
        json.push(b'{');
        let mut rest = order.as_slice();
        while let Some(&first) = rest.first() {
            let path = pair(first).0;
            let run = rest.iter().take_while(|&&i| pair(i).0 == path).count();
            let (values, after) = rest.split_at(run);
            if json.len() > 1 {
                json.push(b',');
            }
            string(json, path);
            json.push(b':');
            if run > 1 {
                json.push(b'[');
            }
            for (k, &i) in values.iter().enumerate() {
                if k > 0 {
                    json.push(b',');
                }
                let value = pair(i).1.expect("only present values are ordered");
                match value.as_str() {
                    Some(text) => string(json, text),
                    None => {
                        utf8.clear();
                        utf8.extend(value.chars());
                        string(json, utf8);
                    }
                }
            }
            if run > 1 {
                json.push(b']');
            }
            rest = after;
        }
        json.push(b'}');
        json
    }
}

/// Appends `text` as a JSON string (serde_json's escaping).
fn string(json: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(json, text).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'p>(pairs: &[(&'p str, Option<Text<'p>>)]) -> String {
        let mut flat = FlatRecord::new();
        String::from_utf8(flat.write(pairs.len(), |i| pairs[i]).to_vec()).unwrap()
    }

    #[test]
    fn paths_are_grouped_in_order_and_sorted() {
        let u = |s| Some(Text::utf8(s));
        let pairs = [
            ("process.name", u("cmd.exe")),
            ("event.category", u("process")),
            ("host.name", None),
            ("process.args", u("a")),
            ("event.type", u("start")),
            ("process.args", None),
            ("process.args", u("b")),
        ];
        assert_eq!(
            record(&pairs),
            r#"{"event.category":"process","event.type":"start","process.args":["a","b"],"process.name":"cmd.exe"}"#
        );
    }

    #[test]
    fn strings_are_escaped_and_utf16_converted() {
        let units: Vec<u16> = "Kelvin \u{212a} \"q\"\n".encode_utf16().collect();
        let pairs = [("a\"b", Some(Text::from_utf16(&units).unwrap())), ("c", Some(Text::utf8("\\\u{1}")))];
        let json = record(&pairs);
        assert_eq!(json, "{\"a\\\"b\":\"Kelvin \u{212a} \\\"q\\\"\\n\",\"c\":\"\\\\\\u0001\"}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["a\"b"], "Kelvin \u{212a} \"q\"\n");
    }

    #[test]
    fn no_pairs_is_the_empty_object_and_buffers_are_reused() {
        let mut flat = FlatRecord::new();
        assert_eq!(flat.write(1, |_| ("x", None)), b"{}");
        assert_eq!(flat.write(1, |_| ("x", Some(Text::utf8("1")))), br#"{"x":"1"}"#);
        assert_eq!(flat.write(0, |_| unreachable!()), b"{}");
    }
}
