//! Documents a host language has already parsed (maps, lists, strings) → the field view,
//! read in place.
//!
//! A binding walks its own tree (Python dicts and lists, for example) and tells a
//! [`TreeReader`] what it finds; the reader applies exactly the document model of
//! [`Decoder::decode`](crate::Decoder::decode): dotted and nested keys, multi-valued fields,
//! field names as Elasticsearch expands them, mapping conflicts, the raw Windows wrappers and
//! their mapping. A document read this way gets the verdict its JSON text would get.
//!
//! # Protocol
//! ```text
//! reader = decoder.read_tree(paths)
//! reader.open(reader.root(), depth = 0, object)        the top-level map
//! for each (key, value) of a map at cursor c:
//!     v = reader.key(c, key)?                          every key of every map walked
//!     if reader.wants(v): read value at v              else the value is never looked at
//! a map at v:       reader.open(v, depth, object)?, then its keys at v
//! a list at v:      reader.open(v, depth, list)?, then each item at v
//! a scalar at v:    if reader.wants_scalar(v) { reader.scalar(v, its JSON text) }
//! null:             nothing
//! reader.finish()?                                     the Document
//! ```
//! `depth` is the number of maps and lists that enclose the one being opened (0 for the
//! top-level map), as the JSON decoder counts it for [`Limits::max_depth`](crate::Limits).
//!
//! # What is not looked at
//! Only the values on the way to a field the rule or its tuning reads are visited: a subtree
//! no wanted path goes through is skipped whole, so a value JSON could not carry there (a
//! `datetime`, a NaN, a key that is not a string) is no error, and a blank key or over-deep
//! nesting there is not reported (the JSON decoder, which must read every byte, rejects
//! those). Within the visited maps every key is checked as in JSON.
//!
//! # Cost
//! The keys of the visited maps (resolved against the trie of wanted paths, as in JSON) and
//! a copy of each wanted scalar into the decoder's scratch buffer: no allocation once the
//! buffers have grown.

use crate::error::{DecodeError, ErrorKind};
use crate::view::ecs::{resolve, Decoder, Document, NodeId, Paths, Resolved, Source, Span, ROOT};

/// Where a value sits in the trie of wanted paths (or that no wanted path goes through it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(Option<NodeId>);

impl Cursor {
    /// A small integer that names this cursor among the rule's (0 for an unwanted value),
    /// for a binding's caches keyed by parent.
    #[inline]
    pub fn ordinal(self) -> usize {
        self.0.map_or(0, |n| n as usize + 1)
    }
}

/// A key of a map resolved against the wanted paths ([`TreeReader::resolve`]): where it
/// leads and what it implies about the document. It depends only on the rule's paths, the
/// parent cursor and the key's text, so a binding may cache it per (parent, key), for as long
/// as it reads documents for the same rule, and replay it with [`TreeReader::enter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key(Resolved);

/// Whether a container is a map (JSON object) or a list (JSON array).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// A map with string keys.
    Object,
    /// A list of values.
    Array,
}

/// Reads one document from a host language's tree; see the [module](self) for the protocol.
#[derive(Debug)]
pub struct TreeReader<'d> {
    decoder: &'d mut Decoder,
    paths: &'d Paths,
}

impl Decoder {
    /// Starts reading one document given as a tree (see [`crate::view::tree`]), reusing this
    /// decoder's buffers; the previous document is gone.
    pub fn read_tree<'d>(&'d mut self, paths: &'d Paths) -> TreeReader<'d> {
        self.reset();
        TreeReader { decoder: self, paths }
    }
}

impl<'d> TreeReader<'d> {
    /// The top-level map's cursor.
    #[inline]
    pub fn root(&self) -> Cursor {
        Cursor(Some(ROOT))
    }

    /// Whether the value at `at` is to be read at all (some wanted path goes through it).
    #[inline]
    pub fn wants(&self, at: Cursor) -> bool {
        at.0.is_some()
    }

    /// A key of the map at `parent`: checks it as Elasticsearch expands field names (blank
    /// names and parts rejected, trailing dots dropped, dots descending) and returns the
    /// cursor of its value. The same as [`enter`](Self::enter)`(`[`resolve`](Self::resolve)`(..)?)`.
    ///
    /// # Errors
    /// [`ErrorKind::EmptyFieldName`] at offset 0.
    #[inline]
    pub fn key(&mut self, parent: Cursor, key: &str) -> Result<Cursor, DecodeError> {
        let key = self.resolve(parent, key)?;
        Ok(self.enter(key))
    }

    /// Resolves a key of the map at `parent` without reading it into the document: the
    /// pure half of [`key`](Self::key). Cost: a scan of the key for dots and a lookup per
    /// part among the wanted children (compared by an 8-byte tag); no allocation.
    ///
    /// # Errors
    /// [`ErrorKind::EmptyFieldName`] at offset 0.
    #[inline]
    pub fn resolve(&self, parent: Cursor, key: &str) -> Result<Key, DecodeError> {
        resolve(self.paths, parent.0, key, 0).map(Key)
    }

    /// Reads a key resolved by [`resolve`](Self::resolve) (for the same rule and parent)
    /// into the document, and returns the cursor of its value. O(1).
    #[inline]
    pub fn enter(&mut self, key: Key) -> Cursor {
        let Key(resolved) = key;
        if resolved.through_keyword.is_some() {
            self.decoder.conflict_at(0, resolved.through_keyword);
        }
        self.decoder.ecs |= resolved.marks_ecs;
        Cursor(resolved.node)
    }

    /// A map or list at `at`, enclosed by `depth` others; a map where the rule reads a
    /// keyword is a mapping conflict (reported by [`finish`](Self::finish) if the document
    /// is ECS).
    ///
    /// # Errors
    /// [`ErrorKind::TooDeep`] when `depth` reaches the decoder's limit.
    #[inline]
    pub fn open(&mut self, at: Cursor, depth: usize, container: Container) -> Result<(), DecodeError> {
        let limit = self.decoder.limits().max_depth;
        if depth >= limit {
            return Err(DecodeError::new(ErrorKind::TooDeep(limit), 0));
        }
        if container == Container::Object && at.0.is_some_and(|n| self.paths.node(n).keyword) {
            self.decoder.conflict_at(0, at.0);
        }
        Ok(())
    }

    /// Whether a scalar (string, number, boolean) at `at` is kept: when false, the caller
    /// need not produce its text. Notes a mapping conflict where an ECS object is expected.
    #[inline]
    pub fn wants_scalar(&mut self, at: Cursor) -> bool {
        let wanted = at.0.map(|n| self.paths.node(n));
        self.decoder.wants_scalar(wanted, at.0, 0)
    }

    /// Keeps a scalar at `at` (after [`wants_scalar`](Self::wants_scalar) said so): a string's
    /// text, or a number's or boolean's JSON text (`123`, `1.5`, `true`), copied.
    #[inline]
    pub fn scalar(&mut self, at: Cursor, text: &str) {
        let scratch = &mut self.decoder.scratch;
        let start = scratch.len();
        scratch.push_str(text);
        let span = Span { start, end: scratch.len(), source: Source::Scratch };
        let wanted = at.0.map(|n| self.paths.node(n));
        self.decoder.store(wanted, span);
    }

    /// The document read.
    ///
    /// # Errors
    /// [`ErrorKind::MappingConflict`] (at offset 0) when the document is ECS and a field the
    /// rule reads had the wrong shape.
    pub fn finish(self) -> Result<Document<'d>, DecodeError> {
        let TreeReader { decoder, paths } = self;
        decoder.document(paths, "")
    }
}
