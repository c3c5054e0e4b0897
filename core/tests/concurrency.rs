//! One rule shared by many threads gives exactly the single-threaded results (the rule is
//! immutable; each thread has its own decoder).

use dcom_detect_core::{CaseFolding, Decoder, Options, Rule};

const EVENTS: &[u8] = include_bytes!("golden/events.ndjson");
const EXCEPTIONS: &[u8] = include_bytes!("../../examples/exceptions.json");

fn verdicts(rule: &Rule) -> Vec<(i32, Option<usize>)> {
    let mut decoder = Decoder::new();
    EVENTS
        .split(|&b| b == b'\n')
        .map(|record| match decoder.decode(rule.paths(), record) {
            Ok(doc) => {
                let v = rule.evaluate(&doc);
                (i32::from(v.branches().bits()), v.suppressed_by)
            }
            Err(_) => (-1, None),
        })
        .collect()
}

#[test]
fn a_shared_rule_gives_the_single_threaded_results() {
    for folding in [CaseFolding::Ascii, CaseFolding::UnicodeSimple] {
        let rule = Rule::with_exceptions(Options { case_folding: folding }, EXCEPTIONS).unwrap();
        let expected = verdicts(&rule);
        assert!(expected.iter().any(|(b, _)| *b > 0) && expected.iter().any(|(b, _)| *b == -1));
        std::thread::scope(|scope| {
            let handles: Vec<_> =
                (0..8).map(|_| scope.spawn(|| (0..50).map(|_| verdicts(&rule)).collect::<Vec<_>>())).collect();
            for h in handles {
                for run in h.join().expect("no thread panicked") {
                    assert_eq!(run, expected);
                }
            }
        });
    }
}

#[test]
fn rule_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Rule>();
    shareable::<dcom_detect_core::Prefilter>();
}
