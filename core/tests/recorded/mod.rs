//! Reading the shared recordings (`../shared/realdata`, `../shared/netdata`) in tests: the
//! folder when present, its `.ndjson` and `.evtx` files, and every record of a file as JSON
//! text with its position.

#![allow(dead_code)] // Each test binary uses a part.

use std::path::{Path, PathBuf};

/// `../shared/NAME` when it is there (with its `labels.json`).
pub fn shared(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(name);
    dir.join("labels.json").exists().then_some(dir)
}

/// The `.ndjson` and `.evtx` files under `dir`, recursively, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("ndjson" | "evtx")) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every record of a file as JSON text with its position: the 1-based NDJSON line, or the
/// EVTX record header's id (callers use the document's own `EventRecordID`).
#[cfg(feature = "evtx")]
pub fn records(path: &Path) -> Vec<(u64, String)> {
    if path.extension().is_some_and(|e| e == "evtx") {
        let mut parser = evtx::EvtxParser::from_path(path).unwrap();
        let settings = evtx::ParserSettings::new().num_threads(1).indent(false);
        parser = parser.with_configuration(settings);
        parser.records_json().filter_map(Result::ok).map(|r| (r.event_record_id, r.data)).collect()
    } else {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l.to_owned())).collect()
    }
}
