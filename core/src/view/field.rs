//! The fields an event is read through: ECS paths, their identities and their index mapping.
//!
//! A [`Field`] is an ECS path (`process.parent.name`) with a small integer [`FieldId`] and the
//! indexing rule Elasticsearch applies to it. The rule's five fields have fixed ids
//! ([`FieldId::EVENT_CATEGORY`] …); tuning adds more fields (any path) to a [`FieldSet`] when a
//! rule is built, and every event source answers by id or by path.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::view::text::Text;

/// Small integer naming a field of a [`FieldSet`]; the first five are the rule's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub(crate) u16);

impl FieldId {
    /// `event.category`
    pub const EVENT_CATEGORY: FieldId = FieldId(0);
    /// `event.type`
    pub const EVENT_TYPE: FieldId = FieldId(1);
    /// `process.name`
    pub const PROCESS_NAME: FieldId = FieldId(2);
    /// `process.parent.name`
    pub const PROCESS_PARENT_NAME: FieldId = FieldId(3);
    /// `process.command_line`
    pub const PROCESS_COMMAND_LINE: FieldId = FieldId(4);

    /// Whether this is one of the rule's five fields (not one tuning added).
    pub fn is_rule_field(self) -> bool {
        self.0 <= FieldId::PROCESS_COMMAND_LINE.0
    }

    /// The id as an index into a [`FieldSet`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// How Elasticsearch indexes a field, which decides which values a query can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// `keyword` with `ignore_above`: a value longer than this many UTF-16 code units is not
    /// indexed, so no comparison sees it (checked per array element).
    Keyword {
        /// The `ignore_above` limit, in UTF-16 code units.
        ignore_above: usize,
    },
    /// `wildcard` (or anything else without a length limit).
    Unlimited,
}

/// ECS's `ignore_above` for `keyword` fields.
pub const ECS_IGNORE_ABOVE: usize = 1024;

impl Mapping {
    /// The ECS mapping of `path`: `wildcard` for the command lines, `keyword` with
    /// `ignore_above: 1024` otherwise (ECS's default for strings).
    pub fn ecs(path: &str) -> Mapping {
        match path {
            "process.command_line"
            | "process.parent.command_line"
            | "process.parent.parent.command_line"
            | "event.original"
            | "message" => Mapping::Unlimited,
            _ => Mapping::Keyword { ignore_above: ECS_IGNORE_ABOVE },
        }
    }

    /// Whether Elasticsearch indexes `value` under this mapping.
    #[inline]
    pub fn indexes(self, value: Text<'_>) -> bool {
        match self {
            Mapping::Unlimited => true,
            Mapping::Keyword { ignore_above } => !value.exceeds_utf16_units(ignore_above),
        }
    }
}

/// One field: its id, ECS path and mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    id: FieldId,
    path: Cow<'static, str>,
    mapping: Mapping,
}

impl Field {
    const fn fixed(id: FieldId, path: &'static str, mapping: Mapping) -> Field {
        Field { id, path: Cow::Borrowed(path), mapping }
    }

    /// The field's id in its [`FieldSet`].
    #[inline]
    pub fn id(&self) -> FieldId {
        self.id
    }

    /// The ECS path (`process.parent.name`).
    #[inline]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How Elasticsearch indexes it.
    #[inline]
    pub fn mapping(&self) -> Mapping {
        self.mapping
    }
}

const KEYWORD: Mapping = Mapping::Keyword { ignore_above: ECS_IGNORE_ABOVE };

/// The rule's own fields, in id order.
pub static RULE_FIELDS: [Field; 5] = [
    Field::fixed(FieldId::EVENT_CATEGORY, "event.category", KEYWORD),
    Field::fixed(FieldId::EVENT_TYPE, "event.type", KEYWORD),
    Field::fixed(FieldId::PROCESS_NAME, "process.name", KEYWORD),
    Field::fixed(FieldId::PROCESS_PARENT_NAME, "process.parent.name", KEYWORD),
    Field::fixed(FieldId::PROCESS_COMMAND_LINE, "process.command_line", Mapping::Unlimited),
];

/// The most fields a set can hold (ids are 16-bit).
pub const MAX_FIELDS: usize = 1 << 16;

/// The error of [`FieldSet::intern`]: the set already holds [`MAX_FIELDS`] fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyFields;

impl std::fmt::Display for TooManyFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than {MAX_FIELDS} distinct fields")
    }
}

impl std::error::Error for TooManyFields {}

/// The fields a rule reads: its own five, then any added for tuning. Ids are dense indices;
/// lookup by path is a hash map probe.
#[derive(Clone, Debug)]
pub struct FieldSet {
    fields: Vec<Field>,
    by_path: HashMap<Box<str>, FieldId>,
}

impl Default for FieldSet {
    fn default() -> Self {
        let fields = RULE_FIELDS.to_vec();
        let by_path = fields.iter().map(|f| (f.path().into(), f.id)).collect();
        FieldSet { fields, by_path }
    }
}

impl FieldSet {
    /// The rule's five fields.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// The id of `path`, adding it (with its ECS mapping) if it is new.
    pub fn intern(&mut self, path: &str) -> Result<FieldId, TooManyFields> {
        if let Some(id) = self.id(path) {
            return Ok(id);
        }
        let id = FieldId(u16::try_from(self.fields.len()).map_err(|_| TooManyFields)?);
        self.fields.push(Field { id, path: Cow::Owned(path.to_owned()), mapping: Mapping::ecs(path) });
        self.by_path.insert(path.into(), id);
        Ok(id)
    }

    /// The id of `path`, if the set has it.
    pub fn id(&self, path: &str) -> Option<FieldId> {
        self.by_path.get(path).copied()
    }

    /// The field with this id.
    ///
    /// # Panics
    /// If the id belongs to another, larger set.
    #[inline]
    pub fn get(&self, id: FieldId) -> &Field {
        &self.fields[id.index()]
    }

    /// All fields, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Always false: the rule's fields are always there.
    pub fn is_empty(&self) -> bool {
        false
    }
}
