//! Profiles: which rules a scan runs. The seed rule always; with `elastic` also Elastic's
//! three DCOM sequence rules, with `extended` also the correlation rules D2, D2L and D3
//! (`docs/correlation.md`).
//!
//! A scan that runs a profile's rules decodes every record with the event view and asks an
//! [`Observer`] what the record is to those rules (an [`Observed`]); the [`Session`](super::Session)
//! keeps the state and writes the alerts.

use std::fmt;
use std::str::FromStr;

use super::elastic::{ElasticEvent, ElasticReader, ElasticRule};
use super::observe::{observe, Observation};
use super::CorrelationRule;
use crate::rule::definition::Metadata;
use crate::view::ecs::Document;

/// A named set of rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The seed rule alone (the default, stateless).
    #[default]
    Seed,
    /// The seed rule and Elastic's three DCOM sequence rules ([`ElasticRule`]).
    Elastic,
    /// The seed rule and the correlation rules D2, D2L and D3 ([`CorrelationRule`]).
    Extended,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 3] = [Profile::Seed, Profile::Elastic, Profile::Extended];

    /// The name a user gives (`seed`, `elastic`, `extended`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Seed => "seed",
            Profile::Elastic => "elastic",
            Profile::Extended => "extended",
        }
    }

    /// Whether the profile runs stateful rules beside the seed rule (a scan then decodes and
    /// observes every record those rules might read, not only what the seed rule's prefilter
    /// keeps).
    pub fn correlates(self) -> bool {
        self != Profile::Seed
    }

    /// The stateful rules the profile runs beside the seed rule, in a fixed order.
    pub fn rules(self) -> &'static [ProfileRule] {
        const ELASTIC: [ProfileRule; 3] = [
            ProfileRule::Elastic(ElasticRule::Mmc20),
            ProfileRule::Elastic(ElasticRule::ShellWindows),
            ProfileRule::Elastic(ElasticRule::Hta),
        ];
        const EXTENDED: [ProfileRule; 3] = [
            ProfileRule::Extended(CorrelationRule::D2),
            ProfileRule::Extended(CorrelationRule::D2L),
            ProfileRule::Extended(CorrelationRule::D3),
        ];
        match self {
            Profile::Seed => &[],
            Profile::Elastic => &ELASTIC,
            Profile::Extended => &EXTENDED,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is none of `seed`, `elastic`, `extended`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown profile {:?}: expected \"seed\", \"elastic\" or \"extended\"", self.0)
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    /// The profile of that name (exactly, lowercase).
    fn from_str(name: &str) -> Result<Profile, UnknownProfile> {
        Profile::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| UnknownProfile(name.to_owned()))
    }
}

/// One stateful rule of a profile: what a correlation alert names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileRule {
    /// A rule of the `extended` profile.
    Extended(CorrelationRule),
    /// A rule of the `elastic` profile.
    Elastic(ElasticRule),
}

impl ProfileRule {
    /// The short name alerts carry (`D2`, `D2L`, `D3`; `mmc20`, `shellwindows`, `hta`).
    pub fn name(self) -> &'static str {
        match self {
            ProfileRule::Extended(r) => r.name(),
            ProfileRule::Elastic(r) => r.short_name(),
        }
    }

    /// The stable `rule.id`.
    pub fn id(self) -> &'static str {
        self.metadata().id
    }

    /// The rule's metadata.
    pub fn metadata(self) -> &'static Metadata {
        match self {
            ProfileRule::Extended(r) => r.metadata(),
            ProfileRule::Elastic(r) => r.metadata(),
        }
    }

    /// The rule's EQL (Elastic's verbatim; ours as sequences a user can paste into Kibana).
    pub fn eql(self) -> String {
        match self {
            ProfileRule::Extended(r) => r.eql(),
            ProfileRule::Elastic(r) => r.query().to_owned(),
        }
    }

    /// The profile the rule belongs to.
    pub fn profile(self) -> Profile {
        match self {
            ProfileRule::Extended(_) => Profile::Extended,
            ProfileRule::Elastic(_) => Profile::Elastic,
        }
    }

    /// The rule named `name` ([`name`](Self::name) or its [`id`](Self::id)), in any profile.
    pub fn find(name: &str) -> Option<ProfileRule> {
        [Profile::Elastic, Profile::Extended]
            .iter()
            .flat_map(|p| p.rules())
            .copied()
            .find(|r| r.name().eq_ignore_ascii_case(name) || r.id() == name)
    }
}

/// What one record is to a profile's stateful rules.
///
/// An [`ElasticEvent`] carries its hashed keys inline (a few hundred bytes): it is copied, not
/// boxed, so that observing allocates nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// To the `extended` profile's correlator.
    Extended(Observation),
    /// To the `elastic` profile's sequencer.
    Elastic(ElasticEvent),
}

impl Observed {
    /// Whether the record may become an alert's anchor (so its bytes must be kept until the
    /// state lets it go).
    pub fn is_anchor_candidate(&self) -> bool {
        match self {
            Observed::Extended(o) => o.is_anchor_candidate(),
            Observed::Elastic(e) => ElasticRule::ALL.iter().any(|&r| e.keys(r, r.anchor_stage()).is_some()),
        }
    }
}

/// Turns decoded documents into what a profile's state needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observer {
    /// The `extended` profile: [`observe`].
    Extended,
    /// The `elastic` profile: [`ElasticReader::read`].
    Elastic(ElasticReader),
}

impl Observer {
    /// The observer of a profile; `None` for the seed profile (nothing to observe).
    pub fn new(profile: Profile) -> Option<Observer> {
        match profile {
            Profile::Seed => None,
            Profile::Elastic => Some(Observer::Elastic(ElasticReader::default())),
            Profile::Extended => Some(Observer::Extended),
        }
    }

    /// What `doc` (decoded with the event view) is to the profile's rules, if anything.
    /// O(values) of the view; no allocation.
    pub fn observe(&self, doc: &Document<'_>) -> Option<Observed> {
        match self {
            Observer::Extended => observe(doc).map(Observed::Extended),
            Observer::Elastic(reader) => reader.read(doc).map(Observed::Elastic),
        }
    }
}
