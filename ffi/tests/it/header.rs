//! `include/dcom_detect.h` must be exactly what cbindgen generates from the current source,
//! so the header a sensor compiles against never drifts from the library it links.
//!
//! Uses cbindgen as a library (a dev-dependency), so no cbindgen binary is needed. To update
//! the committed header after an API change:
//!
//! ```sh
//! DCOM_REGENERATE_HEADER=1 cargo test -p dcom-detect-ffi --test it -- header
//! ```

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> Vec<u8> {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    out
}

fn committed_path() -> PathBuf {
    crate_dir().join("../include/dcom_detect.h")
}

#[test]
fn header_is_current() {
    let fresh = generate();
    let path = committed_path();
    if std::env::var_os("DCOM_REGENERATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("write include/dcom_detect.h");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != fresh {
        let first_difference = first_difference(&committed, &fresh);
        panic!(
            "{} is out of date with ffi/src (first difference at line {first_difference}).\n\
             Regenerate it with:\n    DCOM_REGENERATE_HEADER=1 cargo test -p dcom-detect-ffi --test it -- header\n\
             and commit the result.",
            Path::new("include/dcom_detect.h").display()
        );
    }
}

/// 1-based line of the first difference between two texts.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    1 + a[..at].iter().filter(|&&c| c == b'\n').count()
}

/// Every constant, type, enum value, struct field and function the header declares is
/// preceded by its documentation (`#![deny(missing_docs)]` guarantees the Rust side; this
/// checks that it reached the C side).
#[test]
fn every_declaration_is_documented() {
    let header = String::from_utf8(generate()).unwrap();
    let undocumented = undocumented_declarations(&header);
    assert!(undocumented.is_empty(), "undocumented declarations:\n{}", undocumented.join("\n"));
    // The check itself can fail: detach a function from its comment.
    let detached = header.replacen("\nvoid dcom_rule_destroy", "\n\nvoid dcom_rule_destroy", 1);
    assert_eq!(undocumented_declarations(&detached), ["void dcom_rule_destroy(struct dcom_rule *rule);"]);
}

/// Declarations not directly preceded by the end of a comment.
fn undocumented_declarations(header: &str) -> Vec<&str> {
    let lines: Vec<&str> = header.lines().collect();
    let mut undocumented = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(1) {
        let member = line.starts_with("    ")
            && !line[4..].starts_with(' ')
            && !line[4..].starts_with('*')
            && (line.ends_with(',') || line.ends_with(';'));
        let top_level = line.starts_with("#define DCOM_") && !line.starts_with("#define DCOM_DETECT_H")
            || line.starts_with("typedef ")
            || (line.contains('(') && !line.starts_with(['#', ' ', '/', '}', '*']));
        if (member || top_level) && !lines[i - 1].trim_end().ends_with("*/") {
            undocumented.push(*line);
        }
    }
    undocumented
}
