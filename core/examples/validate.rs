//! The validation report: `cargo run --release -p dcom-detect-core --example validate -- [--json] [PATH...]`
use std::path::PathBuf;

use dcom_detect_core::validate::validate;
use dcom_detect_core::Rule;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let paths: Vec<PathBuf> = args.iter().filter(|a| *a != "--json").map(PathBuf::from).collect();
    let report = validate(&Rule::default(), &paths).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(3)
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json()).expect("JSON"));
    } else {
        print!("{}", report.to_table());
    }
    std::process::exit(if report.ok() { 0 } else { 1 });
}
