//! Scans files (NDJSON, plain or gzip, or EVTX) and writes one ECS alert per match to
//! standard output as NDJSON; rejected records and a summary go to standard error.
//!
//! `cargo run --release -p dcom-detect-core --example scan -- FILE... [--threads N] [--no-prefilter] [--exceptions FILE] [--profile seed|elastic|extended]`
//!
//! With `--profile elastic` or `extended`, every record is observed and the profile's
//! stateful rules' alerts (`docs/correlation.md`) are written too; their state spans the files.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use dcom_detect_core::correlate::Session;
use dcom_detect_core::scan::{Outcome, ScanOptions};
use dcom_detect_core::scan_path;
use dcom_detect_core::{AlertOptions, AlertWriter, Options, Origin, Rule};

fn main() {
    let mut options = ScanOptions::default();
    let mut files = Vec::new();
    let mut exceptions = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exceptions" => {
                exceptions =
                    Some(std::fs::read(args.next().expect("--exceptions FILE")).expect("readable exceptions file"))
            }
            "--threads" => options.threads = args.next().and_then(|n| n.parse().ok()).expect("--threads N"),
            "--no-prefilter" => options.prefilter = false,
            "--profile" => {
                options.profile = args.next().unwrap_or_default().parse().unwrap_or_else(|e| {
                    eprintln!("{e}");
                    std::process::exit(2)
                })
            }
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let rule = match exceptions {
        Some(json) => Rule::with_exceptions(Options::default(), &json).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        }),
        None => Rule::default(),
    };
    let mut alerts = AlertWriter::new(&rule, AlertOptions::default());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = Vec::new();
    let mut failed = false;
    let mut session = Session::new(&rule, options.profile, AlertOptions::default());
    let mut correlations = 0u64;
    for file in files {
        let name = file.display().to_string();
        let result = scan_path(&rule, &options, &file, |found| {
            session.feed_found(&found, Some(&name), |alert, _, _| {
                correlations += 1;
                writeln!(out, "{}", alert.json()).expect("stdout");
            });
            let position = found.position;
            match found.outcome {
                Outcome::Matched(_) => {
                    line.clear();
                    let origin = Origin { file: Some(&name), position: Some(position) };
                    alerts.write(found.record, &origin, &mut line).expect("matched records decode");
                    line.push(b'\n');
                    out.write_all(&line).expect("stdout");
                }
                Outcome::Suppressed { item, .. } => {
                    eprintln!(
                        "{name}: {position}: suppressed by exception {:?}",
                        rule.exceptions().items()[item].name()
                    )
                }
                Outcome::Rejected(error) => {
                    eprintln!("{name}: {position}: rejected: {error}")
                }
                // Reported only for its observation (with --profile extended).
                Outcome::NotMatched => {}
            }
            ControlFlow::Continue(())
        });
        match result {
            Ok(s) => eprintln!(
                "{name}: {} records: {} matched, {} suppressed, {} not matched ({} prefiltered), {} rejected; {} blank lines, {} bytes",
                s.records, s.matched, s.suppressed, s.not_matched, s.prefiltered, s.rejected, s.blank_lines, s.bytes
            ),
            Err(e) => {
                eprintln!("{name}: {e}");
                failed = true;
            }
        }
    }
    session.finish(|alert, _, _| {
        correlations += 1;
        writeln!(out, "{}", alert.json()).expect("stdout");
    });
    if options.profile.correlates() {
        eprintln!("{correlations} correlation alerts; {:?}", session.stats());
    }
    out.flush().expect("stdout");
    std::process::exit(i32::from(failed));
}
