//! The JSON decoder and the rule on arbitrary bytes, under both foldings: never panics, and a
//! document it accepts is evaluated the same way through the struct of its own values.
#![no_main]

use std::sync::OnceLock;

use dcom_detect_core::{CaseFolding, Decoder, Fields, Options, ProcessEvent, Rule, Values};
use libfuzzer_sys::fuzz_target;

fn refs(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).collect()
}

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<[Rule; 2]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [CaseFolding::Ascii, CaseFolding::UnicodeSimple].map(|case_folding| Rule::new(Options { case_folding }))
    });
    for rule in rules {
        let mut decoder = Decoder::new();
        let Ok(doc) = decoder.decode(rule.paths(), data) else { continue };
        let verdict = rule.evaluate(&doc);
        // The same values, handed over as a struct, give the same branches.
        let collect = |id| -> Vec<String> { doc.values(rule.fields().get(id)).map(|t| t.to_string()).collect() };
        use dcom_detect_core::FieldId as F;
        let (c, t, n, p, l) = (
            collect(F::EVENT_CATEGORY),
            collect(F::EVENT_TYPE),
            collect(F::PROCESS_NAME),
            collect(F::PROCESS_PARENT_NAME),
            collect(F::PROCESS_COMMAND_LINE),
        );
        let (c, t, n, p, l) = (refs(&c), refs(&t), refs(&n), refs(&p), refs(&l));
        let event = ProcessEvent {
            category: Values::Many(&c),
            event_type: Values::Many(&t),
            name: Values::Many(&n),
            parent_name: Values::Many(&p),
            command_line: Values::Many(&l),
            other: &[],
        };
        assert_eq!(rule.evaluate(&event).branches(), verdict.branches());
    }
});
