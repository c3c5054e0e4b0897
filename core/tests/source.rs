//! Sources: format detection by content (`scan_path` and `Inputs` agree), directory walks in
//! sorted order with skipped files named, symlink loops, and a clear error for a format whose
//! feature is off.

use std::fs;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use dcom_detect_core::source::{detect, looks_like_ndjson, Format, Input, Inputs, SkipReason, UnsupportedFormat};
use dcom_detect_core::{scan_path, Rule, ScanOptions};

const HIT: &str = r#"{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}}"#;
const EVTX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dcomexec_4688.evtx");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dcom-detect-source-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn matches(path: &Path) -> Result<(u64, u64), std::io::Error> {
    let mut alerts = 0;
    let stats = scan_path(&Rule::default(), &ScanOptions::default(), path, |found| {
        alerts += u64::from(found.outcome.is_alert());
        ControlFlow::Continue(())
    })
    .map_err(|e| e.error)?;
    Ok((stats.records, alerts))
}

#[test]
fn formats_are_detected_by_magic_bytes() {
    assert_eq!(detect(&[0x1f, 0x8b, 8]), Format::Gzip);
    assert_eq!(detect(b"ElfFile\0\0\0"), Format::Evtx);
    assert_eq!(detect(b"ElfFile"), Format::Ndjson, "a prefix of the magic is not the magic");
    assert_eq!(detect(b"PAR1\x15"), Format::Parquet);
    assert_eq!(detect(b""), Format::Ndjson);
    assert_eq!(detect(HIT.as_bytes()), Format::Ndjson);
    assert!(looks_like_ndjson(b"\xEF\xBB\xBF \r\n{\"a\":1}"));
    assert!(looks_like_ndjson(b""));
    assert!(!looks_like_ndjson(b"# README\n"));
    assert!(!looks_like_ndjson(b"[1,2]"));
}

#[test]
fn scan_path_reads_by_content_whatever_the_name() {
    let dir = temp_dir("names");
    let gz = dir.join("events.txt");
    fs::write(&gz, gzip(format!("{HIT}\n{HIT}\n").as_bytes())).unwrap();
    assert_eq!(matches(&gz).unwrap(), (2, 2));
    let evtx = dir.join("security.json");
    fs::copy(EVTX, &evtx).unwrap();
    assert_eq!(matches(&evtx).unwrap(), (12, 0));
    fs::remove_dir_all(&dir).ok();
}

/// A Parquet file is never read as NDJSON: without the `parquet` feature it is a typed
/// `Unsupported` error; with it, this broken one is invalid Parquet (not rejected lines).
#[test]
fn parquet_is_never_read_as_ndjson() {
    let dir = temp_dir("parquet");
    let path = dir.join("events.ndjson");
    fs::write(&path, b"PAR1 not really parquet\n{}\nPAR1").unwrap();
    let error = matches(&path).unwrap_err();
    if cfg!(feature = "parquet") {
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    } else {
        assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
        assert_eq!(UnsupportedFormat::of(&error), Some(UnsupportedFormat { format: Format::Parquet }));
        assert!(error.to_string().contains("`parquet` feature"), "{error}");
    }
    fs::remove_dir_all(&dir).ok();
}

/// The files found (path, format) and the paths skipped (path, reason).
type Walked = (Vec<(String, Format)>, Vec<(String, String)>);

fn walk(paths: &[PathBuf]) -> Walked {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for input in Inputs::new(paths.iter().cloned()) {
        match input {
            Input::File(opened) => files.push((opened.path.display().to_string(), opened.format)),
            Input::Skipped { path, reason } => skipped.push((path.display().to_string(), reason.to_string())),
        }
    }
    (files, skipped)
}

#[test]
fn directories_are_walked_in_sorted_order_naming_what_is_skipped() {
    let dir = temp_dir("walk");
    fs::create_dir_all(dir.join("b/c")).unwrap();
    fs::write(dir.join("b/c/deep.ndjson"), format!("{HIT}\n")).unwrap();
    fs::write(dir.join("b/a.log"), gzip(HIT.as_bytes())).unwrap();
    fs::copy(EVTX, dir.join("a.dat")).unwrap();
    fs::write(dir.join("README"), "notes\n").unwrap();
    fs::write(dir.join("z.tar.gz"), gzip(b"ustar\0binary")).unwrap();
    fs::write(dir.join("empty.json"), b"").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dir, dir.join("b/c/loop")).unwrap();
    let d = |p: &str| dir.join(p).display().to_string();
    let (files, skipped) = walk(std::slice::from_ref(&dir));
    let mut expected_files = vec![
        (d("a.dat"), Format::Evtx),
        (d("b/a.log"), Format::Gzip),
        (d("b/c/deep.ndjson"), Format::Ndjson),
        (d("empty.json"), Format::Ndjson),
    ];
    if !cfg!(feature = "evtx") {
        expected_files.remove(0);
    }
    assert_eq!(files, expected_files);
    let names: Vec<&str> = skipped.iter().map(|(p, _)| p.as_str()).collect();
    let mut expected = vec![d("README")];
    if cfg!(unix) {
        expected.push(d("b/c/loop"));
    }
    expected.push(d("z.tar.gz"));
    if !cfg!(feature = "evtx") {
        expected.insert(0, d("a.dat"));
    }
    assert_eq!(names, expected);
    assert_eq!(skipped.iter().find(|(p, _)| *p == d("README")).unwrap().1, "not NDJSON, gzip, EVTX or Parquet");
    if cfg!(unix) {
        assert!(skipped.iter().any(|(_, r)| r.contains("already walked")));
    }

    // Paths in the order given; an explicit file is scanned whatever it holds; a missing one
    // is named as unreadable.
    let (files, skipped) = walk(&[dir.join("README"), dir.join("b/a.log"), dir.join("missing")]);
    assert_eq!(files, vec![(d("README"), Format::Ndjson), (d("b/a.log"), Format::Gzip)]);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].1.starts_with("unreadable: "), "{:?}", skipped[0]);
    let reason = Inputs::new([dir.join("missing")]).next();
    assert!(matches!(reason, Some(Input::Skipped { reason: SkipReason::Unreadable(_), .. })));
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_directory_given_to_scan_path_is_an_error() {
    let dir = temp_dir("dir");
    assert!(matches(&dir).is_err());
    fs::remove_dir_all(&dir).ok();
}
