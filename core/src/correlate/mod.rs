//! Stage 4b, observations → correlations: the `extended` profile's rules, which join a
//! process start with an inbound connection or a network logon on the same host
//! (`docs/correlation.md`).
//!
//! | rule | anchor (the alert's event) | partner | join | window |
//! |---|---|---|---|---|
//! | [`CorrelationRule::D2`] | a COM server start (parent `svchost.exe`, `-Embedding` or `/automation`, a name in [`SERVERS`]) | inbound TCP from a non-loopback address to the same process | host + entity id; without one, host + pid (pid-reuse guard) | ±60 s |
//! | [`CorrelationRule::D2L`] | the same start | 4624 type 3 from a non-loopback address | host + logon id | 60 s before to 2 s after |
//! | [`CorrelationRule::D3`] | a child of `explorer.exe` | inbound TCP to that explorer on a local port ≥ 49152 | host + parent entity id; without one, parent pid | ±10 s |
//!
//! [`observe`] turns a decoded document (with the event view) into an [`Observation`];
//! [`Correlator`] keeps bounded per-host state fed in input order and reports each
//! [`Correlation`] as soon as an anchor meets its first partner, in either order.
//!
//! The `elastic` profile (Elastic's own three DCOM sequence rules, verbatim, with
//! Elasticsearch's sequence semantics) is in [`elastic`]. A [`Profile`] names which set a scan
//! runs; a [`Session`] runs either over a stream of decoded records and writes the alerts.
//!
//! # Cost
//! Observing is `O(values)` of the view; correlating one observation is `O(pending)` on its
//! host (bounded by [`Limits::pending`]). Nothing allocates once every host slot has been used
//! once (hosts and their buffers are reused after eviction).

pub mod elastic;
mod engine;
mod observe;
mod profile;
mod rules;
mod session;

pub use elastic::{
    ElasticEvent, ElasticLimits, ElasticMatch, ElasticReader, ElasticRule, ElasticStats, RawHost, SequenceEvent,
    Sequences, Step, TimeSource,
};
pub use engine::{Correlation, CorrelationStats, Correlator, Event, Limits, Partner};
#[cfg(test)]
pub(crate) use observe::is_loopback;
pub use observe::{
    event_time, observe, Clock, Endpoint, EntityKey, Fact, HostKey, Inbound, Logon, Observation, Outbound, Start,
    ACTIVATION_ARGS, ACTIVATION_PARENT, D3_MIN_LOCAL_PORT, EXPLORER, INBOUND_DIRECTIONS, NETWORK_LOGON_TYPES,
    OUTBOUND_DIRECTIONS, SERVERS, TRANSPORT,
};
pub use observe::{may_observe, OBSERVE_WORDS};
pub use profile::{Observed, Observer, Profile, ProfileRule, UnknownProfile};
pub use rules::seed_metadata;
pub use session::{Mark, Session, SessionStats, SessionSummary};

/// One of the correlation rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CorrelationRule {
    /// Remote DCOM activation of a lateral-movement COM server, with an inbound connection.
    D2,
    /// The same activation in a network logon session.
    D2L,
    /// ShellWindows / ShellBrowserWindow: an inbound connection to explorer and its child.
    D3,
}

impl CorrelationRule {
    /// Every rule, in a fixed order.
    pub const ALL: [CorrelationRule; 3] = [CorrelationRule::D2, CorrelationRule::D2L, CorrelationRule::D3];

    /// The short name (`D2`, `D2L`, `D3`).
    pub fn name(self) -> &'static str {
        match self {
            CorrelationRule::D2 => "D2",
            CorrelationRule::D2L => "D2L",
            CorrelationRule::D3 => "D3",
        }
    }

    /// The stable `rule.id` ([`metadata`](Self::metadata) has the rest).
    pub fn id(self) -> &'static str {
        self.metadata().id
    }

    /// How far the partner may be from the anchor, in nanoseconds: `(before, after)`, the
    /// partner's time within `[anchor - before, anchor + after]`.
    pub fn window(self) -> (i64, i64) {
        const S: i64 = 1_000_000_000;
        match self {
            CorrelationRule::D2 => (60 * S, 60 * S),
            CorrelationRule::D2L => (60 * S, 2 * S),
            CorrelationRule::D3 => (10 * S, 10 * S),
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}
