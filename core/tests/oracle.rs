//! A differential oracle: a second, deliberately naive evaluator of `docs/semantics.md` §1–5,
//! written only for tests over `serde_json::Value` (flattening the document as Elasticsearch indexes
//! it, folding case through whole strings, matching wildcards with the `regex` crate), run
//! against the engine on generated documents under both case foldings, through the JSON
//! decoder, the prefiltered scanner and the unfiltered scanner.
//!
//! CI runs a fixed seed and a small budget; `DCOM_ORACLE_CASES=10000000 cargo test --release
//! -p dcom-detect-core --test oracle` runs ten million documents. `DCOM_ORACLE_DUMP=FILE`
//! also writes every generated document to FILE as NDJSON (how the Python suite's sample
//! `python/tests/data/oracle_documents.ndjson` was made, with `DCOM_ORACLE_CASES=3000`).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use dcom_detect_core::{scan_ndjson, CaseFolding, Decoder, Found, Options, Outcome, Position, Rule, ScanOptions};
use serde_json::{Map, Value};

// ---------------------------------------------------------------- the oracle

/// Every leaf value of the document by dotted path, as Elasticsearch flattens it.
fn flatten(value: &Value, path: &str, out: &mut BTreeMap<String, Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                // Elasticsearch drops a key's trailing dots (`a.` is `a`).
                let k = k.trim_end_matches('.');
                let p = if path.is_empty() { k.to_owned() } else { format!("{path}.{k}") };
                flatten(v, &p, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| flatten(v, path, out)),
        Value::Null => {}
        Value::String(s) => out.entry(path.to_owned()).or_default().push(s.clone()),
        other => out.entry(path.to_owned()).or_default().push(other.to_string()),
    }
}

fn fold_str(s: &str, folding: CaseFolding) -> String {
    s.chars().map(|c| folding.fold(c)).collect()
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

struct Oracle {
    folding: CaseFolding,
    dcom: regex::Regex,
    exec: regex::Regex,
}

impl Oracle {
    fn new(folding: CaseFolding) -> Oracle {
        let wildcard = |p: &str| {
            let body: String = fold_str(p, folding)
                .chars()
                .map(|c| match c {
                    '*' => ".*".to_owned(),
                    '?' => ".".to_owned(),
                    c => regex::escape(&c.to_string()),
                })
                .collect();
            regex::Regex::new(&format!("(?s)^{body}$")).unwrap()
        };
        Oracle { folding, dcom: wildcard("*DCOM*"), exec: wildcard("*-Exec*") }
    }

    /// The fields the rule reads, with the raw Windows mapping.
    fn fields(&self, doc: &Value) -> BTreeMap<String, Vec<String>> {
        let mut flat = BTreeMap::new();
        flatten(doc, "", &mut flat);
        let is_ecs = flat.keys().any(|k| k == "event.category" || k.starts_with("process.") || k == "process")
            || has_key(doc, &["event", "category"])
            || has_key(doc, &["process"]);
        if is_ecs {
            return flat;
        }
        let wrappers: [(&str, &[&str], &str); 4] = [
            ("Event.System.Channel", &["Event.System.EventID", "Event.System.EventID.#text"], "Event.EventData."),
            ("winlog.channel", &["winlog.event_id"], "winlog.event_data."),
            ("log_name", &["event_id"], "event_data."),
            ("Channel", &["EventID"], ""),
        ];
        for (channel, ids, data) in wrappers {
            let (Some(ch), Some(id)) = (
                flat.get(channel).and_then(|v| v.last()),
                ids.iter().find_map(|i| flat.get(*i).and_then(|v| v.last())),
            ) else {
                continue;
            };
            let (image, parent) = if ch.eq_ignore_ascii_case("Microsoft-Windows-Sysmon/Operational") && id == "1" {
                ("Image", "ParentImage")
            } else if ch.eq_ignore_ascii_case("security") && id == "4688" {
                ("NewProcessName", "ParentProcessName")
            } else {
                continue;
            };
            let base = |v: &String| v.rsplit(['\\', '/']).next().unwrap_or(v).to_owned();
            let get = |k: &str| flat.get(&format!("{data}{k}")).cloned().unwrap_or_default();
            let mut out = BTreeMap::new();
            out.insert("event.category".to_owned(), vec!["process".to_owned()]);
            out.insert("event.type".to_owned(), vec!["start".to_owned()]);
            out.insert("process.name".to_owned(), get(image).iter().map(base).collect());
            out.insert("process.parent.name".to_owned(), get(parent).iter().map(base).collect());
            out.insert("process.command_line".to_owned(), get("CommandLine"));
            return out;
        }
        flat
    }

    fn verdict(&self, doc: &Value) -> u8 {
        let f = self.fields(doc);
        let keyword = |k: &str| -> Vec<String> {
            f.get(k).into_iter().flatten().filter(|v| utf16_len(v) <= 1024).cloned().collect()
        };
        let category = keyword("event.category");
        let types = keyword("event.type");
        if !category.iter().any(|c| c == "process") || !types.iter().any(|t| t == "start") {
            return 0;
        }
        let names = keyword("process.name");
        let parents = keyword("process.parent.name");
        let lines: Vec<String> = f.get("process.command_line").cloned().unwrap_or_default();
        let in_list = |values: &[String], list: &[&str]| {
            values.iter().any(|v| list.iter().any(|l| fold_str(v, self.folding) == fold_str(l, self.folding)))
        };
        let mut bits = 0;
        if in_list(&parents, &["mmc.exe", "excel.exe", "winword.exe", "outlook.exe", "powerpnt.exe", "visio.exe"])
            && in_list(
                &names,
                &[
                    "cmd.exe",
                    "powershell.exe",
                    "wscript.exe",
                    "cscript.exe",
                    "mshta.exe",
                    "rundll32.exe",
                    "regsvr32.exe",
                    "certutil.exe",
                ],
            )
        {
            bits |= 1;
        }
        if names.iter().any(|n| n == "dcomcnfg.exe") {
            bits |= 2;
        }
        let folded: Vec<String> = lines.iter().map(|l| fold_str(l, self.folding)).collect();
        if folded.iter().any(|l| self.dcom.is_match(l)) && folded.iter().any(|l| self.exec.is_match(l)) {
            bits |= 4;
        }
        bits
    }
}

fn has_key(doc: &Value, path: &[&str]) -> bool {
    let mut v = doc;
    for p in path {
        match v.get(p) {
            Some(next) => v = next,
            None => return false,
        }
    }
    true
}

// ---------------------------------------------------------------- the generator

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }

    /// A string value built from pieces that matter to the rule.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "mmc.exe",
            "MMC.EXE",
            "excel.exe",
            "WINWORD.exe",
            "outlook.exe",
            "outloo\u{212A}.exe",
            "powerpnt.exe",
            "vi\u{17F}io.exe",
            "visio.exe",
            "cmd.exe",
            "PowerShell.exe",
            "wscript.exe",
            "c\u{17F}cript.exe",
            "mshta.exe",
            "rundll32.exe",
            "regsvr32.exe",
            "certut\u{130}l.exe",
            "certutil.exe",
            "dcomcnfg.exe",
            "DCOMCNFG.EXE",
            "DCOM",
            "dcom",
            "-Exec",
            "-exec",
            "-EXECUTIONPOLICY",
            "Exec",
            "\u{212A}",
            "ſ",
            "é",
            "É",
            "ß",
            "😀",
            "\u{301}",
            "C:\\",
            "/",
            "\\",
            "\"",
            "\n",
            " ",
            "*",
            "?",
            "%",
            "x",
            "",
        ];
        let n = if self.chance(60) { 1 } else { self.below(4) };
        let mut s: String = (0..n).map(|_| self.pick(PIECES)).collect();
        if self.chance(1) {
            s.push_str(&"y".repeat(1000 + self.below(100)));
        }
        s
    }

    fn scalar(&mut self) -> Value {
        match self.below(20) {
            0 => Value::Null,
            1 => Value::from(self.below(1000) as i64 - 500),
            2 => Value::Bool(self.chance(50)),
            _ => Value::String(self.text()),
        }
    }

    fn values(&mut self) -> Value {
        match self.below(6) {
            0 => Value::Array((0..self.below(4)).map(|_| self.scalar()).collect()),
            1 => Value::Array(vec![Value::Array(vec![self.scalar()]), self.scalar()]),
            _ => self.scalar(),
        }
    }

    /// A key for `path`: its parts joined with dots, now and then with a trailing dot.
    fn key(&mut self, path: &[&str]) -> String {
        let key = path.join(".");
        if self.chance(5) {
            key + "."
        } else {
            key
        }
    }

    /// Inserts `value` at `path`, as nested objects, dotted keys or a mix.
    fn put(&mut self, map: &mut Map<String, Value>, path: &[&str], value: Value) {
        if path.len() > 1 && self.chance(40) {
            let split = 1 + self.below(path.len() - 1);
            let key = self.key(&path[..split]);
            if split == path.len() - 1 && self.chance(30) {
                // An array of objects.
                let mut inner = Map::new();
                self.put(&mut inner, &path[split..], value);
                map.insert(key, Value::Array(vec![Value::Object(Map::new()), Value::Object(inner)]));
                return;
            }
            let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                let rest: Vec<&str> = path[split..].to_vec();
                self.put(inner, &rest, value);
            }
        } else {
            let key = self.key(path);
            map.insert(key, value);
        }
    }

    fn document(&mut self) -> Value {
        let mut doc = Map::new();
        if self.chance(25) {
            return self.raw();
        }
        if !self.chance(5) {
            let category = match self.below(8) {
                0 => self.values(),
                1 => Value::String("Process".into()),
                _ => Value::from(vec!["process"]),
            };
            self.put(&mut doc, &["event", "category"], category);
        }
        if !self.chance(5) {
            let event_type = match self.below(8) {
                0 => self.values(),
                1 => Value::from(vec!["start", "process_start"]),
                _ => Value::String("start".into()),
            };
            self.put(&mut doc, &["event", "type"], event_type);
        }
        for path in [&["process", "name"][..], &["process", "parent", "name"], &["process", "command_line"]] {
            if self.chance(85) {
                let v = self.values();
                self.put(&mut doc, path, v);
            }
        }
        if self.chance(30) {
            let v = self.values();
            self.put(&mut doc, &["host", "name"], v);
        }
        Value::Object(doc)
    }

    fn raw(&mut self) -> Value {
        let sysmon = self.chance(50);
        let (channel, id) = match (sysmon, self.below(10)) {
            (_, 0) => ("Application", 1),
            (true, 1) => ("Microsoft-Windows-Sysmon/Operational", 3),
            (true, _) => ("Microsoft-Windows-Sysmon/Operational", 1),
            (false, _) => (if self.chance(50) { "security" } else { "Security" }, 4688),
        };
        let (image, parent) = if sysmon { ("Image", "ParentImage") } else { ("NewProcessName", "ParentProcessName") };
        let mut data = Map::new();
        let path = |g: &mut Gen| format!("C:\\{}\\{}", g.pick(&["Windows", "x"]), g.text());
        data.insert(image.into(), Value::String(path(self)));
        data.insert(parent.into(), Value::String(path(self)));
        data.insert("CommandLine".into(), Value::String(self.text()));
        let mut doc = Map::new();
        match self.below(4) {
            0 => {
                doc.insert("Channel".into(), channel.into());
                doc.insert("EventID".into(), id.into());
                doc.extend(data);
            }
            1 => {
                doc.insert("log_name".into(), channel.into());
                doc.insert("event_id".into(), id.into());
                doc.insert("event_data".into(), Value::Object(data));
            }
            2 => {
                let mut w = Map::new();
                w.insert("channel".into(), channel.into());
                w.insert("event_id".into(), id.into());
                w.insert("event_data".into(), Value::Object(data));
                doc.insert("winlog".into(), Value::Object(w));
            }
            _ => {
                doc.insert(
                    "Event".into(),
                    serde_json::json!({"System": {"Channel": channel, "EventID": id}, "EventData": Value::Object(data)}),
                );
            }
        }
        Value::Object(doc)
    }
}

/// JSON text for a document, escaping some characters with `\u` at random (what a producer
/// may do, and what the prefilter must see through).
fn serialize(g: &mut Gen, doc: &Value) -> String {
    let plain = serde_json::to_string(doc).unwrap();
    if !g.chance(30) {
        return plain;
    }
    // Re-escape letters inside strings as \u00XX (outside of existing escapes).
    let mut out = String::with_capacity(plain.len() * 2);
    let mut in_string = false;
    let mut escaped = false;
    for c in plain.chars() {
        if in_string && !escaped && c.is_ascii_alphabetic() && g.chance(20) {
            out.push_str(&format!("\\u{:04x}", c as u32));
            continue;
        }
        if in_string && !escaped && c == '\u{212A}' && g.chance(50) {
            out.push_str("\\u212a");
            continue;
        }
        out.push(c);
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
    }
    out
}

// ---------------------------------------------------------------- the comparison

#[test]
fn engine_agrees_with_the_oracle() {
    let cases: usize = std::env::var("DCOM_ORACLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let seed: u64 = std::env::var("DCOM_ORACLE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x005E_ED0F_DC0A);
    let mut g = Gen(seed | 1);
    let foldings = [CaseFolding::Ascii, CaseFolding::UnicodeSimple];
    let rules: Vec<Rule> = foldings.iter().map(|f| Rule::new(Options { case_folding: *f })).collect();
    let oracles: Vec<Oracle> = foldings.iter().map(|f| Oracle::new(*f)).collect();
    let mut decoder = Decoder::new();
    let mut batch = String::new();
    let mut expected_batch: [Vec<(u64, u8)>; 2] = [Vec::new(), Vec::new()];
    let mut line = 0u64;
    let mut fired = [0usize; 2];
    let mut branch_hits = [0usize; 3];
    let mut dump = std::env::var_os("DCOM_ORACLE_DUMP")
        .map(|path| std::io::BufWriter::new(std::fs::File::create(path).expect("DCOM_ORACLE_DUMP is writable")));
    for case in 0..cases {
        let doc = g.document();
        let text = serialize(&mut g, &doc);
        if let Some(out) = dump.as_mut() {
            use std::io::Write;
            writeln!(out, "{text}").expect("DCOM_ORACLE_DUMP is writable");
        }
        line += 1;
        for i in 0..2 {
            let want = oracles[i].verdict(&doc);
            let got = match decoder.decode(rules[i].paths(), text.as_bytes()) {
                Ok(d) => rules[i].evaluate(&d).branches().bits(),
                Err(e) => panic!("case {case}: the engine rejected a valid document: {e}\n{text}"),
            };
            assert_eq!(got, want, "case {case} ({:?}): engine {got} vs oracle {want}\n{text}", foldings[i]);
            if want != 0 {
                expected_batch[i].push((line, want));
                fired[i] += 1;
            }
            for (b, hits) in branch_hits.iter_mut().enumerate() {
                *hits += usize::from(want & (1 << b) != 0);
            }
        }
        batch.push_str(&text);
        batch.push('\n');
        // Every 2000 documents: the same through the scanner, with and without prefilter.
        if line == 2000 || case + 1 == cases {
            for i in 0..2 {
                for prefilter in [true, false] {
                    let options = ScanOptions {
                        prefilter,
                        threads: 1 + (case % 2),
                        chunk_bytes: 64 << 10,
                        ..ScanOptions::default()
                    };
                    let mut seen = Vec::new();
                    scan_ndjson(&rules[i], &options, batch.as_bytes(), |found| {
                        match found {
                            Found {
                                position: Position::Line { line, .. },
                                outcome: Outcome::Matched(branches),
                                ..
                            } => seen.push((line, branches.bits())),
                            other => panic!("unexpected {other:?}"),
                        }
                        ControlFlow::Continue(())
                    })
                    .unwrap();
                    assert_eq!(
                        seen, expected_batch[i],
                        "scanner ({:?}, prefilter {prefilter}) disagrees with the oracle",
                        foldings[i]
                    );
                }
                expected_batch[i].clear();
            }
            batch.clear();
            line = 0;
        }
    }
    // The generator must exercise every branch under both foldings.
    assert!(fired.iter().all(|&n| n > cases / 200), "matches per folding: {fired:?}");
    assert!(branch_hits.iter().all(|&n| n > cases / 2000), "matches per branch: {branch_hits:?}");
    eprintln!("{cases} documents, seed {seed}: engine, scanner and oracle agree; matches per folding {fired:?}, per branch {branch_hits:?}");
}
