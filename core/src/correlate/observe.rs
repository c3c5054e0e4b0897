//! Documents → observations: the few facts of one event that the correlation rules join on,
//! copied out of the borrowed view into a small `Copy` value.
//!
//! An [`Observation`] is a process start, an inbound TCP connection or a network logon, with
//! its host, its time and its join keys (entity ids, pids, logon ids) already parsed; every
//! other event gives none. Extraction runs where the record is decoded (in parallel in a
//! scan); the state machine ([`Correlator`](super::Correlator)) then sees only observations,
//! in input order.
//!
//! # Cost
//! One pass over the view's values for the fields read (`O(values)` each); no allocation.

use std::net::IpAddr;

use crate::view::ecs::{Document, RawKind, Schema, ViewField};
use crate::view::text::Text;
use crate::view::time::Timestamp;
use crate::view::windows::parse_number;

/// A host's identity: a 64-bit FNV-1a hash of `host.id` (else `host.name`, ASCII case
/// folded, as Windows names are). Two hosts collide with probability about `n² / 2⁶⁵`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey(pub u64);

/// A process or connection owner's identity: a GUID (`{d273d0f0-…}`, Sysmon's
/// `ProcessGuid`) read as its 128 bits, or a 128-bit hash of any other entity id (Elastic
/// Defend's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntityKey(pub u128);

/// Which clock an observation's time was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// UTC (`@timestamp`, `UtcTime`, `TimeCreated`).
    Utc,
    /// The host's local time (NXLog's `EventTime`), to be shifted by the host's offset; the
    /// collector's `@timestamp` comes with it as a fallback.
    Local {
        /// The collector's `@timestamp`, if any.
        collected: Option<Timestamp>,
    },
}

/// A process start, with what the rules ask of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// `process.entity_id`.
    pub entity: Option<EntityKey>,
    /// `process.pid`.
    pub pid: Option<u64>,
    /// `process.parent.entity_id`.
    pub parent_entity: Option<EntityKey>,
    /// `process.parent.pid`.
    pub parent_pid: Option<u64>,
    /// The logon session (`winlog.logon.id`).
    pub logon_id: Option<u64>,
    /// A COM server started for a remote activation: parent `svchost.exe`, an argument
    /// `-Embedding` or `/automation`, a name in [`SERVERS`] (D2, D2L anchors).
    pub com_server: bool,
    /// A child of `explorer.exe` (D3 anchor).
    pub explorer_child: bool,
    /// Sysmon's `UtcTime` and NXLog's `EventTime` of the same event, when both are present
    /// (the host's clock offset is learnt from them).
    pub utc_and_local: Option<(Timestamp, Timestamp)>,
}

/// One end of a connection: its address and, when the event gives one, its port.
pub type Endpoint = (IpAddr, Option<u16>);

/// An inbound TCP connection from a non-loopback remote address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// The owning process's `process.entity_id`.
    pub entity: Option<EntityKey>,
    /// The owning process's pid.
    pub pid: Option<u64>,
    /// The owner is `explorer.exe` (a D3 partner).
    pub explorer: bool,
    /// The owner is a COM server of [`SERVERS`] (a D2 partner).
    pub com_server: bool,
    /// Both ends as the event wrote them: `source` then `destination`.
    pub ends: [Endpoint; 2],
    /// Which end is local, when the event says so itself (ECS and Security 5156: the
    /// destination); `None` for Sysmon 3, whose versions disagree (decided by the
    /// correlator from the host's own addresses).
    pub local: Option<usize>,
}

/// An outbound connection: its source is one of the host's own addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The local address.
    pub local: IpAddr,
}

/// A network logon (4624 type 3 or an ECS authentication event) from a non-loopback
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logon {
    /// `winlog.logon.id` (4624 `TargetLogonId`).
    pub logon_id: u64,
    /// `source.ip`.
    pub source: IpAddr,
}

/// What an event is to the correlation rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A process start.
    Start(Start),
    /// An inbound TCP connection.
    Inbound(Inbound),
    /// An outbound connection (teaches the host's own address).
    Outbound(Outbound),
    /// A network logon.
    Logon(Logon),
}

/// One event's facts: host, time, what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The host.
    pub host: HostKey,
    /// The event time (see [`Clock`]).
    pub time: Timestamp,
    /// The clock `time` was read from.
    pub clock: Clock,
    /// What the event is.
    pub fact: Fact,
}

impl Fact {
    /// Whether this is an anchor candidate: a process start that is a COM server or an
    /// explorer child (its record is kept for the alert a correlation would raise).
    pub fn is_anchor_candidate(&self) -> bool {
        matches!(self, Fact::Start(s) if s.com_server || s.explorer_child)
    }
}

impl Observation {
    /// Whether this is an anchor candidate ([`Fact::is_anchor_candidate`]).
    pub fn is_anchor_candidate(&self) -> bool {
        self.fact.is_anchor_candidate()
    }
}

/// The COM servers a remote DCOM activation starts, as D2 names them (compared without
/// ASCII case).
pub const SERVERS: [&str; 14] = [
    "baaupdate.exe",
    "excel.exe",
    "explorer.exe",
    "ielowutil.exe",
    "iexplore.exe",
    "mmc.exe",
    "msaccess.exe",
    "mshta.exe",
    "mspub.exe",
    "outlook.exe",
    "powerpnt.exe",
    "speechruntime.exe",
    "visio.exe",
    "winword.exe",
];

/// The parent of a COM server started for a DCOM activation (the DcomLaunch service's host).
pub const ACTIVATION_PARENT: &str = "svchost.exe";

/// The arguments a COM server is started with for an activation (any one, compared without
/// ASCII case against each argument).
pub const ACTIVATION_ARGS: [&str; 2] = ["-Embedding", "/automation"];

/// The process whose children and inbound connections D3 joins.
pub const EXPLORER: &str = "explorer.exe";

/// `network.direction` values of an inbound connection (compared without ASCII case).
pub const INBOUND_DIRECTIONS: [&str; 3] = ["ingress", "incoming", "inbound"];

/// `network.direction` values of an outbound connection (compared without ASCII case).
pub const OUTBOUND_DIRECTIONS: [&str; 3] = ["egress", "outgoing", "outbound"];

/// The only `network.transport` that partners (compared without ASCII case).
pub const TRANSPORT: &str = "tcp";

/// `winlog.logon.type` values of a network logon (4624 type 3; compared without ASCII case).
pub const NETWORK_LOGON_TYPES: [&str; 2] = ["Network", "3"];

/// The lowest local port of the inbound connection D3 accepts (the dynamic RPC range).
pub const D3_MIN_LOCAL_PORT: u16 = 49152;

/// The observation a decoded document gives, if any. The document must have been decoded
/// with [`Paths::with_view`](crate::view::ecs::Paths::with_view). None for an event the
/// rules never read, an event without a host or a readable time, an outbound connection
/// without a readable address, and a connection or logon that is not from a remote address.
pub fn observe(doc: &Document<'_>) -> Option<Observation> {
    let category = |c: &str| doc.view(ViewField::EventCategory).any(|v| eq(v, c));
    let fact = if category("process") && doc.view(ViewField::EventType).any(|v| eq(v, "start")) {
        Fact::Start(start(doc))
    } else if category("network") {
        connection(doc)?
    } else if category("authentication") {
        Fact::Logon(logon(doc)?)
    } else {
        return None;
    };
    let host = host_key(doc)?;
    let (time, clock) = event_time(doc)?;
    let fact = match fact {
        Fact::Start(mut s) => {
            if let (Schema::Raw(_, RawKind::Sysmon1), Some(local), Some(utc)) =
                (doc.schema(), doc.local_time(), doc.timestamp())
            {
                s.utc_and_local = Some((utc, local));
            }
            Fact::Start(s)
        }
        other => other,
    };
    Some(Observation { host, time, clock, fact })
}

/// When an event happened, as the correlation reads it: the view's time
/// ([`Document::timestamp`], UTC) with [`Clock::Utc`]; for a Security event carrying NXLog's
/// local `EventTime` (OTRF's non-Sysmon events, whose `@timestamp` is the collector's), that
/// local time with [`Clock::Local`] and the collector's time. None without a readable time.
/// O(values), no allocation.
pub fn event_time(doc: &Document<'_>) -> Option<(Timestamp, Clock)> {
    match (doc.schema(), doc.local_time()) {
        (Schema::Raw(_, RawKind::Security4688 | RawKind::Security5156 | RawKind::Security4624), Some(local)) => {
            Some((local, Clock::Local { collected: doc.timestamp() }))
        }
        _ => Some((doc.timestamp()?, Clock::Utc)),
    }
}

/// Whether a record's raw bytes can give an observation at all: a sound, cheap test that lets
/// a scan skip decoding the records [`observe`] would return `None` for.
///
/// # Why it is sound
/// [`observe`] returns `Some` only for a process start, a network event or an
/// authentication event. An ECS document needs the value `start` (`event.type`), `network` or
/// `authentication` (`event.category`), compared without ASCII case; a raw Windows event is
/// one of the kinds read only when its channel is `Microsoft-Windows-Sysmon/Operational` or
/// `Security`, again compared without ASCII case. JSON escapes other than `\uXXXX` decode to
/// no letter, so unless the record holds a `\u` (any backslash before a `u`: a superset of the
/// real escapes), each of these words appears in its bytes, ASCII letters in either case. A
/// record holding none of `start`, `network`, `authentication`, `sysmon`, `security` (any
/// case) and no `\u` gives no observation. `core/tests/observe_prefilter.rs` checks this on
/// the recordings and on generated records, and that scans with and without the test agree.
///
/// # Cost
/// One lowercase copy of the record into a per-thread buffer (a loop the compiler
/// vectorises) and one multi-needle search (`aho-corasick`'s packed searcher), both O(n); a
/// `memchr` search for `\u`. No allocation once the buffer has grown to the longest record.
pub fn may_observe(record: &[u8]) -> bool {
    use std::cell::RefCell;
    thread_local! {
        static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    if memchr::memmem::find(record, b"\\u").is_some() {
        return true;
    }
    let needles = Needles::get();
    FOLDED.with(|folded| {
        let mut folded = folded.borrow_mut();
        folded.clear();
        folded.extend(record.iter().map(u8::to_ascii_lowercase));
        needles.is_match(folded.as_slice())
    })
}

/// The words [`may_observe`] looks for: `aho-corasick`'s packed (Teddy, SIMD) searcher where
/// the CPU has it, its automaton otherwise (whose rare-byte prefilter is several times slower
/// on these words).
enum Needles {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

/// The words [`may_observe`] looks for (see its soundness argument), lowercase.
pub const OBSERVE_WORDS: [&str; 5] = ["start", "network", "authentication", "sysmon", "security"];

impl Needles {
    fn new() -> Needles {
        match aho_corasick::packed::Config::new().builder().extend(OBSERVE_WORDS).build() {
            Some(searcher) => Needles::Packed(searcher),
            None => Needles::Automaton(aho_corasick::AhoCorasick::new(OBSERVE_WORDS).expect("five short words build")),
        }
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        match self {
            Needles::Packed(s) => s.find(haystack).is_some(),
            Needles::Automaton(a) => a.is_match(haystack),
        }
    }

    fn get() -> &'static Needles {
        use std::sync::OnceLock;
        static NEEDLES: OnceLock<Needles> = OnceLock::new();
        NEEDLES.get_or_init(Needles::new)
    }
}

fn start(doc: &Document<'_>) -> Start {
    let name = first(doc, ViewField::ProcessName);
    let parent = first(doc, ViewField::ParentName);
    let is = |v: Option<Text<'_>>, name: &str| v.is_some_and(|v| eq(v, name));
    let com_server = is(parent, ACTIVATION_PARENT)
        && name.is_some_and(|n| SERVERS.iter().any(|s| eq(n, s)))
        && doc.view(ViewField::ProcessArgs).any(|a| ACTIVATION_ARGS.iter().any(|arg| eq(a, arg)));
    Start {
        entity: first(doc, ViewField::ProcessEntityId).and_then(entity_key),
        pid: number(doc, ViewField::ProcessPid),
        parent_entity: first(doc, ViewField::ParentEntityId).and_then(entity_key),
        parent_pid: number(doc, ViewField::ParentPid),
        logon_id: number(doc, ViewField::LogonId).filter(|&id| id != 0),
        com_server,
        explorer_child: is(parent, EXPLORER),
        utc_and_local: None,
    }
}

/// A network event's source and destination ends (`source.ip`/`port`,
/// `destination.ip`/`port`), each None without a readable address. O(values).
pub(crate) fn ends(doc: &Document<'_>) -> [Option<Endpoint>; 2] {
    let ip = |f: ViewField| first(doc, f).and_then(|v| v.as_str()).and_then(parse_ip);
    let port = |f: ViewField| number(doc, f).and_then(|p| u16::try_from(p).ok());
    [
        ip(ViewField::SourceIp).map(|a| (a, port(ViewField::SourcePort))),
        ip(ViewField::DestinationIp).map(|a| (a, port(ViewField::DestinationPort))),
    ]
}

fn connection(doc: &Document<'_>) -> Option<Fact> {
    let direction = first(doc, ViewField::NetworkDirection)?;
    let ip = |f: ViewField| first(doc, f).and_then(|v| v.as_str()).and_then(parse_ip);
    let inbound = INBOUND_DIRECTIONS.iter().any(|d| eq(direction, d));
    let outbound = OUTBOUND_DIRECTIONS.iter().any(|d| eq(direction, d));
    if outbound {
        return Some(Fact::Outbound(Outbound { local: ip(ViewField::SourceIp)? }));
    }
    if !inbound || !first(doc, ViewField::NetworkTransport).is_some_and(|t| eq(t, TRANSPORT)) {
        return None;
    }
    let [Some(source), Some(destination)] = ends(doc) else { return None };
    let ends = [source, destination];
    let name = first(doc, ViewField::ProcessName);
    let local = match doc.schema() {
        Schema::Raw(_, RawKind::Sysmon3) => None,
        _ => Some(1),
    };
    Some(Fact::Inbound(Inbound {
        entity: first(doc, ViewField::ProcessEntityId).and_then(entity_key),
        pid: number(doc, ViewField::ProcessPid),
        explorer: name.is_some_and(|n| eq(n, EXPLORER)),
        com_server: name.is_some_and(|n| SERVERS.iter().any(|s| eq(n, s))),
        ends,
        local,
    }))
}

fn logon(doc: &Document<'_>) -> Option<Logon> {
    if !first(doc, ViewField::LogonType).is_some_and(|t| NETWORK_LOGON_TYPES.iter().any(|n| eq(t, n))) {
        return None;
    }
    let source = first(doc, ViewField::SourceIp).and_then(|v| v.as_str()).and_then(parse_ip)?;
    let logon_id = number(doc, ViewField::LogonId).filter(|&id| id != 0)?;
    (!is_loopback(source)).then_some(Logon { logon_id, source })
}

/// The host key of a document: `host.id`, else `host.name`.
fn host_key(doc: &Document<'_>) -> Option<HostKey> {
    let text = doc.host_id().or_else(|| doc.host_name())?;
    let mut hash = Fnv::new();
    for c in text.chars() {
        hash.write(u64::from(c.to_ascii_lowercase()));
    }
    Some(HostKey(hash.finish()))
}

/// A GUID's 128 bits (braces, dashes and case ignored), else a 128-bit hash of the text.
/// The key of an entity id: a GUID's 128 bits, else a 128-bit hash of the id's UTF-8 bytes
/// (the same for the same text in either encoding). None for an empty id. O(length): the GUID
/// test stops at the first byte that cannot be one, and the hash takes eight bytes a step.
fn entity_key(text: Text<'_>) -> Option<EntityKey> {
    if let Some(value) = guid(text) {
        return Some(EntityKey(value));
    }
    let mut hash = WordHash::new();
    match text.as_str() {
        Some(s) => hash.write(s.as_bytes()),
        None => {
            let mut utf8 = [0u8; 4];
            for c in text.chars() {
                hash.write(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    hash.finish().map(EntityKey)
}

/// A GUID's 128 bits: exactly 32 hex digits, with any `{`, `}` and `-` between them.
fn guid(text: Text<'_>) -> Option<u128> {
    let mut value: u128 = 0;
    let mut digits = 0;
    for c in text.chars() {
        match c.to_digit(16) {
            Some(d) if digits < 32 => {
                value = value << 4 | u128::from(d);
                digits += 1;
            }
            _ if matches!(c, '{' | '}' | '-') => {}
            _ => return None,
        }
    }
    (digits == 32).then_some(value)
}

/// Two seeded FNV-1a-style hashes of a byte stream taken as little-endian 64-bit words (the
/// last one zero-padded, then the length), so a stream hashes the same however it is cut
/// into writes.
struct WordHash {
    a: Fnv,
    b: Fnv,
    /// Bytes of the word being filled, in its low bytes.
    word: u64,
    /// Bytes written so far.
    len: u64,
}

impl WordHash {
    fn new() -> WordHash {
        WordHash { a: Fnv::new(), b: Fnv::with_seed(0x9e37_79b9_7f4a_7c15), word: 0, len: 0 }
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.word |= u64::from(b) << (8 * (self.len % 8));
            self.len += 1;
            if self.len.is_multiple_of(8) {
                self.mix();
            }
        }
    }

    fn mix(&mut self) {
        self.a.write(self.word);
        self.b.write(self.word);
        self.word = 0;
    }

    /// The 128-bit hash; None if nothing was written.
    fn finish(mut self) -> Option<u128> {
        if self.len == 0 {
            return None;
        }
        if !self.len.is_multiple_of(8) {
            self.mix();
        }
        self.a.write(self.len);
        self.b.write(self.len);
        Some(u128::from(self.a.finish()) << 64 | u128::from(self.b.finish()))
    }
}

fn first<'d>(doc: &Document<'d>, field: ViewField) -> Option<Text<'d>> {
    doc.view(field).next()
}

fn number(doc: &Document<'_>, field: ViewField) -> Option<u64> {
    first(doc, field).and_then(|v| v.as_str()).and_then(parse_number)
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    // Windows may write an IPv4-mapped IPv6 address; `::ffff:a.b.c.d` is read as IPv4.
    let ip: IpAddr = text.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// Loopback (`127.0.0.0/8`, `::1`) or unspecified (`0.0.0.0`, `::`): not a remote peer.
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// ASCII case-insensitive comparison of a value with an ASCII literal.
fn eq(value: Text<'_>, literal: &str) -> bool {
    let mut chars = value.chars();
    literal.chars().all(|l| chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&l))) && chars.next().is_none()
}

/// FNV-1a over 64-bit words.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn with_seed(seed: u64) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325 ^ seed)
    }

    fn write(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Option<EntityKey> {
        entity_key(Text::utf8(s))
    }

    #[test]
    fn guids_are_read_as_their_bits_however_spelt() {
        let bits = 0xd273d0f0_1234_5678_9abc_def012345678u128;
        for spelling in [
            "{d273d0f0-1234-5678-9abc-def012345678}",
            "D273D0F0-1234-5678-9ABC-DEF012345678",
            "d273d0f012345678-9abcdef012345678",
        ] {
            assert_eq!(key(spelling), Some(EntityKey(bits)), "{spelling}");
        }
        assert_eq!(guid(Text::utf8("{d273d0f0-1234-5678-9abc-def0123456789}")), None, "33 digits");
        assert_eq!(guid(Text::utf8("{d273d0f0-1234-5678-9abc-def01234567}")), None, "31 digits");
        assert_eq!(guid(Text::utf8("{d273d0f0-1234-5678-9abc-def01234567x}")), None);
    }

    #[test]
    fn other_ids_are_equal_exactly_when_their_text_is() {
        let ids: Vec<String> = (0..80)
            .map(|n| "YzNiMGExZjItN2Q0ZS00YjFhLTljOGQtNDRmZmZkMWNiYTU1LTEyMzQ".chars().take(n).collect())
            .chain(["a", "a\0", "a\0\0", "é", "e\u{301}", "ABC", "abc"].map(String::from))
            .chain((0..20).map(|n| format!("{}x", "\0".repeat(n))))
            .collect();
        for (i, a) in ids.iter().enumerate() {
            for (j, b) in ids.iter().enumerate() {
                if a.is_empty() || b.is_empty() {
                    continue;
                }
                assert_eq!(key(a) == key(b), i == j || a == b, "{a:?} {b:?}");
            }
        }
        assert_eq!(key(""), None);
    }

    #[test]
    fn an_id_has_the_same_key_in_utf16() {
        for id in ["YzNiMGExZjItN2Q0ZS00YjFhLTljOGQt", "é€😀 mixed 12345678901234567", "x"] {
            let units: Vec<u16> = id.encode_utf16().collect();
            assert_eq!(entity_key(Text::from_utf16(&units).expect("valid UTF-16")), key(id), "{id}");
        }
    }

    #[test]
    fn a_stream_hashes_the_same_however_it_is_cut() {
        let bytes: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37) | 1).collect();
        let whole = {
            let mut h = WordHash::new();
            h.write(&bytes);
            h.finish()
        };
        for cut in [1, 2, 3, 5, 7, 8, 9, 13] {
            let mut h = WordHash::new();
            for piece in bytes.chunks(cut) {
                h.write(piece);
            }
            assert_eq!(h.finish(), whole, "pieces of {cut}");
        }
    }
}
