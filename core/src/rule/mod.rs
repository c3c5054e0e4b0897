//! The rule: Elastic's EQL detection for DCOM lateral movement, as data, and its evaluation.
//!
//! ```eql
//! process where event.type == "start" and
//! (
//!   (process.parent.name in~ (…six COM hosts…) and process.name in~ (…eight LOLBins…)) or
//!   process.name == "dcomcnfg.exe" or
//!   (process.command_line : "*DCOM*" and process.command_line : "*-Exec*")
//! )
//! ```
//!
//! [`Rule::evaluate`] reads an event through [`Fields`] and returns a [`Verdict`] naming every
//! branch that fired and the values that fired it. Semantics are Elasticsearch's (see
//! `docs/semantics.md`): `==` is exact, `in~` and `:` fold case per [`CaseFolding`], any value of
//! a multi-valued field can satisfy a comparison (two comparisons may use different values),
//! missing or null fields make a comparison false, and `keyword` values longer than
//! `ignore_above` are invisible.
//!
//! Stage 3, fields → verdict. The rule's parts, one module each:
//!
//! | module | holds |
//! |---|---|
//! | [`definition`] | the rule as data: its values, needles and EQL text (one source of truth) |
//! | [`wildcard`] | EQL `:` patterns and `in~` literal sets |
//! | [`fold`] | case folding as Elasticsearch does it, per [`CaseFolding`] |
//! | [`exceptions`] | tuning: exception items that suppress an alert |
//! | [`prefilter`] | proof that a raw record cannot match, to skip decoding it |
//!
//! # Cost
//! Evaluation never allocates and reads each field at most three times. Building a [`Rule`]
//! allocates (patterns, field set) and is meant to happen once.

use std::fmt;

pub mod definition;
pub mod exceptions;
pub mod fold;
pub mod prefilter;
pub mod wildcard;

use crate::error::DecodeError;
use crate::rule::exceptions::{Exceptions, ExceptionsError};
use crate::rule::fold::CaseFolding;
use crate::rule::prefilter::Prefilter;
use crate::rule::wildcard::{LiteralSet, Pattern};
use crate::view::ecs::{Decoder, Document, Paths};
use crate::view::event::Fields;
use crate::view::field::{Field, FieldId, FieldSet};
use crate::view::text::Text;

pub use crate::rule::definition::{
    AttackRef, DataSource, Metadata, Threat, COMMAND_LINE_PATTERNS, COM_HOST_PARENTS, DCOMCNFG, EQL_SOURCE, METADATA,
    PROCESS_CATEGORY, SPAWNED_CHILDREN, START_TYPE,
};

/// One of the rule's three alternatives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Branch {
    /// A COM host (MMC or an Office application) started a script host or LOLBin.
    OfficeChild = 0,
    /// The DCOM configuration tool was started.
    Dcomcnfg = 1,
    /// A command line references DCOM and an `-Exec…` switch.
    DcomCommandLine = 2,
}

impl Branch {
    /// All branches, in rule order.
    pub const ALL: [Branch; 3] = [Branch::OfficeChild, Branch::Dcomcnfg, Branch::DcomCommandLine];

    /// The branch's stable name (`office_child`, `dcomcnfg`, `dcom_command_line`).
    pub fn name(self) -> &'static str {
        match self {
            Branch::OfficeChild => "office_child",
            Branch::Dcomcnfg => "dcomcnfg",
            Branch::DcomCommandLine => "dcom_command_line",
        }
    }

    /// The branch with this name.
    pub fn from_name(name: &str) -> Option<Branch> {
        Branch::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The branch's bit in a [`BranchSet`] (`1 << discriminant`).
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of branches as a bit set (bit `n` is the branch with discriminant `n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BranchSet(u8);

impl BranchSet {
    /// The empty set.
    pub const EMPTY: BranchSet = BranchSet(0);

    /// The set with these bits; bits that name no branch are dropped.
    pub fn from_bits(bits: u8) -> BranchSet {
        BranchSet(bits & 0b111)
    }

    /// The bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `branch` is in the set.
    pub fn contains(self, branch: Branch) -> bool {
        self.0 & branch.bit() != 0
    }

    /// Adds `branch`.
    pub fn insert(&mut self, branch: Branch) {
        self.0 |= branch.bit();
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The branches in the set, in rule order.
    pub fn iter(self) -> impl Iterator<Item = Branch> {
        Branch::ALL.into_iter().filter(move |b| self.contains(*b))
    }
}

/// Why the first branch fired: the parent and child names that satisfied it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfficeChild<'e> {
    /// The `process.parent.name` value found in the COM host list.
    pub parent_name: Text<'e>,
    /// The `process.name` value found in the child list.
    pub name: Text<'e>,
}

/// Why the third branch fired: the command line value(s) that satisfied each pattern
/// (different values of a multi-valued field may satisfy the two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcomCommandLine<'e> {
    /// The value that matched `*DCOM*`.
    pub dcom: Text<'e>,
    /// The value that matched `*-Exec*`.
    pub exec: Text<'e>,
}

/// The result of evaluating the rule on one event: every branch that fired and its evidence,
/// and the exception item that suppressed it, if any.
///
/// The evidence borrows the event's values. The first value (in document order) that
/// satisfies a comparison is reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict<'e> {
    /// `office_child` fired with these values.
    pub office_child: Option<OfficeChild<'e>>,
    /// `dcomcnfg` fired on this `process.name`.
    pub dcomcnfg: Option<Text<'e>>,
    /// `dcom_command_line` fired with these values.
    pub dcom_command_line: Option<DcomCommandLine<'e>>,
    /// The index (in [`Rule::exceptions`]) of the exception item that suppressed the alert;
    /// only set when some branch fired.
    pub suppressed_by: Option<usize>,
}

impl Verdict<'_> {
    /// The branches that fired.
    pub fn branches(&self) -> BranchSet {
        let mut set = BranchSet::EMPTY;
        if self.office_child.is_some() {
            set.insert(Branch::OfficeChild);
        }
        if self.dcomcnfg.is_some() {
            set.insert(Branch::Dcomcnfg);
        }
        if self.dcom_command_line.is_some() {
            set.insert(Branch::DcomCommandLine);
        }
        set
    }

    /// Whether some branch fired (whether or not an exception suppressed the alert).
    pub fn fired(&self) -> bool {
        !self.branches().is_empty()
    }

    /// Whether the event raises an alert: some branch fired and no exception suppressed it.
    pub fn is_match(&self) -> bool {
        self.fired() && self.suppressed_by.is_none()
    }
}

/// How to build a [`Rule`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Case folding for `in~` and `:` (default ASCII, as Elasticsearch has long done).
    pub case_folding: CaseFolding,
}

/// The compiled rule, with its exceptions. Immutable once built, so one `Rule` may be shared
/// by any number of threads (`Rule: Send + Sync`).
#[derive(Clone, Debug)]
pub struct Rule {
    options: Options,
    exceptions: Exceptions,
    fields: FieldSet,
    paths: Paths,
    /// `paths` with the event view ([`Paths::with_view`]), built once: what alerts and the
    /// correlation profiles decode with.
    view_paths: Paths,
    parents: LiteralSet,
    children: LiteralSet,
    dcom: Pattern,
    exec: Pattern,
    /// The raw-byte prefilter for this case folding, compiled once for every scan.
    prefilter: Prefilter,
    /// The prefilter that also keeps what `extended` observes, compiled on first use.
    observing_prefilter: std::sync::OnceLock<Prefilter>,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule::new(Options::default())
    }
}

impl Rule {
    /// Compiles the rule with these options.
    pub fn new(options: Options) -> Rule {
        Rule::compile(options, FieldSet::new(), Exceptions::default())
    }

    /// Compiles the rule with these options and an exceptions file (the JSON of
    /// [`crate::rule::exceptions`]); a bad file is refused with what is wrong and where.
    pub fn with_exceptions(options: Options, exceptions: &[u8]) -> Result<Rule, ExceptionsError> {
        let mut fields = FieldSet::new();
        let exceptions = Exceptions::parse(exceptions, options.case_folding, &mut fields)?;
        Ok(Rule::compile(options, fields, exceptions))
    }

    fn compile(options: Options, fields: FieldSet, exceptions: Exceptions) -> Rule {
        let fold = options.case_folding;
        Rule {
            options,
            exceptions,
            paths: Paths::new(&fields),
            view_paths: Paths::new(&fields).with_view(),
            fields,
            parents: LiteralSet::new(&COM_HOST_PARENTS, fold),
            children: LiteralSet::new(&SPAWNED_CHILDREN, fold),
            dcom: Pattern::wildcard(COMMAND_LINE_PATTERNS[0], fold),
            exec: Pattern::wildcard(COMMAND_LINE_PATTERNS[1], fold),
            prefilter: Prefilter::new(fold),
            observing_prefilter: std::sync::OnceLock::new(),
        }
    }

    /// The options the rule was built with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// The rule's EQL text ([`EQL_SOURCE`]).
    pub fn source(&self) -> &'static str {
        EQL_SOURCE
    }

    /// The rule's metadata ([`METADATA`]).
    pub fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    /// The raw-byte prefilter for this rule's case folding ([`crate::rule::prefilter`]).
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// The rule's prefilter that also keeps every record the `extended` profile may observe
    /// ([`Prefilter::with_words`] with [`crate::correlate::may_observe`]'s words): one search
    /// for both. Built on first use, then shared.
    pub fn observing_prefilter(&self) -> &Prefilter {
        self.observing_prefilter
            .get_or_init(|| Prefilter::with_words(self.options.case_folding, &crate::correlate::OBSERVE_WORDS))
    }

    /// The exception items (empty without tuning).
    pub fn exceptions(&self) -> &Exceptions {
        &self.exceptions
    }

    /// The fields the rule reads (its own five, then tuning fields).
    pub fn fields(&self) -> &FieldSet {
        &self.fields
    }

    /// The JSON paths a [`crate::Decoder`] must extract for this rule.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The rule's paths with the event view ([`Paths::with_view`]): decoding with them gives
    /// the same verdicts and also the view's fields (time, host, ids, network, logon).
    pub fn view_paths(&self) -> &Paths {
        &self.view_paths
    }

    /// Evaluates the rule on one event. Never allocates.
    pub fn evaluate<'e, E: Fields + ?Sized>(&'e self, event: &'e E) -> Verdict<'e> {
        let mut verdict = Verdict::default();
        // `process where` and `event.type == "start"`: exact, case-sensitive.
        if self.first(event, FieldId::EVENT_CATEGORY, |v| v.eq_str(PROCESS_CATEGORY)).is_none()
            || self.first(event, FieldId::EVENT_TYPE, |v| v.eq_str(START_TYPE)).is_none()
        {
            return verdict;
        }
        if let Some(parent_name) = self.first(event, FieldId::PROCESS_PARENT_NAME, |v| self.parents.matches(v)) {
            if let Some(name) = self.first(event, FieldId::PROCESS_NAME, |v| self.children.matches(v)) {
                verdict.office_child = Some(OfficeChild { parent_name, name });
            }
        }
        verdict.dcomcnfg = self.first(event, FieldId::PROCESS_NAME, |v| v.eq_str(DCOMCNFG));
        if let Some(dcom) = self.first(event, FieldId::PROCESS_COMMAND_LINE, |v| self.dcom.matches(v)) {
            if let Some(exec) = self.first(event, FieldId::PROCESS_COMMAND_LINE, |v| self.exec.matches(v)) {
                verdict.dcom_command_line = Some(DcomCommandLine { dcom, exec });
            }
        }
        if verdict.fired() && !self.exceptions.is_empty() {
            verdict.suppressed_by = self.exceptions.suppressing_item(event, &self.fields);
        }
        verdict
    }

    /// Whether the event raises an alert (some branch fires, no exception suppresses it).
    /// Never allocates.
    pub fn matches<E: Fields + ?Sized>(&self, event: &E) -> bool {
        self.evaluate(event).is_match()
    }

    /// Decodes one JSON record with the rule's paths and evaluates the rule on it, handing
    /// the document and its verdict to `f`: the one decode-then-evaluate pass every door and
    /// source shares (scans, EVTX, alerts, the C and Python JSON functions). The document and
    /// verdict borrow the decoder's buffers, hence the closure.
    ///
    /// Cost: [`Decoder::decode`] plus [`evaluate`](Self::evaluate); no allocation once the
    /// decoder's buffers have grown.
    ///
    /// # Errors
    /// The decoder's [`DecodeError`] when the record is rejected (`f` is not called).
    #[inline]
    pub fn evaluate_json<R>(
        &self,
        decoder: &mut Decoder,
        record: &[u8],
        f: impl FnOnce(&Document<'_>, &Verdict<'_>) -> R,
    ) -> Result<R, DecodeError> {
        self.evaluate_json_with(&self.paths, decoder, record, f)
    }

    /// [`evaluate_json`](Self::evaluate_json) with other paths: the rule's own plus more
    /// (such as [`Paths::with_view`]), which never change the verdict.
    ///
    /// Precondition: `paths` was built from this rule's paths ([`paths`](Self::paths)), or
    /// the rule may miss its fields.
    #[inline]
    pub fn evaluate_json_with<R>(
        &self,
        paths: &Paths,
        decoder: &mut Decoder,
        record: &[u8],
        f: impl FnOnce(&Document<'_>, &Verdict<'_>) -> R,
    ) -> Result<R, DecodeError> {
        let document = decoder.decode(paths, record)?;
        Ok(f(&document, &self.evaluate(&document)))
    }

    /// The first indexed value of `id` that satisfies `test`.
    #[inline]
    fn first<'e, E: Fields + ?Sized>(
        &'e self,
        event: &'e E,
        id: FieldId,
        mut test: impl FnMut(Text<'e>) -> bool,
    ) -> Option<Text<'e>> {
        let field: &'e Field = self.fields.get(id);
        let mapping = field.mapping();
        event.values(field).find(|v| mapping.indexes(*v) && test(*v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_text_lists_exactly_the_constants() {
        for name in COM_HOST_PARENTS.iter().chain(&SPAWNED_CHILDREN) {
            assert!(EQL_SOURCE.contains(&format!("\"{name}\"")), "{name}");
        }
        assert!(EQL_SOURCE.contains("process.name == \"dcomcnfg.exe\""));
        for p in COMMAND_LINE_PATTERNS {
            assert!(EQL_SOURCE.contains(&format!("process.command_line : \"{p}\"")));
        }
        assert_eq!(EQL_SOURCE.matches("\", \"").count(), 5 + 7);
    }

    #[test]
    fn branch_bits_and_names_are_stable() {
        assert_eq!(Branch::OfficeChild.bit(), 1);
        assert_eq!(Branch::Dcomcnfg.bit(), 2);
        assert_eq!(Branch::DcomCommandLine.bit(), 4);
        for b in Branch::ALL {
            assert_eq!(Branch::from_name(b.name()), Some(b));
        }
    }
}
