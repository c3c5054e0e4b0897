//! Tuning: exception items that suppress known-good activity (`docs/exceptions.md`).
//!
//! An exceptions file names items; each item is an AND of conditions on any ECS field, with
//! Elastic's exception operators. An event on which the rule fires and which satisfies every
//! condition of some item produces no alert; its verdict records the item
//! ([`crate::Verdict::suppressed_by`]), scans count and report it, nothing is dropped silently.
//!
//! # Format
//! ```json
//! {"exceptions": [
//!   {"name": "Jump hosts: admins start PowerShell from MMC",
//!    "description": "optional",
//!    "entries": [
//!      {"field": "host.name", "operator": "is one of", "value": ["jump-01", "jump-02"]},
//!      {"field": "process.parent.name", "operator": "is", "value": "mmc.exe"},
//!      {"field": "process.name", "operator": "matches", "value": "power*.exe"}]}]}
//! ```
//! The top level may also be the bare array of items. Operators: `is`, `is not`, `is one of`,
//! `is not one of`, `exists`, `does not exist`, `matches`, `does not match`. Entries in the
//! shape of Elastic's exception-list API are accepted too (`"type": "match" | "match_any" |
//! "exists" | "wildcard"` with `"operator": "included" | "excluded"`), and unknown keys of an
//! item (`item_id`, `tags`, … from an Elastic export) are ignored; unknown keys of an entry
//! are errors, so that a typo cannot silently widen an exception.
//!
//! # Semantics
//! As Elasticsearch evaluates the query clauses Kibana builds from exceptions, on the same
//! document model as the rule (multi-valued fields, `ignore_above`, dotted keys, raw Windows
//! events mapped to ECS):
//! - `is v`: some value equals `v` exactly (case-sensitive, as a `keyword` term);
//! - `is one of [v…]`: some value equals one of them;
//! - `exists`: the field has an indexed value;
//! - `matches p`: some value matches the wildcard `p` (case-insensitive `:` semantics of the
//!   rule, with the rule's case folding);
//! - `is not`, `is not one of`, `does not exist`, `does not match`: the negation of the above
//!   (a `must_not` clause), so they are true when the field is absent.
//!
//! # Cost
//! Loading parses and compiles once (allocates). Evaluation runs only when the rule fires,
//! reads each named field once per condition and never allocates.

use std::fmt;

use serde_json::{Map, Value};

use crate::rule::fold::CaseFolding;
use crate::rule::wildcard::Pattern;
use crate::view::event::Fields;
use crate::view::field::{FieldId, FieldSet, TooManyFields};

/// Compiled exception items.
#[derive(Clone, Debug, Default)]
pub struct Exceptions {
    items: Vec<Item>,
}

/// One exception item: a name and an AND of conditions.
#[derive(Clone, Debug)]
pub struct Item {
    name: String,
    description: Option<String>,
    conditions: Vec<Condition>,
}

impl Item {
    /// The item's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The item's description, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

#[derive(Clone, Debug)]
struct Condition {
    field: FieldId,
    test: Test,
    negated: bool,
}

#[derive(Clone, Debug)]
enum Test {
    Exists,
    EqualsAny(Box<[Box<str>]>),
    MatchesAny(Box<[Pattern]>),
}

/// Why an exceptions file was refused: what is wrong and where (item, entry, field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionsError {
    /// 1-based item number and its name (when it has one), if the problem is in an item.
    pub item: Option<(usize, Option<String>)>,
    /// 1-based entry number within the item, if the problem is in an entry.
    pub entry: Option<usize>,
    /// The entry's field, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with an exceptions file (the part of an [`ExceptionsError`] after where).
/// Displayed as one sentence; `operator` is the entry's operator as written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The file is not JSON (serde_json's explanation).
    NotJson(String),
    /// `{"exceptions": x}` where x is not an array.
    ExceptionsNotArray,
    /// Neither `{"exceptions": [...]}` nor an array.
    NotExceptionsFile,
    /// An item that is not an object.
    ItemNotObject,
    /// An item without `name`.
    MissingName,
    /// A `name` that is not a non-blank string.
    BadName,
    /// A `description` that is not a string.
    DescriptionNotString,
    /// `entries: []`.
    EmptyEntries,
    /// No `entries` array.
    MissingEntries,
    /// An entry that is not an object.
    EntryNotObject,
    /// An entry key other than field, operator, type and value.
    UnknownKey(String),
    /// A `field` that is not a string.
    FieldNotString,
    /// An entry without `field`.
    MissingField,
    /// A `field` that is not a dotted path.
    FieldNotPath,
    /// An `operator` that is not a string.
    OperatorNotString,
    /// An entry without `operator`.
    MissingOperator,
    /// An operator the file format does not define.
    UnknownOperator(String),
    /// With `type`, an operator other than included / excluded.
    NotIncludedOrExcluded(String),
    /// A `type` other than match, match_any, exists, wildcard.
    UnsupportedType(String),
    /// A `type` that is not a string.
    TypeNotString,
    /// A `value` given to exists / does not exist.
    UnexpectedValue {
        /// The operator.
        operator: String,
    },
    /// A `value` that is not a string (number or boolean).
    NeedsString {
        /// The operator.
        operator: String,
    },
    /// No `value`.
    NeedsValue {
        /// The operator.
        operator: String,
    },
    /// A list with an item that is not a string.
    NeedsStringList {
        /// The operator.
        operator: String,
    },
    /// An empty list.
    NeedsNonEmptyList {
        /// The operator.
        operator: String,
    },
    /// A `value` that is not a list where one is needed.
    NeedsList {
        /// The operator.
        operator: String,
    },
    /// The rule cannot read one more field.
    TooManyFields(TooManyFields),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotJson(e) => write!(f, "not valid JSON: {e}"),
            Problem::ExceptionsNotArray => f.write_str("\"exceptions\" must be an array of items"),
            Problem::NotExceptionsFile => f.write_str("expected {\"exceptions\": [...]} or an array of items"),
            Problem::ItemNotObject => f.write_str("an item must be an object"),
            Problem::MissingName => f.write_str("an item needs a \"name\""),
            Problem::BadName => f.write_str("\"name\" must be a non-empty string"),
            Problem::DescriptionNotString => f.write_str("\"description\" must be a string"),
            Problem::EmptyEntries => {
                f.write_str("\"entries\" is empty: an item without conditions would suppress every alert")
            }
            Problem::MissingEntries => f.write_str("an item needs \"entries\", a non-empty array of conditions"),
            Problem::EntryNotObject => f.write_str("an entry must be an object"),
            Problem::UnknownKey(key) => {
                write!(f, "unknown key {key:?} (expected field, operator, value, and optionally type)")
            }
            Problem::FieldNotString => f.write_str("\"field\" must be a string"),
            Problem::MissingField => f.write_str("an entry needs a \"field\""),
            Problem::FieldNotPath => f.write_str("\"field\" must be a dotted ECS path such as \"process.parent.name\""),
            Problem::OperatorNotString => f.write_str("\"operator\" must be a string"),
            Problem::MissingOperator => f.write_str("an entry needs an \"operator\""),
            Problem::UnknownOperator(other) => write!(
                f,
                "unknown operator {other:?}; expected one of \"is\", \"is not\", \"is one of\", \"is not one of\", \
                 \"exists\", \"does not exist\", \"matches\", \"does not match\""
            ),
            Problem::NotIncludedOrExcluded(other) => {
                write!(f, "with \"type\", \"operator\" must be \"included\" or \"excluded\", not {other:?}")
            }
            Problem::UnsupportedType(other) => write!(
                f,
                "type {other:?} is not supported (expected \"match\", \"match_any\", \"exists\" or \"wildcard\"; value lists and nested entries are not)"
            ),
            Problem::TypeNotString => f.write_str("\"type\" must be a string"),
            Problem::UnexpectedValue { operator } => write!(f, "operator {operator:?} takes no \"value\""),
            Problem::NeedsString { operator } => write!(f, "operator {operator:?} needs a string \"value\""),
            Problem::NeedsValue { operator } => write!(f, "operator {operator:?} needs a \"value\""),
            Problem::NeedsStringList { operator } => write!(f, "operator {operator:?} needs a list of strings"),
            Problem::NeedsNonEmptyList { operator } => write!(f, "operator {operator:?} needs a non-empty list"),
            Problem::NeedsList { operator } => write!(f, "operator {operator:?} needs a list of strings as \"value\""),
            Problem::TooManyFields(e) => write!(f, "cannot add this field: the file names {e}"),
        }
    }
}

impl fmt::Display for ExceptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad exceptions file")?;
        if let Some((n, name)) = &self.item {
            write!(f, ": item {n}")?;
            if let Some(name) = name {
                write!(f, " ({name:?})")?;
            }
        }
        if let Some(e) = self.entry {
            write!(f, ", entry {e}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " (field {field:?})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ExceptionsError {}

/// The operators, after reading either spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    Is,
    IsOneOf,
    Exists,
    Matches,
}

impl Exceptions {
    /// Parses and compiles an exceptions file, adding the fields it names to `fields`.
    pub fn parse(json: &[u8], folding: CaseFolding, fields: &mut FieldSet) -> Result<Exceptions, ExceptionsError> {
        let top = |problem: Problem| ExceptionsError { item: None, entry: None, field: None, problem };
        let doc: Value = serde_json::from_slice(json).map_err(|e| top(Problem::NotJson(e.to_string())))?;
        let items = match &doc {
            Value::Array(items) => items,
            Value::Object(map) => match map.get("exceptions") {
                Some(Value::Array(items)) => items,
                Some(_) => return Err(top(Problem::ExceptionsNotArray)),
                None => return Err(top(Problem::NotExceptionsFile)),
            },
            _ => return Err(top(Problem::NotExceptionsFile)),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(compile_item(i + 1, item, folding, fields)?);
        }
        Ok(Exceptions { items: out })
    }

    /// The items, in file order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The index of the first item whose conditions all hold on `event`. Never allocates.
    pub fn suppressing_item<E: Fields + ?Sized>(&self, event: &E, fields: &FieldSet) -> Option<usize> {
        self.items.iter().position(|item| item.conditions.iter().all(|c| c.holds(event, fields)))
    }
}

impl Condition {
    fn holds<E: Fields + ?Sized>(&self, event: &E, fields: &FieldSet) -> bool {
        let field = fields.get(self.field);
        let mapping = field.mapping();
        let mut values = event.values(field).filter(|v| mapping.indexes(*v));
        let found = match &self.test {
            Test::Exists => values.next().is_some(),
            Test::EqualsAny(wanted) => values.any(|v| wanted.iter().any(|w| v.eq_str(w))),
            Test::MatchesAny(patterns) => values.any(|v| patterns.iter().any(|p| p.matches(v))),
        };
        found != self.negated
    }
}

fn compile_item(n: usize, item: &Value, folding: CaseFolding, fields: &mut FieldSet) -> Result<Item, ExceptionsError> {
    let name = item.get("name").and_then(Value::as_str).map(str::to_owned);
    let err = |entry: Option<usize>, field: Option<&str>, problem: Problem| ExceptionsError {
        item: Some((n, name.clone())),
        entry,
        field: field.map(str::to_owned),
        problem,
    };
    let Value::Object(map) = item else {
        return Err(err(None, None, Problem::ItemNotObject));
    };
    let Some(name_value) = map.get("name") else {
        return Err(err(None, None, Problem::MissingName));
    };
    let Some(item_name) = name_value.as_str().filter(|s| !s.trim().is_empty()) else {
        return Err(err(None, None, Problem::BadName));
    };
    let description = match map.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err(None, None, Problem::DescriptionNotString)),
    };
    let entries = match map.get("entries") {
        Some(Value::Array(e)) if !e.is_empty() => e,
        Some(Value::Array(_)) => return Err(err(None, None, Problem::EmptyEntries)),
        _ => return Err(err(None, None, Problem::MissingEntries)),
    };
    let mut conditions = Vec::with_capacity(entries.len());
    for (j, entry) in entries.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(err(Some(j + 1), None, Problem::EntryNotObject));
        };
        let field = entry.get("field").and_then(Value::as_str);
        let fail = |problem: Problem| err(Some(j + 1), field, problem);
        conditions.push(compile_entry(entry, folding, fields).map_err(fail)?);
    }
    Ok(Item { name: item_name.to_owned(), description, conditions })
}

fn compile_entry(
    entry: &Map<String, Value>,
    folding: CaseFolding,
    fields: &mut FieldSet,
) -> Result<Condition, Problem> {
    for key in entry.keys() {
        if !matches!(key.as_str(), "field" | "operator" | "type" | "value") {
            return Err(Problem::UnknownKey(key.clone()));
        }
    }
    let field = match entry.get("field") {
        Some(Value::String(f)) => f,
        Some(_) => return Err(Problem::FieldNotString),
        None => return Err(Problem::MissingField),
    };
    if field.is_empty() || field.split('.').any(str::is_empty) {
        return Err(Problem::FieldNotPath);
    }
    let operator = match entry.get("operator") {
        Some(Value::String(o)) => o.as_str(),
        Some(_) => return Err(Problem::OperatorNotString),
        None => return Err(Problem::MissingOperator),
    };
    let (op, negated) = match entry.get("type") {
        None => match operator {
            "is" => (Operator::Is, false),
            "is not" => (Operator::Is, true),
            "is one of" => (Operator::IsOneOf, false),
            "is not one of" => (Operator::IsOneOf, true),
            "exists" => (Operator::Exists, false),
            "does not exist" => (Operator::Exists, true),
            "matches" => (Operator::Matches, false),
            "does not match" => (Operator::Matches, true),
            other => return Err(Problem::UnknownOperator(other.to_owned())),
        },
        Some(Value::String(t)) => {
            let negated = match operator {
                "included" => false,
                "excluded" => true,
                other => return Err(Problem::NotIncludedOrExcluded(other.to_owned())),
            };
            let op = match t.as_str() {
                "match" => Operator::Is,
                "match_any" => Operator::IsOneOf,
                "exists" => Operator::Exists,
                "wildcard" => Operator::Matches,
                other => return Err(Problem::UnsupportedType(other.to_owned())),
            };
            (op, negated)
        }
        Some(_) => return Err(Problem::TypeNotString),
    };
    let value = entry.get("value");
    let test = match op {
        Operator::Exists => match value {
            None | Some(Value::Null) => Test::Exists,
            Some(_) => return Err(Problem::UnexpectedValue { operator: operator.to_owned() }),
        },
        Operator::Is => Test::EqualsAny(Box::new([one_string(value, operator)?.into()])),
        Operator::IsOneOf => Test::EqualsAny(string_list(value, operator)?.into_iter().map(Into::into).collect()),
        Operator::Matches => {
            let patterns = match value {
                Some(Value::Array(_)) => string_list(value, operator)?,
                _ => vec![one_string(value, operator)?],
            };
            Test::MatchesAny(patterns.iter().map(|p| Pattern::wildcard(p, folding)).collect())
        }
    };
    let field = fields.intern(field).map_err(Problem::TooManyFields)?;
    Ok(Condition { field, test, negated })
}

fn one_string(value: Option<&Value>, operator: &str) -> Result<String, Problem> {
    let operator = || operator.to_owned();
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(_) => Err(Problem::NeedsString { operator: operator() }),
        None => Err(Problem::NeedsValue { operator: operator() }),
    }
}

fn string_list(value: Option<&Value>, operator: &str) -> Result<Vec<String>, Problem> {
    let name = || operator.to_owned();
    match value {
        Some(Value::Array(values)) if !values.is_empty() => values
            .iter()
            .map(|v| one_string(Some(v), operator).map_err(|_| Problem::NeedsStringList { operator: name() }))
            .collect(),
        Some(Value::Array(_)) => Err(Problem::NeedsNonEmptyList { operator: name() }),
        Some(_) => Err(Problem::NeedsList { operator: name() }),
        None => Err(Problem::NeedsValue { operator: name() }),
    }
}
