//! JSON documents → the borrowed field view, as Elasticsearch would index them.
//!
//! [`Decoder::decode`] reads one JSON record and extracts only the fields the rule (and its
//! tuning) reads; everything else is validated and skipped without being materialised. The
//! result, a [`Document`], implements [`Fields`].
//!
//! # Document model (`docs/semantics.md` §4)
//! - Dotted keys and nested objects name the same field: `{"process.name": x}`,
//!   `{"process": {"name": x}}` and `{"process": {"parent.name": y}}`. A field supplied both
//!   ways has both values.
//! - Arrays, nested arrays and arrays of objects flatten into one multi-valued field.
//! - `null`, `[]` and `[null]` are no value; nulls inside arrays are skipped.
//! - Numbers and booleans are their JSON text (`123` is `"123"`, `1.0` stays `"1.0"`).
//! - String escapes are decoded; an unpaired surrogate escape becomes U+FFFD (as Lucene
//!   indexes the Java string Jackson produces).
//! - Rejected, as Elasticsearch rejects them at index time: invalid UTF-8, malformed JSON, a
//!   top-level value that is not an object, the same key twice in one object (compared after
//!   unescaping), an empty or blank field name or part of a dotted name (trailing dots are
//!   dropped first, as Elasticsearch does: `a.` names `a`), and, in an ECS
//!   document, an object where the rule reads a keyword (also through a dotted key such as
//!   `process.name.x`) or a value where it reads an object.
//!
//! # Schemas (`docs/semantics.md` §5)
//! A document with `event.category` or any `process.*` key is ECS and read as it is. Otherwise,
//! a raw Windows event in any of four wrappers — Winlogbeat 7+ (`winlog.channel`,
//! `winlog.event_id`, `winlog.event_data.*`), Winlogbeat 6 (`log_name`, `event_id`,
//! `event_data.*`), NXLog/OTRF flat JSON (`Channel`, `EventID`, fields at the top level) and
//! `evtx_dump` JSON (`Event.System.Channel`, `Event.System.EventID`, `Event.EventData.*`) —
//! that is a Sysmon event 1 or a Security event 4688 is mapped as Winlogbeat's modules would:
//! `event.category: process`, `event.type: start`, `process.name` = basename of `Image` /
//! `NewProcessName`, `process.parent.name` = basename of `ParentImage` / `ParentProcessName`,
//! `process.command_line` = `CommandLine`. Other raw events have none of the rule's fields.
//!
//! # Cost
//! Two SIMD passes over the record: UTF-8 validation, and the lexer's index (a bit per byte
//! that ends a run of string contents, and per dot), so that string ends and dotted keys are
//! found by bit scans rather than by reading each string again. Then one walk over the
//! tokens. Key lookup walks a small trie of the wanted paths (one hash probe per key, its
//! tag read in place). Duplicate keys: a 1024-bit set of each object's key tags rules them
//! out in O(k) for almost every object; only an object where two tags share a bit compares
//! pairs (small objects) or sorts its keys (O(k log k)). Nothing allocates once the
//! decoder's buffers have grown to the largest record seen; the decoder is reusable and one
//! is needed per thread.

use crate::error::{DecodeError, ErrorKind};
use crate::view::event::Fields;
use crate::view::field::{Field, FieldId, FieldSet};
use crate::view::json::{index, unescape_into, Block, Lexer, RawStr};
use crate::view::text::Text;
use crate::view::time::Timestamp;
use crate::view::windows::{raw_lookup, split_command_line, Data, Lookup, RawField, Transform};
pub use crate::view::windows::{RawKind, Wrapper};

/// Limits on what one record may be; exceeding one is a [`DecodeError`], never a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of objects and arrays (default 1000, Jackson's default in
    /// Elasticsearch).
    pub max_depth: usize,
    /// Maximum record length in bytes (default 64 MiB).
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_depth: 1000, max_record_bytes: 64 << 20 }
    }
}

/// A field of the event view, by its ECS path: what [`Document::view`] reads when the paths
/// were built [`Paths::with_view`]. An ECS document gives the values at the path; a raw
/// Windows event gives what Winlogbeat's modules would map there
/// ([`crate::view::windows`]), so one question gets one answer from every source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViewField {
    /// `@timestamp` (see [`Document::timestamp`] for the event time of raw events).
    Timestamp,
    /// `event.category`.
    EventCategory,
    /// `event.type`.
    EventType,
    /// `host.name`.
    HostName,
    /// `host.id`.
    HostId,
    /// `process.name`.
    ProcessName,
    /// `process.executable`.
    ProcessExecutable,
    /// `process.command_line`.
    ProcessCommandLine,
    /// `process.args`; for a raw process start, its command line split as Windows'
    /// `CommandLineToArgvW` does ([`split_command_line`]).
    ProcessArgs,
    /// `process.pid` (raw text: 4688 writes hexadecimal; read it with
    /// [`parse_number`](crate::view::windows::parse_number)).
    ProcessPid,
    /// `process.entity_id` (Sysmon's `ProcessGuid`).
    ProcessEntityId,
    /// `process.working_directory`.
    ProcessWorkingDirectory,
    /// `process.parent.name`.
    ParentName,
    /// `process.parent.executable`.
    ParentExecutable,
    /// `process.parent.command_line`.
    ParentCommandLine,
    /// `process.parent.pid`.
    ParentPid,
    /// `process.parent.entity_id`.
    ParentEntityId,
    /// `user.name`.
    UserName,
    /// `user.domain`.
    UserDomain,
    /// `user.id`.
    UserId,
    /// `winlog.logon.id`: the logon session (Sysmon 1 `LogonId`, 4688 and 4624
    /// `TargetLogonId`), hexadecimal text.
    LogonId,
    /// `winlog.logon.type` (`Network` for 4624 `LogonType` 3).
    LogonType,
    /// `network.direction` (`ingress`/`egress` for raw events, as Winlogbeat writes them;
    /// Elastic Defend writes `incoming`/`outgoing`).
    NetworkDirection,
    /// `network.transport`.
    NetworkTransport,
    /// `source.ip`.
    SourceIp,
    /// `source.port`.
    SourcePort,
    /// `destination.ip`.
    DestinationIp,
    /// `destination.port`.
    DestinationPort,
    /// `host.os.type` (ECS documents only: a raw Windows event has none; the shipper adds it).
    HostOsType,
}

impl ViewField {
    /// Every view field.
    pub const ALL: [ViewField; 29] = [
        ViewField::Timestamp,
        ViewField::EventCategory,
        ViewField::EventType,
        ViewField::HostName,
        ViewField::HostId,
        ViewField::ProcessName,
        ViewField::ProcessExecutable,
        ViewField::ProcessCommandLine,
        ViewField::ProcessArgs,
        ViewField::ProcessPid,
        ViewField::ProcessEntityId,
        ViewField::ProcessWorkingDirectory,
        ViewField::ParentName,
        ViewField::ParentExecutable,
        ViewField::ParentCommandLine,
        ViewField::ParentPid,
        ViewField::ParentEntityId,
        ViewField::UserName,
        ViewField::UserDomain,
        ViewField::UserId,
        ViewField::LogonId,
        ViewField::LogonType,
        ViewField::NetworkDirection,
        ViewField::NetworkTransport,
        ViewField::SourceIp,
        ViewField::SourcePort,
        ViewField::DestinationIp,
        ViewField::DestinationPort,
        ViewField::HostOsType,
    ];

    /// The ECS path.
    pub fn path(self) -> &'static str {
        match self {
            ViewField::Timestamp => "@timestamp",
            ViewField::EventCategory => "event.category",
            ViewField::EventType => "event.type",
            ViewField::HostName => "host.name",
            ViewField::HostId => "host.id",
            ViewField::ProcessName => "process.name",
            ViewField::ProcessExecutable => "process.executable",
            ViewField::ProcessCommandLine => "process.command_line",
            ViewField::ProcessArgs => "process.args",
            ViewField::ProcessPid => "process.pid",
            ViewField::ProcessEntityId => "process.entity_id",
            ViewField::ProcessWorkingDirectory => "process.working_directory",
            ViewField::ParentName => "process.parent.name",
            ViewField::ParentExecutable => "process.parent.executable",
            ViewField::ParentCommandLine => "process.parent.command_line",
            ViewField::ParentPid => "process.parent.pid",
            ViewField::ParentEntityId => "process.parent.entity_id",
            ViewField::UserName => "user.name",
            ViewField::UserDomain => "user.domain",
            ViewField::UserId => "user.id",
            ViewField::LogonId => "winlog.logon.id",
            ViewField::LogonType => "winlog.logon.type",
            ViewField::NetworkDirection => "network.direction",
            ViewField::NetworkTransport => "network.transport",
            ViewField::SourceIp => "source.ip",
            ViewField::SourcePort => "source.port",
            ViewField::DestinationIp => "destination.ip",
            ViewField::DestinationPort => "destination.port",
            ViewField::HostOsType => "host.os.type",
        }
    }
}

/// How a decoded document was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schema {
    /// ECS (or anything that is not a recognised raw Windows event): fields as they are in
    /// the document.
    Ecs,
    /// A raw Windows event of a kind the engine reads, mapped as Winlogbeat would
    /// ([`crate::view::windows`]).
    Raw(Wrapper, RawKind),
}

impl Schema {
    /// How the event was read, as front ends name it: `ecs`, `sysmon_1`, `sysmon_3`, `4688`,
    /// `5156` or `4624`.
    pub fn kind_name(self) -> &'static str {
        match self {
            Schema::Ecs => "ecs",
            Schema::Raw(_, RawKind::Sysmon1) => "sysmon_1",
            Schema::Raw(_, RawKind::Sysmon3) => "sysmon_3",
            Schema::Raw(_, RawKind::Security4688) => "4688",
            Schema::Raw(_, RawKind::Security5156) => "5156",
            Schema::Raw(_, RawKind::Security4624) => "4624",
        }
    }
}

/// Where a wanted path's values go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Ecs(FieldId),
    Raw(Wrapper, RawField),
    View(ViewField),
    /// Values the decoder derives from others (a raw command line's arguments).
    Derived(ViewField),
}

pub(crate) type NodeId = u32;
pub(crate) const ROOT: NodeId = 0;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    segment: Box<str>,
    /// The full dotted path, for error messages.
    path: Box<str>,
    /// The children with the [`tag`] of their segment, in an open-addressing table (linear probing, a power of two at
    /// least twice their number, so a probe always ends; an empty slot has tag 0, which no
    /// non-empty segment has): the decoder's per-key lookup.
    table: Box<[(u64, NodeId)]>,
    slots: Vec<Slot>,
    /// A path of the ECS namespace (the rule's or tuning fields, or their parents): a value
    /// where this node has children rejects an ECS document.
    ecs: bool,
    /// One of the rule's own fields, which the ECS mapping makes keywords: an object here
    /// rejects an ECS document. (A tuning field holding an object just has no value: tuning
    /// never makes an event unreadable.)
    pub(crate) keyword: bool,
    /// Seeing a key here makes the document ECS (`event.category`, `process.*`).
    marks_ecs: bool,
}

/// The trie of JSON paths a rule wants, built once per rule.
#[derive(Clone, Debug)]
pub struct Paths {
    nodes: Vec<Node>,
    /// Whether [`Paths::with_view`] was applied (raw command lines are then split into
    /// `process.args`).
    view: bool,
}

impl Paths {
    /// The paths for the fields of `fields`, plus the raw Windows paths.
    pub fn new(fields: &FieldSet) -> Paths {
        let mut paths = Paths {
            nodes: vec![Node {
                segment: "".into(),
                path: "".into(),
                table: Box::default(),
                slots: Vec::new(),
                ecs: false,
                keyword: false,
                marks_ecs: false,
            }],
            view: false,
        };
        for field in fields.iter() {
            let leaf = paths.insert(field.path(), Slot::Ecs(field.id()), true);
            paths.nodes[leaf as usize].keyword |= field.id().is_rule_field();
            if field.id() == FieldId::EVENT_CATEGORY {
                paths.nodes[leaf as usize].marks_ecs = true;
            }
        }
        if let Some(process) = paths.child(ROOT, b"process") {
            paths.nodes[process as usize].marks_ecs = true;
        }
        for wrapper in Wrapper::ALL {
            let [channel, id, id_text, record] = wrapper.header_paths();
            paths.insert(channel, Slot::Raw(wrapper, RawField::Channel), false);
            paths.insert(record, Slot::Raw(wrapper, RawField::RecordId), false);
            paths.insert(wrapper.computer_path(), Slot::Raw(wrapper, RawField::Computer), false);
            paths.insert(id, Slot::Raw(wrapper, RawField::EventId), false);
            if id_text != id {
                paths.insert(id_text, Slot::Raw(wrapper, RawField::EventId), false);
            }
            paths.insert_data(wrapper, &Data::RULE);
        }
        paths
    }

    /// These paths plus the event view ([`ViewField`], read with [`Document::view`] and the
    /// typed accessors [`Document::timestamp`], [`Document::host_name`],
    /// [`Document::host_id`]): every view field's ECS path, and in every wrapper the raw
    /// fields the Windows mapping reads for them, Sysmon's `UtcTime` and EVTX's
    /// `TimeCreated`. They never change a verdict: like the raw paths, they are no ECS
    /// mapping, so their shapes cause no conflict. Cost: the decoder also reads these values
    /// (and the keys of the objects on their way), and splits a raw process start's command
    /// line into arguments.
    pub fn with_view(mut self) -> Paths {
        for field in ViewField::ALL {
            self.insert(field.path(), Slot::View(field), false);
        }
        self.insert(
            "Event.System.TimeCreated.#attributes.SystemTime",
            Slot::Raw(Wrapper::EvtxDump, RawField::TimeCreated),
            false,
        );
        for wrapper in Wrapper::ALL {
            let path = format!("{}UtcTime", wrapper.data_prefix());
            self.insert(&path, Slot::Raw(wrapper, RawField::UtcTime), false);
            self.insert_data(wrapper, &Data::VIEW);
        }
        self.view = true;
        self
    }

    fn insert_data(&mut self, wrapper: Wrapper, fields: &[Data]) {
        for &data in fields {
            let path = format!("{}{}", wrapper.data_prefix(), data.name());
            self.insert(&path, Slot::Raw(wrapper, RawField::Data(data)), false);
        }
    }

    fn insert(&mut self, path: &str, slot: Slot, ecs: bool) -> NodeId {
        let mut node = ROOT;
        let mut end = 0;
        for segment in path.split('.') {
            end += segment.len();
            node = match self.child(node, segment.as_bytes()) {
                Some(n) => n,
                None => {
                    let id = NodeId::try_from(self.nodes.len()).expect("path trie fits u32");
                    self.nodes.push(Node {
                        segment: segment.into(),
                        path: path[..end].into(),
                        table: Box::default(),
                        slots: Vec::new(),
                        ecs,
                        keyword: false,
                        marks_ecs: false,
                    });
                    let t = tag(segment.as_bytes());
                    let parent = &mut self.nodes[node as usize];
                    parent.table =
                        child_table(parent.table.iter().copied().filter(|&(ct, _)| ct != 0).chain([(t, id)]));
                    id
                }
            };
            self.nodes[node as usize].ecs |= ecs;
            end += 1;
        }
        if !self.nodes[node as usize].slots.contains(&slot) {
            self.nodes[node as usize].slots.push(slot);
        }
        node
    }

    /// The child of `node` named `segment`. One hash of the segment's [`tag`] and a short
    /// linear probe (the root has dozens of children: every wrapper's fields); the segment
    /// itself is compared only for names longer than seven bytes, which tags do not tell apart.
    #[inline]
    fn child(&self, node: NodeId, segment: &[u8]) -> Option<NodeId> {
        self.child_tagged(node, segment, tag(segment))
    }

    /// [`Paths::child`] given the segment's [`tag`].
    #[inline]
    fn child_tagged(&self, node: NodeId, segment: &[u8], t: u64) -> Option<NodeId> {
        let table = &self.nodes[node as usize].table;
        if table.is_empty() || t == 0 {
            return None;
        }
        let mask = table.len() - 1;
        let mut i = slot_of(t, mask);
        loop {
            let (ct, c) = table[i];
            if ct == 0 {
                return None;
            }
            if ct == t && (segment.len() <= 7 || self.nodes[c as usize].segment.as_bytes() == segment) {
                return Some(c);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }
}

/// Where a value's text lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// In the record.
    Input,
    /// In the decoder's buffer of unescaped strings.
    Scratch,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) source: Source,
}

/// An object key: its unescaped text and the offset of its opening quote.
#[derive(Clone, Copy, Debug)]
struct Key {
    span: Span,
    at: usize,
    tag: u64,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    is_object: bool,
    node: Option<NodeId>,
    /// Index in `keys` where this object's keys start.
    keys_start: usize,
    first: bool,
}

/// Reusable JSON-to-view decoder. Holds only scratch buffers; keep one per thread.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    stack: Vec<Frame>,
    /// Keys of the open objects, for duplicate detection.
    keys: Vec<Key>,
    values: Vec<(Slot, Span)>,
    /// Unescaped string values.
    pub(crate) scratch: String,
    /// Unescaped keys.
    key_scratch: String,
    pub(crate) ecs: bool,
    conflict: Option<(usize, NodeId)>,
    /// Derived arguments being built, where each ends, and one being unquoted.
    args: String,
    arg_ends: Vec<usize>,
    arg_buf: String,
    /// The record's [`index`], for the lexer.
    blocks: Vec<Block>,
}

impl Decoder {
    /// A decoder with default [`Limits`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with these limits.
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder { limits, ..Decoder::default() }
    }

    /// The decoder's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Decodes one JSON record into a view of the fields `paths` wants.
    pub fn decode<'d>(&'d mut self, paths: &Paths, record: &'d [u8]) -> Result<Document<'d>, DecodeError> {
        self.reset();
        if record.len() > self.limits.max_record_bytes {
            return Err(DecodeError::new(ErrorKind::TooLarge(self.limits.max_record_bytes), 0));
        }
        let text = match simdutf8::basic::from_utf8(record) {
            Ok(t) => t,
            Err(_) => {
                let at = simdutf8::compat::from_utf8(record).err().map_or(0, |e| e.valid_up_to());
                return Err(DecodeError::new(ErrorKind::InvalidUtf8, at));
            }
        };
        // The index is taken out of `self` while the walk borrows it, and put back on every
        // path (so an error costs no allocation next time).
        let mut blocks = std::mem::take(&mut self.blocks);
        index(record, &mut blocks);
        let walked = self.walk_record(paths, Lexer::new(record, &blocks), text);
        self.blocks = blocks;
        walked?;
        self.document(paths, text)
    }

    /// Walks the one top-level object of a record, with nothing after it.
    fn walk_record(&mut self, paths: &Paths, mut lx: Lexer<'_>, text: &str) -> Result<(), DecodeError> {
        match lx.peek() {
            Some(b'{') => {}
            Some(_) => return Err(DecodeError::new(ErrorKind::NotAnObject, lx.pos())),
            None => return Err(DecodeError::new(ErrorKind::Truncated, lx.pos())),
        }
        self.walk(paths, &mut lx, text)?;
        if lx.peek().is_some() {
            return Err(DecodeError::new(ErrorKind::TrailingData, lx.pos()));
        }
        Ok(())
    }

    /// Forgets the previous document, keeping the buffers.
    pub(crate) fn reset(&mut self) {
        self.stack.clear();
        self.keys.clear();
        self.values.clear();
        self.scratch.clear();
        self.key_scratch.clear();
        self.ecs = false;
        self.conflict = None;
    }

    /// The document whose wanted values have all been stored (`text` is the record the
    /// [`Source::Input`] spans point into): its schema decided, a mapping conflict reported
    /// if it is ECS.
    pub(crate) fn document<'d>(&'d mut self, paths: &Paths, text: &'d str) -> Result<Document<'d>, DecodeError> {
        let schema = self.schema(text);
        if let (Schema::Ecs, Some((offset, node))) = (schema, self.conflict) {
            return Err(DecodeError::new(ErrorKind::MappingConflict(paths.node(node).path.clone()), offset));
        }
        if let (true, Schema::Raw(wrapper, kind)) = (paths.view, schema) {
            if kind.is_process_start() {
                self.derive_args(wrapper, text);
            }
        }
        Ok(Document { text, scratch: &self.scratch, values: &self.values, schema })
    }

    /// Splits each raw `CommandLine` value into `process.args` values, appended to the
    /// scratch buffer. No allocation once the buffers have grown.
    fn derive_args(&mut self, wrapper: Wrapper, text: &str) {
        let command_line = Slot::Raw(wrapper, RawField::Data(Data::CommandLine));
        let mut args = std::mem::take(&mut self.args);
        args.clear();
        let mut ends = std::mem::take(&mut self.arg_ends);
        ends.clear();
        let mut buf = std::mem::take(&mut self.arg_buf);
        for &(slot, span) in &self.values {
            if slot == command_line {
                split_command_line(self.text(text, span), &mut buf, |arg| {
                    args.push_str(arg);
                    ends.push(args.len());
                });
            }
        }
        let base = self.scratch.len();
        self.scratch.push_str(&args);
        let mut start = base;
        for &end in &ends {
            self.values.push((
                Slot::Derived(ViewField::ProcessArgs),
                Span { start, end: base + end, source: Source::Scratch },
            ));
            start = base + end;
        }
        self.args = args;
        self.arg_ends = ends;
        self.arg_buf = buf;
    }

    fn walk(&mut self, paths: &Paths, lx: &mut Lexer<'_>, text: &str) -> Result<(), DecodeError> {
        self.value(paths, lx, text, Some(ROOT))?;
        while let Some(&top) = self.stack.last() {
            let b = lx.peek();
            let close = if top.is_object { b'}' } else { b']' };
            if top.first {
                self.stack.last_mut().expect("non-empty").first = false;
                if b == Some(close) {
                    lx.bump();
                    self.close(top, text)?;
                    continue;
                }
            } else {
                match b {
                    Some(b',') => lx.bump(),
                    Some(c) if c == close => {
                        lx.bump();
                        self.close(top, text)?;
                        continue;
                    }
                    Some(_) => {
                        let what = if top.is_object { "',' or '}'" } else { "',' or ']'" };
                        return Err(DecodeError::new(ErrorKind::Syntax(what), lx.pos()));
                    }
                    None => return Err(DecodeError::new(ErrorKind::Truncated, lx.pos())),
                }
            }
            if top.is_object {
                let key_offset = lx.pos();
                match lx.peek() {
                    Some(b'"') => {}
                    Some(_) => return Err(DecodeError::new(ErrorKind::Syntax("a string key"), lx.pos())),
                    None => return Err(DecodeError::new(ErrorKind::Truncated, lx.pos())),
                }
                let raw = lx.string()?;
                let dotted = if raw.escaped { None } else { Some(lx.has_dot(raw.start, raw.end)) };
                let (key, tag) = self.key(raw, key_offset, text);
                let dotted = dotted.unwrap_or_else(|| key.contains('.'));
                let Resolved { node: child, marks_ecs, through_keyword } =
                    resolve_tagged(paths, top.node, key, tag, dotted, key_offset)?;
                if through_keyword.is_some() {
                    self.conflict_at(key_offset, through_keyword);
                }
                self.ecs |= marks_ecs;
                lx.expect(b':', "':' after a key")?;
                self.value(paths, lx, text, child)?;
            } else {
                self.value(paths, lx, text, top.node)?;
            }
        }
        Ok(())
    }

    /// Records an object key for duplicate detection and returns its unescaped text and
    /// [`tag`].
    fn key<'s>(&'s mut self, raw: RawStr, at: usize, text: &'s str) -> (&'s str, u64) {
        let span = if raw.escaped {
            let start = self.key_scratch.len();
            unescape_into(&text[raw.start..raw.end], &mut self.key_scratch);
            Span { start, end: self.key_scratch.len(), source: Source::Scratch }
        } else {
            Span { start: raw.start, end: raw.end, source: Source::Input }
        };
        let (key, tag) = match span.source {
            Source::Input => (&text[span.start..span.end], tag_in(text.as_bytes(), span.start, span.end)),
            Source::Scratch => {
                let key = &self.key_scratch[span.start..span.end];
                (key, tag(key.as_bytes()))
            }
        };
        self.keys.push(Key { span, at, tag });
        (key, tag)
    }

    /// Reads one value at `node` (None: a path nobody wants).
    fn value(
        &mut self,
        paths: &Paths,
        lx: &mut Lexer<'_>,
        text: &str,
        node: Option<NodeId>,
    ) -> Result<(), DecodeError> {
        let offset = lx.pos();
        let wanted = node.map(|n| paths.node(n));
        match lx.peek() {
            Some(open @ (b'{' | b'[')) => {
                lx.bump();
                if self.stack.len() >= self.limits.max_depth {
                    return Err(DecodeError::new(ErrorKind::TooDeep(self.limits.max_depth), offset));
                }
                let is_object = open == b'{';
                if is_object && wanted.is_some_and(|n| n.keyword) {
                    self.conflict_at(offset, node);
                }
                self.stack.push(Frame { is_object, node, keys_start: self.keys.len(), first: true });
                return Ok(());
            }
            Some(b'"') => {
                let raw = lx.string()?;
                if self.wants_scalar(wanted, node, offset) {
                    let span = if raw.escaped {
                        let start = self.scratch.len();
                        unescape_into(&text[raw.start..raw.end], &mut self.scratch);
                        Span { start, end: self.scratch.len(), source: Source::Scratch }
                    } else {
                        Span { start: raw.start, end: raw.end, source: Source::Input }
                    };
                    self.store(wanted, span);
                }
            }
            Some(b't') => self.word(lx, wanted, node, b"true")?,
            Some(b'f') => self.word(lx, wanted, node, b"false")?,
            Some(b'n') => {
                lx.word(b"null")?;
            }
            Some(b'-' | b'0'..=b'9') => {
                let (start, end) = lx.number()?;
                if self.wants_scalar(wanted, node, offset) {
                    self.store(wanted, Span { start, end, source: Source::Input });
                }
            }
            Some(_) => return Err(DecodeError::new(ErrorKind::Syntax("a JSON value"), lx.pos())),
            None => return Err(DecodeError::new(ErrorKind::Truncated, lx.pos())),
        }
        Ok(())
    }

    fn word(
        &mut self,
        lx: &mut Lexer<'_>,
        wanted: Option<&Node>,
        node: Option<NodeId>,
        word: &'static [u8],
    ) -> Result<(), DecodeError> {
        let offset = lx.pos();
        let (start, end) = lx.word(word)?;
        if self.wants_scalar(wanted, node, offset) {
            self.store(wanted, Span { start, end, source: Source::Input });
        }
        Ok(())
    }

    /// Whether a scalar at this node is stored; notes a conflict if the node is an ECS object.
    #[inline]
    pub(crate) fn wants_scalar(&mut self, wanted: Option<&Node>, node: Option<NodeId>, offset: usize) -> bool {
        match wanted {
            None => false,
            Some(n) if n.slots.is_empty() => {
                if n.ecs {
                    self.conflict_at(offset, node);
                }
                false
            }
            Some(_) => true,
        }
    }

    #[inline]
    pub(crate) fn store(&mut self, wanted: Option<&Node>, span: Span) {
        for &slot in wanted.map_or(&[][..], |n| &n.slots[..]) {
            self.values.push((slot, span));
        }
    }

    #[cold]
    pub(crate) fn conflict_at(&mut self, offset: usize, node: Option<NodeId>) {
        if self.conflict.is_none() {
            self.conflict = node.map(|id| (offset, id));
        }
    }

    /// Closes the container on top of the stack; for objects, rejects duplicate keys.
    fn close(&mut self, top: Frame, text: &str) -> Result<(), DecodeError> {
        self.stack.pop();
        if !top.is_object {
            return Ok(());
        }
        let Decoder { keys, key_scratch, .. } = self;
        let keys_of_object = &mut keys[top.keys_start..];
        let bytes = |k: &Key| -> &[u8] {
            let s = k.span;
            match s.source {
                Source::Input => &text.as_bytes()[s.start..s.end],
                Source::Scratch => &key_scratch.as_bytes()[s.start..s.end],
            }
        };
        let same = |a: &Key, b: &Key| a.tag == b.tag && bytes(a) == bytes(b);
        // Most objects have all their tags distinct, which a set of their hashes tells at
        // once. The others: small objects compare pairs of tags (k² / 2 integer comparisons
        // beat a sort), large ones sort by tag, then compare neighbours.
        let duplicate = if !may_repeat(keys_of_object) {
            None
        } else if keys_of_object.len() <= 16 {
            keys_of_object
                .iter()
                .enumerate()
                .find_map(|(i, a)| keys_of_object[i + 1..].iter().find(|b| same(a, b)).map(|b| (*a, *b)))
        } else {
            keys_of_object
                .sort_unstable_by(|a, b| a.tag.cmp(&b.tag).then_with(|| bytes(a).cmp(bytes(b))).then(a.at.cmp(&b.at)));
            keys_of_object.windows(2).find(|w| same(&w[0], &w[1])).map(|w| (w[0], w[1]))
        };
        if let Some((first, second)) = duplicate {
            let key = String::from_utf8_lossy(bytes(&first)).into();
            // Report the later occurrence: the one Elasticsearch trips on.
            return Err(DecodeError::new(ErrorKind::DuplicateKey(key), first.at.max(second.at)));
        }
        keys.truncate(top.keys_start);
        Ok(())
    }

    /// Decides how to read the document once every wanted value is known.
    fn schema(&self, text: &str) -> Schema {
        if self.ecs {
            return Schema::Ecs;
        }
        for wrapper in Wrapper::ALL {
            let mut channel = None;
            let mut event_id = None;
            for (slot, span) in &self.values {
                match *slot {
                    Slot::Raw(w, RawField::Channel) if w == wrapper => channel = Some(*span),
                    Slot::Raw(w, RawField::EventId) if w == wrapper => event_id = Some(*span),
                    _ => {}
                }
            }
            let (Some(channel), Some(event_id)) = (channel, event_id) else {
                continue;
            };
            if let Some(kind) = RawKind::of(self.text(text, channel), self.text(text, event_id)) {
                return Schema::Raw(wrapper, kind);
            }
        }
        Schema::Ecs
    }

    fn text<'s>(&'s self, text: &'s str, span: Span) -> &'s str {
        match span.source {
            Source::Input => &text[span.start..span.end],
            Source::Scratch => &self.scratch[span.start..span.end],
        }
    }
}

/// Whether two of `keys` may be the same key: `false` only when their tags all differ,
/// which a 1024-bit set of the tags' hashes tells without comparing pairs (equal keys have
/// equal tags, so there are no false negatives; a false positive only costs the exact
/// comparison). O(k) and branch-free; the set lives on the stack.
#[inline]
fn may_repeat(keys: &[Key]) -> bool {
    let mut seen = [0u64; 16];
    let mut repeat = 0u64;
    for key in keys {
        let hash = (key.tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize;
        let (word, bit) = (hash >> 6, 1u64 << (hash & 63));
        repeat |= seen[word] & bit;
        seen[word] |= bit;
    }
    repeat != 0
}

/// Where a key leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The wanted path the key names, if any.
    pub(crate) node: Option<NodeId>,
    /// Whether the key makes the document ECS.
    pub(crate) marks_ecs: bool,
    /// One of the rule's fields (an ECS keyword) that a dotted key goes through
    /// (`process.name.x`): the ECS mapping makes Elasticsearch reject such a document
    /// ("Existing mapping for [process.name] must be of type object but found [keyword]").
    pub(crate) through_keyword: Option<NodeId>,
}

/// Follows a (possibly dotted) key from `parent` as Elasticsearch expands it.
///
/// Elasticsearch (`DotExpandingXContentParser`, `DocumentParser`) drops trailing dots (`a.`
/// and `a..` name `a`), then refuses a key that is empty or only dots, and a part that is
/// empty (`.a`, `a..b`) or blank (only whitespace as Java's `Character.isWhitespace` sees it:
/// `" "`, `"a. "`). Cost: one pass over the key; the blank check stops at the first
/// character of an ordinary part.
#[inline]
pub(crate) fn resolve(
    paths: &Paths,
    parent: Option<NodeId>,
    key: &str,
    offset: usize,
) -> Result<Resolved, DecodeError> {
    resolve_tagged(paths, parent, key, tag(key.as_bytes()), key.contains('.'), offset)
}

/// [`resolve`] given the key's [`tag`] and whether it holds a dot.
#[inline]
fn resolve_tagged(
    paths: &Paths,
    parent: Option<NodeId>,
    key: &str,
    tag: u64,
    dotted: bool,
    offset: usize,
) -> Result<Resolved, DecodeError> {
    if dotted {
        return resolve_dotted(paths, parent, key, offset);
    }
    check_part(key, offset)?;
    let node = parent.and_then(|n| paths.child_tagged(n, key.as_bytes(), tag));
    Ok(Resolved { node, marks_ecs: node.is_some_and(|n| paths.node(n).marks_ecs), through_keyword: None })
}

/// [`resolve`] for a key with dots.
#[inline(never)]
fn resolve_dotted(paths: &Paths, parent: Option<NodeId>, key: &str, offset: usize) -> Result<Resolved, DecodeError> {
    let mut resolved = Resolved { node: parent, marks_ecs: false, through_keyword: None };
    for (i, part) in key.trim_end_matches('.').split('.').enumerate() {
        check_part(part, offset)?;
        if let Some(n) = resolved.node {
            if i > 0 && paths.node(n).keyword {
                resolved.through_keyword = resolved.through_keyword.or(Some(n));
            }
            resolved.node = paths.child(n, part.as_bytes());
            resolved.marks_ecs |= resolved.node.is_some_and(|n| paths.node(n).marks_ecs);
        }
    }
    Ok(resolved)
}

/// Refuses an empty or blank part of a field name. A part starting with a printable ASCII
/// byte is not blank, so only other parts are decoded.
#[inline]
fn check_part(part: &str, offset: usize) -> Result<(), DecodeError> {
    if !matches!(part.as_bytes().first(), Some(b'!'..=b'~')) && part.chars().all(is_java_whitespace) {
        return Err(DecodeError::new(ErrorKind::EmptyFieldName, offset));
    }
    Ok(())
}

/// Java's `Character.isWhitespace`: the Unicode space, line and paragraph separators except
/// the no-break spaces (U+00A0, U+2007, U+202F), and U+0009–U+000D, U+001C–U+001F.
fn is_java_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | '\u{1c}'..='\u{20}'
            | '\u{1680}'
            | '\u{2000}'..='\u{2006}'
            | '\u{2008}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The open-addressing table of `children` (see [`Node::table`]); built once per new child
/// while a rule's paths are put together, never while decoding.
fn child_table(children: impl Iterator<Item = (u64, NodeId)> + Clone) -> Box<[(u64, NodeId)]> {
    let len = (children.clone().count() * 2).next_power_of_two().max(2);
    let mut table = vec![(0u64, 0 as NodeId); len].into_boxed_slice();
    for (t, c) in children {
        let mut i = slot_of(t, len - 1);
        while table[i].0 != 0 {
            i = (i + 1) & (len - 1);
        }
        table[i] = (t, c);
    }
    table
}

/// A tag's first slot in a table of `mask + 1` slots (Fibonacci hashing: the product's high
/// bits mix every byte of the tag).
#[inline]
fn slot_of(tag: u64, mask: usize) -> usize {
    (tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask
}

/// A cheap fingerprint of a name: its length and first seven bytes. Equal names have equal
/// tags; names of at most seven bytes are equal exactly when their tags are.
///
/// # Cost
/// At most two loads, no copy: this runs for every key of every decoded object (a byte copy
/// into a stack buffer here cost a call to `memcpy` and a store-forwarding stall per key).
#[inline]
fn tag(name: &[u8]) -> u64 {
    (prefix7(name) & 0x00FF_FFFF_FFFF_FFFF) | ((name.len().min(255) as u64) << 56)
}

/// The [`tag`] of `bytes[start..end]`. Branch-free when eight bytes can be read from
/// `start` (a key inside a record nearly always has its closing quote and more after it):
/// one load, masked to the name's first seven bytes at most.
#[inline]
fn tag_in(bytes: &[u8], start: usize, end: usize) -> u64 {
    match bytes.get(start..start + 8) {
        Some(word) => {
            let len = end - start;
            // The low min(len, 7) bytes: 8 × 7 = 56 < 64, so the shift is in range.
            let mask = (1u64 << (8 * len.min(7))).wrapping_sub(1);
            (u64::from_le_bytes(word.try_into().expect("eight bytes")) & mask) | ((len.min(255) as u64) << 56)
        }
        None => tag(&bytes[start..end]),
    }
}

/// The first bytes of `name` as a little-endian integer: all eight when it has that many
/// (the caller masks the eighth), else all of them. Names shorter than eight bytes are read
/// as two overlapping loads whose common bytes agree, so OR-ing them is exact.
#[inline]
fn prefix7(name: &[u8]) -> u64 {
    let n = name.len();
    let le4 = |b: &[u8]| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let le2 = |b: &[u8]| u64::from(u16::from_le_bytes([b[0], b[1]]));
    match n {
        8.. => u64::from_le_bytes(name[..8].try_into().expect("eight bytes")),
        4..=7 => le4(name) | le4(&name[n - 4..]) << (8 * (n - 4)),
        2..=3 => le2(name) | le2(&name[n - 2..]) << (8 * (n - 2)),
        1 => u64::from(name[0]),
        _ => 0,
    }
}

/// A decoded record: the values of the wanted fields, borrowed from the record and the
/// decoder. Implements [`Fields`].
#[derive(Clone, Copy, Debug)]
pub struct Document<'d> {
    text: &'d str,
    scratch: &'d str,
    values: &'d [(Slot, Span)],
    schema: Schema,
}

impl<'d> Document<'d> {
    /// How the document was read.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// The Windows event record number (`EventRecordID`, `record_id`, `RecordNumber`), if
    /// the document carries one in a recognised wrapper.
    pub fn record_id(&self) -> Option<u64> {
        self.values.iter().find_map(|(slot, span)| match slot {
            Slot::Raw(_, RawField::RecordId) => self.resolve(*span).parse().ok(),
            _ => None,
        })
    }

    /// The first value stored for `slot`.
    fn first(&self, slot: Slot) -> Option<&'d str> {
        self.values.iter().find(|(s, _)| *s == slot).map(|(_, span)| self.resolve(*span))
    }

    /// The text of the event's time, when the paths were built [`Paths::with_view`]: an ECS
    /// document's `@timestamp`; for a raw event, EVTX's `TimeCreated`, else Sysmon's
    /// `UtcTime` (Sysmon events), else `@timestamp` (what Winlogbeat sets). The first value
    /// of an array.
    /// O(values), no allocation.
    pub fn timestamp_text(&self) -> Option<&'d str> {
        let at = || self.first(Slot::View(ViewField::Timestamp));
        match self.schema {
            Schema::Ecs => at(),
            Schema::Raw(Wrapper::EvtxDump, _) => {
                self.first(Slot::Raw(Wrapper::EvtxDump, RawField::TimeCreated)).or_else(at)
            }
            Schema::Raw(w, RawKind::Sysmon1 | RawKind::Sysmon3) => {
                self.first(Slot::Raw(w, RawField::UtcTime)).or_else(at)
            }
            Schema::Raw(_, RawKind::Security4688 | RawKind::Security5156 | RawKind::Security4624) => at(),
        }
    }

    /// Sysmon's `UtcTime` of a raw Sysmon event (when the event happened, by Sysmon's own
    /// clock; EVTX's `TimeCreated`, preferred by [`timestamp`](Self::timestamp), is when it
    /// was logged, up to seconds later for network events). None for other events. No
    /// allocation.
    pub fn sysmon_utc_time(&self) -> Option<Timestamp> {
        match self.schema {
            Schema::Raw(w, RawKind::Sysmon1 | RawKind::Sysmon3) => {
                self.first(Slot::Raw(w, RawField::UtcTime)).and_then(Timestamp::parse)
            }
            _ => None,
        }
    }

    /// NXLog's `EventTime` of a raw event in the flat wrapper: the host's *local* time
    /// (`2020-09-17 17:46:05`), which OTRF's non-Sysmon events carry instead of a UTC time
    /// (their `@timestamp` is the collector's). Parsed as if it were UTC; the correlation
    /// stage learns each host's offset.
    pub fn local_time(&self) -> Option<Timestamp> {
        match self.schema {
            Schema::Raw(Wrapper::Flat, _) => {
                self.first(Slot::Raw(Wrapper::Flat, RawField::Data(Data::EventTime))).and_then(Timestamp::parse)
            }
            _ => None,
        }
    }

    /// The event's time ([`timestamp_text`](Self::timestamp_text), parsed; `None` when
    /// absent or not a date). No allocation.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp_text().and_then(Timestamp::parse)
    }

    /// `host.name` ([`ViewField::HostName`]): an ECS document's, or a raw event's `Computer`.
    /// The first value of an array.
    pub fn host_name(&self) -> Option<Text<'d>> {
        self.view(ViewField::HostName).next()
    }

    /// `host.id` of an ECS document (raw Windows events carry none), when the paths were
    /// built [`Paths::with_view`]. The first value of an array.
    pub fn host_id(&self) -> Option<Text<'d>> {
        self.view(ViewField::HostId).next()
    }

    /// The values of a view field, in document order (none unless the paths were built
    /// [`Paths::with_view`]). No allocation.
    pub fn view(&self, field: ViewField) -> DocumentValues<'d> {
        let read = match self.schema {
            Schema::Ecs => Read::Slot(Slot::View(field), Transform::Whole),
            Schema::Raw(w, kind) => Read::raw(w, raw_lookup(kind, field.path())),
        };
        DocumentValues { doc: *self, next: 0, read }
    }

    fn resolve(&self, span: Span) -> &'d str {
        match span.source {
            Source::Input => &self.text[span.start..span.end],
            Source::Scratch => &self.scratch[span.start..span.end],
        }
    }
}

/// How [`DocumentValues`] finds a field's values among the stored ones.
#[derive(Clone, Copy, Debug)]
enum Read {
    Nothing,
    Constant(&'static [&'static str]),
    Slot(Slot, Transform),
    /// The first slot's values if it has any, else the second's.
    Either(Slot, Slot, Transform),
}

impl Read {
    fn raw(wrapper: Wrapper, lookup: Lookup) -> Read {
        match lookup {
            Lookup::Nothing => Read::Nothing,
            Lookup::Constant(c) => Read::Constant(c),
            Lookup::Raw(f, t) => Read::Slot(Slot::Raw(wrapper, f), t),
            Lookup::Either(a, b, t) => Read::Either(Slot::Raw(wrapper, a), Slot::Raw(wrapper, b), t),
            Lookup::Args => Read::Slot(Slot::Derived(ViewField::ProcessArgs), Transform::Whole),
        }
    }
}

/// Iterator over one field of a [`Document`].
#[derive(Clone, Debug)]
pub struct DocumentValues<'s> {
    doc: Document<'s>,
    next: usize,
    read: Read,
}

impl<'s> Iterator for DocumentValues<'s> {
    type Item = Text<'s>;

    #[inline]
    fn next(&mut self) -> Option<Text<'s>> {
        let (want, transform) = match self.read {
            Read::Nothing => return None,
            Read::Constant(values) => {
                let (first, rest) = values.split_first()?;
                self.read = Read::Constant(rest);
                return Some(Text::utf8(first));
            }
            Read::Slot(s, t) => (s, t),
            Read::Either(a, b, t) => {
                let has_a = self.doc.values.iter().any(|(s, _)| *s == a);
                self.read = Read::Slot(if has_a { a } else { b }, t);
                return self.next();
            }
        };
        while let Some((slot, span)) = self.doc.values.get(self.next) {
            self.next += 1;
            if *slot == want {
                if let Some(v) = transform.apply(self.doc.resolve(*span)) {
                    return Some(Text::utf8(v));
                }
            }
        }
        None
    }
}

impl<'d> Fields for Document<'d> {
    type Values<'s>
        = DocumentValues<'s>
    where
        Self: 's;

    fn values<'s>(&'s self, field: &'s Field) -> DocumentValues<'s> {
        let lookup = match self.schema {
            Schema::Ecs => Read::Slot(Slot::Ecs(field.id()), Transform::Whole),
            Schema::Raw(w, kind) => Read::raw(w, raw_lookup(kind, field.path())),
        };
        DocumentValues { doc: *self, next: 0, read: lookup }
    }
}

#[cfg(test)]
mod tests {
    use super::tag;

    /// The definition: length in the top byte, then the first seven bytes, zero-padded.
    fn tag_by_copy(name: &[u8]) -> u64 {
        let mut prefix = [0u8; 8];
        let n = name.len().min(7);
        prefix[..n].copy_from_slice(&name[..n]);
        (u64::from_le_bytes(prefix) & 0x00FF_FFFF_FFFF_FFFF) | ((name.len().min(255) as u64) << 56)
    }

    #[test]
    fn a_tag_read_in_place_is_the_tag_of_the_name() {
        let bytes: Vec<u8> = (0..40u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect();
        for start in 0..bytes.len() {
            for end in start..=bytes.len() {
                assert_eq!(super::tag_in(&bytes, start, end), tag(&bytes[start..end]), "{start}..{end}");
            }
        }
    }

    #[test]
    fn tag_reads_length_and_first_seven_bytes_at_every_length() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect();
        for start in 0..8 {
            for len in 0..=(bytes.len() - start) {
                let name = &bytes[start..start + len];
                assert_eq!(tag(name), tag_by_copy(name), "length {len}");
            }
        }
        assert_eq!(tag(b""), 0);
        assert_ne!(tag(b"ab"), tag(b"ba"));
        assert_ne!(tag(b"abc"), tag(b"abcd"));
    }
}
