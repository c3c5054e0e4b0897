//! Documents read in place (`tree`): a walker over `serde_json::Value`, standing for a host
//! language's maps and lists, drives a `TreeReader`; the verdict must be the one the JSON
//! decoder gives the same value's JSON text, on the golden corpus and on generated documents.

use std::path::Path;

use dcom_detect_core::{CaseFolding, Container, Cursor, DecodeError, Decoder, ErrorKind, Options, Rule, TreeReader};
use serde_json::Value;

/// Whether the walker visits subtrees no wanted path goes through (checking their keys as
/// the JSON decoder does) or skips them, as the Python binding does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Walk {
    Everything,
    WantedOnly,
}

fn item(reader: &mut TreeReader<'_>, value: &Value, at: Cursor, depth: usize, walk: Walk) -> Result<(), DecodeError> {
    match value {
        Value::Object(map) => {
            reader.open(at, depth, Container::Object)?;
            for (key, value) in map {
                let child = reader.key(at, key)?;
                if walk == Walk::Everything || reader.wants(child) {
                    item(reader, value, child, depth + 1, walk)?;
                }
            }
        }
        Value::Array(items) => {
            reader.open(at, depth, Container::Array)?;
            for value in items {
                item(reader, value, at, depth + 1, walk)?;
            }
        }
        Value::Null => {}
        Value::String(s) => {
            if reader.wants_scalar(at) {
                reader.scalar(at, s);
            }
        }
        other => {
            if reader.wants_scalar(at) {
                reader.scalar(at, &other.to_string());
            }
        }
    }
    Ok(())
}

/// The branch bits, or the kind of rejection.
fn from_tree(rule: &Rule, decoder: &mut Decoder, value: &Value, walk: Walk) -> Result<u8, ErrorKind> {
    let mut reader = decoder.read_tree(rule.paths());
    let root = reader.root();
    item(&mut reader, value, root, 0, walk).map_err(|e| e.kind().clone())?;
    let document = reader.finish().map_err(|e| e.kind().clone())?;
    Ok(rule.evaluate(&document).branches().bits())
}

fn from_json(rule: &Rule, decoder: &mut Decoder, text: &str) -> Result<u8, ErrorKind> {
    let document = decoder.decode(rule.paths(), text.as_bytes()).map_err(|e| e.kind().clone())?;
    Ok(rule.evaluate(&document).branches().bits())
}

/// Compares the three readings of `value`; returns whether the JSON decoder rejected it.
fn compare(rule: &Rule, decoder: &mut Decoder, value: &Value, what: &str) -> bool {
    let text = serde_json::to_string(value).unwrap();
    let json = from_json(rule, decoder, &text);
    let everything = from_tree(rule, decoder, value, Walk::Everything);
    assert_eq!(everything, json, "{what}: tree (every key) vs JSON\n{text}");
    let wanted_only = from_tree(rule, decoder, value, Walk::WantedOnly);
    match (&wanted_only, &json) {
        // What a walk that skips unwanted subtrees does not see (docs/semantics.md, "Documents read in place").
        (Ok(_), Err(ErrorKind::EmptyFieldName | ErrorKind::TooDeep(_))) => {}
        _ => assert_eq!(wanted_only, json, "{what}: tree (wanted paths only) vs JSON\n{text}"),
    }
    json.is_err()
}

fn rules() -> Vec<Rule> {
    [CaseFolding::Ascii, CaseFolding::UnicodeSimple].map(|case_folding| Rule::new(Options { case_folding })).into()
}

#[test]
fn the_golden_corpus_read_as_trees_gets_the_json_verdicts() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/events.ndjson");
    let records = std::fs::read(golden).unwrap();
    let mut decoder = Decoder::new();
    let mut compared = 0;
    let mut rejected = 0;
    for (i, line) in records.split(|&b| b == b'\n').enumerate() {
        // serde_json keeps the last of duplicate keys and cannot hold every record (invalid
        // UTF-8, unpaired surrogates): those are the JSON decoder's alone.
        let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(line) else { continue };
        for rule in rules() {
            rejected += usize::from(compare(&rule, &mut decoder, &value, &format!("golden line {}", i + 1)));
            compared += 1;
        }
    }
    assert!(compared > 250, "{compared}");
    assert!(rejected > 10, "the corpus's shape errors are compared too: {rejected}");
}

#[test]
fn tuning_fields_are_read_in_place() {
    let exceptions = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/exceptions.json")).unwrap();
    let rule = Rule::with_exceptions(Options::default(), &exceptions).unwrap();
    let mut decoder = Decoder::new();
    let sccm: Value = serde_json::json!({
        "event": {"category": "process", "type": "start"},
        "process": {"name": "powershell.exe", "parent": {"name": "mmc.exe", "executable": "C:\\Windows\\CCM\\x\\mmc.exe"}},
        "host": {"name": "ws-01"},
    });
    compare(&rule, &mut decoder, &sccm, "tuned");
    let document = {
        let mut reader = decoder.read_tree(rule.paths());
        let root = reader.root();
        item(&mut reader, &sccm, root, 0, Walk::WantedOnly).unwrap();
        reader.finish().unwrap()
    };
    let verdict = rule.evaluate(&document);
    assert!(verdict.fired());
    assert_eq!(verdict.is_match(), verdict.suppressed_by.is_none());
}

#[test]
fn shapes_and_limits_are_the_decoders() {
    let rule = Rule::default();
    let mut decoder = Decoder::new();
    let cases = [
        // A keyword holding an object, in an ECS document.
        serde_json::json!({"event": {"category": "process"}, "process": {"name": {"x": 1}}}),
        serde_json::json!({"process.name.x": "cmd.exe", "event.category": "process"}),
        // A value where ECS has an object.
        serde_json::json!({"process": "cmd.exe", "event": {"category": "process"}}),
        // The same shapes in a raw event are no conflict.
        serde_json::json!({"Channel": "Security", "EventID": 4688, "event": "x", "NewProcessName": "C:\\cmd.exe"}),
        serde_json::json!({"process": {" ": 1}}),
        serde_json::json!({"process": {"name": "cmd.exe", "parent.": {"name": "mmc.exe"}}, "event.category": "process", "event.type": "start"}),
    ];
    let mut rejected = 0;
    for (i, case) in cases.iter().enumerate() {
        rejected += usize::from(compare(&rule, &mut decoder, case, &format!("case {i}")));
    }
    assert_eq!(rejected, 4);
    // Nesting: the limit (1000) counts containers as the JSON decoder does: the top-level
    // object, `process`, then 998 arrays is the most a document may hold.
    let mut deep = Value::String("cmd.exe".into());
    for _ in 0..998 {
        deep = Value::Array(vec![deep]);
    }
    let at_limit = serde_json::json!({ "process": { "name": deep } });
    let over = serde_json::json!({ "process": { "name": [at_limit["process"]["name"].clone()] } });
    assert!(!compare(&rule, &mut decoder, &serde_json::json!({"process": {"name": ["x"]}}), "shallow"));
    assert!(!compare(&rule, &mut decoder, &at_limit, "at the limit"));
    assert!(compare(&rule, &mut decoder, &over, "over the limit"));
}
