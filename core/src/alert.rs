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
//!   keys expanded), or, for a raw Sysmon 1 / Security 4688 event, read from the event view
//!   ([`ViewField`]), whose values come from the one raw Windows mapping
//!   ([`crate::view::windows`]) the rule also reads through;
//! - where the event came from: `log.file.path`, `log.offset`, and `dcom_detect.source`
//!   (file, line or EVTX record, or table row);
//! - `dcom_detect.branches`, `dcom_detect.evidence` (the values that fired each branch),
//!   `dcom_detect.severity` and `dcom_detect.schema`.
//!
//! Keys appear in a fixed order (the order written here, then the event's own order for
//! copied objects). Writing an alert allocates (it builds a `serde_json::Value`; an ECS
//! record is also parsed by `serde_json` to copy its objects); it runs only for matches.

use serde_json::{json, Map, Value};

use crate::correlate::{Correlation, ElasticMatch, Endpoint, Partner, ProfileRule};
use crate::error::DecodeError;
use crate::rule::definition::Metadata;
use crate::rule::{BranchSet, Rule, Verdict};
use crate::scan::Position;
use crate::view::ecs::{Decoder, Document, RawKind, Schema, ViewField};
use crate::view::event::Fields;
use crate::view::field::{Field, FieldId, FieldSet};
use crate::view::text::Text;
use crate::view::time::Timestamp;
use crate::view::windows::parse_number;

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
    /// The view's fields for struct events, made on first use.
    view: Option<ViewFields>,
    decoder: Decoder,
    options: AlertOptions,
}

impl<'r> AlertWriter<'r> {
    /// An alert writer for `rule`.
    pub fn new(rule: &'r Rule, options: AlertOptions) -> AlertWriter<'r> {
        AlertWriter { rule, view: None, decoder: Decoder::new(), options }
    }

    /// The alert for `record`, or None when the rule does not fire on it.
    pub fn alert(&mut self, record: &[u8], origin: &Origin<'_>) -> Result<Option<Value>, DecodeError> {
        Ok(self.built(record, origin)?.map(|(value, _)| value))
    }

    /// The alert for `record` as an [`Alert`] (its JSON text and typed accessors), or None
    /// when the rule does not fire on it.
    pub fn document(&mut self, record: &[u8], origin: &Origin<'_>) -> Result<Option<Alert>, DecodeError> {
        Ok(self.built(record, origin)?.map(|(value, branches)| Alert::new(&value, branches, origin)))
    }

    /// The alert for a struct event (a sensor's [`Fields`], such as C's `dcom_event`), or
    /// None when it raises none: the same document as for a JSON record, with `@timestamp`,
    /// `host`, `user` and `process` from the view fields the event gives by ECS path
    /// (`process.name`, `process.pid`, `host.name`, `user.name`, ...), `dcom_detect.schema`
    /// `"fields"`, and no `event.original` (there is no record).
    pub fn document_fields<E: Fields + ?Sized>(&mut self, event: &E, origin: &Origin<'_>) -> Option<Alert> {
        let verdict = self.rule.evaluate(event);
        if !verdict.is_match() {
            return None;
        }
        let view = self.view.get_or_insert_with(ViewFields::new);
        let subject = Subject::of_fields(event, view);
        let value = build(self.rule, &verdict, subject, None, origin, self.options);
        Some(Alert::new(&value, verdict.branches(), origin))
    }

    fn built(&mut self, record: &[u8], origin: &Origin<'_>) -> Result<Option<(Value, BranchSet)>, DecodeError> {
        let (rule, options) = (self.rule, self.options);
        rule.evaluate_json_with(rule.view_paths(), &mut self.decoder, record, |doc, verdict| {
            verdict.is_match().then(|| {
                let subject = Subject::of_document(doc, record);
                (build(rule, verdict, subject, Some(record), origin, options), verdict.branches())
            })
        })
    }

    /// The alert of a correlation, anchored on its process start: `anchor_record` is the
    /// anchor's record (the caller keeps it until the correlation is reported), `anchor` and
    /// `partner` where the two events came from.
    ///
    /// # Errors
    /// The decoder's error if `anchor_record` is not a record the view reads.
    pub fn correlation<M>(
        &mut self,
        correlation: &Correlation<M>,
        anchor_record: &[u8],
        anchor: &Origin<'_>,
        partner: &Origin<'_>,
    ) -> Result<Alert, DecodeError> {
        let options = self.options;
        self.joined(ProfileRule::Extended(correlation.rule), anchor_record, anchor, |doc| {
            build_correlation(correlation, doc, anchor_record, anchor, partner, options)
        })
    }

    /// The alert of one of Elastic's sequences, anchored on its process start:
    /// `anchor_record` is the anchor's record, `anchor` and `partner` where the two events
    /// came from.
    ///
    /// # Errors
    /// The decoder's error if `anchor_record` is not a record the view reads.
    pub fn sequence<M: Copy>(
        &mut self,
        sequence: &ElasticMatch<M>,
        anchor_record: &[u8],
        anchor: &Origin<'_>,
        partner: &Origin<'_>,
    ) -> Result<Alert, DecodeError> {
        let options = self.options;
        self.joined(ProfileRule::Elastic(sequence.rule), anchor_record, anchor, |doc| {
            build_sequence(sequence, doc, anchor_record, anchor, partner, options)
        })
    }

    /// The alert `build` makes from the decoded anchor record, naming `rule`.
    fn joined(
        &mut self,
        rule: ProfileRule,
        anchor_record: &[u8],
        anchor: &Origin<'_>,
        build: impl FnOnce(&Document<'_>) -> Value,
    ) -> Result<Alert, DecodeError> {
        let doc = self.decoder.decode(self.rule.view_paths(), anchor_record)?;
        let mut alert = Alert::new(&build(&doc), BranchSet::default(), anchor);
        alert.correlation = Some(rule);
        Ok(alert)
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
    correlation: Option<ProfileRule>,
    file: Option<String>,
    position: Option<Position>,
}

impl Alert {
    fn new(value: &Value, branches: BranchSet, origin: &Origin<'_>) -> Alert {
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
            correlation: None,
            file: origin.file.map(str::to_owned),
            position: origin.position,
        }
    }

    /// Where the alert's event came from: its file, when it came from one.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Where the alert's event came from: its position (line, EVTX record, row), if known.
    pub fn position(&self) -> Option<Position> {
        self.position
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

    /// The seed rule's branches that fired (none for a correlation).
    pub fn branches(&self) -> BranchSet {
        self.branches
    }

    /// The stateful rule, for the alert of a correlation (`extended`) or a sequence
    /// (`elastic`).
    pub fn correlation(&self) -> Option<ProfileRule> {
        self.correlation
    }
}

fn build(
    rule: &Rule,
    verdict: &Verdict<'_>,
    subject: Subject,
    record: Option<&[u8]>,
    origin: &Origin<'_>,
    options: AlertOptions,
) -> Value {
    let meta = rule.metadata();
    let schema = subject.schema;
    let (alert, source) = base(meta, subject, record, origin, options);
    let branches: Vec<&str> = verdict.branches().iter().map(|b| b.name()).collect();
    let mut dcom = Map::new();
    dcom.insert("branches".into(), json!(branches));
    dcom.insert("evidence".into(), evidence(verdict));
    finish(alert, dcom, meta, schema, source)
}

/// Completes `dcom_detect` (after what the alert's kind puts first) with `severity`,
/// `schema` and `source`, and the alert with it.
fn finish(
    mut alert: Map<String, Value>,
    mut dcom: Map<String, Value>,
    meta: &Metadata,
    schema: &str,
    source: Map<String, Value>,
) -> Value {
    dcom.insert("severity".into(), json!(meta.severity));
    dcom.insert("schema".into(), json!(schema));
    if !source.is_empty() {
        dcom.insert("source".into(), Value::Object(source));
    }
    alert.insert("dcom_detect".into(), Value::Object(dcom));
    Value::Object(alert)
}

/// What an alert says about its event: its time and its `host`, `user` and `process`
/// objects, and how it was read (`dcom_detect.schema`).
struct Subject {
    timestamp: Option<Value>,
    host: Option<Value>,
    user: Option<Value>,
    process: Option<Value>,
    schema: &'static str,
}

impl Subject {
    /// A decoded record's: an ECS record's objects copied as they are (dotted keys
    /// expanded), a raw Windows event's from the event view.
    fn of_document(doc: &Document<'_>, record: &[u8]) -> Subject {
        let schema = schema_name(doc.schema());
        match doc.schema() {
            Schema::Ecs => {
                // The record decoded, so it is valid JSON; serde_json may still refuse what
                // Elasticsearch accepts (an unpaired surrogate escape), in which case the
                // copied objects are left out rather than the alert.
                let event: Value = serde_json::from_slice(record).unwrap_or(Value::Null);
                let expanded = expand_dotted(&event);
                let take = |k: &str| expanded.get(k).cloned();
                Subject {
                    timestamp: event.get("@timestamp").cloned(),
                    host: take("host"),
                    user: take("user"),
                    process: take("process"),
                    schema,
                }
            }
            Schema::Raw(_, kind) => {
                let (host, user, process) = view_objects(kind == RawKind::Sysmon1, |f| doc.view(f).next());
                let timestamp = doc.timestamp_text().map(|t| Value::String(iso_utc(t)));
                Subject { timestamp, host, user, process, schema }
            }
        }
    }

    /// A struct event's (a sensor's `Fields`): the view fields it gives, by ECS path.
    fn of_fields<E: Fields + ?Sized>(event: &E, view: &ViewFields) -> Subject {
        let get = |f: ViewField| event.values(view.field(f)).next();
        let (host, user, process) = view_objects(false, get);
        let timestamp = get(ViewField::Timestamp).map(text);
        Subject { timestamp, host, user, process, schema: "fields" }
    }
}

/// The view fields an alert reads, as [`Field`]s any [`Fields`] source answers by path.
#[derive(Debug)]
struct ViewFields {
    fields: FieldSet,
    ids: Vec<(ViewField, FieldId)>,
}

impl ViewFields {
    fn new() -> ViewFields {
        let mut fields = FieldSet::new();
        let ids = ViewField::ALL
            .iter()
            .map(|&f| (f, fields.intern(f.path()).expect("the view's fields fit a field set")))
            .collect();
        ViewFields { fields, ids }
    }

    fn field(&self, f: ViewField) -> &Field {
        let id = self.ids.iter().find(|(v, _)| *v == f).map(|(_, id)| *id).expect("every view field is interned");
        self.fields.get(id)
    }
}

/// What every alert carries, in order: `@timestamp`, `event`, `rule`, `threat`, the event's
/// `host`, `user` and `process`, and `log`; and the `dcom_detect.source` object of `origin`.
fn base(
    meta: &Metadata,
    subject: Subject,
    record: Option<&[u8]>,
    origin: &Origin<'_>,
    options: AlertOptions,
) -> (Map<String, Value>, Map<String, Value>) {
    let threat = &meta.threat;
    let mut alert = Map::new();
    alert.insert("@timestamp".into(), subject.timestamp.unwrap_or(Value::Null));
    let mut ev = Map::new();
    ev.insert("kind".into(), json!("alert"));
    ev.insert("category".into(), json!(["process"]));
    ev.insert("type".into(), json!(["start"]));
    ev.insert("severity".into(), json!(meta.risk_score));
    ev.insert("risk_score".into(), json!(f64::from(meta.risk_score)));
    if let (true, Some(record)) = (options.include_original, record) {
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
    for (key, value) in [("host", subject.host), ("user", subject.user), ("process", subject.process)] {
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
    let source = source_object(origin);
    (alert, source)
}

/// The ECS alert of a correlation: anchored on its process start (`anchor_record`, decoded
/// again here), carrying the correlation rule's metadata and, under
/// `dcom_detect.correlation`, the rule, the partner event (its source, time, and addresses
/// and ports or logon id) and the gap between them.
fn build_correlation<M>(
    correlation: &Correlation<M>,
    doc: &Document<'_>,
    record: &[u8],
    anchor: &Origin<'_>,
    partner: &Origin<'_>,
    options: AlertOptions,
) -> Value {
    let mut other = partner_object(partner, correlation.partner_time.to_string());
    match correlation.partner_fact {
        Partner::Inbound { remote, local } => {
            other.insert("kind".into(), json!("inbound_connection"));
            other.insert("remote".into(), endpoint_json(remote));
            other.insert("local".into(), endpoint_json(local));
        }
        Partner::Logon { logon_id, source } => {
            other.insert("kind".into(), json!("network_logon"));
            other.insert("logon_id".into(), json!(format!("{logon_id:#x}")));
            other.insert("remote".into(), json!({ "ip": source.to_string() }));
        }
    }
    let gap = correlation.gap_nanos() as f64 / 1e9;
    build_joined(ProfileRule::Extended(correlation.rule), doc, record, anchor, other, gap, options)
}

/// The ECS alert of one of Elastic's sequences, as [`build_correlation`]'s: the partner is
/// the sequence's other event (its source, `@timestamp` in milliseconds, and kind: every
/// rule's other stage is an inbound connection).
fn build_sequence<M: Copy>(
    sequence: &ElasticMatch<M>,
    doc: &Document<'_>,
    record: &[u8],
    anchor: &Origin<'_>,
    partner: &Origin<'_>,
    options: AlertOptions,
) -> Value {
    let time = Timestamp::from_unix_nanos(sequence.partner().time_ms.saturating_mul(1_000_000));
    let mut other = partner_object(partner, time.to_string());
    other.insert("kind".into(), json!("inbound_connection"));
    // The connection's ends as its event names them (ECS `source`, `destination`): Elastic's
    // rules take them as logged, and Sysmon versions disagree on which end of an incoming
    // connection is the source, so they are not relabelled remote and local here.
    let mut network = Map::new();
    for (name, end) in ["source", "destination"].into_iter().zip(sequence.partner().ends) {
        if let Some(end) = end {
            network.insert(name.into(), endpoint_json(end));
        }
    }
    if !network.is_empty() {
        other.insert("network".into(), Value::Object(network));
    }
    let gap_ms = sequence.partner().time_ms - sequence.anchor().time_ms;
    build_joined(ProfileRule::Elastic(sequence.rule), doc, record, anchor, other, gap_ms as f64 / 1e3, options)
}

/// One end of a connection: `{"ip": ..., "port": ...}` (no `port` when unknown).
fn endpoint_json((ip, port): Endpoint) -> Value {
    match port {
        Some(port) => json!({ "ip": ip.to_string(), "port": port }),
        None => json!({ "ip": ip.to_string() }),
    }
}

/// `dcom_detect.correlation.partner`'s source and time.
fn partner_object(partner: &Origin<'_>, time: String) -> Map<String, Value> {
    let mut other = Map::new();
    let partner_source = source_object(partner);
    if !partner_source.is_empty() {
        other.insert("source".into(), Value::Object(partner_source));
    }
    other.insert("@timestamp".into(), json!(time));
    other
}

/// The alert of a stateful rule anchored on the process start `doc`: the rule's metadata,
/// and `dcom_detect.correlation` with the rule's name, its `partner` and the gap in seconds
/// (the partner's time minus the anchor's).
fn build_joined(
    rule: ProfileRule,
    doc: &Document<'_>,
    record: &[u8],
    anchor: &Origin<'_>,
    partner: Map<String, Value>,
    gap_seconds: f64,
    options: AlertOptions,
) -> Value {
    let meta = rule.metadata();
    let subject = Subject::of_document(doc, record);
    let schema = subject.schema;
    let (alert, source) = base(meta, subject, Some(record), anchor, options);
    let mut found = Map::new();
    found.insert("rule".into(), json!(rule.name()));
    found.insert("partner".into(), Value::Object(partner));
    found.insert("gap_seconds".into(), json!(gap_seconds));
    let mut dcom = Map::new();
    dcom.insert("correlation".into(), Value::Object(found));
    finish(alert, dcom, meta, schema, source)
}

/// `dcom_detect.source`: where a record came from.
fn source_object(origin: &Origin<'_>) -> Map<String, Value> {
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
    source
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

/// A stable name for how the event was read: `ecs`, or `<event>/<wrapper>`
/// (`sysmon_1/evtx`, `security_4688/winlogbeat6`, …).
pub fn schema_name(schema: Schema) -> &'static str {
    // By kind, then wrapper, in declaration order.
    const NAMES: [[&str; 4]; 5] = [
        ["sysmon_1/evtx", "sysmon_1/winlogbeat", "sysmon_1/winlogbeat6", "sysmon_1/flat"],
        ["security_4688/evtx", "security_4688/winlogbeat", "security_4688/winlogbeat6", "security_4688/flat"],
        ["sysmon_3/evtx", "sysmon_3/winlogbeat", "sysmon_3/winlogbeat6", "sysmon_3/flat"],
        ["security_5156/evtx", "security_5156/winlogbeat", "security_5156/winlogbeat6", "security_5156/flat"],
        ["security_4624/evtx", "security_4624/winlogbeat", "security_4624/winlogbeat6", "security_4624/flat"],
    ];
    match schema {
        Schema::Ecs => "ecs",
        Schema::Raw(wrapper, kind) => NAMES[kind as usize][wrapper as usize],
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

/// A raw event's time as the alert writes it: Sysmon's space-separated UTC form
/// (`2019-03-19 17:15:16.129`) as ISO 8601 with `Z`; anything else as it is.
fn iso_utc(text: &str) -> String {
    match text.as_bytes().get(10) {
        Some(b' ') => format!("{}Z", text.replacen(' ', "T", 1)),
        _ => text.to_owned(),
    }
}

/// ECS `host`, `user` and `process` objects from view fields (`get` gives a field's first
/// value): the fields present, in a fixed order (Sysmon's user as `domain`, `name`); pids as
/// numbers.
fn view_objects<'t>(
    sysmon: bool,
    get: impl Fn(ViewField) -> Option<Text<'t>>,
) -> (Option<Value>, Option<Value>, Option<Value>) {
    use ViewField as F;
    let object = |fields: &[(&str, ViewField)]| -> Map<String, Value> {
        let mut map = Map::new();
        for &(key, field) in fields {
            let Some(v) = get(field) else { continue };
            let value = match field {
                F::ProcessPid | F::ParentPid => match parse_number(&v.to_string()) {
                    Some(n) => json!(n),
                    None => continue,
                },
                _ => text(v),
            };
            map.insert(key.into(), value);
        }
        map
    };
    let host = object(&[("name", F::HostName)]);
    let user = match sysmon {
        true => object(&[("domain", F::UserDomain), ("name", F::UserName)]),
        false => object(&[("name", F::UserName), ("domain", F::UserDomain), ("id", F::UserId)]),
    };
    let mut process = object(&[
        ("name", F::ProcessName),
        ("executable", F::ProcessExecutable),
        ("pid", F::ProcessPid),
        ("entity_id", F::ProcessEntityId),
        ("command_line", F::ProcessCommandLine),
        ("working_directory", F::ProcessWorkingDirectory),
    ]);
    let parent = object(&[
        ("name", F::ParentName),
        ("executable", F::ParentExecutable),
        ("pid", F::ParentPid),
        ("entity_id", F::ParentEntityId),
        ("command_line", F::ParentCommandLine),
    ]);
    if !parent.is_empty() {
        process.insert("parent".into(), Value::Object(parent));
    }
    let some = |map: Map<String, Value>| (!map.is_empty()).then_some(Value::Object(map));
    (some(host), some(user), some(process))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::ecs::Wrapper;

    #[test]
    fn schema_names_are_the_kind_and_the_wrapper() {
        let kinds =
            [RawKind::Sysmon1, RawKind::Security4688, RawKind::Sysmon3, RawKind::Security5156, RawKind::Security4624];
        let wrappers = [
            (Wrapper::EvtxDump, "evtx"),
            (Wrapper::Winlogbeat, "winlogbeat"),
            (Wrapper::Winlogbeat6, "winlogbeat6"),
            (Wrapper::Flat, "flat"),
        ];
        for kind in kinds {
            for (wrapper, suffix) in wrappers {
                assert_eq!(schema_name(Schema::Raw(wrapper, kind)), format!("{}/{suffix}", kind.name()));
            }
        }
        assert_eq!(schema_name(Schema::Ecs), "ecs");
    }
}
