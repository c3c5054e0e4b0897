//! The hostile-input catalogue (docs/robustness.md): each case gets a clear error naming the
//! record, and the scan goes on with the next one. Nothing crashes, hangs or grows without
//! bound.

#[cfg(feature = "io")]
use std::io::Write;
use std::io::{self, Read};
use std::ops::ControlFlow;
#[cfg(feature = "io")]
use std::path::Path;

#[cfg(feature = "io")]
use dcom_detect_core::scan_path;
use dcom_detect_core::{scan_ndjson, Decoder, ErrorKind, Found, Limits, Outcome, Position, Rule, ScanOptions, Stats};

const HIT: &str = r#"{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}}"#;

/// Scans `input`, returning (matched lines, rejected (line, error) pairs, stats).
fn scan(input: impl Read + Send, options: &ScanOptions) -> (Vec<u64>, Vec<(u64, String)>, Stats) {
    let (mut matched, mut rejected) = (Vec::new(), Vec::new());
    let stats = scan_ndjson(&Rule::default(), options, input, |found| {
        match found {
            Found { position: Position::Line { line, .. }, outcome: Outcome::Matched(_), .. } => matched.push(line),
            Found { position: Position::Line { line, .. }, outcome: Outcome::Rejected(error), .. } => {
                rejected.push((line, error.to_string()))
            }
            other => panic!("unexpected {other:?}"),
        }
        ControlFlow::Continue(())
    })
    .expect("the scan completes");
    assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
    (matched, rejected, stats)
}

fn strict() -> ScanOptions {
    ScanOptions { prefilter: false, ..ScanOptions::default() }
}

/// Each bad record sits between two good ones; the scan reports it and goes on.
#[test]
fn bad_records_are_reported_and_the_scan_goes_on() {
    let cases: &[(&[u8], &str)] = &[
        (br#"{"event":{"category":"process""#, "truncated"),
        (br#"{"event" "process"}"#, "expected ':'"),
        (b"{\"a\":\"\xC3\x28\"}", "invalid UTF-8"),
        (b"{\"a\":\"x\x00y\"}", "control character"),
        (b"\x00\x00\x00", "not a JSON object"),
        (b"[1,2,3]", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"\"dcomcnfg.exe\"", "not a JSON object"),
        (br#"{"a":1,"a":2}"#, "duplicate key"),
        (br#"{"a":1}{"b":2}"#, "unexpected data"),
        (br#"{"a":tru}"#, "expected"),
        (br#"{"a":"\ud800\u12"}"#, "invalid escape"),
    ];
    for (bad, needle) in cases {
        let mut input = Vec::new();
        input.extend_from_slice(HIT.as_bytes());
        input.push(b'\n');
        input.extend_from_slice(bad);
        input.push(b'\n');
        input.extend_from_slice(HIT.as_bytes());
        let (matched, rejected, stats) = scan(&input[..], &strict());
        assert_eq!(matched, [1, 3], "{needle}");
        assert_eq!(rejected.len(), 1, "{needle}: {rejected:?}");
        assert_eq!(rejected[0].0, 2);
        assert!(rejected[0].1.contains(needle), "{needle}: {}", rejected[0].1);
        assert_eq!(stats.records, 3);
    }
}

/// With the prefilter on (the default), a line that cannot match is skipped unparsed only when
/// it is plainly one JSON object; every other broken line is still rejected with its error.
#[test]
fn broken_lines_that_cannot_match_are_reported_with_the_prefilter_on() {
    let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(2000), "]".repeat(2000));
    let reported: &[(&[u8], &str)] = &[
        (br#"{"event":{"category":"process""#, "truncated"),
        (br#"{"event":{"category":"process"}"#, "truncated"),
        (b"{\"a\":\"\xC3\x28\"}", "invalid UTF-8"),
        (b"{\"a\":\"x\x00y\"}", "control character"),
        (b"\x00\x00\x00", "not a JSON object"),
        (b"\x1f\x8b\x08\x00garbage", "invalid UTF-8"),
        (b"[1,2,3]", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"\"text\"", "not a JSON object"),
        (b"not json at all", "not a JSON object"),
        (b"{", "truncated"),
        (deep.as_bytes(), "nesting deeper than the limit of 1000"),
    ];
    // What only a scan without the prefilter sees: errors inside a well-framed line.
    let inner: &[(&[u8], &str)] = &[
        (br#"{"a":1,"a":2}"#, "duplicate key"),
        (br#"{"a":tru}"#, "expected"),
        (br#"{"a":1}{"b":2}"#, "unexpected data"),
    ];
    let cases = reported.iter().map(|&(bad, error)| (bad, error, true));
    for (bad, error, is_reported) in cases.chain(inner.iter().map(|&(bad, error)| (bad, error, false))) {
        let input = [HIT.as_bytes(), b"\n", bad, b"\n", HIT.as_bytes(), b"\n"].concat();
        let (matched, rejected, stats) = scan(&input[..], &ScanOptions::default());
        assert_eq!(matched, [1, 3], "{error}");
        assert_eq!(stats.records, 3, "{error}");
        if is_reported {
            assert_eq!(rejected.len(), 1, "{error}: {rejected:?}");
            assert_eq!(rejected[0].0, 2);
            assert!(rejected[0].1.contains(error), "{error}: {}", rejected[0].1);
            assert_eq!(stats.prefiltered, 0, "{error}");
        } else {
            assert!(rejected.is_empty(), "{error}: {rejected:?}");
            assert_eq!((stats.not_matched, stats.prefiltered), (1, 1), "{error}");
            let (_, strict_rejected, _) = scan(&input[..], &strict());
            assert!(strict_rejected[0].1.contains(error), "{error}: {strict_rejected:?}");
        }
    }
}

/// A reader that produces `len` bytes of `fill` then a newline, without holding them.
struct Endless {
    left: u64,
    fill: u8,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(self.fill);
        self.left -= n as u64;
        if self.left == 0 {
            buf[n - 1] = b'\n';
        }
        Ok(n)
    }
}

#[test]
fn a_100_mb_line_is_rejected_without_being_held() {
    let tail = format!("{HIT}\n");
    let input = Endless { left: 100 << 20, fill: b'a' }.chain(tail.as_bytes());
    let options = ScanOptions { limits: Limits { max_record_bytes: 1 << 20, ..Limits::default() }, ..strict() };
    let (matched, rejected, stats) = scan(input, &options);
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].1.contains("longer than the limit of 1048576 bytes"), "{}", rejected[0].1);
    assert_eq!(matched, [2]);
    assert_eq!(stats.bytes, (100 << 20) + HIT.len() as u64 + 1);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!(r#"{{"process":{{"name":"dcomcnfg.exe"}},"x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let err = Decoder::new().decode(Rule::default().paths(), deep.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::TooDeep(1000));
    let objects = format!(
        r#"{{"process":{{"name":"dcomcnfg.exe"}},"x":{}1{}}}"#,
        r#"{"a":"#.repeat(100_000),
        "}".repeat(100_000)
    );
    let err = Decoder::new().decode(Rule::default().paths(), objects.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::TooDeep(1000));
    // The limit is configurable.
    let mut decoder = Decoder::with_limits(Limits { max_depth: 5, ..Limits::default() });
    assert!(decoder.decode(Rule::default().paths(), br#"{"a":[[[1]]]}"#).is_ok());
    assert_eq!(
        decoder.decode(Rule::default().paths(), br#"{"a":[[[[[1]]]]]}"#).unwrap_err().kind(),
        &ErrorKind::TooDeep(5)
    );
    // In a scan, the deep record is reported and the next one is read.
    let input = format!("{deep}\n{HIT}\n");
    let (matched, rejected, _) = scan(input.as_bytes(), &strict());
    assert_eq!((matched, rejected.len()), (vec![2], 1));
}

#[test]
fn keys_that_collide_only_after_dotted_expansion_give_both_values() {
    // Elasticsearch indexes both: not a duplicate key, a multi-valued field.
    let record = br#"{"event.category":"process","event":{"type":"start","category":"host"},"process.name":"x","process":{"name":"dcomcnfg.exe"}}"#;
    let rule = Rule::default();
    let mut decoder = Decoder::new();
    let doc = decoder.decode(rule.paths(), record).unwrap();
    assert_eq!(rule.evaluate(&doc).branches().bits(), 2);
}

#[test]
#[cfg(feature = "io")]
fn gzip_bombs_stream_in_constant_memory() {
    // 256 MB of zeros without a newline compress to about 250 KB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).unwrap();
    }
    gz.write_all(b"\n").unwrap();
    gz.write_all(HIT.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 1 << 20);
    let reader = dcom_detect_core::source::maybe_gzip(io::Cursor::new(gz)).unwrap();
    let (matched, rejected, stats) = scan(reader, &ScanOptions::default());
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].1.contains("longer than the limit"));
    assert_eq!(matched, [2]);
    assert_eq!(stats.bytes, (256 << 20) + 1 + HIT.len() as u64);
}

/// A reader whose input stops in the middle of a record, as a file truncated while it is
/// read does.
struct ShrinkingFile<'a> {
    data: &'a [u8],
    served: usize,
    cut_at: usize,
}

impl Read for ShrinkingFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.cut_at.min(self.data.len());
        let n = buf.len().min(end - self.served);
        buf[..n].copy_from_slice(&self.data[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

#[test]
fn a_file_cut_while_it_is_read_reports_the_partial_record() {
    let data = format!("{HIT}\n{HIT}\n{HIT}\n");
    let cut_at = 2 * (HIT.len() + 1) + 20;
    let (matched, rejected, stats) = scan(ShrinkingFile { data: data.as_bytes(), served: 0, cut_at }, &strict());
    assert_eq!(matched, [1, 2]);
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].1.contains("truncated"), "{}", rejected[0].1);
    assert_eq!(stats.bytes, cut_at as u64);
}

#[test]
#[cfg(feature = "io")]
fn unreadable_paths_are_errors() {
    let rule = Rule::default();
    let missing =
        scan_path(&rule, &ScanOptions::default(), Path::new("/nonexistent/file.ndjson"), |_| ControlFlow::Continue(()));
    assert_eq!(missing.unwrap_err().error.kind(), io::ErrorKind::NotFound);
    let dir =
        scan_path(&rule, &ScanOptions::default(), Path::new(env!("CARGO_MANIFEST_DIR")), |_| ControlFlow::Continue(()));
    assert!(dir.is_err(), "a directory is not a stream of records");
}

#[cfg(feature = "evtx")]
const EVTX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dcomexec_4688.evtx");

#[cfg(feature = "evtx")]
fn scan_evtx_file(path: &Path) -> (Stats, Vec<(Position, String)>) {
    let mut rejected = Vec::new();
    let stats = scan_path(&Rule::default(), &ScanOptions::default(), path, |found| {
        if let Outcome::Rejected(error) = found.outcome {
            rejected.push((found.position, error.to_string()));
        }
        ControlFlow::Continue(())
    })
    .expect("the EVTX header is readable");
    (stats, rejected)
}

#[test]
#[cfg(feature = "evtx")]
fn evtx_fixture_reads_cleanly() {
    let (stats, rejected) = scan_evtx_file(Path::new(EVTX));
    assert_eq!((stats.records, stats.matched, stats.rejected), (12, 0, 0), "{rejected:?}");
}

#[test]
#[cfg(feature = "evtx")]
fn corrupted_evtx_chunks_yield_errors_and_the_rest_is_read() {
    let original = std::fs::read(EVTX).unwrap();
    let dir = std::env::temp_dir().join(format!("dcom-detect-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Damage record data inside the first chunk (the file header is 4096 bytes, the chunk
    // header 512), and separately truncate the file in the middle of the chunk.
    let mut damaged = original.clone();
    for b in &mut damaged[4096 + 512 + 2000..4096 + 512 + 2600] {
        *b = 0xA5;
    }
    let truncated = original[..4096 + 512 + 3000].to_vec();
    for (name, bytes) in [("damaged.evtx", damaged), ("truncated.evtx", truncated)] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (stats, rejected) = scan_evtx_file(&path);
        assert!(stats.records >= 1, "{name}: {stats:?}");
        assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
        assert!(stats.rejected > 0 || stats.records < 12, "{name}: damage must show ({stats:?})");
        for (position, error) in &rejected {
            assert!(matches!(position, Position::Evtx { .. }) && !error.is_empty(), "{name}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Found by fuzzing (fuzz/ target `evtx`): a record whose template claims ~637 million
/// substitutions makes the `evtx` crate reserve 2.5 GB of address space (never touched).
/// The scan reports the record as unreadable and finishes in a few megabytes of memory.
#[test]
#[cfg(feature = "evtx")]
fn regression_evtx_huge_substitution_count() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions/evtx-huge-substitution-count.evtx");
    let (stats, rejected) = scan_evtx_file(&path);
    assert_eq!(stats.matched, 0);
    assert!(stats.rejected >= 1 && rejected.iter().all(|(_, e)| e.contains("EVTX")), "{rejected:?}");
}

/// A FIFO given by path (`<(zcat …)`, `/dev/stdin`) is read once: the bytes used to recognise
/// the format are not lost.
#[test]
#[cfg(feature = "io")]
fn a_fifo_given_by_path_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("dcom-detect-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("events.fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: mkfifo is not available");
        return;
    }
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
        for _ in 0..3 {
            writeln!(f, "{HIT}").unwrap();
        }
    });
    let mut matched = 0;
    let stats = scan_path(&Rule::default(), &ScanOptions::default(), &fifo, |found| {
        matched += u32::from(found.outcome.is_alert());
        ControlFlow::Continue(())
    })
    .unwrap();
    writer.join().unwrap();
    assert_eq!((stats.records, stats.rejected, matched), (3, 0, 3));
    std::fs::remove_dir_all(&dir).ok();
}
