//! One correlation run over a stream of records: observe each decoded record, correlate in
//! input order, and write each correlation's alert from its anchor's record.
//!
//! A [`Session`] is what a scan (any source, any door) feeds after decoding a record with
//! [`Session::paths`]. It copies the record of each anchor candidate (a COM server start or
//! an explorer child: rare events) into a pooled buffer and lets it go when the correlator
//! reports the candidate done, so memory stays bounded by the correlator's limits.
//!
//! # Cost
//! [`observe`] per record, plus one record copy per anchor candidate. Writing an alert
//! allocates (it runs only for correlations). Nothing else allocates once the pools have grown.

use std::collections::HashMap;

use super::engine::{CorrelationStats, Correlator, Event, Limits};
use super::observe::{observe, Observation};
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

/// A correlation run: observations fed in input order, alerts out.
#[derive(Debug)]
pub struct Session<'r> {
    rule: &'r Rule,
    writer: AlertWriter<'r>,
    correlator: Correlator<Mark>,
    /// File names seen, by index.
    files: Vec<String>,
    /// Records of anchor candidates still held by the correlator, by sequence number.
    anchors: HashMap<u64, Vec<u8>>,
    /// Spare record buffers.
    pool: Vec<Vec<u8>>,
    /// The correlator's events of one observation (reused).
    events: Vec<Event<Mark>>,
    seq: u64,
    /// Correlations whose alert could not be written (the anchor record no longer decodes).
    unwritten: u64,
}

impl<'r> Session<'r> {
    /// A session for `rule` (whose fields the alerts' view also reads) with these limits.
    pub fn new(rule: &'r Rule, limits: Limits, options: AlertOptions) -> Session<'r> {
        Session {
            rule,
            writer: AlertWriter::new(rule, options),
            correlator: Correlator::new(limits),
            files: Vec::new(),
            anchors: HashMap::new(),
            pool: Vec::new(),
            events: Vec::new(),
            seq: 0,
            unwritten: 0,
        }
    }

    /// The paths to decode records with (the rule's and the event view's).
    pub fn paths(&self) -> &Paths {
        self.rule.view_paths()
    }

    /// The correlator's counts, and the correlations whose alert could not be written.
    pub fn stats(&self) -> (CorrelationStats, u64) {
        (self.correlator.stats(), self.unwritten)
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
        if let Some(observation) = observe(doc) {
            self.feed_observation(&observation, record, file, position, sink);
        }
    }

    /// Feeds what a scan that observes ([`ScanOptions::observe`](crate::scan::ScanOptions))
    /// reports for one record, in input order; records without an observation are ignored.
    pub fn feed_found(
        &mut self,
        found: &Found<'_>,
        file: Option<&str>,
        sink: impl FnMut(Alert, Option<&str>, Position),
    ) {
        if let Some(observation) = found.observation {
            self.feed_observation(&observation, found.record, file, found.position, sink);
        }
    }

    /// Feeds one observation and its record (needed only for an anchor candidate), in input
    /// order.
    pub fn feed_observation(
        &mut self,
        observation: &Observation,
        record: &[u8],
        file: Option<&str>,
        position: Position,
        mut sink: impl FnMut(Alert, Option<&str>, Position),
    ) {
        self.seq += 1;
        let file = file.map(|f| self.file_index(f));
        let mark = Mark { seq: self.seq, file, position };
        if observation.is_anchor_candidate() {
            let mut buf = self.pool.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(record);
            self.anchors.insert(mark.seq, buf);
        }
        let mut events = std::mem::take(&mut self.events);
        self.correlator.observe_events(observation, mark, |e| events.push(e));
        self.handle(&mut events, &mut sink);
        self.events = events;
    }

    /// Ends the input: evaluates what the correlator still holds and writes its alerts.
    pub fn finish(&mut self, mut sink: impl FnMut(Alert, Option<&str>, Position)) {
        let mut events = std::mem::take(&mut self.events);
        self.correlator.finish_events(|e| events.push(e));
        self.handle(&mut events, &mut sink);
        self.events = events;
    }

    fn handle(&mut self, events: &mut Vec<Event<Mark>>, sink: &mut impl FnMut(Alert, Option<&str>, Position)) {
        for event in events.drain(..) {
            match event {
                Event::Correlation(c) => match self.alert(&c) {
                    Ok(alert) => {
                        let file = c.anchor.file.map(|i| self.files[i as usize].as_str());
                        sink(alert, file, c.anchor.position);
                    }
                    Err(_) => self.unwritten += 1,
                },
                Event::Done(mark) => {
                    if let Some(buf) = self.anchors.remove(&mark.seq) {
                        self.pool.push(buf);
                    }
                }
            }
        }
    }

    fn alert(&mut self, c: &super::Correlation<Mark>) -> Result<Alert, DecodeError> {
        let files = &self.files;
        let origin = |m: &Mark| Origin { file: m.file.map(|i| files[i as usize].as_str()), position: Some(m.position) };
        let record = self.anchors.get(&c.anchor.seq).map(Vec::as_slice).unwrap_or_default();
        self.writer.correlation(c, record, &origin(&c.anchor), &origin(&c.partner))
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
