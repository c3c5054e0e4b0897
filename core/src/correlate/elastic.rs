//! The `elastic` profile: Elastic's three prebuilt DCOM sequence rules, verbatim, evaluated
//! with Elasticsearch's sequence semantics (`docs/semantics.md`, "Sequences (the elastic
//! profile)").
//!
//! | rule | `rule_id` | stage 0 | stage 1 | join | maxspan |
//! |---|---|---|---|---|---|
//! | [`ElasticRule::Mmc20`] | `51ce96fb-…` | inbound TCP to `mmc.exe`, both ports ≥ 49152 | a child of `mmc.exe` | `host.id` + entity id = parent entity id | 1 m |
//! | [`ElasticRule::ShellWindows`] | `8f919d4b-…` | inbound TCP to `explorer.exe`, both ports > 49151 | a child of `explorer.exe` | `host.id` + entity id = parent entity id | 5 s |
//! | [`ElasticRule::Hta`] | `622ecb68-…` | `mshta.exe -Embedding` starts | inbound TCP to `mshta.exe`, both ports > 49151 | `host.id` + entity id | 1 m |
//!
//! [`ElasticReader::read`] turns a decoded document into an [`ElasticEvent`]: which stage of
//! which rule it satisfies, with its join keys already hashed. [`Sequences`] orders events by
//! `@timestamp` then input position (within an allowed lateness) and runs Elasticsearch's
//! matcher (`SequenceMatcher.match`): a stage-1 event takes the latest earlier stage-0 event
//! of its key, which removes every older one of that key; a sequence longer than `maxspan`
//! is rejected (and still consumed). Hence one pending stage-0 event per key suffices, and a
//! newer one with the same key replaces it.
//!
//! # Cost
//! Reading: `O(values)` of the fields the rules name; no allocation. Sequencing one event:
//! `O(log buffer)` for the reorder buffer plus `O(keys)` hash-map probes; a full pending map
//! is swept (`O(pending)`) before anything is evicted. Every map and buffer is reserved when
//! [`Sequences::new`] runs, so nothing allocates afterwards.
//!
//! # Invariants
//! - Results depend only on the sequence of events and marks fed (no clock, no randomness:
//!   eviction picks the oldest by time and input position, never by hash order).
//! - Input reordered within [`ElasticLimits::lateness_ms`] gives the sequences of sorted input.
//! - Every event that could have completed a sequence but was dropped by a bound is counted in
//!   [`ElasticStats`].

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::observe::Endpoint;
use crate::view::ecs::{Document, Schema, ViewField};
use crate::view::field::{Mapping, ECS_IGNORE_ABOVE};
use crate::view::text::Text;

/// One of Elastic's prebuilt DCOM sequence rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ElasticRule {
    /// "Incoming DCOM Lateral Movement with MMC" (`lateral_movement_dcom_mmc20.toml`).
    Mmc20,
    /// "Incoming DCOM Lateral Movement with ShellBrowserWindow or ShellWindows"
    /// (`lateral_movement_dcom_shellwindow_shellbrowserwindow.toml`).
    ShellWindows,
    /// "Incoming DCOM Lateral Movement via MSHTA" (`lateral_movement_dcom_hta.toml`).
    Hta,
}

/// The EQL of `lateral_movement_dcom_mmc20.toml`, elastic/detection-rules commit 02e431de
/// (`updated_date = "2026/05/04"`), verbatim.
pub const MMC20_QUERY: &str = r#"sequence by host.id with maxspan=1m
 [network where host.os.type == "windows" and event.type == "start" and process.name : "mmc.exe" and source.port >= 49152 and
 destination.port >= 49152 and source.ip != "127.0.0.1" and source.ip != "::1" and
  network.direction : ("incoming", "ingress") and network.transport == "tcp"
 ] by process.entity_id
 [process where host.os.type == "windows" and event.type == "start" and process.parent.name : "mmc.exe"
 ] by process.parent.entity_id
"#;

/// The EQL of `lateral_movement_dcom_shellwindow_shellbrowserwindow.toml`,
/// elastic/detection-rules commit 2ada205f (`updated_date = "2025/03/20"`), verbatim.
pub const SHELLWINDOWS_QUERY: &str = r#"sequence by host.id with maxspan=5s
 [network where host.os.type == "windows" and event.type == "start" and process.name : "explorer.exe" and
  network.direction : ("incoming", "ingress") and network.transport == "tcp" and
  source.port > 49151 and destination.port > 49151 and source.ip != "127.0.0.1" and source.ip != "::1"
 ] by process.entity_id
 [process where host.os.type == "windows" and event.type == "start" and
  process.parent.name : "explorer.exe"
 ] by process.parent.entity_id
"#;

/// The EQL of `lateral_movement_dcom_hta.toml`, elastic/detection-rules commit 7176b439
/// (`updated_date = "2025/03/20"`), verbatim.
pub const HTA_QUERY: &str = r#"sequence with maxspan=1m
  [process where host.os.type == "windows" and event.type == "start" and
     process.name : "mshta.exe" and process.args : "-Embedding"
  ] by host.id, process.entity_id
  [network where host.os.type == "windows" and event.type == "start" and process.name : "mshta.exe" and
     network.direction : ("incoming", "ingress") and network.transport == "tcp" and
     source.port > 49151 and destination.port > 49151 and source.ip != "127.0.0.1" and source.ip != "::1"
  ] by host.id, process.entity_id
"#;

impl ElasticRule {
    /// Every rule, in a fixed order (the index of a rule in this array is its slot).
    pub const ALL: [ElasticRule; 3] = [ElasticRule::Mmc20, ElasticRule::ShellWindows, ElasticRule::Hta];

    /// The rule's `rule_id` in elastic/detection-rules.
    pub fn id(self) -> &'static str {
        self.metadata().id
    }

    /// The rule's name.
    pub fn name(self) -> &'static str {
        self.metadata().name
    }

    /// A short name (`mmc20`, `shellwindows`, `hta`).
    pub fn short_name(self) -> &'static str {
        match self {
            ElasticRule::Mmc20 => "mmc20",
            ElasticRule::ShellWindows => "shellwindows",
            ElasticRule::Hta => "hta",
        }
    }

    /// The rule's severity and risk score.
    pub fn severity(self) -> (&'static str, u32) {
        (self.metadata().severity, self.metadata().risk_score)
    }

    /// The rule's EQL, verbatim.
    pub fn query(self) -> &'static str {
        match self {
            ElasticRule::Mmc20 => MMC20_QUERY,
            ElasticRule::ShellWindows => SHELLWINDOWS_QUERY,
            ElasticRule::Hta => HTA_QUERY,
        }
    }

    /// `maxspan`, in milliseconds.
    pub fn maxspan_millis(self) -> i64 {
        self.spec().maxspan_ms
    }

    /// The stage whose event is the process start (the alert's anchor): 1 for MMC20 and
    /// ShellWindows (the sequence's last event), 0 for HTA (its first).
    pub fn anchor_stage(self) -> usize {
        match self {
            ElasticRule::Mmc20 | ElasticRule::ShellWindows => 1,
            ElasticRule::Hta => 0,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }

    /// The rule as data: its stages' conditions and keys (read by [`crate::export::sigma`]).
    pub(crate) fn spec(self) -> &'static Spec {
        match self {
            ElasticRule::Mmc20 => &MMC20,
            ElasticRule::ShellWindows => &SHELLWINDOWS,
            ElasticRule::Hta => &HTA,
        }
    }
}

// ---- The rules as data ----------------------------------------------------------------------

/// Where a condition's values come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Src {
    /// A field of the event view.
    View(ViewField),
    /// `host.os.type` (see [`ElasticReader`]).
    HostOsType,
}

/// One comparison of a stage's `where` clause. Every comparison is true when *any* value of
/// the field satisfies it (a term or range query on a multi-valued field), except `!=`, true
/// when *no* value equals (a `must_not` term query); a field without values satisfies only
/// `!=`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cond {
    /// `field == "literal"`: exact, case-sensitive (a term query on a keyword).
    Exact(Src, &'static str),
    /// `field : "literal"` or `field : ("a", "b")`: equality ignoring ASCII case (a
    /// case-insensitive term query; none of the literals holds a wildcard).
    Like(Src, &'static [&'static str]),
    /// `field > n` on a `long` field.
    Above(Src, i64),
    /// `field >= n` on a `long` field.
    AtLeast(Src, i64),
    /// `field != "address"` on an `ip` field: addresses compare as addresses.
    NotAddress(Src, IpAddr),
}

/// One stage: its event category (`network where`), its conditions and its own `by` key.
#[derive(Debug)]
pub(crate) struct Stage {
    pub(crate) category: &'static str,
    pub(crate) conds: &'static [Cond],
    pub(crate) key: ViewField,
}

/// A rule: its two stages (each joined on `host.id` and the stage's key) and its maxspan.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) stages: [Stage; 2],
    pub(crate) maxspan_ms: i64,
}

use Cond::{Above, AtLeast, Exact, Like, NotAddress};
use Src::{HostOsType, View};
use ViewField as F;

const LOOPBACK4: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const LOOPBACK6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
const INBOUND: &[&str] = &["incoming", "ingress"];

const MMC20: Spec = Spec {
    stages: [
        Stage {
            category: "network",
            conds: &[
                Exact(HostOsType, "windows"),
                Exact(View(F::EventType), "start"),
                Like(View(F::ProcessName), &["mmc.exe"]),
                AtLeast(View(F::SourcePort), 49152),
                AtLeast(View(F::DestinationPort), 49152),
                NotAddress(View(F::SourceIp), LOOPBACK4),
                NotAddress(View(F::SourceIp), LOOPBACK6),
                Like(View(F::NetworkDirection), INBOUND),
                Exact(View(F::NetworkTransport), "tcp"),
            ],
            key: F::ProcessEntityId,
        },
        Stage {
            category: "process",
            conds: &[
                Exact(HostOsType, "windows"),
                Exact(View(F::EventType), "start"),
                Like(View(F::ParentName), &["mmc.exe"]),
            ],
            key: F::ParentEntityId,
        },
    ],
    maxspan_ms: 60_000,
};

const SHELLWINDOWS: Spec = Spec {
    stages: [
        Stage {
            category: "network",
            conds: &[
                Exact(HostOsType, "windows"),
                Exact(View(F::EventType), "start"),
                Like(View(F::ProcessName), &["explorer.exe"]),
                Like(View(F::NetworkDirection), INBOUND),
                Exact(View(F::NetworkTransport), "tcp"),
                Above(View(F::SourcePort), 49151),
                Above(View(F::DestinationPort), 49151),
                NotAddress(View(F::SourceIp), LOOPBACK4),
                NotAddress(View(F::SourceIp), LOOPBACK6),
            ],
            key: F::ProcessEntityId,
        },
        Stage {
            category: "process",
            conds: &[
                Exact(HostOsType, "windows"),
                Exact(View(F::EventType), "start"),
                Like(View(F::ParentName), &["explorer.exe"]),
            ],
            key: F::ParentEntityId,
        },
    ],
    maxspan_ms: 5_000,
};

const HTA: Spec = Spec {
    stages: [
        Stage {
            category: "process",
            conds: &[
                Exact(HostOsType, "windows"),
                Exact(View(F::EventType), "start"),
                Like(View(F::ProcessName), &["mshta.exe"]),
                Like(View(F::ProcessArgs), &["-Embedding"]),
            ],
            key: F::ProcessEntityId,
        },
        Stage {
            category: "network",
            conds: &[
                Exact(HostOsType, "windows"),
                Exact(View(F::EventType), "start"),
                Like(View(F::ProcessName), &["mshta.exe"]),
                Like(View(F::NetworkDirection), INBOUND),
                Exact(View(F::NetworkTransport), "tcp"),
                Above(View(F::SourcePort), 49151),
                Above(View(F::DestinationPort), 49151),
                NotAddress(View(F::SourceIp), LOOPBACK4),
                NotAddress(View(F::SourceIp), LOOPBACK6),
            ],
            key: F::ProcessEntityId,
        },
    ],
    maxspan_ms: 60_000,
};

// ---- Reading documents ----------------------------------------------------------------------

/// What a raw Windows event (no ECS fields of its own) is given as `host.id` and
/// `host.os.type`, which only the shipper adds (Winlogbeat's and Elastic Agent's
/// `add_host_metadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RawHost {
    /// As if shipped by an agent on the computer that logged it (the default): `host.id` is
    /// the event's `Computer` (one id per computer, as `add_host_metadata` gives one per
    /// machine) and `host.os.type` is `windows`.
    #[default]
    Computer,
    /// As the raw document stands: no `host.id`, no `host.os.type`, so no raw event satisfies
    /// a stage (`host.os.type == "windows"` is false) or joins.
    Absent,
}

/// Most join-key values read per field, and most key combinations per stage (a multi-valued
/// key joins under each value: Elasticsearch's cartesian product of the values).
pub const MAX_KEYS: usize = 4;

/// The hashed join keys (`host.id` and the stage's `by` field) one event offers one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    keys: [u128; MAX_KEYS],
    len: u8,
}

impl Keys {
    /// The keys.
    pub fn as_slice(&self) -> &[u128] {
        &self.keys[..usize::from(self.len)]
    }
}

/// What one event is to the three rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElasticEvent {
    /// `@timestamp` in milliseconds (the view's event time; Elasticsearch's `date` keeps
    /// milliseconds).
    pub time_ms: i64,
    /// Per rule (in [`ElasticRule::ALL`] order) and stage, the keys under which the event
    /// satisfies that stage; `None` when it does not.
    pub stages: [[Option<Keys>; 2]; 3],
    /// Stages satisfied by the conditions but without a `host.id` or `by` value: such an
    /// event is not returned by Elasticsearch's stage query (non-null join keys), so it
    /// joins nothing.
    pub keyless: u8,
    /// Stages whose key combinations were more than [`MAX_KEYS`] (the rest were dropped).
    pub keys_truncated: u8,
    /// The event's source and destination ends (a network event's; None elsewhere), for
    /// the alert's partner.
    pub ends: [Option<Endpoint>; 2],
}

impl ElasticEvent {
    /// The keys under which the event satisfies `stage` of `rule`.
    pub fn keys(&self, rule: ElasticRule, stage: usize) -> Option<&Keys> {
        self.stages[rule.slot()][stage].as_ref()
    }
}

/// Reads documents for the three rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElasticReader {
    raw_host: RawHost,
    time: TimeSource,
}

/// Which time orders the events (the `@timestamp` Elasticsearch would sort by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeSource {
    /// The event view's time ([`Document::timestamp`]): `@timestamp` of an ECS document; for
    /// a raw event EVTX's `TimeCreated` (what Winlogbeat puts in `@timestamp`: its Sysmon
    /// processor parses `UtcTime` into `winlog.event_data.UtcTime` only), else Sysmon's
    /// `UtcTime`, else `@timestamp`. On `../shared/realdata` this also raises the HTA rule
    /// on the LethalHTA recording (the connection is logged 1.2 s after mshta starts, though
    /// Sysmon stamped it 4 s before).
    View,
    /// The default: Sysmon's `UtcTime` for raw Sysmon events (also in EVTX), else the view's
    /// time, as if an ingest pipeline copied `UtcTime` into `@timestamp`: the time Sysmon
    /// observed the event, which the `extended` profile also uses, and what
    /// `CORRELATION.md`'s expectations assume (ShellWindows 2434 only on realdata).
    #[default]
    SysmonUtcTime,
}

impl ElasticReader {
    /// A reader of documents decoded with the event view (`Paths::with_view`, which holds
    /// every field the rules read, `host.os.type` included).
    pub fn new(raw_host: RawHost, time: TimeSource) -> ElasticReader {
        ElasticReader { raw_host, time }
    }

    /// The event's stages and keys, if it satisfies any stage of any rule (with or without
    /// its keys: a keyless one is counted) and has a time.
    /// O(values), no allocation.
    pub fn read(&self, doc: &Document<'_>) -> Option<ElasticEvent> {
        let mut event =
            ElasticEvent { time_ms: 0, stages: [[None; 2]; 3], keyless: 0, keys_truncated: 0, ends: [None; 2] };
        let mut any = false;
        for rule in ElasticRule::ALL {
            for (s, stage) in rule.spec().stages.iter().enumerate() {
                if !self.satisfies(doc, stage) {
                    continue;
                }
                match self.keys(doc, stage.key) {
                    Some((keys, truncated)) => {
                        event.stages[rule.slot()][s] = Some(keys);
                        event.keys_truncated += u8::from(truncated);
                        any = true;
                    }
                    None => event.keyless += 1,
                }
            }
        }
        if !any && event.keyless == 0 {
            return None;
        }
        let time = match self.time {
            TimeSource::View => doc.timestamp(),
            TimeSource::SysmonUtcTime => doc.sysmon_utc_time().or_else(|| doc.timestamp()),
        };
        event.time_ms = time?.unix_millis();
        event.ends = super::observe::ends(doc);
        Some(event)
    }

    fn satisfies(&self, doc: &Document<'_>, stage: &Stage) -> bool {
        doc.view(F::EventCategory).any(|v| v.eq_str(stage.category)) && stage.conds.iter().all(|c| self.holds(doc, c))
    }

    fn holds(&self, doc: &Document<'_>, cond: &Cond) -> bool {
        match *cond {
            Exact(src, lit) => self.any(doc, src, |v| indexed(v) && v.eq_str(lit)),
            Like(src, lits) => self.any(doc, src, |v| indexed(v) && lits.iter().any(|l| eq_ascii(v, l))),
            Above(src, n) => self.any(doc, src, |v| long(v).is_some_and(|x| x > n)),
            AtLeast(src, n) => self.any(doc, src, |v| long(v).is_some_and(|x| x >= n)),
            NotAddress(src, ip) => !self.any(doc, src, |v| v.as_str().and_then(parse_ip) == Some(ip)),
        }
    }

    fn any(&self, doc: &Document<'_>, src: Src, mut test: impl FnMut(Text<'_>) -> bool) -> bool {
        match src {
            View(field) => doc.view(field).any(test),
            HostOsType => match (doc.schema(), self.raw_host) {
                (Schema::Raw(..), RawHost::Computer) => test(Text::from("windows")),
                (Schema::Raw(..), RawHost::Absent) => false,
                (Schema::Ecs, _) => doc.view(F::HostOsType).any(test),
            },
        }
    }

    /// The hashed `(host.id, key)` combinations, and whether some were dropped; None when
    /// either field has no (indexed) value.
    fn keys(&self, doc: &Document<'_>, key: ViewField) -> Option<(Keys, bool)> {
        let mut hosts = [Text::from(""); MAX_KEYS];
        let mut values = [Text::from(""); MAX_KEYS];
        let (nh, th) = collect(self.host_ids(doc), &mut hosts);
        let (nv, tv) = collect(doc.view(key), &mut values);
        if nh == 0 || nv == 0 {
            return None;
        }
        let mut keys = Keys { keys: [0; MAX_KEYS], len: 0 };
        let mut truncated = th || tv;
        for h in &hosts[..nh] {
            for v in &values[..nv] {
                let k = key_hash(*h, *v);
                if keys.as_slice().contains(&k) {
                    continue;
                }
                if usize::from(keys.len) == MAX_KEYS {
                    truncated = true;
                    continue;
                }
                keys.keys[usize::from(keys.len)] = k;
                keys.len += 1;
            }
        }
        Some((keys, truncated))
    }

    fn host_ids<'d>(&self, doc: &Document<'d>) -> impl Iterator<Item = Text<'d>> {
        let raw = matches!(doc.schema(), Schema::Raw(..));
        let fallback = raw && self.raw_host == RawHost::Computer && doc.view(F::HostId).next().is_none();
        doc.view(F::HostId).chain(doc.view(F::HostName).filter(move |_| fallback))
    }
}

/// Up to `out.len()` indexed values; the count and whether more were left out.
fn collect<'d>(values: impl Iterator<Item = Text<'d>>, out: &mut [Text<'d>; MAX_KEYS]) -> (usize, bool) {
    let mut n = 0;
    for v in values.filter(|v| indexed(*v)) {
        if n == MAX_KEYS {
            return (n, true);
        }
        out[n] = v;
        n += 1;
    }
    (n, false)
}

/// Whether a keyword value is indexed (ECS's `ignore_above: 1024`); longer values are
/// invisible to queries and joins.
fn indexed(v: Text<'_>) -> bool {
    Mapping::Keyword { ignore_above: ECS_IGNORE_ABOVE }.indexes(v)
}

/// A `long` field's value: an integer, as its JSON text.
fn long(v: Text<'_>) -> Option<i64> {
    v.as_str()?.parse().ok()
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    // The `ip` type stores IPv4 as IPv4-mapped IPv6: `::ffff:127.0.0.1` is `127.0.0.1`.
    let ip: IpAddr = text.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// Equality ignoring ASCII case (`:` without wildcards).
fn eq_ascii(value: Text<'_>, literal: &str) -> bool {
    let mut chars = value.chars();
    literal.chars().all(|l| chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&l))) && chars.next().is_none()
}

/// A 128-bit hash of the exact `(host.id, key)` texts (keyword joins are case-sensitive).
fn key_hash(host: Text<'_>, key: Text<'_>) -> u128 {
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142u64);
    let mut write = |w: u64| {
        a = (a ^ w).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ w.rotate_left(29)).wrapping_mul(0x0000_0100_0000_01b3);
    };
    for c in host.chars() {
        write(u64::from(c));
    }
    write(u64::MAX); // no char is u64::MAX: separates the two values
    for c in key.chars() {
        write(u64::from(c));
    }
    u128::from(a) << 64 | u128::from(b)
}

// ---- Sequencing ----------------------------------------------------------------------------

/// Bounds on the sequencing state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElasticLimits {
    /// Pending stage-0 events per rule (default 1024; one per key).
    pub pending: usize,
    /// Events waiting in the reorder buffer (default 4096); a full buffer releases its oldest
    /// early.
    pub buffer: usize,
    /// Allowed lateness in milliseconds (default 60 s): an event waits until the newest time
    /// seen passes its own by this much.
    pub lateness_ms: i64,
}

impl Default for ElasticLimits {
    fn default() -> ElasticLimits {
        ElasticLimits { pending: 1024, buffer: 4096, lateness_ms: 60_000 }
    }
}

/// One event of a completed sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceEvent<M> {
    /// The mark given to [`Sequences::push`].
    pub mark: M,
    /// `@timestamp`, in milliseconds.
    pub time_ms: i64,
    /// Its source and destination ends ([`ElasticEvent::ends`]).
    pub ends: [Option<Endpoint>; 2],
}

/// A completed sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElasticMatch<M> {
    /// The rule.
    pub rule: ElasticRule,
    /// The events, in stage order.
    pub events: [SequenceEvent<M>; 2],
    /// The join key (hashed `host.id` and stage key).
    pub key: u128,
}

impl<M: Copy> ElasticMatch<M> {
    /// The process start: the alert's anchor (the last event for MMC20 and ShellWindows,
    /// the first for HTA).
    pub fn anchor(&self) -> SequenceEvent<M> {
        self.events[self.rule.anchor_stage()]
    }

    /// The other event.
    pub fn partner(&self) -> SequenceEvent<M> {
        self.events[1 - self.rule.anchor_stage()]
    }

    /// The sequence's span (last minus first), in milliseconds; at most the rule's maxspan.
    pub fn span_ms(&self) -> i64 {
        self.events[1].time_ms - self.events[0].time_ms
    }
}

/// Counts of what the sequencer saw and what it may have missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElasticStats {
    /// Events pushed.
    pub events: u64,
    /// Sequences completed.
    pub sequences: u64,
    /// Stage-1 events whose pending stage-0 event was older than the maxspan (Elasticsearch
    /// rejects them and drops the pending event).
    pub rejected_maxspan: u64,
    /// Stage-0 events superseded by a newer one of the same key: a pending one replaced, or
    /// a late, older one dropped (Elasticsearch would never pick the older one).
    pub replaced: u64,
    /// Pending stage-0 events dropped because they could no longer complete (older than the
    /// maxspan): not a loss.
    pub expired: u64,
    /// Pending stage-0 events evicted from a full map while they could still complete: a
    /// possible missed sequence.
    pub evicted_pending: u64,
    /// Events evaluated before the lateness had passed (full reorder buffer): possibly out
    /// of order.
    pub released_early: u64,
    /// Events older than what was already evaluated: evaluated at once, out of order.
    pub late: u64,
    /// Stages an event satisfied without a `host.id` or key value (they join nothing).
    pub keyless: u64,
    /// Stages whose key combinations exceeded [`MAX_KEYS`].
    pub keys_truncated: u64,
}

#[derive(Clone, Copy, Debug)]
struct Queued<M> {
    time_ms: i64,
    seq: u64,
    mark: M,
    event: ElasticEvent,
}

impl<M> PartialEq for Queued<M> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<M> Eq for Queued<M> {}
impl<M> PartialOrd for Queued<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Queued<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time_ms, self.seq).cmp(&(other.time_ms, other.seq))
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending<M> {
    time_ms: i64,
    seq: u64,
    mark: M,
    ends: [Option<Endpoint>; 2],
}

/// What the sequencer reports: completed sequences, and when an event leaves the state, so a
/// caller holding something for it (the record an alert is written from) can let it go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<M> {
    /// A completed sequence, as soon as its last event is evaluated.
    Match(ElasticMatch<M>),
    /// The event with this mark takes part in no further sequence: it was evaluated and is
    /// not pending, or it left every pending map it was in (completed, superseded, expired,
    /// evicted, or the input ended). Reported exactly once for every event pushed, after the
    /// sequences it completes or is part of.
    Done(M),
}

/// Elasticsearch's sequence matcher for the three rules, fed events in input order.
///
/// Events are evaluated in `(@timestamp, input position)` order: Elasticsearch sorts each
/// stage's hits by `@timestamp` then its tiebreaker (the implicit `_shard_doc` when the rule
/// names none, as these do), and input position stands in for the document order.
#[derive(Debug)]
pub struct Sequences<M> {
    limits: ElasticLimits,
    buffer: BinaryHeap<Reverse<Queued<M>>>,
    seq: u64,
    newest: i64,
    released: Option<i64>,
    pending: [HashMap<u128, Pending<M>>; 3],
    /// For each event in a pending map (by sequence number), how many entries hold it.
    held: HashMap<u64, u8>,
    stats: ElasticStats,
}

impl<M: Copy> Sequences<M> {
    /// An empty sequencer; reserves every buffer (nothing allocates afterwards).
    pub fn new(limits: ElasticLimits) -> Sequences<M> {
        let limits = ElasticLimits { pending: limits.pending.max(1), buffer: limits.buffer.max(1), ..limits };
        // Twice the bound: with at most `pending` entries, tombstones are always rehashed in
        // place, never by growing.
        let map = || HashMap::with_capacity(2 * limits.pending);
        Sequences {
            limits,
            buffer: BinaryHeap::with_capacity(limits.buffer + 1),
            seq: 0,
            newest: i64::MIN,
            released: None,
            pending: [map(), map(), map()],
            held: HashMap::with_capacity(2 * 3 * (limits.pending + 1)),
            stats: ElasticStats::default(),
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> ElasticStats {
        self.stats
    }

    /// Feeds one event (in input order) with its mark; completed sequences go to `emit`.
    pub fn push(&mut self, event: &ElasticEvent, mark: M, mut emit: impl FnMut(ElasticMatch<M>)) {
        self.push_steps(event, mark, |step| {
            if let Step::Match(m) = step {
                emit(m)
            }
        });
    }

    /// [`push`](Self::push), also reporting when each event leaves the state
    /// ([`Step::Done`]).
    pub fn push_steps(&mut self, event: &ElasticEvent, mark: M, mut emit: impl FnMut(Step<M>)) {
        self.stats.events += 1;
        self.stats.keyless += u64::from(event.keyless);
        self.stats.keys_truncated += u64::from(event.keys_truncated);
        let queued = Queued { time_ms: event.time_ms, seq: self.seq, mark, event: *event };
        self.seq += 1;
        if self.released.is_some_and(|r| event.time_ms < r) {
            self.stats.late += 1;
            self.evaluate(&queued, &mut emit);
            return;
        }
        self.newest = self.newest.max(event.time_ms);
        self.buffer.push(Reverse(queued));
        if self.buffer.len() > self.limits.buffer {
            self.stats.released_early += 1;
            self.release_one(&mut emit);
        }
        let horizon = self.newest.saturating_sub(self.limits.lateness_ms);
        while self.buffer.peek().is_some_and(|q| q.0.time_ms <= horizon) {
            self.release_one(&mut emit);
        }
    }

    /// Evaluates every waiting event (end of input).
    pub fn finish(&mut self, mut emit: impl FnMut(ElasticMatch<M>)) {
        self.finish_steps(|step| {
            if let Step::Match(m) = step {
                emit(m)
            }
        });
    }

    /// [`finish`](Self::finish), then reports every pending event [`Step::Done`] (oldest
    /// first) and empties the state.
    pub fn finish_steps(&mut self, mut emit: impl FnMut(Step<M>)) {
        while !self.buffer.is_empty() {
            self.release_one(&mut emit);
        }
        // Each held event once, in input order, whatever the maps' (hash) order.
        let mut left: Vec<Pending<M>> = self.pending.iter_mut().flat_map(|m| m.drain().map(|(_, p)| p)).collect();
        left.sort_by_key(|p| p.seq);
        left.dedup_by_key(|p| p.seq);
        self.held.clear();
        for p in left {
            emit(Step::Done(p.mark));
        }
    }

    fn release_one(&mut self, emit: &mut impl FnMut(Step<M>)) {
        if let Some(Reverse(q)) = self.buffer.pop() {
            self.released = Some(self.released.map_or(q.time_ms, |r| r.max(q.time_ms)));
            self.evaluate(&q, emit);
        }
    }

    /// `SequenceMatcher.match` for one event, stage 1 before stage 0 (an event satisfying
    /// both cannot extend its own sequence: Elasticsearch looks for strictly earlier
    /// ordinals).
    fn evaluate(&mut self, q: &Queued<M>, emit: &mut impl FnMut(Step<M>)) {
        for rule in ElasticRule::ALL {
            let maxspan = rule.maxspan_millis();
            let slot = rule.slot();
            if let Some(keys) = q.event.stages[slot][1] {
                for &key in keys.as_slice() {
                    // trimBefore: the latest earlier stage-0 event of the key, and every older
                    // one, leave the group whether or not the maxspan holds. (Only a late event
                    // can find a pending one after it: that one is not before it, and stays.)
                    let Some(first) = self.pending[slot].get(&key).copied() else { continue };
                    if (first.time_ms, first.seq) > (q.time_ms, q.seq) {
                        continue;
                    }
                    self.pending[slot].remove(&key);
                    if q.time_ms - first.time_ms > maxspan {
                        self.stats.rejected_maxspan += 1;
                    } else {
                        self.stats.sequences += 1;
                        emit(Step::Match(ElasticMatch {
                            rule,
                            events: [
                                SequenceEvent { mark: first.mark, time_ms: first.time_ms, ends: first.ends },
                                SequenceEvent { mark: q.mark, time_ms: q.time_ms, ends: q.event.ends },
                            ],
                            key,
                        }));
                    }
                    release(&mut self.held, &first, emit);
                }
            }
            if let Some(keys) = q.event.stages[slot][0] {
                for &key in keys.as_slice() {
                    let entry = Pending { time_ms: q.time_ms, seq: q.seq, mark: q.mark, ends: q.event.ends };
                    self.stats.replaced += u64::from(self.pending[slot].contains_key(&key));
                    match self.pending[slot].get_mut(&key) {
                        // The latest stage-0 event of a key is the only one that can complete
                        // (a late, older one is dropped instead).
                        Some(held) if (held.time_ms, held.seq) < (q.time_ms, q.seq) => {
                            let old = std::mem::replace(held, entry);
                            *self.held.entry(q.seq).or_default() += 1;
                            release(&mut self.held, &old, emit);
                        }
                        Some(_) => {}
                        None => {
                            self.pending[slot].insert(key, entry);
                            *self.held.entry(q.seq).or_default() += 1;
                            if self.pending[slot].len() > self.limits.pending {
                                self.make_room(slot, q.time_ms, maxspan, key, emit);
                            }
                        }
                    }
                }
            }
        }
        if !self.held.contains_key(&q.seq) {
            emit(Step::Done(q.mark));
        }
    }

    /// Brings a pending map back to its bound: first drops what can no longer complete (older
    /// than `now - maxspan`), then evicts the oldest other entries (counted). O(pending).
    fn make_room(&mut self, slot: usize, now: i64, maxspan: i64, keep: u128, emit: &mut impl FnMut(Step<M>)) {
        let (map, held) = (&mut self.pending[slot], &mut self.held);
        let before = map.len();
        map.retain(|_, p| {
            let live = now - p.time_ms <= maxspan;
            if !live {
                release(held, p, emit);
            }
            live
        });
        self.stats.expired += (before - map.len()) as u64;
        while map.len() > self.limits.pending {
            let oldest =
                map.iter().filter(|(k, _)| **k != keep).min_by_key(|(_, p)| (p.time_ms, p.seq)).map(|(k, _)| *k);
            let Some(oldest) = oldest else { break };
            if let Some(p) = map.remove(&oldest) {
                release(held, &p, emit);
            }
            self.stats.evicted_pending += 1;
        }
    }
}

/// One pending entry of an event is gone: reports the event done when it was its last.
fn release<M: Copy>(held: &mut HashMap<u64, u8>, p: &Pending<M>, emit: &mut impl FnMut(Step<M>)) {
    if let Some(n) = held.get_mut(&p.seq) {
        *n -= 1;
        if *n == 0 {
            held.remove(&p.seq);
            emit(Step::Done(p.mark));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(src: Src) -> &'static str {
        match src {
            View(f) => f.path(),
            HostOsType => "host.os.type",
        }
    }

    /// The condition as the EQL text writes it.
    fn render(cond: &Cond) -> String {
        match *cond {
            Exact(s, lit) => format!("{} == \"{lit}\"", path(s)),
            Like(s, [one]) => format!("{} : \"{one}\"", path(s)),
            Like(s, many) => {
                let list: Vec<String> = many.iter().map(|l| format!("\"{l}\"")).collect();
                format!("{} : ({})", path(s), list.join(", "))
            }
            Above(s, n) => format!("{} > {n}", path(s)),
            AtLeast(s, n) => format!("{} >= {n}", path(s)),
            NotAddress(s, ip) => format!("{} != \"{ip}\"", path(s)),
        }
    }

    /// Every stage's category, conditions (all of them, no more) and `by` key are those of
    /// the verbatim EQL text, and so is the maxspan.
    #[test]
    fn the_encoded_stages_are_the_eql_texts() {
        for rule in ElasticRule::ALL {
            let text = rule.query().split_whitespace().collect::<Vec<_>>().join(" ");
            let spec = rule.spec();
            let span = match spec.maxspan_ms {
                5_000 => "maxspan=5s",
                60_000 => "maxspan=1m",
                other => panic!("{other}"),
            };
            assert!(text.contains(span), "{rule:?}");
            let stages: Vec<&str> = text.split('[').skip(1).collect();
            assert_eq!(stages.len(), 2, "{rule:?}");
            for (stage, written) in spec.stages.iter().zip(&stages) {
                let (clause, after) = written.split_once(']').unwrap();
                assert!(clause.trim_start().starts_with(&format!("{} where ", stage.category)), "{rule:?}");
                assert_eq!(clause.matches(" and ").count(), stage.conds.len() - 1, "{rule:?}: {clause}");
                for cond in stage.conds {
                    assert!(clause.contains(&render(cond)), "{rule:?}: {} not in {clause}", render(cond));
                }
                // The stage's own key, after `host.id` (`sequence by host.id` or `by host.id, …`).
                let by = after.trim_start().strip_prefix("by ").unwrap().trim_end();
                let by = by.strip_prefix("host.id, ").unwrap_or(by);
                assert_eq!(by, stage.key.path(), "{rule:?}");
                assert!(text.starts_with("sequence by host.id ") || after.contains("by host.id, "), "{rule:?}");
            }
        }
    }
}
