//! Prints, for each line of an NDJSON file, the verdict or the decode error.
//! `cargo run -p dcom-detect-core --example explain -- FILE [unicode_simple]`
use dcom_detect_core::{CaseFolding, Decoder, Options, Rule};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: explain FILE [ascii|unicode_simple]");
    let folding = args.next().and_then(|f| CaseFolding::from_name(&f)).unwrap_or_default();
    let rule = Rule::new(Options { case_folding: folding });
    let mut decoder = Decoder::new();
    let data = std::fs::read(path).expect("readable file");
    for (i, line) in data.split(|&b| b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
        match decoder.decode(rule.paths(), line) {
            Ok(doc) => {
                let v = rule.evaluate(&doc);
                let names: Vec<_> = v.branches().iter().map(|b| b.name()).collect();
                println!("{}\t{:?}\t{}", i + 1, doc.schema(), names.join(","));
            }
            Err(e) => println!("{}\terror\t{e}", i + 1),
        }
    }
}
