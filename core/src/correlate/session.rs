//! One run of a profile's stateful rules over a stream of records: observe each decoded
//! record, correlate (the `extended` profile) or sequence (the `elastic` profile) in input
//! order, and write each result's alert from its anchor's record.
//!
//! A [`Session`] is what a scan (any source, any door) feeds after decoding a record with
//! [`Session::paths`]. It copies the record of each anchor candidate (a COM server start or
//! an explorer child: rare events) into a pooled buffer and lets it go when the state reports
//! the candidate done, so memory stays bounded by the state's limits.
//!
//! # Cost
//! [`Observer::observe`] per record, plus one record copy per anchor candidate. Writing an alert
//! allocates (it runs only for correlations). Nothing else allocates once the pools have grown.

use std::collections::HashMap;

use super::elastic::{ElasticLimits, ElasticMatch, ElasticStats, Sequences, Step};
use super::engine::{CorrelationStats, Correlator, Event, Limits};
use super::profile::{Observed, Observer, Profile};
use crate::alert::{Alert, AlertOptions, AlertWriter, Origin};
use crate::error::DecodeError;
use crate::rule::Rule;
use crate::scan::{Found, Position};
use crate::view::ecs::{Document, Paths};

/// Where one observed record came from: its input (an index into the session's file names)
/// and position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Order of arrival.
    seq: u64,
    file: Option<u32>,
    position: Position,
}

/// The state of a profile's rules.
#[derive(Debug)]
enum State {
    /// The seed profile: nothing to keep.
    Seed,
    Extended(Correlator<Mark>),
    Elastic(Sequences<Mark>),
}

/// What a session counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// The `extended` profile's counts (zero for another profile).
    pub extended: CorrelationStats,
    /// The `elastic` profile's counts (zero for another profile).
    pub elastic: ElasticStats,
    /// Correlations whose alert could not be written (the anchor record no longer decodes).
    pub unwritten: u64,
}

impl SessionStats {
    /// Both profiles' counts under one set of names (a session runs one profile, so the
    /// other's are zero): what a front end shows whatever the profile. The `elastic`
    /// profile's events and sequences count as observations and correlations; it has no
    /// hosts, clocks or sides.
    pub fn summary(&self) -> SessionSummary {
        let (x, e) = (&self.extended, &self.elastic);
        SessionSummary {
            observations: x.observations + e.events,
            correlations: x.correlations + e.sequences,
            late: x.late + e.late,
            released_early: x.released_early + e.released_early,
            evicted_pending: x.evicted_pending + e.evicted_pending,
            evicted_hosts: x.evicted_hosts,
            unaligned: x.unaligned,
            rewinds: x.rewinds,
            side_guessed: x.side_guessed,
            unwritten: self.unwritten,
        }
    }
}

/// [`SessionStats`] of either profile under one set of names ([`SessionStats::summary`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSummary {
    /// Records that gave an observation (`extended`) or satisfied a stage (`elastic`).
    pub observations: u64,
    /// Correlations or sequences found.
    pub correlations: u64,
    /// Observations older than what was already evaluated (beyond the allowed lateness):
    /// evaluated out of order, their partners may have expired.
    pub late: u64,
    /// Observations evaluated before the lateness had passed because a reorder buffer was
    /// full.
    pub released_early: u64,
    /// Pending items pushed out by newer ones.
    pub evicted_pending: u64,
    /// Hosts evicted for new ones, with everything they held (`extended`).
    pub evicted_hosts: u64,
    /// Local-time events of a host whose clock offset was not yet known (`extended`).
    pub unaligned: u64,
    /// Times a host's time jumped back past the rewind limit and its state started afresh
    /// (`extended`).
    pub rewinds: u64,
    /// Sysmon 3 connections whose local end was guessed (`extended`).
    pub side_guessed: u64,
    /// Correlations whose alert could not be written.
    pub unwritten: u64,
}

impl SessionSummary {
    /// Whether anything that could hide a correlation happened: late observations, early
    /// releases, evictions or unwritten alerts.
    pub fn lossy(&self) -> bool {
        self.late + self.released_early + self.evicted_pending + self.evicted_hosts + self.unwritten > 0
    }
}

/// What one observation released: a correlation of either engine, or a held record.
#[derive(Debug)]
enum Released {
    Extended(super::Correlation<Mark>),
    Elastic(ElasticMatch<Mark>),
    Done(Mark),
}

/// A correlation run: observations fed in input order, alerts out.
#[derive(Debug)]
pub struct Session<'r> {
    rule: &'r Rule,
    profile: Profile,
    observer: Option<Observer>,
    writer: AlertWriter<'r>,
    state: State,
    /// File names seen, by index.
    files: Vec<String>,
    /// Records of anchor candidates still held by the state, by sequence number.
    anchors: HashMap<u64, Vec<u8>>,
    /// Spare record buffers.
    pool: Vec<Vec<u8>>,
    /// The state's output for one observation (reused).
    released: Vec<Released>,
    seq: u64,
    unwritten: u64,
}

impl<'r> Session<'r> {
    /// A session running `profile`'s stateful rules beside `rule` (whose fields the alerts'
    /// view also reads), with the default limits. A seed session keeps nothing and raises
    /// nothing: feeding it is a no-op, so a door can hold one session whatever the profile.
    pub fn new(rule: &'r Rule, profile: Profile, options: AlertOptions) -> Session<'r> {
        let state = match profile {
            Profile::Seed => State::Seed,
            Profile::Extended => State::Extended(Correlator::new(Limits::default())),
            Profile::Elastic => State::Elastic(Sequences::new(ElasticLimits::default())),
        };
        Session {
            rule,
            profile,
            observer: Observer::new(profile),
            writer: AlertWriter::new(rule, options),
            state,
            files: Vec::new(),
            anchors: HashMap::new(),
            pool: Vec::new(),
            released: Vec::new(),
            seq: 0,
            unwritten: 0,
        }
    }

    /// The `extended` profile's limits (no effect on another profile). Call before feeding.
    pub fn with_limits(mut self, limits: Limits) -> Session<'r> {
        if let State::Extended(_) = self.state {
            self.state = State::Extended(Correlator::new(limits));
        }
        self
    }

    /// The `elastic` profile's limits (no effect on another profile). Call before feeding.
    pub fn with_elastic_limits(mut self, limits: ElasticLimits) -> Session<'r> {
        if let State::Elastic(_) = self.state {
            self.state = State::Elastic(Sequences::new(limits));
        }
        self
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The paths to decode records with (the rule's and the event view's).
    pub fn paths(&self) -> &Paths {
        self.rule.view_paths()
    }

    /// What was counted so far.
    pub fn stats(&self) -> SessionStats {
        let mut stats = SessionStats { unwritten: self.unwritten, ..SessionStats::default() };
        match &self.state {
            State::Seed => {}
            State::Extended(c) => stats.extended = c.stats(),
            State::Elastic(s) => stats.elastic = s.stats(),
        }
        stats
    }

    /// Feeds one decoded record (decoded with [`paths`](Self::paths)), in input order;
    /// `sink` receives the alert of every correlation this completes, with its anchor's file
    /// and position.
    pub fn feed(
        &mut self,
        doc: &Document<'_>,
        record: &[u8],
        file: Option<&str>,
        position: Position,
        sink: impl FnMut(Alert, Option<&str>, Position),
    ) {
        if let Some(observed) = self.observer.and_then(|o| o.observe(doc)) {
            self.feed_observed(&observed, record, file, position, sink);
        }
    }

    /// Feeds what a scan running this session's profile
    /// ([`ScanOptions::profile`](crate::scan::ScanOptions)) reports for one record, in input
    /// order; records without an observation are ignored.
    pub fn feed_found(
        &mut self,
        found: &Found<'_>,
        file: Option<&str>,
        sink: impl FnMut(Alert, Option<&str>, Position),
    ) {
        if let Some(observed) = found.observation {
            self.feed_observed(&observed, found.record, file, found.position, sink);
        }
    }

    /// Feeds one observation and its record (needed only for an anchor candidate), in input
    /// order. An observation of another profile than the session's is ignored.
    pub fn feed_observed(
        &mut self,
        observed: &Observed,
        record: &[u8],
        file: Option<&str>,
        position: Position,
        mut sink: impl FnMut(Alert, Option<&str>, Position),
    ) {
        if matches!(
            (&self.state, observed),
            (State::Seed, _) | (State::Extended(_), Observed::Elastic(_)) | (State::Elastic(_), Observed::Extended(_))
        ) {
            return;
        }
        self.seq += 1;
        let file = file.map(|f| self.file_index(f));
        let mark = Mark { seq: self.seq, file, position };
        if observed.is_anchor_candidate() {
            let mut buf = self.pool.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(record);
            self.anchors.insert(mark.seq, buf);
        }
        let mut released = std::mem::take(&mut self.released);
        match (&mut self.state, observed) {
            (State::Extended(c), Observed::Extended(o)) => c.observe_events(o, mark, |e| released.push(e.into())),
            (State::Elastic(s), Observed::Elastic(e)) => s.push_steps(e, mark, |e| released.push(e.into())),
            _ => unreachable!("checked above"),
        }
        self.handle(&mut released, &mut sink);
        self.released = released;
    }

    /// Ends the input: evaluates what the state still holds and writes its alerts.
    pub fn finish(&mut self, mut sink: impl FnMut(Alert, Option<&str>, Position)) {
        let mut released = std::mem::take(&mut self.released);
        match &mut self.state {
            State::Seed => {}
            State::Extended(c) => c.finish_events(|e| released.push(e.into())),
            State::Elastic(s) => s.finish_steps(|e| released.push(e.into())),
        }
        self.handle(&mut released, &mut sink);
        self.released = released;
    }

    fn handle(&mut self, released: &mut Vec<Released>, sink: &mut impl FnMut(Alert, Option<&str>, Position)) {
        for item in released.drain(..) {
            let anchor = match &item {
                Released::Extended(c) => c.anchor,
                Released::Elastic(m) => m.anchor().mark,
                Released::Done(mark) => {
                    if let Some(buf) = self.anchors.remove(&mark.seq) {
                        self.pool.push(buf);
                    }
                    continue;
                }
            };
            match self.alert(&item, &anchor) {
                Ok(alert) => {
                    let file = anchor.file.map(|i| self.files[i as usize].as_str());
                    sink(alert, file, anchor.position);
                }
                Err(_) => self.unwritten += 1,
            }
        }
    }

    fn alert(&mut self, item: &Released, anchor: &Mark) -> Result<Alert, DecodeError> {
        let files = &self.files;
        let origin = |m: &Mark| Origin { file: m.file.map(|i| files[i as usize].as_str()), position: Some(m.position) };
        let record = self.anchors.get(&anchor.seq).map(Vec::as_slice).unwrap_or_default();
        match item {
            Released::Extended(c) => self.writer.correlation(c, record, &origin(&c.anchor), &origin(&c.partner)),
            Released::Elastic(m) => self.writer.sequence(m, record, &origin(anchor), &origin(&m.partner().mark)),
            Released::Done(_) => unreachable!("done marks write no alert"),
        }
    }

    fn file_index(&mut self, file: &str) -> u32 {
        match self.files.iter().rposition(|f| f == file) {
            Some(i) => i as u32,
            None => {
                self.files.push(file.to_owned());
                (self.files.len() - 1) as u32
            }
        }
    }
}

impl From<Event<Mark>> for Released {
    fn from(event: Event<Mark>) -> Released {
        match event {
            Event::Correlation(c) => Released::Extended(c),
            Event::Done(mark) => Released::Done(mark),
        }
    }
}

impl From<Step<Mark>> for Released {
    fn from(step: Step<Mark>) -> Released {
        match step {
            Step::Match(m) => Released::Elastic(m),
            Step::Done(mark) => Released::Done(mark),
        }
    }
}
