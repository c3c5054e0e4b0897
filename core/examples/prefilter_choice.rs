//! Measures candidate-search strategies for the prefilter on one file (the choice the
//! prefilter module documents): MB/s and hits for each, best of three runs.
//!
//! `cargo run --release -p dcom-detect-core --example prefilter_choice -- FILE`
use std::time::Instant;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::RegexBuilder;

fn time(name: &str, data: &[u8], mut f: impl FnMut(&[u8]) -> usize) {
    let mut best = f64::MAX;
    let mut hits = 0;
    for _ in 0..3 {
        let t = Instant::now();
        hits = f(data);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{name:<58} {:>8.0} MB/s {hits:>9} hits", data.len() as f64 / best / 1e6);
}

fn count_regex(pattern: &str) -> impl FnMut(&[u8]) -> usize {
    let re = RegexBuilder::new(pattern).unicode(false).build().unwrap();
    move |d| re.find_iter(d).count()
}

fn count_ac(needles: &[&str], kind: Option<AhoCorasickKind>) -> impl FnMut(&[u8]) -> usize {
    let ac: AhoCorasick = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .kind(kind)
        .build(needles)
        .unwrap();
    move |d| ac.find_iter(d).count()
}

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let data = std::fs::read(path).unwrap();
    let full = ["mmc.exe", "excel.exe", "winword.exe", "outlook.exe", "powerpnt.exe", "visio.exe", "dcom"];
    let inner = ["mmc.e", "xcel.e", "nword.", "tlook.", "rpnt.", "visio.", "dcom"];
    time("memchr count of \\n (wc -l)", &data, |d| memchr::memchr_iter(b'\n', d).count());
    time(
        "regex (?i)full needles",
        &data,
        count_regex(r"(?i)mmc\.exe|excel\.exe|winword\.exe|outlook\.exe|powerpnt\.exe|visio\.exe|dcom"),
    );
    time(
        "regex (?i)full needles | \\\\u",
        &data,
        count_regex(r"(?i:mmc\.exe|excel\.exe|winword\.exe|outlook\.exe|powerpnt\.exe|visio\.exe|dcom)|\\u"),
    );
    time("regex (?i)inner needles", &data, count_regex(r"(?i)mmc\.e|xcel\.e|nword\.|tlook\.|rpnt\.|visio\.|dcom"));
    time(
        "regex (?i)inner needles | \\\\u",
        &data,
        count_regex(r"(?i:mmc\.e|xcel\.e|nword\.|tlook\.|rpnt\.|visio\.|dcom)|\\u"),
    );
    time("aho-corasick ascii-ci full (auto)", &data, count_ac(&full, None));
    time("aho-corasick ascii-ci inner (auto)", &data, count_ac(&inner, None));
    time("aho-corasick ascii-ci inner (DFA)", &data, count_ac(&inner, Some(AhoCorasickKind::DFA)));
    let lower: [&str; 7] = ["mmc.e", "xcel.", "nword", "tlook", "rpnt.", "isio.", "dcom"];
    let packed = aho_corasick::packed::Searcher::new(lower.iter()).unwrap();
    let mut folded = Vec::new();
    time("ASCII-lowercase copy, then packed Teddy on inner pieces", &data, |d| {
        let mut hits = 0;
        for block in d.chunks(1 << 20) {
            folded.clear();
            folded.extend(block.iter().map(|&b| b | (u8::from(b.wrapping_sub(b'A') < 26) << 5)));
            hits += packed.find_iter(&folded).count();
        }
        hits
    });
    time("ASCII-lowercase copy only", &data, |d| {
        let mut n = 0;
        for block in d.chunks(1 << 20) {
            folded.clear();
            folded.extend(block.iter().map(|&b| b | (u8::from(b.wrapping_sub(b'A') < 26) << 5)));
            n += folded.len();
        }
        n
    });
    let memmem = memchr::memmem::Finder::new(b"\\u");
    time("memmem \\\\u", &data, |d| memmem.find_iter(d).count());
}
