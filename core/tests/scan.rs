//! The streaming scanner through its public API: accounting, positions, line endings, BOM,
//! oversized lines, gzip, parallel determinism, and prefilter soundness.

use std::io::Read;
#[cfg(feature = "io")]
use std::io::Write;
use std::ops::ControlFlow;

use dcom_detect_core::{
    scan_ndjson, CaseFolding, ErrorKind, Found, Options, Outcome, Position, Rule, ScanOptions, Stats,
};
use proptest::prelude::*;

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Match { line: u64, offset: u64, bits: u8 },
    Rejected { line: u64, offset: u64, error: String },
    Suppressed { line: u64, offset: u64, item: usize },
}

fn scan_with(rule: &Rule, options: &ScanOptions, input: impl Read + Send) -> (Vec<Seen>, Stats) {
    let mut seen = Vec::new();
    let stats = scan_ndjson(rule, options, input, |found| {
        let Found { position: Position::Line { line, offset }, record, outcome, .. } = found else {
            panic!("unexpected {found:?}");
        };
        seen.push(match outcome {
            Outcome::Matched(branches) => {
                assert!(!record.is_empty());
                Seen::Match { line, offset, bits: branches.bits() }
            }
            Outcome::Rejected(error) => {
                assert!(record.is_empty());
                Seen::Rejected { line, offset, error: error.kind().to_string() }
            }
            Outcome::Suppressed { item, .. } => {
                assert!(!record.is_empty());
                Seen::Suppressed { line, offset, item }
            }
            Outcome::NotMatched => panic!("unexpected {found:?}"),
        });
        ControlFlow::Continue(())
    })
    .expect("scan");
    assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected, "counts add up");
    (seen, stats)
}

fn scan(input: &[u8]) -> (Vec<Seen>, Stats) {
    scan_with(&Rule::default(), &ScanOptions::default(), input)
}

const HIT: &str = r#"{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}}"#;
const MISS: &str = r#"{"event":{"category":"process","type":"start"},"process":{"name":"notepad.exe"}}"#;

#[test]
fn every_record_is_accounted_for_with_line_and_offset() {
    let input = format!("{HIT}\n{MISS}\n\n   \n{{broken dcomcnfg.exe\n{HIT}");
    let (seen, stats) = scan(input.as_bytes());
    let third = (HIT.len() + MISS.len() + 2 + 1 + 4) as u64;
    assert_eq!(
        seen,
        vec![
            Seen::Match { line: 1, offset: 0, bits: 2 },
            Seen::Rejected { line: 5, offset: third, error: ErrorKind::Syntax("a string key").to_string() },
            Seen::Match { line: 6, offset: third + 21, bits: 2 },
        ]
    );
    assert_eq!((stats.records, stats.matched, stats.not_matched, stats.rejected, stats.blank_lines), (4, 2, 1, 1, 2));
    assert_eq!(stats.bytes, input.len() as u64);
}

#[test]
fn crlf_and_byte_order_mark() {
    let input = format!("\u{FEFF}{HIT}\r\n{MISS}\r\n\r\n{HIT}\r\n");
    let (seen, stats) = scan(input.as_bytes());
    assert_eq!(
        seen,
        vec![
            Seen::Match { line: 1, offset: 3, bits: 2 },
            Seen::Match { line: 4, offset: (3 + HIT.len() + MISS.len() + 6) as u64, bits: 2 }
        ]
    );
    assert_eq!((stats.records, stats.blank_lines, stats.rejected), (3, 1, 0));
}

#[test]
fn a_line_over_the_limit_is_rejected_without_buffering_it_and_the_scan_goes_on() {
    let mut options = ScanOptions { chunk_bytes: 64, ..ScanOptions::default() };
    options.limits.max_record_bytes = 1000;
    let long = format!(r#"{{"x":"{}"}}"#, "a".repeat(100_000));
    let input = format!("{HIT}\n{long}\n{HIT}\n");
    for threads in [1, 2] {
        let (seen, stats) = scan_with(&Rule::default(), &ScanOptions { threads, ..options }, input.as_bytes());
        assert_eq!(seen.len(), 3);
        assert!(
            matches!(&seen[1], Seen::Rejected { line: 2, offset, error } if *offset == HIT.len() as u64 + 1 && error.contains("1000 bytes")),
            "{seen:?}"
        );
        assert_eq!(seen[2], Seen::Match { line: 3, offset: (HIT.len() + long.len() + 2) as u64, bits: 2 });
        assert_eq!((stats.records, stats.rejected, stats.bytes), (3, 1, input.len() as u64));
    }
}

#[test]
#[cfg(feature = "io")]
fn gzip_is_read_and_a_truncated_gzip_is_an_error_after_the_good_records() {
    let body = format!("{HIT}\n{MISS}\n").repeat(1000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let rule = Rule::default();
    let reader = dcom_detect_core::source::maybe_gzip(std::io::Cursor::new(gz.clone())).unwrap();
    let (seen, stats) = scan_with(&rule, &ScanOptions::default(), reader);
    assert_eq!((seen.len(), stats.records), (1000, 2000));
    let truncated = gz[..gz.len() / 2].to_vec();
    let reader = dcom_detect_core::source::maybe_gzip(std::io::Cursor::new(truncated)).unwrap();
    let mut matches = 0;
    let err = scan_ndjson(&rule, &ScanOptions::default(), reader, |found| {
        matches += u64::from(found.outcome.is_alert());
        ControlFlow::Continue(())
    })
    .unwrap_err();
    // The records decompressed before the damage were all scanned and reported.
    assert!(err.stats.records > 100 && err.stats.records < 2000, "{err}");
    assert_eq!(matches, err.stats.matched);
    assert!(err.to_string().contains("deflate") || err.to_string().contains("EOF"), "{err}");
}

#[test]
fn parallel_scans_report_the_same_things_in_the_same_order() {
    let mut input = String::new();
    for i in 0..20_000 {
        match i % 7 {
            0 => input.push_str(HIT),
            1 => input.push_str("{not json dcom"),
            2 => input.push_str(""),
            _ => input.push_str(MISS),
        }
        input.push('\n');
    }
    let serial =
        scan_with(&Rule::default(), &ScanOptions { chunk_bytes: 4096, ..ScanOptions::default() }, input.as_bytes());
    for threads in [2, 3, 8] {
        let parallel = scan_with(
            &Rule::default(),
            &ScanOptions { chunk_bytes: 4096, threads, ..ScanOptions::default() },
            input.as_bytes(),
        );
        assert_eq!(parallel, serial, "threads {threads}");
    }
}

#[test]
fn the_sink_can_stop_the_scan() {
    let input = format!("{HIT}\n").repeat(10_000);
    for threads in [1, 2] {
        let mut n = 0;
        let options = ScanOptions { chunk_bytes: 1024, threads, ..ScanOptions::default() };
        scan_ndjson(&Rule::default(), &options, input.as_bytes(), |_| {
            n += 1;
            if n == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(n, 5);
    }
}

/// Needles hidden behind escapes must still be found: the prefilter treats a real `\u` as a
/// reason to parse.
#[test]
fn prefilter_is_sound_against_escapes() {
    let hidden = [
        r#"{"event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"\u006dmc.exe"}}}"#,
        r#"{"event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"MM\u0043.EXE"}}}"#,
        r#"{"event":{"category":"process","type":"start"},"process":{"name":"\u0064comcnfg.exe"}}"#,
        r#"{"event":{"category":"process","type":"start"},"process":{"command_line":"\u0044\u0043\u004f\u004d \u002dexec"}}"#,
        r#"{"event":{"category":"process","type":"start"},"process":{"command_line":"\\\u0044COM -Exec"}}"#,
        r#"{"event":{"category":"process","type":"start"},"process":{"command_line":"DCOM -\u0045xec"}}"#,
        r#"{"event":{"category":"process","type":"start"},"process.\u006eame":"dcomcnfg.exe"}"#,
        r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\cmd.exe","ParentImage":"C:\\Windows\\mm\u0063.exe"}"#,
    ];
    for record in hidden {
        let (seen, stats) = scan(format!("{record}\n").as_bytes());
        assert_eq!(stats.matched, 1, "missed {record}: {seen:?}");
    }
    // `\\u` is an escaped backslash followed by `u`: not an escape, so no reason to parse.
    let (_, stats) = scan(br#"{"p":"C:\\users\\x","q":"\\u0064com"}"#);
    assert_eq!(stats.prefiltered, 1);
    // Under Unicode folding, KELVIN SIGN and LONG S spell k and s.
    let unicode = Rule::new(Options { case_folding: CaseFolding::UnicodeSimple });
    let kelvin = "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process\":{\"name\":\"cmd.exe\",\"parent\":{\"name\":\"OUTLOO\u{212A}.EXE\"}}}\n";
    let (_, stats) = scan_with(&unicode, &ScanOptions::default(), kelvin.as_bytes());
    assert_eq!(stats.matched, 1);
    let (_, stats) = scan(kelvin.as_bytes());
    assert_eq!((stats.matched, stats.prefiltered), (0, 1));
}

/// Pieces from which generated records are assembled: needles, near misses, escapes that
/// spell needles, case variants, Unicode look-alikes, and JSON noise.
fn piece() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "mmc.exe",
        "MMC.EXE",
        "m\\u006dc.exe",
        "excel.exe",
        "winword.exe",
        "outlook.exe",
        "outloo\u{212A}.exe",
        "powerpnt.exe",
        "visio.exe",
        "vi\u{17F}io.exe",
        "cmd.exe",
        "powershell.exe",
        "mshta.exe",
        "certutil.exe",
        "dcomcnfg.exe",
        "DCOMCNFG.EXE",
        "\\u0064comcnfg.exe",
        "DCOM",
        "dcom",
        "\\u0044COM",
        "-Exec",
        "-exec",
        "-\\u0045xec",
        "DcomLaunch",
        "-ExecutionPolicy",
        " ",
        "x",
        "C:\\\\Windows\\\\",
        "\\\\u",
        "\\\\\\u0064",
        "\\\"",
        "\\n",
        "é",
        "😀",
        "\\ud83d\\ude00",
    ])
    .prop_map(str::to_owned)
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..4).prop_map(|v| v.concat())
}

fn record() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        text().prop_map(|t| format!("\"{t}\"")),
        prop::collection::vec(text(), 0..3)
            .prop_map(|v| format!("[{}]", v.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(","))),
        Just("null".to_owned()),
    ];
    (value.clone(), value.clone(), value.clone(), value, 0..5usize).prop_map(|(name, parent, cl, extra, shape)| match shape {
        0 => format!(r#"{{"event":{{"category":"process","type":"start"}},"process":{{"name":{name},"parent":{{"name":{parent}}},"command_line":{cl}}},"x":{extra}}}"#),
        1 => format!(r#"{{"event.category":"process","event.type":["start"],"process.name":{name},"process.parent.name":{parent},"process.command_line":{cl}}}"#),
        2 => format!(r#"{{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":{name},"ParentImage":{parent},"CommandLine":{cl}}}"#),
        3 => format!(r#"{{"Event":{{"System":{{"Channel":"Security","EventID":4688}},"EventData":{{"NewProcessName":{name},"ParentProcessName":{parent},"CommandLine":{cl}}}}}}}"#),
        _ => format!(r#"{{"event":{{"category":"process","type":"start"}},"process":{{"name":{name}}},"p":{parent},"c":{cl},"x":{extra}}}"#),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Prefiltered and unfiltered scans find exactly the same matches.
    #[test]
    fn prefilter_never_changes_a_match(records in prop::collection::vec(record(), 1..40), unicode in any::<bool>()) {
        let folding = if unicode { CaseFolding::UnicodeSimple } else { CaseFolding::Ascii };
        let rule = Rule::new(Options { case_folding: folding });
        let input = records.join("\n");
        let with = scan_with(&rule, &ScanOptions::default(), input.as_bytes());
        let without = scan_with(&rule, &ScanOptions { prefilter: false, ..ScanOptions::default() }, input.as_bytes());
        let matches = |s: &[Seen]| s.iter().filter(|x| matches!(x, Seen::Match { .. })).map(|x| format!("{x:?}")).collect::<Vec<_>>();
        prop_assert_eq!(matches(&with.0), matches(&without.0));
        prop_assert_eq!(with.1.matched, without.1.matched);
        prop_assert_eq!(with.1.records, without.1.records);
    }
}

/// A generated record, possibly damaged: cut short at some byte, or with a NUL byte put in.
fn damaged_record() -> impl Strategy<Value = Vec<u8>> {
    (record(), 0..4u8, any::<prop::sample::Index>()).prop_map(|(record, damage, at)| {
        let mut bytes = record.into_bytes();
        let at = at.index(bytes.len());
        match damage {
            2 => bytes.truncate(at),
            3 => bytes.insert(at, 0),
            _ => {}
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The prefilter skips only lines that are plainly well-formed, so a record cut short or
    /// holding a NUL byte is rejected with the same error whether or not it could match:
    /// the prefiltered scan reports exactly what the unfiltered scan reports.
    #[test]
    fn prefilter_never_hides_a_damaged_record(records in prop::collection::vec(damaged_record(), 1..40)) {
        let input = records.join(&b'\n');
        let rule = Rule::default();
        let with = scan_with(&rule, &ScanOptions::default(), &input[..]);
        let without = scan_with(&rule, &ScanOptions { prefilter: false, ..ScanOptions::default() }, &input[..]);
        prop_assert_eq!(&with.0, &without.0);
        prop_assert_eq!(
            (with.1.records, with.1.matched, with.1.not_matched, with.1.rejected, with.1.blank_lines),
            (without.1.records, without.1.matched, without.1.not_matched, without.1.rejected, without.1.blank_lines)
        );
    }
}

/// A chunk of one-byte bad lines holds far more rejections than a batch may (4096): they are
/// delivered in parts, still every one with its line number and offset, in order, with
/// exact counts, whatever the thread count, and a sink's stop is honoured mid-chunk.
#[test]
fn many_tiny_bad_lines_are_all_reported_in_order() {
    const GOOD: &str = r#"{"event":{"category":"process","type":"start"},"host":{"name":"ws-01"},"process":{"name":"cmd.exe","parent":{"name":"mmc.exe"}}}"#;
    let lines = 60_000u64;
    let good_at = [1, 4095, 4096, 4097, 20_000, 33_333, lines];
    let mut input = String::new();
    let mut expected = Vec::new();
    for line in 1..=lines {
        let offset = input.len() as u64;
        if good_at.contains(&line) {
            input.push_str(GOOD);
            expected.push((line, offset, true));
        } else if line % 1000 == 0 {
            input.push(' ');
            input.push('\n');
            continue;
        } else {
            input.push('x');
            expected.push((line, offset, false));
        }
        input.push('\n');
    }
    let blank = lines / 1000 - good_at.iter().filter(|&&l| l % 1000 == 0).count() as u64;
    for threads in [1, 2, 3] {
        for chunk_bytes in [64 << 10, 1 << 20] {
            let options = ScanOptions { threads, chunk_bytes, ..ScanOptions::default() };
            let (seen, stats) = scan_with(&Rule::default(), &options, input.as_bytes());
            let got: Vec<(u64, u64, bool)> = seen
                .iter()
                .map(|s| match *s {
                    Seen::Match { line, offset, .. } => (line, offset, true),
                    Seen::Rejected { line, offset, .. } => (line, offset, false),
                    ref other => panic!("unexpected {other:?}"),
                })
                .collect();
            assert!(got == expected, "threads {threads}, chunk {chunk_bytes}: positions differ");
            assert_eq!(stats.matched, good_at.len() as u64);
            assert_eq!(stats.rejected, lines - blank - good_at.len() as u64);
            assert_eq!(stats.blank_lines, blank);
            assert_eq!(stats.bytes, input.len() as u64);

            // Stopping in the middle of a chunk's parts stops the scan there.
            let mut calls = 0;
            let stopped = scan_ndjson(&Rule::default(), &options, input.as_bytes(), |_| {
                calls += 1;
                if calls == 10_000 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .expect("scan");
            assert_eq!(calls, 10_000, "threads {threads}: no call after the stop");
            assert!(stopped.records < lines, "threads {threads}: the scan stopped early");
        }
    }
}
