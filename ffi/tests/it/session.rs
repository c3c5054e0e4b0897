//! `dcom_session_*`: the correlation fixtures (`core/tests/data/correlation`) and every
//! recording of `../shared/realdata` and `../shared/netdata` fed through the C functions give
//! the alerts core's `correlate::Session` (and the seed rule's `AlertWriter`) give for the same
//! records, byte for byte and in the same order; on the recordings, exactly the anchors their
//! `labels.json` lists. Also the queue, finish and stats behaviour through the C functions.

use std::collections::BTreeSet;
use std::path::Path;

use dcom_detect::*;
use dcom_detect_core::correlate::{Profile, Session};
use dcom_detect_core::view::ecs::ViewField;
use dcom_detect_core::{AlertOptions, AlertWriter, Decoder, Origin, Position, Rule};

// Its EVTX reader is behind a feature of core's; this file reads EVTX itself (`records`).
#[allow(unexpected_cfgs)]
#[path = "../../../core/tests/recorded/mod.rs"]
mod recorded;

use crate::common::*;

/// A session handle, destroyed on drop.
pub struct SessionHandle(pub *mut dcom_session);

impl SessionHandle {
    pub fn new(rule: &RuleHandle, profile: u32, limits: Option<&dcom_session_limits>, flags: u32) -> SessionHandle {
        let mut session = std::ptr::dangling_mut();
        let limits = limits.map_or(std::ptr::null(), |l| l as *const _);
        let code = unsafe { dcom_session_create(rule.0, profile, limits, flags, &mut session) };
        assert_eq!(code, dcom_result::DCOM_OK);
        assert!(!session.is_null());
        SessionHandle(session)
    }

    /// `(code, verdict, alerts_waiting)` of `dcom_session_feed_json`.
    pub fn feed(&self, json: &[u8], origin: Option<&dcom_origin>) -> (dcom_result, dcom_verdict, usize) {
        let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
        let mut waiting = usize::MAX;
        let code = unsafe {
            dcom_session_feed_json(
                self.0,
                json.as_ptr(),
                json.len(),
                origin.map_or(std::ptr::null(), |o| o as *const _),
                &mut verdict,
                &mut waiting,
            )
        };
        (code, verdict, waiting)
    }

    /// The next alert through a buffer that grows as `dcom_session_next_alert` asks (the
    /// documented loop); `None` when the queue is empty.
    pub fn next_alert(&self) -> Option<String> {
        let mut buffer = vec![0u8; 16];
        loop {
            let mut needed = usize::MAX;
            let code =
                unsafe { dcom_session_next_alert(self.0, buffer.as_mut_ptr().cast(), buffer.len(), &mut needed) };
            match code {
                dcom_result::DCOM_OK if needed == 0 => {
                    assert_eq!(buffer[0], 0, "no alert: the empty string");
                    return None;
                }
                dcom_result::DCOM_OK => {
                    assert_eq!(buffer[needed - 1], 0, "NUL-terminated");
                    return Some(String::from_utf8(buffer[..needed - 1].to_vec()).expect("UTF-8"));
                }
                dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL => {
                    assert!(needed > buffer.len());
                    buffer = vec![0u8; needed];
                }
                other => panic!("dcom_session_next_alert: {other:?}"),
            }
        }
    }

    pub fn drain(&self, into: &mut Vec<String>) {
        while let Some(alert) = self.next_alert() {
            into.push(alert);
        }
    }

    /// `(code, alerts_waiting)` of `dcom_session_finish`.
    pub fn finish(&self) -> (dcom_result, usize) {
        let mut waiting = usize::MAX;
        let code = unsafe { dcom_session_finish(self.0, &mut waiting) };
        (code, waiting)
    }

    pub fn stats(&self) -> dcom_session_stats {
        let mut stats =
            dcom_session_stats { struct_size: std::mem::size_of::<dcom_session_stats>() as u32, ..zeroed() };
        assert_eq!(unsafe { dcom_session_get_stats(self.0, &mut stats) }, dcom_result::DCOM_OK);
        stats
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        unsafe { dcom_session_destroy(self.0) }
    }
}

fn zeroed() -> dcom_session_stats {
    // SAFETY: a struct of integers.
    unsafe { std::mem::zeroed() }
}

/// The C origin of a core position in `file`.
fn origin_of(file: &str, position: Position) -> dcom_origin {
    let mut origin = line_origin(file, 0, 0);
    match position {
        Position::Line { line, offset } => {
            origin.line = line;
            origin.offset = offset;
        }
        Position::Evtx { ordinal, record_id } => {
            origin.position = DCOM_POSITION_EVTX;
            origin.line = 0;
            origin.record = ordinal;
            origin.has_event_record_id = u32::from(record_id.is_some());
            origin.event_record_id = record_id.unwrap_or(0);
        }
        Position::Row { .. } => unreachable!("no table input here"),
    }
    origin
}

/// Every record of a recording with its position: NDJSON lines (1-based, with the offset of
/// the line start), or EVTX records as the scan numbers them (ordinal, the event's own
/// `EventRecordID`).
fn records(path: &Path) -> Vec<(Position, Vec<u8>)> {
    if path.extension().is_some_and(|e| e == "evtx") {
        let rule = Rule::default();
        let mut decoder = Decoder::new();
        let mut parser = evtx::EvtxParser::from_path(path).unwrap();
        parser = parser.with_configuration(evtx::ParserSettings::new().num_threads(1).indent(false));
        let mut out = Vec::new();
        for (i, record) in parser.records_json().enumerate() {
            let Ok(record) = record else { continue };
            let id = decoder
                .decode(rule.view_paths(), record.data.as_bytes())
                .ok()
                .and_then(|d| d.record_id())
                .unwrap_or(record.event_record_id);
            out.push((Position::Evtx { ordinal: i as u64 + 1, record_id: Some(id) }, record.data.into_bytes()));
        }
        out
    } else {
        let data = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let mut offset = 0u64;
        for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
            let record = line.strip_suffix(b"\n").unwrap_or(line);
            out.push((Position::Line { line: i as u64 + 1, offset }, record.to_vec()));
            offset += line.len() as u64;
        }
        out
    }
}

/// What core gives for the records in input order, as the command line and Python write it:
/// each record's completed correlations, then its own seed-rule alert; the rest at the end.
fn core_alerts(
    rule: &Rule,
    profile: Profile,
    records: &[(Position, Vec<u8>)],
    file: &str,
    options: AlertOptions,
) -> Vec<String> {
    let mut session = Session::new(rule, profile, options);
    let mut writer = AlertWriter::new(rule, options);
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for (position, record) in records {
        let matched = rule.evaluate_json_with(rule.view_paths(), &mut decoder, record, |doc, verdict| {
            session.feed(doc, record, Some(file), *position, |alert, _, _| out.push(alert.into_json()));
            verdict.is_match()
        });
        if matched == Ok(true) {
            let origin = Origin { file: Some(file), position: Some(*position) };
            out.push(writer.document(record, &origin).unwrap().unwrap().into_json());
        }
    }
    session.finish(|alert, _, _| out.push(alert.into_json()));
    assert_eq!(session.stats().unwritten, 0, "core wrote every alert");
    out
}

/// The same records through the C functions: every alert, in queue order, and the stats.
fn c_alerts(
    rule: &RuleHandle,
    profile: u32,
    records: &[(Position, Vec<u8>)],
    file: &str,
    flags: u32,
) -> (Vec<String>, dcom_session_stats) {
    let session = SessionHandle::new(rule, profile, None, flags);
    let mut out = Vec::new();
    for (position, record) in records {
        let origin = origin_of(file, *position);
        let (code, verdict, waiting) = session.feed(record, Some(&origin));
        match code {
            dcom_result::DCOM_OK => {
                let before = out.len();
                session.drain(&mut out);
                assert_eq!(out.len() - before, waiting, "alerts_waiting counts the queue");
            }
            dcom_result::DCOM_ERROR_BAD_JSON | dcom_result::DCOM_ERROR_INVALID_UTF8 => {
                assert_eq!((verdict, waiting), (NO_VERDICT, 0), "neutral out-parameters");
            }
            other => panic!("{file} {position}: {other:?}"),
        }
    }
    let (code, waiting) = session.finish();
    assert_eq!(code, dcom_result::DCOM_OK);
    let before = out.len();
    session.drain(&mut out);
    assert_eq!(out.len() - before, waiting);
    (out, session.stats())
}

fn fixture(name: &str) -> Vec<(Position, Vec<u8>)> {
    records(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/correlation").join(name))
}

/// (rule, anchor) of each correlation alert: the anchor's line, or its EVTX EventRecordID.
fn anchors(alerts: &[String]) -> BTreeSet<(String, u64)> {
    alerts
        .iter()
        .filter_map(|a| {
            let v: serde_json::Value = serde_json::from_str(a).unwrap();
            let rule = v["dcom_detect"]["correlation"]["rule"].as_str()?.to_owned();
            let source = &v["dcom_detect"]["source"];
            Some((rule, source["line"].as_u64().or(source["event_record_id"].as_u64()).unwrap()))
        })
        .collect()
}

#[test]
fn the_fixtures_through_c_are_byte_identical_to_core() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let core = Rule::default();
    for (name, expected) in [
        ("otrf_excel4macro.ndjson", &[("D2", 2), ("D2", 3), ("D2L", 2), ("D2L", 3)][..]),
        ("otrf_shellwindows.ndjson", &[("D3", 3), ("D3", 4)][..]),
    ] {
        let records = fixture(name);
        for (flags, include_original) in [(0, false), (DCOM_ALERT_INCLUDE_ORIGINAL, true)] {
            let want = core_alerts(&core, Profile::Extended, &records, name, AlertOptions { include_original });
            let (got, stats) = c_alerts(&rule, DCOM_PROFILE_EXTENDED, &records, name, flags);
            assert_eq!(got, want, "{name}");
            let expected: BTreeSet<_> = expected.iter().map(|&(r, a)| (r.to_owned(), a)).collect();
            assert_eq!(anchors(&got), expected, "{name}");
            assert_eq!(stats.correlation_alerts, expected.len() as u64);
            assert_eq!(stats.correlations, expected.len() as u64);
            assert_eq!(stats.records, records.len() as u64);
            assert_eq!((stats.waiting, stats.unwritten, stats.profile), (0, 0, DCOM_PROFILE_EXTENDED));
            assert!(stats.observations >= 5, "{stats:?}");
        }
        // The seed profile: no correlation, and the seed rule's alerts only.
        let (seed, stats) = c_alerts(&rule, DCOM_PROFILE_SEED, &records, name, 0);
        assert!(anchors(&seed).is_empty());
        assert_eq!((stats.correlation_alerts, stats.observations, stats.alerts), (0, 0, seed.len() as u64));
    }
}

/// Every recording of a shared folder through a fresh C session per file, with the
/// `extended` and the `elastic` profile: core's alerts byte for byte, and the correlation
/// anchors `labels.json` lists (`D2`, `D2L`, `D3`; `elastic_shellwindows`). Returns how many
/// anchors each profile raised.
fn recordings_match_core_and_labels(dir: &Path) -> (usize, usize) {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let core = Rule::default();
    let labels: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("labels.json")).unwrap()).unwrap();
    let mut expected = BTreeSet::new();
    for (file, entry) in labels["files"].as_object().unwrap() {
        let Some(anchors) = entry.get("correlation_anchors").and_then(|a| a.as_object()) else { continue };
        for (rule, positions) in anchors {
            let rule = match rule.as_str() {
                "D2" | "D2L" | "D3" => rule.as_str(),
                "elastic_shellwindows" => "shellwindows",
                _ => continue,
            };
            for p in positions.as_array().unwrap() {
                expected.insert((file.clone(), rule.to_owned(), p.as_u64().unwrap()));
            }
        }
    }
    let mut found = BTreeSet::new();
    let (mut extended, mut elastic) = (0, 0);
    for path in recorded::files(dir) {
        let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let records = records(&path);
        for (profile, c_profile, count) in [
            (Profile::Extended, DCOM_PROFILE_EXTENDED, &mut extended),
            (Profile::Elastic, DCOM_PROFILE_ELASTIC, &mut elastic),
        ] {
            let want = core_alerts(&core, profile, &records, &name, AlertOptions::default());
            let (got, stats) = c_alerts(&rule, c_profile, &records, &name, 0);
            assert_eq!(got.len(), want.len(), "{name} {profile:?}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w, "{name} {profile:?}");
            }
            assert_eq!(stats.unwritten, 0, "{name}");
            let raised = anchors(&got);
            *count += raised.len();
            found.extend(raised.into_iter().map(|(r, a)| (name.clone(), r, a)));
        }
    }
    let missed: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    if dir.ends_with("realdata") {
        // labels.json lists the extended profile's anchors; Elastic's rules as written raise
        // ShellWindows on line 2434 only (docs/semantics.md).
        let shellwindows =
            ("otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson".to_owned(), "shellwindows".to_owned(), 2434);
        assert_eq!(extra, [&shellwindows], "missed {missed:#?}");
        assert!(missed.is_empty(), "missed {missed:#?}");
    } else {
        assert!(missed.is_empty() && extra.is_empty(), "missed {missed:#?}\nextra {extra:#?}");
    }
    (extended, elastic)
}

#[test]
fn realdata_through_c_is_core_and_raises_exactly_the_labelled_anchors() {
    let Some(dir) = recorded::shared("realdata") else {
        eprintln!("skipped: ../shared/realdata is absent");
        return;
    };
    assert_eq!(recordings_match_core_and_labels(&dir), (19, 1), "8 D2, 9 D2L and 2 D3 anchors; ShellWindows");
}

#[test]
fn netdata_through_c_is_core_and_raises_exactly_the_labelled_anchors() {
    let Some(dir) = recorded::shared("netdata") else {
        eprintln!("skipped: ../shared/netdata is absent");
        return;
    };
    assert_eq!(recordings_match_core_and_labels(&dir), (2, 1), "the two D3 anchors of dcom/, and ShellWindows");
}

/// The queue: alerts wait until taken, a full queue refuses the next record without feeding
/// it, a too-small buffer leaves the alert queued, and finish ends the input.
#[test]
fn the_queue_is_bounded_and_finish_ends_the_input() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let records = fixture("otrf_excel4macro.ndjson");
    let mut limits = unsafe {
        let mut l = std::mem::zeroed();
        assert_eq!(dcom_session_limits_default(&mut l), dcom_result::DCOM_OK);
        l
    };
    assert_eq!(limits.struct_size as usize, std::mem::size_of::<dcom_session_limits>());
    assert_eq!((limits.hosts, limits.pending, limits.lateness_ms, limits.alert_queue), (4096, 256, 60_000, 1024));
    // No lateness: each correlation comes out as soon as its partner is seen.
    limits.lateness_ms = 0;
    limits.alert_queue = 1;
    let session = SessionHandle::new(&rule, DCOM_PROFILE_EXTENDED, Some(&limits), 0);
    let mut alerts = Vec::new();
    let mut refused = 0;
    for (position, record) in &records {
        let origin = origin_of("excel.ndjson", *position);
        loop {
            let (code, _, waiting) = session.feed(record, Some(&origin));
            if code == dcom_result::DCOM_ERROR_QUEUE_FULL {
                assert_eq!(waiting, 0, "neutral on failure");
                refused += 1;
                // Too small a buffer: the alert stays at the front.
                let mut small = [0xAAu8; 8];
                let mut needed = 0;
                let code = unsafe { dcom_session_next_alert(session.0, small.as_mut_ptr().cast(), 8, &mut needed) };
                assert_eq!(code, dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL);
                assert!(needed > 8 && small[7] == 0);
                // The size alone, without taking it.
                let mut again = 0;
                let code = unsafe { dcom_session_next_alert(session.0, std::ptr::null_mut(), 0, &mut again) };
                assert_eq!((code, again), (dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL, needed));
                alerts.push(session.next_alert().expect("still queued"));
                continue;
            }
            assert_eq!(code, dcom_result::DCOM_OK);
            assert!(waiting <= 2, "one record completes at most two here: {waiting}");
            break;
        }
    }
    assert!(refused > 0, "the queue of one filled up");
    let (code, _) = session.finish();
    assert_eq!(code, dcom_result::DCOM_OK);
    session.drain(&mut alerts);
    assert_eq!(anchors(&alerts).len(), 4);
    // After finish: no more records, no second finish; alerts and stats still readable.
    let (code, verdict, waiting) = session.feed(&records[0].1, None);
    assert_eq!((code, verdict, waiting), (dcom_result::DCOM_ERROR_FINISHED, NO_VERDICT, 0));
    assert_eq!(session.finish(), (dcom_result::DCOM_ERROR_FINISHED, 0));
    assert_eq!(session.next_alert(), None);
    let stats = session.stats();
    assert_eq!((stats.records, stats.correlation_alerts, stats.correlations, stats.waiting), (5, 4, 4, 0));
}

/// A record without an origin is numbered (row n); a bad record is rejected, explained and
/// counted; the rule handle may go before the session.
#[test]
fn rows_rejections_and_a_rule_destroyed_first() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let session = SessionHandle::new(&rule, DCOM_PROFILE_EXTENDED, None, 0);
    drop(rule);
    let (code, verdict, _) = session.feed(br#"{"a":1,"a":2}"#, None);
    assert_eq!((code, verdict), (dcom_result::DCOM_ERROR_BAD_JSON, NO_VERDICT));
    let mut offset = 99;
    let mut message = [0u8; 64];
    let mut needed = 0;
    unsafe {
        assert_eq!(dcom_session_error_offset(session.0, &mut offset), dcom_result::DCOM_OK);
        let code = dcom_session_error_message(session.0, message.as_mut_ptr().cast(), 64, &mut needed);
        assert_eq!(code, dcom_result::DCOM_OK);
    }
    assert_eq!((offset, &message[..needed - 1]), (7, &br#"duplicate key "a" in one object"#[..]));
    let office = br#"{"event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"WINWORD.EXE"}}}"#;
    let (code, verdict, waiting) = session.feed(office, None);
    assert_eq!((code, verdict.branches, verdict.suppressed_by, waiting), (dcom_result::DCOM_OK, 1, -1, 1));
    let alert: serde_json::Value = serde_json::from_str(&session.next_alert().unwrap()).unwrap();
    assert_eq!(alert["dcom_detect"]["source"], serde_json::json!({"row": 2}), "the second record fed");
    unsafe {
        assert_eq!(dcom_session_error_offset(session.0, &mut offset), dcom_result::DCOM_OK);
    }
    assert_eq!(offset, 0, "the last record was accepted");
    let stats = session.stats();
    assert_eq!((stats.records, stats.rejected, stats.alerts, stats.waiting), (2, 1, 1, 0));
}

/// A record's view as a sensor that maps its events to ECS hands it over: `(path, value)`
/// pairs of every view field (the event time as `@timestamp`), or `None` when the record
/// does not decode.
pub fn view_pairs(rule: &Rule, decoder: &mut Decoder, record: &[u8]) -> Option<Vec<(&'static str, String)>> {
    let doc = decoder.decode(rule.view_paths(), record).ok()?;
    let mut pairs: Vec<_> = doc.timestamp().map(|t| ("@timestamp", t.to_string())).into_iter().collect();
    for field in ViewField::ALL.into_iter().filter(|&f| f != ViewField::Timestamp) {
        pairs.extend(doc.view(field).map(|v| (field.path(), v.to_string())));
    }
    Some(pairs)
}

/// The struct event of `pairs`, in UTF-8 or UTF-16 (the values; paths are UTF-8 in both):
/// `event.category` and `event.type` in their arrays, the first `process.name`,
/// `process.parent.name` and `process.command_line` in their fields and any further ones in
/// `other` (where they add values), everything else in `other`. Owns what the C struct points
/// into (heap buffers, which stay put when this moves).
pub struct CEvent {
    event: Result<dcom_event, dcom_event16>,
    _pairs: Vec<(&'static str, String)>,
    _units: Vec<Vec<u16>>,
    _arrays: (Vec<dcom_str>, Vec<dcom_str>, Vec<dcom_field>),
    _arrays16: (Vec<dcom_str16>, Vec<dcom_str16>, Vec<dcom_field16>),
}

impl CEvent {
    pub fn new(pairs: Vec<(&'static str, String)>, utf16: bool) -> CEvent {
        let units: Vec<Vec<u16>> = pairs.iter().map(|(_, v)| v.encode_utf16().collect()).collect();
        let of = |path: &'static str| pairs.iter().enumerate().filter(move |(_, (p, _))| *p == path).map(|(i, _)| i);
        let named = ["process.name", "process.parent.name", "process.command_line"].map(|p| of(p).next());
        let in_other: Vec<usize> = (0..pairs.len())
            .filter(|&i| !matches!(pairs[i].0, "event.category" | "event.type") && !named.contains(&Some(i)))
            .collect();
        let v8 = |i: usize| s(&pairs[i].1);
        let v16 = |i: usize| s16(&units[i]);
        let arrays = (
            of("event.category").map(v8).collect::<Vec<_>>(),
            of("event.type").map(v8).collect::<Vec<_>>(),
            in_other.iter().map(|&i| dcom_field { path: s(pairs[i].0), value: v8(i) }).collect::<Vec<_>>(),
        );
        let arrays16 = (
            of("event.category").map(v16).collect::<Vec<_>>(),
            of("event.type").map(v16).collect::<Vec<_>>(),
            in_other.iter().map(|&i| dcom_field16 { path: s(pairs[i].0), value: v16(i) }).collect::<Vec<_>>(),
        );
        let event = if utf16 {
            let [name, parent, command_line] = named.map(|i| i.map_or(ABSENT16, v16));
            Err(dcom_event16 {
                event_category: arrays16.0.as_ptr(),
                event_category_count: arrays16.0.len(),
                event_type: arrays16.1.as_ptr(),
                event_type_count: arrays16.1.len(),
                process_name: name,
                process_parent_name: parent,
                process_command_line: command_line,
                other: arrays16.2.as_ptr(),
                other_count: arrays16.2.len(),
            })
        } else {
            let [name, parent, command_line] = named.map(|i| i.map_or(ABSENT, v8));
            Ok(dcom_event {
                event_category: arrays.0.as_ptr(),
                event_category_count: arrays.0.len(),
                event_type: arrays.1.as_ptr(),
                event_type_count: arrays.1.len(),
                process_name: name,
                process_parent_name: parent,
                process_command_line: command_line,
                other: arrays.2.as_ptr(),
                other_count: arrays.2.len(),
            })
        };
        CEvent { event, _pairs: pairs, _units: units, _arrays: arrays, _arrays16: arrays16 }
    }

    pub fn get(&self) -> Result<&dcom_event, &dcom_event16> {
        self.event.as_ref()
    }
}

/// `(code, verdict, alerts_waiting)` of `dcom_session_feed_event` / `_event16`.
pub fn feed_struct(
    session: &SessionHandle,
    event: Result<&dcom_event, &dcom_event16>,
    origin: &dcom_origin,
) -> (dcom_result, dcom_verdict, usize) {
    let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
    let mut waiting = usize::MAX;
    let code = unsafe {
        match event {
            Ok(e) => dcom_session_feed_event(session.0, e, origin, &mut verdict, &mut waiting),
            Err(e) => dcom_session_feed_event16(session.0, e, origin, &mut verdict, &mut waiting),
        }
    };
    (code, verdict, waiting)
}

/// `dcom_event_json` / `dcom_event16_json`, asking for the size first.
fn event_json(event: Result<&dcom_event, &dcom_event16>) -> String {
    let call = |buffer: *mut std::ffi::c_char, size: usize, needed: &mut usize| unsafe {
        match event {
            Ok(e) => dcom_event_json(e, buffer, size, needed),
            Err(e) => dcom_event16_json(e, buffer, size, needed),
        }
    };
    let mut needed = usize::MAX;
    assert_eq!(call(std::ptr::null_mut(), 0, &mut needed), dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL);
    let mut buffer = vec![0xffu8; needed];
    let mut again = usize::MAX;
    assert_eq!(call(buffer.as_mut_ptr().cast(), needed, &mut again), dcom_result::DCOM_OK);
    assert_eq!((again, buffer[needed - 1]), (needed, 0));
    String::from_utf8(buffer[..needed - 1].to_vec()).unwrap()
}

/// (rule, anchor line, the partner's kind, remote end and logon id) of each correlation
/// alert: what was joined, whichever record of it (Sysmon 3 or Security 5156) was the partner.
fn joins(alerts: &[String]) -> BTreeSet<(String, u64, String)> {
    alerts
        .iter()
        .filter_map(|a| {
            let v: serde_json::Value = serde_json::from_str(a).unwrap();
            let correlation = &v["dcom_detect"]["correlation"];
            let partner = &correlation["partner"];
            let joined = format!("{} {} {}", partner["kind"], partner["remote"], partner["logon_id"]);
            Some((correlation["rule"].as_str()?.to_owned(), v["dcom_detect"]["source"]["line"].as_u64()?, joined))
        })
        .collect()
}

/// A sensor that hands its events over as structs (UTF-8 and UTF-16, alternately) gets the
/// correlations of the same events as JSON records: the correlation fixtures' raw Sysmon and
/// Security records, each given as a struct of its view, raise the same rules on the same
/// anchors joined to the same connection or logon, and every struct gets the seed verdict of
/// its record. (Which record of a connection recorded twice is the partner may differ: a
/// struct's `@timestamp` is UTC, where the raw Security records' NXLog `EventTime` is local
/// time that the correlator aligns.) The struct feed is exactly the feed of
/// `dcom_event_json`'s record: byte-identical alerts.
#[test]
fn struct_events_correlate_as_their_records() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let core = Rule::default();
    let mut decoder = Decoder::new();
    let scratch = ScratchHandle::new();
    for name in ["otrf_excel4macro.ndjson", "otrf_shellwindows.ndjson"] {
        let records = fixture(name);
        let (from_json, _) = c_alerts(&rule, DCOM_PROFILE_EXTENDED, &records, name, 0);
        let structs = SessionHandle::new(&rule, DCOM_PROFILE_EXTENDED, None, 0);
        let rendered = SessionHandle::new(&rule, DCOM_PROFILE_EXTENDED, None, 0);
        let (mut from_structs, mut from_rendered) = (Vec::new(), Vec::new());
        for (i, (position, record)) in records.iter().enumerate() {
            let origin = origin_of(name, *position);
            let pairs = view_pairs(&core, &mut decoder, record).expect("the fixtures decode");
            let verdict_of_record = rule_verdict(&rule, &scratch, record);
            let event = CEvent::new(pairs, i % 2 == 1);
            {
                let event = event.get();
                let (code, verdict, waiting) = feed_struct(&structs, event, &origin);
                assert_eq!(code, dcom_result::DCOM_OK, "{name} {position}");
                assert_eq!(verdict, verdict_of_record, "{name} {position}");
                let before = from_structs.len();
                structs.drain(&mut from_structs);
                assert_eq!(from_structs.len() - before, waiting);
                let json = event_json(event);
                assert_eq!(rendered.feed(json.as_bytes(), Some(&origin)).0, dcom_result::DCOM_OK, "{json}");
                rendered.drain(&mut from_rendered);
            }
        }
        for session in [&structs, &rendered] {
            assert_eq!(session.finish().0, dcom_result::DCOM_OK);
        }
        structs.drain(&mut from_structs);
        rendered.drain(&mut from_rendered);
        assert_eq!(from_structs, from_rendered, "{name}: the struct feed is its record's feed");
        let want = joins(&from_json);
        assert!(want.len() >= 2, "{name}: {want:?}");
        assert_eq!(joins(&from_structs), want, "{name}");
        let stats = structs.stats();
        assert_eq!(
            (stats.records, stats.rejected, stats.correlation_alerts),
            (records.len() as u64, 0, want.len() as u64)
        );
    }
}

/// `dcom_rule_evaluate_json`'s verdict on a record.
fn rule_verdict(rule: &RuleHandle, scratch: &ScratchHandle, record: &[u8]) -> dcom_verdict {
    let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
    let code = unsafe { dcom_rule_evaluate_json(rule.0, scratch.0, record.as_ptr(), record.len(), &mut verdict) };
    assert_eq!(code, dcom_result::DCOM_OK);
    verdict
}
