//! The verdict as C sees it: what fired, and whether an exception item suppressed the alert.
//!
//! One vocabulary in every door: a branch *fires* when its condition holds; an event
//! *matches* (raises an alert) when some branch fires and no exception item suppresses it.
//! `dcom_rule_match*` answer "does this raise an alert?" with the alert's branch bits (0 when
//! suppressed), like `Rule::matches` in Rust and Python; the `dcom_rule_evaluate*` functions
//! (and `dcom_rule_alert_json`) also say what fired and which item suppressed it, with a
//! [`dcom_verdict`].

use std::convert::Infallible;

use dcom_detect_core::{Outcome, Verdict};

/// `dcom_verdict.suppressed_by` when no exception item suppressed the match (or nothing
/// fired).
pub const DCOM_NOT_SUPPRESSED: i32 = -1;

/// The result of evaluating the rule on one event: what fired and what tuning did with it.
///
/// | `branches` | `suppressed_by` | meaning |
/// |---|---|---|
/// | 0 | -1 | the rule did not fire: no alert |
/// | non-zero | -1 | the rule fired and no exception applies: **alert** |
/// | non-zero | n >= 0 | the rule fired, exception item n suppressed it: no alert, count it |
///
/// So an event raises an alert exactly when `branches != 0 && suppressed_by < 0`. A
/// suppressed event keeps its branch bits, so a sensor can count suppressions per item and
/// branch (`dcom_rule_exception_name` names item n). A plain value: copy it freely.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dcom_verdict {
    /// The branches that fired (`DCOM_BRANCH_*` bits; 0 = the rule did not fire), whether or
    /// not an exception suppressed the alert (`dcom_rule_match` reports them only for an alert).
    pub branches: u32,
    /// The 0-based index (file order) of the first exception item whose conditions all hold
    /// on the event, when some branch fired; `DCOM_NOT_SUPPRESSED` (-1) otherwise. Exceptions
    /// are only evaluated when a branch fires, so this is -1 whenever `branches` is 0.
    pub suppressed_by: i32,
}

impl dcom_verdict {
    /// The neutral verdict: nothing fired. What a failed call leaves in its out-parameter.
    pub(crate) const NONE: dcom_verdict = dcom_verdict { branches: 0, suppressed_by: DCOM_NOT_SUPPRESSED };

    /// Core's verdict, translated through core's per-record [`Outcome`] (the table above is
    /// its three read outcomes; a rejected record is a `dcom_result` instead). No allocation.
    #[inline]
    pub(crate) fn from_core(verdict: &Verdict<'_>) -> dcom_verdict {
        match Outcome::<Infallible>::of(verdict) {
            Outcome::Matched(branches) => {
                dcom_verdict { branches: u32::from(branches.bits()), suppressed_by: DCOM_NOT_SUPPRESSED }
            }
            Outcome::Suppressed { branches, item } => dcom_verdict {
                branches: u32::from(branches.bits()),
                // `dcom_rule_create` refuses more than `i32::MAX` items, so this never saturates.
                suppressed_by: i32::try_from(item).unwrap_or(i32::MAX),
            },
            Outcome::NotMatched => dcom_verdict::NONE,
            Outcome::Rejected(never) => match never {},
        }
    }

    /// Whether the event raises an alert: some branch fired and no exception suppressed it.
    #[inline]
    pub(crate) fn is_alert(&self) -> bool {
        self.branches != 0 && self.suppressed_by < 0
    }

    /// The branch bits `dcom_rule_match*` report: what fired when the event raises an alert,
    /// 0 otherwise (nothing fired, or an exception item suppressed it).
    #[inline]
    pub(crate) fn alert_branches(&self) -> u32 {
        if self.is_alert() {
            self.branches
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcom_detect_core::{Options, ProcessEvent, Rule};

    #[test]
    fn translation() {
        assert_eq!(dcom_verdict::from_core(&Verdict::default()), dcom_verdict::NONE);
        assert!(!dcom_verdict::NONE.is_alert());
        let rule = Rule::with_exceptions(
            Options::default(),
            br#"[{"name":"jump","entries":[{"field":"host.name","operator":"is","value":"jump-01"}]}]"#,
        )
        .unwrap();
        let other = [("host.name", "jump-01")];
        let event = ProcessEvent {
            name: "cmd.exe".into(),
            parent_name: "mmc.exe".into(),
            other: &other,
            ..ProcessEvent::start()
        };
        let suppressed = dcom_verdict::from_core(&rule.evaluate(&event));
        assert_eq!(suppressed, dcom_verdict { branches: 1, suppressed_by: 0 });
        assert!(!suppressed.is_alert());
        let event = ProcessEvent { other: &[], ..event };
        let alert = dcom_verdict::from_core(&rule.evaluate(&event));
        assert_eq!(alert, dcom_verdict { branches: 1, suppressed_by: DCOM_NOT_SUPPRESSED });
        assert!(alert.is_alert());
    }
}
