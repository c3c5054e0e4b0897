//! ECS alerts: one JSON document per matching event (`docs/semantics.md` §9, Alerts).
//!
//! Every front end (Rust, Python, C, the command line) writes alerts through
//! [`AlertWriter`], so the same record gives byte-identical alert JSON everywhere. An alert
//! carries:
//! - `@timestamp`: the event's (for raw Sysmon, its `UtcTime`; for EVTX, `TimeCreated`);
//! - `event.kind: "alert"`, `event.category`, `event.type`, `event.severity` (the risk score,
//!   a number as ECS wants) and `event.risk_score`; optionally `event.original`;
//! - `rule.*` and `threat.*` (MITRE ATT&CK tactic, technique and sub-technique with ids,
//!   names and references);
//! - the ECS `host`, `user` and `process` of the event: copied from an ECS document (dotted
//!   keys expanded), or mapped from a raw Sysmon 1 / Security 4688 event as Winlogbeat would;
//! - where the event came from: `log.file.path`, `log.offset`, and `dcom_detect.source`
//!   (file, line or EVTX record, or table row);
//! - `dcom_detect.branches`, `dcom_detect.evidence` (the values that fired each branch),
//!   `dcom_detect.severity` and `dcom_detect.schema`.
//!
//! Keys appear in a fixed order (the order written here, then the event's own order for
//! copied objects). Writing an alert allocates (it builds a `serde_json::Value`); it runs
//! only for matches.

use serde_json::{json, Map, Value};

use crate::error::DecodeError;
use crate::rule::{BranchSet, Rule, Verdict};
use crate::scan::Position;
use crate::view::ecs::{windows_basename, Decoder, RawKind, Schema, Wrapper};
use crate::view::text::Text;

/// Where a record came from, as alerts report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The file (or `-` for standard input); None when the event did not come from a file.
    pub file: Option<&'a str>,
    /// The record's position, when known.
    pub position: Option<Position>,
}

/// Alert options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertOptions {
    /// Embed the record as `event.original`.
    pub include_original: bool,
}

/// Writes alerts for matching records. Holds a reusable decoder; one per thread.
#[derive(Debug)]
pub struct AlertWriter<'r> {
    rule: &'r Rule,
    decoder: Decoder,
    options: AlertOptions,
}

impl<'r> AlertWriter<'r> {
    /// An alert writer for `rule`.
    pub fn new(rule: &'r Rule, options: AlertOptions) -> AlertWriter<'r> {
        AlertWriter { rule, decoder: Decoder::new(), options }
    }

    /// The alert for `record`, or None when the rule does not fire on it.
    pub fn alert(&mut self, record: &[u8], origin: &Origin<'_>) -> Result<Option<Value>, DecodeError> {
        Ok(self.built(record, origin)?.map(|(value, _)| value))
    }

    /// The alert for `record` as an [`Alert`] (its JSON text and typed accessors), or None
    /// when the rule does not fire on it.
    pub fn document(&mut self, record: &[u8], origin: &Origin<'_>) -> Result<Option<Alert>, DecodeError> {
        Ok(self.built(record, origin)?.map(|(value, branches)| Alert::new(&value, branches)))
    }

    fn built(&mut self, record: &[u8], origin: &Origin<'_>) -> Result<Option<(Value, BranchSet)>, DecodeError> {
        let (rule, options) = (self.rule, self.options);
        rule.evaluate_json(&mut self.decoder, record, |doc, verdict| {
            if !verdict.is_match() {
                return None;
            }
            // The record decoded, so it is valid JSON; serde_json may still refuse what
            // Elasticsearch accepts (an unpaired surrogate escape), in which case the copied
            // ECS objects are left out rather than the alert.
            let event: Value = serde_json::from_slice(record).unwrap_or(Value::Null);
            Some((build(rule, verdict, doc.schema(), &event, record, origin, options), verdict.branches()))
        })
    }

    /// Appends the alert for `record` as one line of JSON (without a newline) to `out`;
    /// returns whether the rule fired (nothing is written when it did not).
    pub fn write(&mut self, record: &[u8], origin: &Origin<'_>, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        match self.alert(record, origin)? {
            Some(alert) => {
                serde_json::to_writer(&mut *out, &alert).expect("writing JSON to a Vec cannot fail");
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// One alert: its JSON document (one line, as [`AlertWriter::write`] writes it) and the fields
/// a front end shows, taken from the values the document was built from (never parsed back
/// from its text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    json: String,
    timestamp: Option<String>,
    host: Option<String>,
    user: Option<String>,
    branches: BranchSet,
}

impl Alert {
    fn new(value: &Value, branches: BranchSet) -> Alert {
        let string = |v: &Value| v.as_str().map(str::to_owned);
        let user = match (string(&value["user"]["domain"]), string(&value["user"]["name"])) {
            (Some(domain), Some(name)) => Some(format!("{domain}\\{name}")),
            (_, name) => name,
        };
        Alert {
            json: serde_json::to_string(value).expect("an alert is valid JSON"),
            timestamp: string(&value["@timestamp"]),
            host: string(&value["host"]["name"]).or_else(|| string(&value["host"]["hostname"])),
            user,
            branches,
        }
    }

    /// The alert document as one line of JSON.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The document, owned.
    pub fn into_json(self) -> String {
        self.json
    }

    /// The event's time as the alert's `@timestamp` gives it, when it is a string.
    pub fn timestamp(&self) -> Option<&str> {
        self.timestamp.as_deref()
    }

    /// `host.name` (or `host.hostname`).
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The user as `DOMAIN\name` (or `name` without a domain).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The branches that fired.
    pub fn branches(&self) -> BranchSet {
        self.branches
    }
}

fn build(
    rule: &Rule,
    verdict: &Verdict<'_>,
    schema: Schema,
    event: &Value,
    record: &[u8],
    origin: &Origin<'_>,
    options: AlertOptions,
) -> Value {
    let meta = rule.metadata();
    let threat = &meta.threat;
    let mut alert = Map::new();
    alert.insert("@timestamp".into(), timestamp(schema, event).unwrap_or(Value::Null));
    let mut ev = Map::new();
    ev.insert("kind".into(), json!("alert"));
    ev.insert("category".into(), json!(["process"]));
    ev.insert("type".into(), json!(["start"]));
    ev.insert("severity".into(), json!(meta.risk_score));
    ev.insert("risk_score".into(), json!(f64::from(meta.risk_score)));
    if options.include_original {
        ev.insert("original".into(), json!(String::from_utf8_lossy(record)));
    }
    alert.insert("event".into(), Value::Object(ev));
    alert.insert(
        "rule".into(),
        json!({
            "id": meta.id,
            "uuid": meta.id,
            "name": meta.name,
            "description": meta.description,
            "reference": meta.references.join(" "),
            "version": meta.version.to_string(),
            "ruleset": meta.ruleset,
            "category": threat.tactic.name,
        }),
    );
    alert.insert(
        "threat".into(),
        json!({
            "framework": threat.framework,
            "tactic": { "id": threat.tactic.id, "name": threat.tactic.name, "reference": threat.tactic.reference },
            "technique": {
                "id": threat.technique.id,
                "name": threat.technique.name,
                "reference": threat.technique.reference,
                "subtechnique": {
                    "id": threat.subtechnique.id,
                    "name": threat.subtechnique.name,
                    "reference": threat.subtechnique.reference,
                },
            },
        }),
    );
    let (host, user, process) = match schema {
        Schema::Ecs => {
            let expanded = expand_dotted(event);
            let take = |k: &str| expanded.get(k).cloned();
            (take("host"), take("user"), take("process"))
        }
        Schema::Raw(wrapper, kind) => raw_ecs(wrapper, kind, event),
    };
    for (key, value) in [("host", host), ("user", user), ("process", process)] {
        if let Some(v) = value {
            alert.insert(key.into(), v);
        }
    }
    let mut log = Map::new();
    if let Some(file) = origin.file {
        log.insert("file".into(), json!({ "path": file }));
    }
    if let Some(Position::Line { offset, .. }) = origin.position {
        log.insert("offset".into(), json!(offset));
    }
    if !log.is_empty() {
        alert.insert("log".into(), Value::Object(log));
    }
    let mut source = Map::new();
    if let Some(file) = origin.file {
        source.insert("file".into(), json!(file));
    }
    match origin.position {
        Some(Position::Line { line, offset }) => {
            source.insert("line".into(), json!(line));
            source.insert("offset".into(), json!(offset));
        }
        Some(Position::Evtx { ordinal, record_id }) => {
            source.insert("record".into(), json!(ordinal));
            if let Some(id) = record_id {
                source.insert("event_record_id".into(), json!(id));
            }
        }
        Some(Position::Row { row }) => {
            source.insert("row".into(), json!(row));
        }
        None => {}
    }
    let branches: Vec<&str> = verdict.branches().iter().map(|b| b.name()).collect();
    let mut dcom = Map::new();
    dcom.insert("branches".into(), json!(branches));
    dcom.insert("evidence".into(), evidence(verdict));
    dcom.insert("severity".into(), json!(meta.severity));
    dcom.insert("schema".into(), json!(schema_name(schema)));
    if !source.is_empty() {
        dcom.insert("source".into(), Value::Object(source));
    }
    alert.insert("dcom_detect".into(), Value::Object(dcom));
    Value::Object(alert)
}

fn text(t: Text<'_>) -> Value {
    Value::String(t.to_string())
}

/// The values that fired each branch, by ECS field.
fn evidence(verdict: &Verdict<'_>) -> Value {
    let mut out = Map::new();
    if let Some(o) = verdict.office_child {
        out.insert(
            "office_child".into(),
            json!({ "process.parent.name": text(o.parent_name), "process.name": text(o.name) }),
        );
    }
    if let Some(name) = verdict.dcomcnfg {
        out.insert("dcomcnfg".into(), json!({ "process.name": text(name) }));
    }
    if let Some(c) = verdict.dcom_command_line {
        let values = if c.dcom == c.exec { vec![text(c.dcom)] } else { vec![text(c.dcom), text(c.exec)] };
        out.insert("dcom_command_line".into(), json!({ "process.command_line": values }));
    }
    Value::Object(out)
}

/// A stable name for how the event was read: `ecs`, or `<event>/<wrapper>`.
pub fn schema_name(schema: Schema) -> &'static str {
    match schema {
        Schema::Ecs => "ecs",
        Schema::Raw(w, k) => match (k, w) {
            (RawKind::Sysmon1, Wrapper::EvtxDump) => "sysmon_1/evtx",
            (RawKind::Sysmon1, Wrapper::Winlogbeat) => "sysmon_1/winlogbeat",
            (RawKind::Sysmon1, Wrapper::Winlogbeat6) => "sysmon_1/winlogbeat6",
            (RawKind::Sysmon1, Wrapper::Flat) => "sysmon_1/flat",
            (RawKind::Security4688, Wrapper::EvtxDump) => "security_4688/evtx",
            (RawKind::Security4688, Wrapper::Winlogbeat) => "security_4688/winlogbeat",
            (RawKind::Security4688, Wrapper::Winlogbeat6) => "security_4688/winlogbeat6",
            (RawKind::Security4688, Wrapper::Flat) => "security_4688/flat",
        },
    }
}

/// Merges dotted keys into nested objects, recursively (`{"a.b": 1}` → `{"a": {"b": 1}}`).
/// A field given both ways keeps both values (as an array), as Elasticsearch indexes it.
pub fn expand_dotted(value: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Value::Object(map) = value {
        for (key, v) in map {
            let v = match v {
                Value::Object(_) => Value::Object(expand_dotted(v)),
                other => other.clone(),
            };
            insert_path(&mut out, key.split('.'), v);
        }
    }
    out
}

fn insert_path<'k>(map: &mut Map<String, Value>, mut path: impl Iterator<Item = &'k str>, value: Value) {
    let Some(first) = path.next() else { return };
    let rest: Vec<&str> = path.collect();
    if rest.is_empty() {
        merge(map, first, value);
        return;
    }
    let mut nested = Map::new();
    insert_path(&mut nested, rest.into_iter(), value);
    merge(map, first, Value::Object(nested));
}

fn merge(map: &mut Map<String, Value>, key: &str, value: Value) {
    match (map.get_mut(key), value) {
        (None, value) => {
            map.insert(key.to_owned(), value);
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                merge(existing, &k, v);
            }
        }
        (Some(existing), value) => {
            let mut values = match existing.take() {
                Value::Array(a) => a,
                other => vec![other],
            };
            match value {
                Value::Array(a) => values.extend(a),
                other => values.push(other),
            }
            *existing = Value::Array(values);
        }
    }
}

fn event_data(wrapper: Wrapper, event: &Value) -> &Value {
    match wrapper {
        Wrapper::EvtxDump => &event["Event"]["EventData"],
        Wrapper::Winlogbeat => &event["winlog"]["event_data"],
        Wrapper::Winlogbeat6 => &event["event_data"],
        Wrapper::Flat => event,
    }
}

fn timestamp(schema: Schema, event: &Value) -> Option<Value> {
    let utc_time = |data: &Value| {
        data.get("UtcTime").and_then(Value::as_str).map(|t| {
            // Sysmon writes "2019-03-19 17:15:16.129" in UTC.
            Value::String(format!("{}Z", t.replacen(' ', "T", 1)))
        })
    };
    let at = || event.get("@timestamp").cloned();
    match schema {
        Schema::Ecs => at(),
        Schema::Raw(Wrapper::EvtxDump, _) => event["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"]
            .as_str()
            .map(|s| Value::String(s.to_owned()))
            .or_else(at),
        Schema::Raw(w, RawKind::Sysmon1) => utc_time(event_data(w, event)).or_else(at),
        Schema::Raw(_, RawKind::Security4688) => at(),
    }
}

/// ECS `host`, `user` and `process` for a raw Windows event, as Winlogbeat's modules map them.
fn raw_ecs(wrapper: Wrapper, kind: RawKind, event: &Value) -> (Option<Value>, Option<Value>, Option<Value>) {
    let data = event_data(wrapper, event);
    let s = |key: &str| {
        data.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_number().map(|n| n.to_string())))
    };
    let computer = match wrapper {
        Wrapper::EvtxDump => event["Event"]["System"]["Computer"].as_str(),
        Wrapper::Winlogbeat => event["winlog"]["computer_name"].as_str(),
        Wrapper::Winlogbeat6 => event["computer_name"].as_str(),
        Wrapper::Flat => event["Hostname"].as_str(),
    };
    let host = computer.map(|c| json!({ "name": c }));
    let pid = |v: Option<String>| -> Option<Value> {
        let v = v?;
        let n = match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        };
        n.map(|n| json!(n))
    };
    let mut process = Map::new();
    let mut parent = Map::new();
    let put = |map: &mut Map<String, Value>, key: &str, value: Option<Value>| {
        if let Some(v) = value {
            map.insert(key.into(), v);
        }
    };
    let string = |v: Option<String>| v.map(Value::String);
    let name = |v: &Option<String>| v.as_deref().map(|p| Value::String(windows_basename(p).to_owned()));
    let user = match kind {
        RawKind::Sysmon1 => {
            let image = s("Image");
            let parent_image = s("ParentImage");
            put(&mut process, "name", name(&image));
            put(&mut process, "executable", string(image));
            put(&mut process, "pid", pid(s("ProcessId")));
            put(&mut process, "entity_id", string(s("ProcessGuid")));
            put(&mut process, "command_line", string(s("CommandLine")));
            put(&mut process, "working_directory", string(s("CurrentDirectory")));
            put(&mut parent, "name", name(&parent_image));
            put(&mut parent, "executable", string(parent_image));
            put(&mut parent, "pid", pid(s("ParentProcessId")));
            put(&mut parent, "entity_id", string(s("ParentProcessGuid")));
            put(&mut parent, "command_line", string(s("ParentCommandLine")));
            s("User").map(|u| match u.split_once('\\') {
                Some((domain, name)) => json!({ "domain": domain, "name": name }),
                None => json!({ "name": u }),
            })
        }
        RawKind::Security4688 => {
            let image = s("NewProcessName");
            let parent_image = s("ParentProcessName");
            put(&mut process, "name", name(&image));
            put(&mut process, "executable", string(image));
            put(&mut process, "pid", pid(s("NewProcessId")));
            put(&mut process, "command_line", string(s("CommandLine")));
            put(&mut parent, "name", name(&parent_image));
            put(&mut parent, "executable", string(parent_image));
            put(&mut parent, "pid", pid(s("ProcessId")));
            let mut u = Map::new();
            put(&mut u, "name", string(s("SubjectUserName")));
            put(&mut u, "domain", string(s("SubjectDomainName")));
            put(&mut u, "id", string(s("SubjectUserSid")));
            (!u.is_empty()).then_some(Value::Object(u))
        }
    };
    if !parent.is_empty() {
        process.insert("parent".into(), Value::Object(parent));
    }
    (host, user, (!process.is_empty()).then_some(Value::Object(process)))
}
