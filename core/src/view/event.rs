//! Events as the matcher sees them: a borrowed view of field values.
//!
//! Every input (a sensor's struct, a decoded JSON document, an Arrow row) implements
//! [`Fields`]: given a [`Field`], it yields that field's values, in document order. A field may
//! have any number of values (ECS fields are multi-valued: `event.type: ["start",
//! "process_start"]`) or none (absent or `null`). Nothing downstream knows where an event came
//! from.
//!
//! [`ProcessEvent`] is the plain struct form, for callers that already hold the strings (a
//! sensor's process-start callback, tests). Building and reading it never allocates.

use crate::view::field::{Field, FieldId};
use crate::view::text::Text;

/// A source of field values. Implemented by every event representation.
pub trait Fields {
    /// Iterator over one field's values.
    type Values<'s>: Iterator<Item = Text<'s>>
    where
        Self: 's;

    /// The values of `field`, in document order; empty when the field is absent or null.
    fn values<'s>(&'s self, field: &'s Field) -> Self::Values<'s>;
}

/// The values of one field in a [`ProcessEvent`]: none, one or several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Values<'a> {
    /// Absent or null.
    #[default]
    Absent,
    /// One value.
    One(&'a str),
    /// Any number of values (an empty slice is the same as absent).
    Many(&'a [&'a str]),
}

impl<'a> Values<'a> {
    /// Iterates the values.
    pub fn iter(&self) -> ValuesIter<'a> {
        match *self {
            Values::Absent => ValuesIter { one: None, many: [].iter() },
            Values::One(v) => ValuesIter { one: Some(v), many: [].iter() },
            Values::Many(vs) => ValuesIter { one: None, many: vs.iter() },
        }
    }
}

impl<'a> From<&'a str> for Values<'a> {
    fn from(v: &'a str) -> Self {
        Values::One(v)
    }
}

impl<'a> From<Option<&'a str>> for Values<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Values::Absent, Values::One)
    }
}

impl<'a> From<&'a [&'a str]> for Values<'a> {
    fn from(v: &'a [&'a str]) -> Self {
        Values::Many(v)
    }
}

impl<'a, const N: usize> From<&'a [&'a str; N]> for Values<'a> {
    fn from(v: &'a [&'a str; N]) -> Self {
        Values::Many(v)
    }
}

/// Iterator over [`Values`].
#[derive(Clone, Debug)]
pub struct ValuesIter<'a> {
    one: Option<&'a str>,
    many: std::slice::Iter<'a, &'a str>,
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        self.one.take().or_else(|| self.many.next().copied())
    }
}

/// A process event as plain borrowed strings: the rule's five fields, plus any other ECS
/// fields (by path) that tuning may ask for.
///
/// ```
/// use dcom_detect_core::{ProcessEvent, Rule};
/// let event = ProcessEvent {
///     name: "cmd.exe".into(),
///     parent_name: "mmc.exe".into(),
///     command_line: r#""C:\Windows\System32\cmd.exe" /Q /c whoami"#.into(),
///     ..ProcessEvent::start()
/// };
/// assert!(Rule::default().evaluate(&event).is_match());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEvent<'a> {
    /// `event.category`
    pub category: Values<'a>,
    /// `event.type`
    pub event_type: Values<'a>,
    /// `process.name`
    pub name: Values<'a>,
    /// `process.parent.name`
    pub parent_name: Values<'a>,
    /// `process.command_line`
    pub command_line: Values<'a>,
    /// Other fields as `(ECS path, value)` pairs; a path may repeat for several values.
    pub other: &'a [(&'a str, &'a str)],
}

impl ProcessEvent<'static> {
    /// A process start (`event.category: "process"`, `event.type: "start"`) with no other
    /// field set.
    pub const fn start() -> ProcessEvent<'static> {
        ProcessEvent {
            category: Values::One("process"),
            event_type: Values::One("start"),
            name: Values::Absent,
            parent_name: Values::Absent,
            command_line: Values::Absent,
            other: &[],
        }
    }
}

/// Iterator over one field of a [`ProcessEvent`].
#[derive(Clone, Debug)]
pub struct ProcessEventValues<'s> {
    listed: ValuesIter<'s>,
    other: std::slice::Iter<'s, (&'s str, &'s str)>,
    path: &'s str,
}

impl<'s> Iterator for ProcessEventValues<'s> {
    type Item = Text<'s>;

    #[inline]
    fn next(&mut self) -> Option<Text<'s>> {
        if let Some(v) = self.listed.next() {
            return Some(Text::utf8(v));
        }
        let path = self.path;
        self.other.find(|(p, _)| *p == path).map(|(_, v)| Text::utf8(v))
    }
}

impl<'a> Fields for ProcessEvent<'a> {
    type Values<'s>
        = ProcessEventValues<'s>
    where
        Self: 's;

    fn values<'s>(&'s self, field: &'s Field) -> ProcessEventValues<'s> {
        let listed = match field.id() {
            FieldId::EVENT_CATEGORY => self.category,
            FieldId::EVENT_TYPE => self.event_type,
            FieldId::PROCESS_NAME => self.name,
            FieldId::PROCESS_PARENT_NAME => self.parent_name,
            FieldId::PROCESS_COMMAND_LINE => self.command_line,
            _ => Values::Absent,
        };
        ProcessEventValues { listed: listed.iter(), other: self.other.iter(), path: field.path() }
    }
}
