//! EVTX throughput: the `evtx` crate's own JSON rendering of every record, against the full
//! scan (rendering + decoding + rule) of the same files, in one run, best of N rounds.
//!
//! `cargo run --release -p dcom-detect-core --example evtx_bench -- [--threads N] [--rounds N] FILE.evtx...`
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use dcom_detect_core::{scan_path, Rule, ScanOptions};

fn main() {
    let mut threads = 1;
    let mut rounds = 5;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().and_then(|n| n.parse().ok()).expect("--threads N"),
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).expect("--rounds N"),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let rule = Rule::default();
    let options = ScanOptions { threads, ..ScanOptions::default() };
    let (mut best_parse, mut best_scan) = (f64::MAX, f64::MAX);
    let (mut parsed, mut scanned, mut matched) = (0u64, 0u64, 0u64);
    for _ in 0..rounds {
        let t = Instant::now();
        parsed = 0;
        for f in &files {
            let mut p = evtx::EvtxParser::from_path(f)
                .expect("EVTX")
                .with_configuration(evtx::ParserSettings::new().num_threads(threads));
            parsed += p.records_json().filter(Result::is_ok).count() as u64;
        }
        best_parse = best_parse.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        scanned = 0;
        matched = 0;
        for f in &files {
            let stats = scan_path(&rule, &options, f, |_| ControlFlow::Continue(())).expect("scan");
            scanned += stats.records;
            matched += stats.matched;
        }
        best_scan = best_scan.min(t.elapsed().as_secs_f64());
    }
    println!("{} files, threads {threads}, best of {rounds}", files.len());
    println!(
        "evtx crate, records_json only : {parsed} records in {best_parse:.3} s = {:.0} records/s",
        parsed as f64 / best_parse
    );
    println!(
        "dcom-detect scan (evtx + rule): {scanned} records in {best_scan:.3} s = {:.0} records/s, {matched} matches",
        scanned as f64 / best_scan
    );
    println!("ratio scan/parse time: {:.2}", best_scan / best_parse);
}
