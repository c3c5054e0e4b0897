//! Stage 2, records → fields: the borrowed, multi-valued event view the rule reads.
//!
//! | module | turns | into |
//! |---|---|---|
//! | `json` | one record's bytes | validated tokens (no allocation) |
//! | [`ecs`] | tokens of an ECS, Sysmon or Security record in any wrapper SPEC accepts | a [`Document`](ecs::Document), as Elasticsearch would index it |
//! | [`tree`] | a host language's parsed maps, lists and strings | the same view, read in place |
//! | [`time`] | `@timestamp`, `UtcTime`, `TimeCreated` text | a [`Timestamp`](time::Timestamp) |
//! | [`field`] | ECS paths | [`Field`](field::Field) ids and index mappings |
//! | [`event`] | any source | the [`Fields`](event::Fields) trait every source implements |
//! | [`flat`] | a struct event's `(ECS path, value)` pairs | one JSON record with dotted keys ([`FlatRecord`](flat::FlatRecord)) |
//! | [`text`] | UTF-8 or UTF-16 values | one borrowed [`Text`](text::Text) |
//!
//! Invariant: a view borrows from its record and allocates nothing in steady state; only the
//! fields asked for (the rule's, its tuning's, and the alert view's) are materialised.

pub mod ecs;
pub mod event;
pub mod field;
pub mod flat;
pub(crate) mod json;
pub mod text;
pub mod time;
pub mod tree;
pub mod windows;
