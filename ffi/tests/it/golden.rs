//! The golden corpus (`core/tests/golden/`, written by core's `make_corpus.py`) through every
//! door of the C ABI, under both case foldings:
//! - `dcom_rule_match_json` on each record gives the expected verdict, or rejects it;
//! - for each accepted record, the same field values passed as a `dcom_event` (UTF-8) and as
//!   a `dcom_event16` (UTF-16) give the same verdict as the JSON.

use dcom_detect::*;
use dcom_detect_core::{Decoder, FieldId, Fields, Rule};

use crate::common::*;

struct Case {
    line: usize,
    id: String,
    /// Expected branch bits under ASCII and Unicode simple folding; -1 = rejected.
    expected: [i64; 2],
}

fn golden_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/golden")
}

fn corpus() -> (Vec<Vec<u8>>, Vec<Case>) {
    let dir = golden_dir();
    let read = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("golden corpus {}/{name}: {e}", dir.display()))
    };
    let ndjson = read("events.ndjson");
    let mut records: Vec<Vec<u8>> = ndjson.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(records.pop(), Some(Vec::new()), "events.ndjson ends with a newline");
    let tsv = String::from_utf8(read("expected.tsv")).unwrap();
    let mut rows = tsv.lines();
    assert_eq!(rows.next(), Some("line\tascii\tunicode_simple\tid"));
    let cases: Vec<Case> = rows
        .map(|row| {
            let cols: Vec<&str> = row.split('\t').collect();
            assert_eq!(cols.len(), 4, "row {row:?}");
            Case {
                line: cols[0].parse().unwrap(),
                expected: [cols[1].parse().unwrap(), cols[2].parse().unwrap()],
                id: cols[3].to_owned(),
            }
        })
        .collect();
    assert_eq!(records.len(), cases.len(), "events.ndjson and expected.tsv are out of step");
    assert!(cases.len() > 100, "the corpus is there ({} cases)", cases.len());
    (records, cases)
}

const FOLDINGS: [(u32, &str); 2] =
    [(DCOM_CASE_FOLDING_ASCII, "ascii"), (DCOM_CASE_FOLDING_UNICODE_SIMPLE, "unicode_simple")];

#[test]
fn json_path_gives_the_golden_verdicts() {
    let (records, cases) = corpus();
    let scratch = ScratchHandle::new();
    let mut failures = Vec::new();
    for (column, (folding, folding_name)) in FOLDINGS.into_iter().enumerate() {
        let rule = RuleHandle::new(folding);
        for case in &cases {
            let (code, branches) = rule.match_json(&scratch, &records[case.line - 1]);
            let got = match code {
                dcom_result::DCOM_OK => i64::from(branches),
                dcom_result::DCOM_ERROR_BAD_JSON | dcom_result::DCOM_ERROR_INVALID_UTF8 => {
                    assert_eq!(branches, 0);
                    -1
                }
                other => panic!("line {} {}: unexpected {other:?}", case.line, case.id),
            };
            if got != case.expected[column] {
                failures.push(format!(
                    "line {} {} ({folding_name}): expected {}, got {got}",
                    case.line, case.id, case.expected[column]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
}

/// The five fields of a record as core decodes them.
fn fields_of(rule: &Rule, decoder: &mut Decoder, record: &[u8]) -> Option<Owned> {
    let doc = decoder.decode(rule.paths(), record).ok()?;
    let values = |id| doc.values(rule.fields().get(id)).map(|t| t.to_string()).collect::<Vec<_>>();
    Some(Owned {
        category: values(FieldId::EVENT_CATEGORY),
        event_type: values(FieldId::EVENT_TYPE),
        name: values(FieldId::PROCESS_NAME),
        parent_name: values(FieldId::PROCESS_PARENT_NAME),
        command_line: values(FieldId::PROCESS_COMMAND_LINE),
    })
}

#[test]
fn struct_paths_agree_with_the_json_path() {
    let (records, cases) = corpus();
    let core_rule = Rule::default();
    let mut decoder = Decoder::new();
    let mut compared = 0;
    for (column, (folding, folding_name)) in FOLDINGS.into_iter().enumerate() {
        let rule = RuleHandle::new(folding);
        for case in cases.iter().filter(|c| c.expected[column] >= 0) {
            let owned = fields_of(&core_rule, &mut decoder, &records[case.line - 1])
                .unwrap_or_else(|| panic!("line {} {} decodes", case.line, case.id));
            let expected = (dcom_result::DCOM_OK, case.expected[column] as u32);
            let utf8 = Utf8Event::new(&owned);
            assert_eq!(
                rule.match_utf8(&utf8.c()),
                expected,
                "UTF-8 struct, line {} {} ({folding_name})",
                case.line,
                case.id
            );
            let utf16 = Utf16Event::new(&owned);
            let got = utf16.with(|e| rule.match_utf16(e));
            assert_eq!(got, expected, "UTF-16 struct, line {} {} ({folding_name})", case.line, case.id);
            compared += 1;
        }
    }
    assert!(compared > 100);
}
