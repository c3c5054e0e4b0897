//! Replays the golden corpus (`tests/golden/`, written by `make_corpus.py`) through the JSON
//! path under both case foldings. Every front end replays the same files.

use dcom_detect_core::{CaseFolding, Decoder, Options, Rule};

struct Case {
    line: usize,
    id: String,
    expected: [i32; 2],
}

fn cases() -> Vec<Case> {
    let tsv = include_str!("golden/expected.tsv");
    tsv.lines()
        .skip(1)
        .map(|row| {
            let cols: Vec<&str> = row.split('\t').collect();
            Case {
                line: cols[0].parse().unwrap(),
                expected: [cols[1].parse().unwrap(), cols[2].parse().unwrap()],
                id: cols[3].to_owned(),
            }
        })
        .collect()
}

fn records() -> Vec<&'static [u8]> {
    let bytes: &'static [u8] = include_bytes!("golden/events.ndjson");
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    assert_eq!(lines.pop(), Some(&b""[..]), "file ends with a newline");
    lines
}

#[test]
fn golden_corpus_verdicts() {
    let records = records();
    let cases = cases();
    assert_eq!(records.len(), cases.len(), "events.ndjson and expected.tsv are out of step");
    assert!(cases.len() > 100);
    let mut failures = Vec::new();
    for (i, folding) in [CaseFolding::Ascii, CaseFolding::UnicodeSimple].into_iter().enumerate() {
        let rule = Rule::new(Options { case_folding: folding });
        let mut decoder = Decoder::new();
        for case in &cases {
            let record = records[case.line - 1];
            let got = match decoder.decode(rule.paths(), record) {
                Ok(doc) => i32::from(rule.evaluate(&doc).branches().bits()),
                Err(_) => -1,
            };
            if got != case.expected[i] {
                failures.push(format!(
                    "line {} {} ({}): expected {}, got {}",
                    case.line,
                    case.id,
                    folding.name(),
                    case.expected[i],
                    got
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn rejected_records_name_a_position_inside_the_record() {
    let rule = Rule::default();
    let mut decoder = Decoder::new();
    for case in cases().iter().filter(|c| c.expected[0] == -1) {
        let record = records()[case.line - 1];
        let err = decoder.decode(rule.paths(), record).unwrap_err();
        assert!(err.offset() <= record.len(), "{}: offset {} beyond {}", case.id, err.offset(), record.len());
        assert!(!err.to_string().is_empty());
    }
}
