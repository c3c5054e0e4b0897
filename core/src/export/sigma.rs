//! The rules as Sigma (`docs/export.md`): the seed rule as one `process_creation` rule, each
//! correlation rule of the `elastic` and `extended` profiles as a Sigma correlation rule
//! (Sigma 2.0 `correlation:`) over the base rules it names, in one multi-document YAML.
//!
//! Everything is generated from the definitions the engine evaluates: the seed rule's lists
//! ([`COM_HOST_PARENTS`], [`SPAWNED_CHILDREN`], [`DCOMCNFG`], [`COMMAND_LINE_PATTERNS`]) and
//! metadata, Elastic's sequence rules as data ([`ElasticRule`]'s stages), and the `extended`
//! profile's constants ([`SERVERS`], [`ACTIVATION_PARENT`], [`ACTIVATION_ARGS`], ...) and
//! windows ([`CorrelationRule::window`]).
//!
//! # Field mapping
//! Sigma's Windows taxonomy has no basename field: EQL's `process.name` (the executable's
//! basename) becomes `Image` matching either `|endswith: '\name'` (a full path) or the
//! whole value `name` (a bare name), which keeps the basename meaning for both. `==` (case
//! sensitive) adds `|cased`; `in~` and `:` (ASCII case-insensitive) stay plain, Sigma's
//! default. `event.type == "start"` and `process where` are the logsource
//! (`category: process_creation`). What Sigma cannot state exactly is written as comments at
//! the top of each export ([`SEED_NOTES`], [`EXTENDED_NOTES`], [`ELASTIC_NOTES`]).
//!
//! # Invariants
//! - Every string scalar is single-quoted (a `'` doubled), so no value is read as another
//!   YAML type; no value holds a control character (checked in debug builds).
//! - Ids are stable: the seed and correlation rules carry their metadata ids, each base rule
//!   a version-8 UUID derived (FNV-1a 128) from its correlation rule's id and its name.
//! - Base rule names are unique within a profile's export (`dcom_detect_<rule>_<part>`).
//!
//! # Cost
//! Each call builds a new `String` of a few kilobytes: `O(size of the output)`; nothing is
//! cached.

use std::fmt::Write as _;

use crate::correlate::elastic::{Cond, Src};
use crate::correlate::{
    CorrelationRule, ElasticRule, Profile, ProfileRule, ACTIVATION_ARGS, ACTIVATION_PARENT, D3_MIN_LOCAL_PORT,
    EXPLORER, INBOUND_DIRECTIONS, NETWORK_LOGON_TYPES, SERVERS, TRANSPORT,
};
use crate::rule::definition::{
    Metadata, COMMAND_LINE_PATTERNS, COM_HOST_PARENTS, DCOMCNFG, METADATA, PROCESS_CATEGORY, SPAWNED_CHILDREN,
    START_TYPE,
};
use crate::view::ecs::ViewField;

/// The name the seed rule carries in Sigma (`name:`, for correlations that would reference it).
pub const SEED_NAME: &str = "dcom_detect_seed";

/// The Sigma fields of the event view's fields, as Sigma's Windows taxonomy (Sysmon field
/// names) calls them. `process.name` and `process.parent.name` have no Sigma field of their
/// own: they are matched on `Image` / `ParentImage` (see the module doc).
pub const FIELDS: [(ViewField, &str); 14] = [
    (ViewField::ProcessExecutable, "Image"),
    (ViewField::ParentExecutable, "ParentImage"),
    (ViewField::ProcessCommandLine, "CommandLine"),
    (ViewField::ParentCommandLine, "ParentCommandLine"),
    (ViewField::ProcessEntityId, "ProcessGuid"),
    (ViewField::ParentEntityId, "ParentProcessGuid"),
    (ViewField::ProcessPid, "ProcessId"),
    (ViewField::ParentPid, "ParentProcessId"),
    (ViewField::HostName, "ComputerName"),
    (ViewField::UserName, "User"),
    (ViewField::SourceIp, "SourceIp"),
    (ViewField::SourcePort, "SourcePort"),
    (ViewField::DestinationIp, "DestinationIp"),
    (ViewField::DestinationPort, "DestinationPort"),
];

/// The Sigma field of a view field ([`FIELDS`]; the basename fields map to their image).
pub fn field(view: ViewField) -> Option<&'static str> {
    let view = match view {
        ViewField::ProcessName => ViewField::ProcessExecutable,
        ViewField::ParentName => ViewField::ParentExecutable,
        other => other,
    };
    FIELDS.iter().find(|(v, _)| *v == view).map(|(_, name)| *name)
}

/// What the seed rule's Sigma cannot state exactly, and how it approximates it.
pub const SEED_NOTES: &[&str] = &[
    "process.name / process.parent.name (basenames) are matched on Image / ParentImage as \
     '|endswith: \\name' or the whole value 'name'; a path written with '/' separators is not \
     matched (the engine takes the basename after '\\' or '/').",
    "in~ and ':' fold ASCII letters only (with the 'ascii' case folding); Sigma's plain \
     matching is case-insensitive as each backend defines it (SQL LIKE: ASCII; Splunk, \
     Elasticsearch .caseless, Kusto =~: often Unicode), so non-ASCII case variants such as \
     the Kelvin sign may match in Sigma and not in the engine, or the reverse with \
     case_folding 'unicode_simple'.",
    "process.name == \"dcomcnfg.exe\" is case-sensitive: '|cased' (backends without it \
     match case-insensitively).",
    "EQL's '*' matches any run of code points and '?' exactly one code point; Sigma's \
     wildcards are the backend's ('?' is one character of its encoding: a byte in some SQL \
     engines, a UTF-16 unit in others).",
    "A multi-valued field matches when any value matches, per field: a backend that stores \
     only one value of an array compares that one.",
    "process where event.type == \"start\" is the logsource (category process_creation): \
     which events a backend files under it (Sysmon 1, Security 4688, ECS process starts) is \
     its pipeline's choice, not the rule's.",
    "The rule's exceptions (tuning) file is not exported.",
];

/// What the `extended` profile's Sigma cannot state exactly, and how it approximates it.
pub const EXTENDED_NOTES: &[&str] = &[
    "temporal correlations hold when all base rules match within the timespan, in either \
     order; the engine's windows are partner minus anchor (D2 -60 s..+60 s, D3 -10 s..+10 s, \
     D2L -60 s..+2 s: exported as 60 s in either order, so a logon up to 60 s after the start \
     also matches).",
    "Joins: by ComputerName and the entity id (ProcessGuid); the engine falls back to the \
     pid with a pid-reuse guard (4688 / 5156 carry no GUID), which Sigma cannot express.",
    "process.args : (\"-Embedding\", \"/automation\") (one argument equal) is \
     'CommandLine|contains' (a substring of the command line).",
    "Inbound connections are 'Initiated: false' (Sysmon 3) with the remote end taken as \
     SourceIp; the engine learns which end of a Sysmon 3 event is local from the host's own \
     addresses (Sysmon versions disagree).",
    "Loopback and unspecified remote addresses are excluded with '|cidr' filters.",
    "Each anchor raises at most one alert per rule in the engine; a Sigma backend may raise \
     one per matching group and window.",
    "Logon ids are compared as text in Sigma (Sysmon 1 'LogonId', 4624 'TargetLogonId'), as \
     numbers in the engine (hexadecimal case and zero padding differ between sources).",
];

/// What the `elastic` profile's Sigma cannot state exactly, and how it approximates it.
pub const ELASTIC_NOTES: &[&str] = &[
    "Elastic's sequences are temporal_ordered correlations over the same host and join \
     keys, within maxspan; Elasticsearch's sequence matcher (a later first-stage event \
     replaces an earlier one of the same key; each event completes at most one sequence) is \
     not expressible.",
    "network.direction : (\"incoming\", \"ingress\") is 'Initiated: false' (Sysmon 3).",
    "process.args : \"-Embedding\" (one argument equal) is 'CommandLine|contains'.",
    "host.os.type == \"windows\" and event.type == \"start\" are the logsource.",
    "source.ip != \"127.0.0.1\" and != \"::1\" are filters on SourceIp.",
];

/// The seed rule as one Sigma rule (a YAML document, comments first).
pub fn seed_rule() -> String {
    let mut out = String::new();
    comments(&mut out, "the seed rule (core/src/rule/definition.rs)", SEED_NOTES);
    let (dcom, exec) = (COMMAND_LINE_PATTERNS[0], COMMAND_LINE_PATTERNS[1]);
    let rule = BaseRule {
        meta: &METADATA,
        title: METADATA.name.to_owned(),
        id: METADATA.id.to_owned(),
        name: SEED_NAME.to_owned(),
        description: METADATA.description.to_owned(),
        logsource: Logsource::ProcessCreation,
        selections: vec![
            Selection::basename("com_host_parent", "ParentImage", &COM_HOST_PARENTS, false),
            Selection::basename("spawned_child", "Image", &SPAWNED_CHILDREN, false),
            Selection::basename("dcomcnfg", "Image", &[DCOMCNFG], true),
            Selection::one(
                "dcom_command_line",
                all(vec![wildcard("CommandLine", dcom), wildcard("CommandLine", exec)]),
            ),
        ],
        condition: "(com_host_parent and spawned_child) or dcomcnfg or dcom_command_line".to_owned(),
    };
    debug_assert_eq!((PROCESS_CATEGORY, START_TYPE), ("process", "start"));
    rule.write(&mut out, true);
    out
}

/// One correlation rule as Sigma: its base rules, then the correlation, one YAML document
/// each (separated by `---`), comments first.
pub fn correlation_rule(rule: ProfileRule) -> String {
    let mut out = String::new();
    let (what, notes) = match rule {
        ProfileRule::Extended(_) => ("the extended profile (core/src/correlate/observe.rs, mod.rs)", EXTENDED_NOTES),
        ProfileRule::Elastic(_) => ("Elastic's sequence rule (core/src/correlate/elastic.rs)", ELASTIC_NOTES),
    };
    comments(&mut out, &format!("{} {}, {what}", rule.name(), rule.metadata().name), notes);
    let correlation = match rule {
        ProfileRule::Extended(r) => extended(r),
        ProfileRule::Elastic(r) => elastic(r),
    };
    for base in &correlation.bases {
        base.write(&mut out, false);
        out.push_str("---\n");
    }
    correlation.write(&mut out);
    out
}

/// A profile's export: the seed rule, then each of the profile's correlation rules
/// ([`correlation_rule`]), as one multi-document YAML.
pub fn profile(profile: Profile) -> String {
    let mut out = seed_rule();
    for &rule in profile.rules() {
        out.push_str("---\n");
        out.push_str(&correlation_rule(rule));
    }
    out
}

// ---- The rules ------------------------------------------------------------------------------

fn extended(rule: CorrelationRule) -> Correlation {
    let meta = rule.metadata();
    let prefix = rule.name().to_ascii_lowercase();
    let base = |part: &str, title: &str, logsource, selections: Vec<Selection>, condition: &str| BaseRule {
        meta,
        title: format!("{} ({title})", meta.name),
        id: derived_id(meta.id, part),
        name: format!("dcom_detect_{prefix}_{part}"),
        description: format!("Base rule of {}: {title}.", rule.name()),
        logsource,
        selections,
        condition: condition.to_owned(),
    };
    let com_server_start = || {
        base(
            "com_server_start",
            "a COM server started for a DCOM activation",
            Logsource::ProcessCreation,
            vec![
                Selection::basename("activation_parent", "ParentImage", &[ACTIVATION_PARENT], false),
                Selection::basename("com_server", "Image", &SERVERS, false),
                Selection::one("activation_args", vec![Item::strings("CommandLine", "|contains", &ACTIVATION_ARGS)]),
            ],
            "activation_parent and com_server and activation_args",
        )
    };
    let inbound = |part: &str, title: &str, owners: &[&str], min_port: Option<u16>| {
        let mut connection =
            vec![Item::strings("Initiated", "", &["false"]), Item::strings("Protocol", "", &[TRANSPORT])];
        if let Some(port) = min_port {
            connection.push(Item::number("DestinationPort", "|gte", i64::from(port)));
        }
        base(
            part,
            title,
            Logsource::NetworkConnection,
            vec![
                Selection::one("inbound_tcp", connection),
                Selection::basename("owner", "Image", owners, false),
                Selection::one("filter_not_remote", vec![Item::strings("SourceIp", "|cidr", &NOT_REMOTE_CIDRS)]),
            ],
            "inbound_tcp and owner and not filter_not_remote",
        )
    };
    let (seconds_before, seconds_after) = (rule.window().0 / 1_000_000_000, rule.window().1 / 1_000_000_000);
    let timespan = format!("{}s", seconds_before.max(seconds_after));
    match rule {
        CorrelationRule::D2 => {
            let bases = vec![
                com_server_start(),
                inbound("inbound_connection", "an inbound TCP connection to a COM server", &SERVERS, None),
            ];
            Correlation::new(meta, bases, "temporal", timespan, vec!["ComputerName", "ProcessGuid"], vec![])
        }
        CorrelationRule::D2L => {
            let logon_type =
                NETWORK_LOGON_TYPES.iter().find_map(|t| t.parse::<i64>().ok()).expect("a numeric logon type");
            let logon = base(
                "network_logon",
                "a network logon from another host",
                Logsource::Security,
                vec![
                    Selection::one(
                        "network_logon",
                        vec![Item::number("EventID", "", 4624), Item::number("LogonType", "", logon_type)],
                    ),
                    Selection::one("filter_not_remote", vec![Item::strings("IpAddress", "|cidr", &NOT_REMOTE_CIDRS)]),
                ],
                "network_logon and not filter_not_remote",
            );
            let bases = vec![com_server_start(), logon];
            let alias = Alias::new("logon_session", &bases, ["LogonId", "TargetLogonId"]);
            Correlation::new(meta, bases, "temporal", timespan, vec!["ComputerName", "logon_session"], vec![alias])
        }
        CorrelationRule::D3 => {
            let child = base(
                "explorer_child",
                "a child of explorer.exe",
                Logsource::ProcessCreation,
                vec![Selection::basename("explorer_child", "ParentImage", &[EXPLORER], false)],
                "explorer_child",
            );
            let connection = inbound(
                "explorer_inbound",
                "an inbound TCP connection to explorer.exe on a dynamic RPC port",
                &[EXPLORER],
                Some(D3_MIN_LOCAL_PORT),
            );
            let bases = vec![child, connection];
            let alias = Alias::new("explorer", &bases, ["ParentProcessGuid", "ProcessGuid"]);
            Correlation::new(meta, bases, "temporal", timespan, vec!["ComputerName", "explorer"], vec![alias])
        }
    }
}

/// Addresses that are not a remote peer: loopback and unspecified, IPv4 and IPv6 (the
/// engine's `is_loopback`).
pub const NOT_REMOTE_CIDRS: [&str; 4] = ["127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"];

fn elastic(rule: ElasticRule) -> Correlation {
    let meta = rule.metadata();
    let spec = rule.spec();
    let prefix = rule.short_name();
    let mut bases = Vec::new();
    let mut keys = Vec::new();
    for (index, stage) in spec.stages.iter().enumerate() {
        let logsource = match stage.category {
            "process" => Logsource::ProcessCreation,
            "network" => Logsource::NetworkConnection,
            other => unreachable!("Elastic's DCOM rules read process and network events, not {other}"),
        };
        let mut selections = Vec::new();
        let mut filters = Vec::new();
        for cond in stage.conds {
            match *cond {
                // The logsource: product windows; process_creation / network_connection are starts.
                Cond::Exact(Src::HostOsType, value) => debug_assert_eq!(value, "windows"),
                Cond::Exact(Src::View(ViewField::EventType), value) => debug_assert_eq!(value, START_TYPE),
                Cond::Like(Src::View(ViewField::NetworkDirection), values) => {
                    debug_assert!(values.iter().all(|v| INBOUND_DIRECTIONS.iter().any(|d| d.eq_ignore_ascii_case(v))));
                    selections.push(Selection::one("inbound", vec![Item::strings("Initiated", "", &["false"])]));
                }
                Cond::Exact(Src::View(ViewField::NetworkTransport), value) => {
                    selections.push(Selection::one("transport", vec![Item::strings("Protocol", "|cased", &[value])]));
                }
                Cond::Like(Src::View(view @ (ViewField::ProcessName | ViewField::ParentName)), names) => {
                    let sigma = field(view).expect("names map to images");
                    let name = if view == ViewField::ProcessName { "process_name" } else { "parent_name" };
                    selections.push(Selection::basename(name, sigma, names, false));
                }
                Cond::Like(Src::View(ViewField::ProcessArgs), args) => {
                    selections.push(Selection::one("args", vec![Item::strings("CommandLine", "|contains", args)]));
                }
                Cond::Above(Src::View(view), n) | Cond::AtLeast(Src::View(view), n) => {
                    let modifier = if matches!(cond, Cond::Above(..)) { "|gt" } else { "|gte" };
                    let sigma = field(view).expect("ports have Sigma fields");
                    let name = sigma.to_ascii_lowercase();
                    selections.push(Selection::one(&name, vec![Item::number(sigma, modifier, n)]));
                }
                Cond::NotAddress(Src::View(view), address) => {
                    let sigma = field(view).expect("addresses have Sigma fields");
                    filters.push(Item::strings(sigma, "", &[&address.to_string()]));
                }
                other => unreachable!("no Sigma form for {other:?}"),
            }
        }
        let mut condition = selections.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" and ");
        if !filters.is_empty() {
            // Each filter is its own map in one list: `not` any of them.
            selections.push(Selection {
                name: "filter_loopback".to_owned(),
                alternatives: filters.into_iter().map(|i| vec![i]).collect(),
            });
            condition.push_str(" and not filter_loopback");
        }
        let part = format!(
            "stage{index}_{}",
            if stage.category == "process" { "process_start" } else { "inbound_connection" }
        );
        bases.push(BaseRule {
            meta,
            title: format!("{} (stage {index}: {})", meta.name, stage.category),
            id: derived_id(meta.id, &part),
            name: format!("dcom_detect_{prefix}_{part}"),
            description: format!("Stage {index} of Elastic's sequence rule {}.", meta.name),
            logsource,
            selections,
            condition,
        });
        keys.push(field(stage.key).expect("join keys have Sigma fields"));
    }
    let (group_by, aliases) = if keys[0] == keys[1] {
        (vec!["ComputerName", keys[0]], vec![])
    } else {
        let alias = Alias::new("entity", &bases, [keys[0], keys[1]]);
        (vec!["ComputerName", "entity"], vec![alias])
    };
    let timespan = format!("{}s", spec.maxspan_ms / 1000);
    Correlation::new(meta, bases, "temporal_ordered", timespan, group_by, aliases)
}

// ---- The document model ---------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Logsource {
    ProcessCreation,
    NetworkConnection,
    Security,
}

/// `field|modifiers: value` (or a list of values), values already YAML scalars.
struct Item {
    key: String,
    values: Vec<String>,
}

impl Item {
    fn strings(field: &str, modifiers: &str, values: &[&str]) -> Item {
        Item { key: format!("{field}{modifiers}"), values: values.iter().map(|v| quote(&escape(v))).collect() }
    }

    fn number(field: &str, modifiers: &str, value: i64) -> Item {
        Item { key: format!("{field}{modifiers}"), values: vec![value.to_string()] }
    }
}

/// A named selection: maps (each the AND of its items) of which any matches.
struct Selection {
    name: String,
    alternatives: Vec<Vec<Item>>,
}

impl Selection {
    fn one(name: &str, items: Vec<Item>) -> Selection {
        Selection { name: name.to_owned(), alternatives: vec![items] }
    }

    /// A basename on an image field: `|endswith: '\name'` or the whole value `name`.
    fn basename(name: &str, field: &str, names: &[&str], cased: bool) -> Selection {
        let cased = if cased { "|cased" } else { "" };
        let suffixes: Vec<String> = names.iter().map(|n| format!("\\{n}")).collect();
        let suffixes: Vec<&str> = suffixes.iter().map(String::as_str).collect();
        Selection {
            name: name.to_owned(),
            alternatives: vec![
                vec![Item::strings(field, &format!("|endswith{cased}"), &suffixes)],
                vec![Item::strings(field, cased, names)],
            ],
        }
    }
}

/// An EQL wildcard pattern (`:`, case-insensitive) as a Sigma item: `*x*` is `|contains`,
/// `x*` `|startswith`, `*x` `|endswith`; any other wildcard stays a Sigma wildcard.
fn wildcard(field: &str, pattern: &str) -> Item {
    let inner = |s: &str| !s.contains(['*', '?']);
    let (modifier, text) = match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) if rest.len() > 1 && inner(&rest[..rest.len() - 1]) => {
            ("|contains", &rest[..rest.len() - 1])
        }
        (None, Some(head)) if inner(head) => ("|startswith", head),
        (Some(tail), None) if inner(tail) => ("|endswith", tail),
        _ => ("", pattern),
    };
    if modifier.is_empty() {
        // Keep EQL's wildcards as Sigma's; escape only literal backslashes.
        return Item { key: field.to_owned(), values: vec![quote(&pattern.replace('\\', "\\\\"))] };
    }
    Item { key: format!("{field}{modifier}"), values: vec![quote(&escape(text))] }
}

/// Items that must all hold: items of one key are merged into one `|all` item (a YAML map
/// cannot repeat a key).
fn all(items: Vec<Item>) -> Vec<Item> {
    let mut merged: Vec<Item> = Vec::new();
    for item in items {
        match merged.iter_mut().find(|m| m.key == item.key || m.key == format!("{}|all", item.key)) {
            Some(m) => {
                if !m.key.ends_with("|all") {
                    m.key.push_str("|all");
                }
                m.values.extend(item.values);
            }
            None => merged.push(item),
        }
    }
    merged
}

struct BaseRule {
    meta: &'static Metadata,
    title: String,
    id: String,
    name: String,
    description: String,
    logsource: Logsource,
    selections: Vec<Selection>,
    condition: String,
}

impl BaseRule {
    fn write(&self, out: &mut String, full: bool) {
        header(out, &self.title, &self.id, Some(&self.name), &self.description, self.meta);
        out.push_str("logsource:\n");
        match self.logsource {
            Logsource::ProcessCreation => out.push_str("  category: process_creation\n  product: windows\n"),
            Logsource::NetworkConnection => out.push_str("  category: network_connection\n  product: windows\n"),
            Logsource::Security => out.push_str("  product: windows\n  service: security\n"),
        }
        out.push_str("detection:\n");
        for selection in &self.selections {
            let _ = writeln!(out, "  {}:", selection.name);
            let list = selection.alternatives.len() > 1;
            for map in &selection.alternatives {
                for (i, item) in map.iter().enumerate() {
                    let indent = if !list {
                        "    "
                    } else if i == 0 {
                        "    - "
                    } else {
                        "      "
                    };
                    let nested = if list { "        " } else { "      " };
                    match item.values.as_slice() {
                        [one] => {
                            let _ = writeln!(out, "{indent}{}: {one}", item.key);
                        }
                        many => {
                            let _ = writeln!(out, "{indent}{}:", item.key);
                            for value in many {
                                let _ = writeln!(out, "{nested}- {value}");
                            }
                        }
                    }
                }
            }
        }
        let _ = writeln!(out, "  condition: {}", self.condition);
        if full {
            footer(out, self.meta);
        } else {
            let _ = writeln!(out, "level: {}", level(self.meta));
        }
    }
}

struct Alias {
    name: &'static str,
    fields: Vec<(String, &'static str)>,
}

impl Alias {
    fn new(name: &'static str, bases: &[BaseRule], fields: [&'static str; 2]) -> Alias {
        Alias { name, fields: bases.iter().map(|b| b.name.clone()).zip(fields).collect() }
    }
}

struct Correlation {
    meta: &'static Metadata,
    bases: Vec<BaseRule>,
    kind: &'static str,
    timespan: String,
    group_by: Vec<&'static str>,
    aliases: Vec<Alias>,
}

impl Correlation {
    fn new(
        meta: &'static Metadata,
        bases: Vec<BaseRule>,
        kind: &'static str,
        timespan: String,
        group_by: Vec<&'static str>,
        aliases: Vec<Alias>,
    ) -> Correlation {
        Correlation { meta, bases, kind, timespan, group_by, aliases }
    }

    fn write(&self, out: &mut String) {
        header(out, self.meta.name, self.meta.id, None, self.meta.description, self.meta);
        out.push_str("correlation:\n");
        let _ = writeln!(out, "  type: {}", self.kind);
        out.push_str("  rules:\n");
        for base in &self.bases {
            let _ = writeln!(out, "    - {}", base.name);
        }
        if !self.aliases.is_empty() {
            out.push_str("  aliases:\n");
            for alias in &self.aliases {
                let _ = writeln!(out, "    {}:", alias.name);
                for (rule, field) in &alias.fields {
                    let _ = writeln!(out, "      {rule}: {field}");
                }
            }
        }
        out.push_str("  group-by:\n");
        for field in &self.group_by {
            let _ = writeln!(out, "    - {field}");
        }
        let _ = writeln!(out, "  timespan: {}", self.timespan);
        footer(out, self.meta);
    }
}

fn comments(out: &mut String, what: &str, notes: &[&str]) {
    let _ = writeln!(out, "# Generated by dcom-detect {} from {what}; do not edit.", env!("CARGO_PKG_VERSION"));
    out.push_str("# What Sigma cannot express exactly, and how this export approximates it (docs/export.md):\n");
    for note in notes {
        let mut line = String::from("# -");
        for word in note.split_whitespace() {
            if line.len() + word.len() + 1 > 100 {
                let _ = writeln!(out, "{line}");
                line = String::from("#  ");
            }
            line.push(' ');
            line.push_str(word);
        }
        let _ = writeln!(out, "{line}");
    }
}

fn header(out: &mut String, title: &str, id: &str, name: Option<&str>, description: &str, meta: &Metadata) {
    let _ = writeln!(out, "title: {}", quote(title));
    let _ = writeln!(out, "id: {id}");
    if let Some(name) = name {
        let _ = writeln!(out, "name: {name}");
    }
    out.push_str("status: test\n");
    let _ = writeln!(out, "description: {}", quote(description));
    out.push_str("references:\n");
    for reference in meta.references {
        let _ = writeln!(out, "  - {}", quote(reference));
    }
    out.push_str("author: dcom-detect\n");
    out.push_str("tags:\n");
    for tag in tags(meta) {
        let _ = writeln!(out, "  - {tag}");
    }
}

fn footer(out: &mut String, meta: &Metadata) {
    if !meta.false_positives.is_empty() {
        out.push_str("falsepositives:\n");
        for fp in meta.false_positives {
            let _ = writeln!(out, "  - {}", quote(fp));
        }
    }
    let _ = writeln!(out, "level: {}", level(meta));
}

/// Sigma's ATT&CK tags: the tactic by name (`attack.lateral-movement`) and the
/// sub-technique by id (`attack.t1021.003`).
fn tags(meta: &Metadata) -> [String; 2] {
    [
        format!("attack.{}", meta.threat.tactic.name.to_ascii_lowercase().replace(' ', "-")),
        format!("attack.{}", meta.threat.subtechnique.id.to_ascii_lowercase()),
    ]
}

/// Sigma's level of a severity (`low`, `medium`, `high`, `critical` are Sigma's own).
fn level(meta: &Metadata) -> &'static str {
    match meta.severity {
        "low" => "low",
        "medium" => "medium",
        "critical" => "critical",
        _ => "high",
    }
}

/// A literal as a Sigma value: `*`, `?` and a backslash before them (or at the end) escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '*' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '\\' if matches!(chars.get(i + 1), None | Some('*' | '?' | '\\')) => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out
}

/// A YAML single-quoted scalar.
fn quote(text: &str) -> String {
    debug_assert!(!text.chars().any(char::is_control), "no control characters in exported values: {text:?}");
    format!("'{}'", text.replace('\'', "''"))
}

/// A version-8 UUID derived from a rule id and a part name (FNV-1a 128 of both).
fn derived_id(parent: &str, part: &str) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in parent.bytes().chain([0]).chain(part.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    // Version 8 (custom), variant 10.
    let hash = (hash & !(0xf << 76) | (0x8 << 76)) & !(0b11 << 62) | (0b10 << 62);
    let hex = format!("{hash:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_backslashes_and_escapes_wildcards() {
        assert_eq!(escape("\\mmc.exe"), "\\mmc.exe");
        assert_eq!(escape("a*b?c"), "a\\*b\\?c");
        assert_eq!(escape("x\\"), "x\\\\");
        assert_eq!(escape("x\\*"), "x\\\\\\*");
        assert_eq!(quote("it's"), "'it''s'");
    }

    #[test]
    fn wildcard_patterns_take_the_closest_modifier() {
        assert_eq!(wildcard("F", "*DCOM*").key, "F|contains");
        assert_eq!(wildcard("F", "*DCOM*").values, ["'DCOM'"]);
        assert_eq!(wildcard("F", "ab*").key, "F|startswith");
        assert_eq!(wildcard("F", "*ab").key, "F|endswith");
        assert_eq!(wildcard("F", "a*b").key, "F");
        assert_eq!(wildcard("F", "*a?b*").values, ["'*a?b*'"]);
        assert_eq!(wildcard("F", "*").key, "F");
    }

    #[test]
    fn derived_ids_are_version_8_and_distinct() {
        let a = derived_id(METADATA.id, "a");
        let b = derived_id(METADATA.id, "b");
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "8", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
        assert_eq!(a, derived_id(METADATA.id, "a"));
    }

    #[test]
    fn not_remote_cidrs_are_the_engines_loopback() {
        use std::net::IpAddr;
        for (cidr, first) in NOT_REMOTE_CIDRS.iter().zip(["127.0.0.1", "::1", "0.0.0.0", "::"]) {
            let ip: IpAddr = first.parse().unwrap();
            assert!(crate::correlate::is_loopback(ip), "{cidr}");
        }
        for other in ["128.0.0.1", "::2", "10.0.0.1"] {
            assert!(!crate::correlate::is_loopback(other.parse().unwrap()));
        }
    }
}
