//! The match path allocates nothing: a counting global allocator watches the struct view
//! (never allocates, not even on first use) and the JSON decoder (nothing once its buffers
//! have grown) over thousands of varied events, under both case foldings.

mod counting;

use counting::{allocations_during, bytes_during};
use dcom_detect_core::view::ecs::Paths;
use std::ops::ControlFlow;

use dcom_detect_core::{
    scan_ndjson, CaseFolding, Decoder, Options, Outcome, ProcessEvent, Rule, ScanOptions, Scanner, Stats, Values,
};

/// A deterministic mix of the shapes that could tempt an allocation.
fn varied_records() -> Vec<String> {
    let parents = [
        "mmc.exe",
        "EXCEL.EXE",
        "explorer.exe",
        "outloo\u{212A}.exe",
        "vi\u{17F}io.exe",
        "svchost.exe",
        "\u{130}nstaller.exe",
    ];
    let names = [
        "cmd.exe",
        "PowerShell.exe",
        "powershell.exe",
        "notepad.exe",
        "dcomcnfg.exe",
        "DCOMCNFG.EXE",
        "c\u{17F}cript.exe",
        "😀.exe",
    ];
    let lines = [
        "cmd /c whoami",
        "powershell -ExecutionPolicy Bypass -File Invoke-DCOM.ps1",
        "svchost.exe -k DcomLaunch -p",
        "\\u0044COM -\\u0045xec",
        "C:\\\\Users\\\\x\\\\a.exe \\\"quoted\\\" \\ud83d\\ude00 \\ud800",
        "ünïcödé \u{212A}elvin ſ DCOM",
    ];
    let mut out = Vec::new();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for i in 0..3000 {
        let parent = parents[next(parents.len())];
        let name = names[next(names.len())];
        let mut line = lines[next(lines.len())].to_owned();
        if i % 10 == 0 {
            line.push_str(&" -Exec padding".repeat(500 + next(500)));
        }
        let record = match i % 6 {
            0 => format!(
                r#"{{"@timestamp":"2024-05-01T12:00:00.123Z","event":{{"category":["process"],"type":["start","process_start"]}},"process":{{"name":"{name}","parent":{{"name":"{parent}"}},"command_line":"{line}"}}}}"#
            ),
            1 => format!(
                r#"{{"event.category":"process","event.type":"start","process.name":["x","{name}"],"process.parent.name":"{parent}","process.command_line":["{line}","b -Exec"]}}"#
            ),
            2 => format!(
                r#"{{"event":{{"category":"process","type":"start"}},"process":[{{"name":"{name}"}},{{"parent":{{"name":"{parent}"}}}}],"host":{{"name":"mgmt-ws-{i}","ip":["10.0.0.1",null]}},"user.name":"adm_kwright","n":{i},"f":1.5e3}}"#
            ),
            3 => format!(
                r#"{{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","UtcTime":"2019-03-19 17:15:16.129","Hostname":"ws-1","Image":"C:\\Windows\\{name}","ParentImage":"C:\\Windows\\{parent}","CommandLine":"{line}","Message":"{}"}}"#,
                "m".repeat(next(4000))
            ),
            4 => format!(
                r##"{{"Event":{{"System":{{"Channel":"Security","EventID":{{"#attributes":{{"Qualifiers":0}},"#text":4688}}}},"EventData":{{"NewProcessName":"C:\\{name}","ParentProcessName":"C:\\{parent}","CommandLine":"{line}"}}}}}}"##
            ),
            _ => format!(
                r#"{{"winlog":{{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{{"Image":"{name}","ParentImage":"{parent}","CommandLine":"{line}"}}}},"deep":[[[[{{"a":[{{"b":null}}]}}]]]]}}"#
            ),
        };
        out.push(record);
    }
    out
}

#[test]
fn struct_view_never_allocates() {
    let exceptions: &[u8] = include_bytes!("../../examples/exceptions.json");
    for (folding, tuned) in [
        (CaseFolding::Ascii, false),
        (CaseFolding::UnicodeSimple, false),
        (CaseFolding::Ascii, true),
        (CaseFolding::UnicodeSimple, true),
    ] {
        let options = Options { case_folding: folding };
        let rule =
            if tuned { Rule::with_exceptions(options, exceptions).expect("valid file") } else { Rule::new(options) };
        let long = "x".repeat(50_000) + " DCOM -Exec";
        let parents = ["explorer.exe", "OUTLOO\u{212A}.EXE"];
        let other = [("host.name", "mgmt-ws-01"), ("user.name", "adm_jlee")];
        let events = [
            ProcessEvent { name: "cmd.exe".into(), parent_name: "mmc.exe".into(), ..ProcessEvent::start() },
            ProcessEvent { name: "dcomcnfg.exe".into(), ..ProcessEvent::start() },
            ProcessEvent { command_line: long.as_str().into(), ..ProcessEvent::start() },
            ProcessEvent {
                name: "c\u{17F}cript.exe".into(),
                parent_name: Values::Many(&parents),
                other: &other,
                ..ProcessEvent::start()
            },
            ProcessEvent { command_line: (&["a DCOM", "b -Exec"]).into(), ..ProcessEvent::start() },
            ProcessEvent {
                name: "powershell.exe".into(),
                parent_name: "mmc.exe".into(),
                other: &other,
                ..ProcessEvent::start()
            },
            ProcessEvent::default(),
        ];
        let mut matched = 0;
        // Counted from the very first evaluation: no warm-up.
        let n = allocations_during(|| {
            for _ in 0..1000 {
                for e in &events {
                    matched += usize::from(rule.matches(e));
                }
            }
        });
        assert_eq!(n, 0, "{folding:?}: {n} allocations on the struct path");
        assert!(matched >= 3000, "the events exercised matching paths ({matched})");
        let admin = events.iter().find(|e| e.name == Values::One("powershell.exe")).expect("the admin event");
        assert_eq!(rule.evaluate(admin).suppressed_by.is_some(), tuned, "an event exercises an exception");
    }
}

#[test]
fn json_decoding_allocates_nothing_in_steady_state() {
    let records = varied_records();
    let exceptions: &[u8] = include_bytes!("../../examples/exceptions.json");
    let tuned = |folding| Rule::with_exceptions(Options { case_folding: folding }, exceptions).expect("valid file");
    let rules = [
        Rule::new(Options { case_folding: CaseFolding::Ascii }),
        Rule::new(Options { case_folding: CaseFolding::UnicodeSimple }),
        tuned(CaseFolding::Ascii),
        tuned(CaseFolding::UnicodeSimple),
    ];
    for rule in &rules {
        let folding = rule.options().case_folding;
        let mut decoder = Decoder::new();
        let mut suppressed = 0usize;
        let mut run = || {
            let mut matched = 0usize;
            for r in &records {
                let doc = decoder.decode(rule.paths(), r.as_bytes()).expect("valid record");
                let verdict = rule.evaluate(&doc);
                matched += usize::from(verdict.is_match());
                suppressed += usize::from(verdict.suppressed_by.is_some());
            }
            matched
        };
        let warm = run(); // buffers grow to the largest record
        let mut again = 0;
        let n = allocations_during(|| {
            for _ in 0..3 {
                again += run();
            }
        });
        assert_eq!(
            n,
            0,
            "{folding:?} ({} exception items): {n} allocations after warm-up",
            rule.exceptions().items().len()
        );
        assert_eq!(again, 3 * warm);
        assert!(warm > 100 && warm < records.len(), "a mix of matches and misses ({warm})");
        assert_eq!(suppressed > 0, !rule.exceptions().is_empty(), "exceptions were exercised");
    }
}

/// The scan path: [`Scanner::evaluate`]'s [`Outcome`], counted in [`Stats`], allocates
/// nothing once the decoder's buffers have grown; a whole serial scan allocates its buffers,
/// not per record (eight times the records, no more allocations than the buffers' growth).
#[test]
fn outcomes_allocate_nothing_in_steady_state() {
    let records = varied_records();
    let exceptions: &[u8] = include_bytes!("../../examples/exceptions.json");
    let rule = Rule::with_exceptions(Options::default(), exceptions).expect("valid file");
    let options = ScanOptions::default();
    let mut scanner = Scanner::new(&rule, &options);
    let mut run = || {
        let mut stats = Stats::default();
        for r in &records {
            let outcome = scanner.evaluate(r.as_bytes());
            assert!(!matches!(outcome, Outcome::Rejected(_)), "valid records");
            stats.count(&outcome);
        }
        stats
    };
    let warm = run();
    let n = allocations_during(|| assert_eq!(run(), warm));
    assert_eq!(n, 0, "{n} allocations after warm-up");
    assert!(warm.matched > 100 && warm.suppressed > 0 && warm.not_matched > 0, "{warm:?}");

    let input = records.join("\n") + "\n";
    let options = ScanOptions { chunk_bytes: 64 << 10, ..ScanOptions::default() };
    let scan = |copies: usize| {
        let input = input.repeat(copies);
        let mut alerts = 0u64;
        let n = allocations_during(|| {
            let stats = scan_ndjson(&rule, &options, input.as_bytes(), |found| {
                alerts += u64::from(found.outcome.is_alert());
                ControlFlow::Continue(())
            })
            .expect("in-memory input");
            assert_eq!(stats.matched, alerts);
        });
        (n, alerts)
    };
    let (once, alerts) = scan(1);
    let (eight, eight_alerts) = scan(8);
    assert_eq!(eight_alerts, 8 * alerts);
    assert!(eight <= once + 16, "{once} allocations for one copy, {eight} for eight");
}

#[test]
fn the_event_view_reads_time_and_host_without_allocating() {
    let records = varied_records();
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let mut run = || {
        let mut seen = 0i64;
        for r in &records {
            let doc = decoder.decode(&paths, r.as_bytes()).expect("valid record");
            seen += doc.timestamp().map_or(0, |t| t.unix_millis() % 7);
            seen += doc.host_name().and_then(|h| h.as_str()).map_or(0, |h| h.len() as i64);
            seen += i64::from(rule.evaluate(&doc).is_match());
        }
        seen
    };
    let warm = run();
    assert!(warm > 3000, "times and hosts were read: {warm}");
    let n = allocations_during(|| assert_eq!(run(), warm));
    assert_eq!(n, 0, "{n} allocations after warm-up");
}

/// The counter works: it sees the allocations of this thread.
#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_during(|| drop(std::hint::black_box(vec![0u8; 64]))) > 0);
}

/// The correlation stage allocates nothing in steady state: decoding network, logon and
/// process events with the view, observing them and correlating them (hosts, buffers and
/// pending items reused), once every host has been seen.
#[test]
fn correlating_allocates_nothing_in_steady_state() {
    use dcom_detect_core::correlate::{observe, Correlator, Limits, Observation};
    use dcom_detect_core::Timestamp;

    let templates = [
        r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"HOST","UtcTime":"2020-09-17 21:46:05.560","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000400}","ProcessId":"1324","LogonId":"0x153ec2b","Image":"C:\\Program Files\\EXCEL.EXE","CommandLine":"\"C:\\Program Files\\EXCEL.EXE\" /automation -Embedding","ParentImage":"C:\\Windows\\System32\\svchost.exe"}"#,
        r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"HOST","UtcTime":"2020-09-17 21:46:12.261","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000400}","ProcessId":"1324","Image":"C:\\Program Files\\EXCEL.EXE","Initiated":"false","Protocol":"tcp","SourceIp":"172.18.39.5","SourcePort":"61545","DestinationIp":"172.18.39.6","DestinationPort":"49603"}"#,
        r#"{"Channel":"Security","EventID":4624,"Hostname":"HOST","EventTime":"2020-09-17 17:46:05","LogonType":"3","IpAddress":"172.18.39.5","TargetLogonId":"0x153ec2b"}"#,
        r#"{"Channel":"Security","EventID":4688,"Hostname":"HOST","EventTime":"2020-09-17 17:46:05","NewProcessId":"0x52c","ProcessId":"0x380","TargetLogonId":"0x153ec2b","NewProcessName":"C:\\x\\EXCEL.EXE","CommandLine":"\"C:\\x\\EXCEL.EXE\" /automation -Embedding","ParentProcessName":"C:\\Windows\\System32\\svchost.exe"}"#,
        r#"{"Channel":"Security","EventID":5156,"Hostname":"HOST","EventTime":"2020-09-17 17:46:12","ProcessId":"1324","Direction":"%%14592","SourceAddress":"172.18.39.5","SourcePort":"61545","DestAddress":"172.18.39.6","DestPort":"49603","Application":"\\device\\x\\excel.exe","Protocol":"6"}"#,
        r#"{"@timestamp":"2020-09-17T21:46:13Z","host":{"id":"HOST"},"event":{"category":["network"],"type":["start"]},"network":{"direction":"incoming","transport":"tcp"},"source":{"ip":"10.1.1.1","port":50000},"destination":{"ip":"10.1.1.2","port":49700},"process":{"entity_id":"e-1","pid":7,"name":"explorer.exe"}}"#,
    ];
    let hosts = ["ws-1", "ws-2", "dc-1"];
    let records: Vec<String> = hosts.iter().flat_map(|h| templates.iter().map(move |t| t.replace("HOST", h))).collect();
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let observations: Vec<Observation> = records
        .iter()
        .map(|r| observe(&decoder.decode(&paths, r.as_bytes()).expect("valid")).expect("an observation"))
        .collect();
    let mut correlator = Correlator::new(Limits { hosts: 8, pending: 16, ..Limits::default() });
    let mut round = 0i64;
    let mut run = |decoder: &mut Decoder, correlator: &mut Correlator<usize>| {
        let mut found = 0usize;
        // Decode and observe every record again (the parallel part of a scan) ...
        for r in &records {
            let doc = decoder.decode(&paths, r.as_bytes()).expect("valid");
            found += usize::from(observe(&doc).is_some());
        }
        // ... and feed the observations, ten minutes later each round.
        round += 1;
        for (i, o) in observations.iter().enumerate() {
            let mut o = *o;
            o.time = Timestamp::from_unix_nanos(o.time.unix_nanos() + round * 600_000_000_000);
            correlator.observe(&o, i, |_| found += 1);
        }
        found
    };
    // The first round's correlations are released by the second (the lateness): from the
    // second round on, each round finds the same number.
    run(&mut decoder, &mut correlator);
    let warm = run(&mut decoder, &mut correlator);
    assert!(warm > records.len(), "correlations were found: {warm}");
    let n = allocations_during(|| {
        for _ in 0..20 {
            assert_eq!(run(&mut decoder, &mut correlator), warm);
        }
    });
    assert_eq!(n, 0, "{n} allocations after warm-up");
}

/// A host's buffers grow on demand: at the default limits a thousand hosts that each sent
/// one inbound connection hold a few hundred bytes each, not every buffer at full size
/// (`Correlator::state_bytes`' upper bound, over 300 KB per host).
#[test]
fn quiet_hosts_cost_little() {
    use dcom_detect_core::correlate::{observe, Correlator, Limits};

    let inbound = r#"{"@timestamp":"2020-09-17T21:46:13Z","host":{"id":"HOST"},"event":{"category":["network"],"type":["start"]},"network":{"direction":"incoming","transport":"tcp"},"source":{"ip":"10.1.1.1","port":50000},"destination":{"ip":"10.1.1.2","port":49700},"process":{"entity_id":"e-1","pid":7,"name":"explorer.exe"}}"#;
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let observations: Vec<_> = (0..1000)
        .map(|h| {
            let record = inbound.replace("HOST", &format!("host-{h}"));
            observe(&decoder.decode(&paths, record.as_bytes()).expect("valid")).expect("an observation")
        })
        .collect();
    let limits = Limits::default();
    let full_host = Correlator::<usize>::state_bytes(&limits)[8].1;
    let mut correlator = Correlator::<usize>::new(limits);
    let bytes = bytes_during(|| {
        for (i, o) in observations.iter().enumerate() {
            correlator.observe(o, i, |_| {});
        }
    });
    assert_eq!(correlator.stats().observations, 1000);
    let per_host = bytes / 1000;
    assert!(per_host < 4096, "{per_host} bytes per quiet host");
    assert!(full_host > 100 * per_host as usize, "upper bound {full_host} vs {per_host}");
}

#[test]
fn sequencing_allocates_nothing_in_steady_state() {
    use dcom_detect_core::correlate::{ElasticLimits, ElasticReader, RawHost, Sequences, TimeSource};

    let templates = [
        r#"{"@timestamp":"2020-09-17T21:46:13.000Z","host":{"id":"HOST","os":{"type":"windows"}},"event":{"category":["network"],"type":["start"]},"network":{"direction":"incoming","transport":"tcp"},"source":{"ip":"10.1.1.1","port":50000},"destination":{"ip":"10.1.1.2","port":49700},"process":{"entity_id":"e-1","name":"explorer.exe"}}"#,
        r#"{"@timestamp":"2020-09-17T21:46:14.000Z","host":{"id":"HOST","os":{"type":"windows"}},"event":{"category":["process"],"type":["start"]},"process":{"entity_id":"c-1","name":"cmd.exe","parent":{"name":"explorer.exe","entity_id":"e-1"}}}"#,
        r#"{"@timestamp":"2020-09-17T21:46:15.000Z","host":{"id":"HOST","os":{"type":"windows"}},"event":{"category":["network"],"type":["start"]},"network":{"direction":"incoming","transport":"tcp"},"source":{"ip":"10.1.1.1","port":50000},"destination":{"ip":"10.1.1.2","port":49700},"process":{"entity_id":"m-1","name":"mmc.exe"}}"#,
        r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"HOST","UtcTime":"2020-09-17 21:46:16.000","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000400}","Image":"C:\\Windows\\System32\\mshta.exe","CommandLine":"mshta.exe -Embedding","ParentImage":"C:\\Windows\\System32\\svchost.exe"}"#,
        r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"HOST","UtcTime":"2020-09-17 21:46:17.000","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000400}","Image":"C:\\Windows\\System32\\mshta.exe","Initiated":"false","Protocol":"tcp","SourceIp":"172.18.39.5","SourcePort":"61545","DestinationIp":"172.18.39.6","DestinationPort":"49603"}"#,
    ];
    // More keys than the pending bound: evictions and sweeps run in every round.
    let hosts: Vec<String> = (0..40).map(|i| format!("host-{i}")).collect();
    let records: Vec<String> = hosts.iter().flat_map(|h| templates.iter().map(move |t| t.replace("HOST", h))).collect();
    let reader = ElasticReader::new(RawHost::Computer, TimeSource::View);
    let paths = Paths::new(Rule::default().fields()).with_view();
    let mut decoder = Decoder::new();
    let events: Vec<_> = records
        .iter()
        .map(|r| reader.read(&decoder.decode(&paths, r.as_bytes()).expect("valid")).expect("an event"))
        .collect();
    let mut sequences = Sequences::new(ElasticLimits { pending: 16, buffer: 64, ..ElasticLimits::default() });
    let mut round = 0i64;
    let mut run = |decoder: &mut Decoder, sequences: &mut Sequences<usize>| {
        let mut found = 0usize;
        for r in &records {
            let doc = decoder.decode(&paths, r.as_bytes()).expect("valid");
            found += usize::from(reader.read(&doc).is_some());
        }
        round += 1;
        for (i, e) in events.iter().enumerate() {
            let mut e = *e;
            e.time_ms += round * 600_000;
            sequences.push(&e, i, |_| found += 1);
        }
        found
    };
    run(&mut decoder, &mut sequences);
    let warm = run(&mut decoder, &mut sequences);
    assert!(warm > records.len(), "sequences were found: {warm}");
    let n = allocations_during(|| {
        for _ in 0..20 {
            assert_eq!(run(&mut decoder, &mut sequences), warm);
        }
    });
    assert_eq!(n, 0, "{n} allocations after warm-up");
    let stats = sequences.stats();
    assert!(stats.evicted_pending > 0 && stats.released_early > 0, "{stats:?}");
}
