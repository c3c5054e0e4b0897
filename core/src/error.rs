//! Errors: why a record could not be read.

use std::fmt;

/// Why one record (a JSON document) was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: ErrorKind,
    offset: usize,
}

/// The kinds of [`DecodeError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The record is not valid UTF-8.
    InvalidUtf8,
    /// The record ends in the middle of a value.
    Truncated,
    /// Malformed JSON; names what was expected.
    Syntax(&'static str),
    /// An unescaped control character (below U+0020) inside a string.
    ControlCharacter,
    /// A backslash escape JSON does not define.
    BadEscape,
    /// The top-level value is not an object.
    NotAnObject,
    /// Something other than whitespace follows the top-level object.
    TrailingData,
    /// An object has the same key twice (Elasticsearch rejects such documents).
    DuplicateKey(Box<str>),
    /// A field name is empty, blank or only dots, or a dotted name has an empty or blank part
    /// (`a..b`, `.a`, `a. .b`); trailing dots are dropped first (`a.` names `a`).
    EmptyFieldName,
    /// Objects and arrays nest deeper than the configured limit.
    TooDeep(usize),
    /// The record is longer than the configured limit (bytes).
    TooLarge(usize),
    /// In an ECS document, a field the rule reads holds an object where Elasticsearch's
    /// mapping has a keyword, or a value where it has an object: Elasticsearch rejects the
    /// document at index time.
    MappingConflict(Box<str>),
    /// The EVTX parser could not read this record or its chunk.
    Evtx(Box<str>),
}

impl DecodeError {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> DecodeError {
        DecodeError { kind, offset }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Byte offset in the record where it went wrong.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The same error at an offset shifted by `by` (to report positions in a larger input).
    pub fn shifted(mut self, by: usize) -> DecodeError {
        self.offset += by;
        self
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            ErrorKind::Truncated => f.write_str("truncated JSON: the record ends inside a value"),
            ErrorKind::Syntax(what) => write!(f, "malformed JSON: expected {what}"),
            ErrorKind::ControlCharacter => f.write_str("malformed JSON: unescaped control character in a string"),
            ErrorKind::BadEscape => f.write_str("malformed JSON: invalid escape sequence"),
            ErrorKind::NotAnObject => f.write_str("the record is not a JSON object"),
            ErrorKind::TrailingData => f.write_str("unexpected data after the JSON object"),
            ErrorKind::DuplicateKey(key) => write!(f, "duplicate key {key:?} in one object"),
            ErrorKind::EmptyFieldName => f.write_str("empty or blank field name (or part of a dotted name)"),
            ErrorKind::TooDeep(limit) => write!(f, "nesting deeper than the limit of {limit}"),
            ErrorKind::TooLarge(limit) => write!(f, "record longer than the limit of {limit} bytes"),
            ErrorKind::Evtx(message) => write!(f, "unreadable EVTX record: {message}"),
            ErrorKind::MappingConflict(path) => {
                write!(f, "field {path} has a value of the wrong shape for its ECS mapping (object vs. keyword)")
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for DecodeError {}
