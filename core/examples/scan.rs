//! Scans NDJSON files (plain or gzip) and prints each match with its branches, then a
//! summary. `cargo run --release -p dcom-detect-core --example scan -- FILE... [--threads N] [--no-prefilter]`
use std::ops::ControlFlow;
use std::path::PathBuf;

use dcom_detect_core::scan::{scan_path, Found, ScanOptions};
use dcom_detect_core::{Decoder, Rule};

fn main() {
    let mut options = ScanOptions::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = args.next().and_then(|n| n.parse().ok()).expect("--threads N"),
            "--no-prefilter" => options.prefilter = false,
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let rule = Rule::default();
    let mut decoder = Decoder::new();
    for file in files {
        
        let result = scan_path(&rule, &options, &file, |found| {
            match found {
                Found::Match { position, record, branches } => {
                    let doc = decoder.decode(rule.paths(), record).expect("matched records decode");
                    let verdict = rule.evaluate(&doc);
                    let names: Vec<_> = branches.iter().map(|b| b.name()).collect();
                    let mut why = Vec::new();
                    if let Some(o) = verdict.office_child {
                        why.push(format!("{} -> {}", o.parent_name, o.name));
                    }
                    if let Some(d) = verdict.dcomcnfg {
                        why.push(format!("process.name {d}"));
                    }
                    if let Some(c) = verdict.dcom_command_line {
                        why.push(format!("command line {:?}", c.dcom.to_string()));
                    }
                    println!("{}:{position}: {} [{}]", file.display(), names.join(","), why.join("; "));
                }
                Found::Rejected { position, error } => eprintln!("{}:{position}: rejected: {error}", file.display()),
            }
            ControlFlow::Continue(())
        });
        match result {
            Ok(s) => eprintln!(
                "{}: {} records: {} matched, {} not matched ({} prefiltered), {} rejected, {} blank lines, {} bytes",
                file.display(), s.records, s.matched, s.not_matched, s.prefiltered, s.rejected, s.blank_lines, s.bytes
            ),
            Err(e) => eprintln!("{}: {e}", file.display()),
        }
    }
}
