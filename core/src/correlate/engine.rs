//! The correlation state machine: bounded per-host state, fed one observation at a time in
//! input order.
//!
//! # Invariants
//! - Each host holds at most [`Limits::pending`] pending anchors, inbound connections and
//!   logons each, and [`Limits::pending`] recent process starts for the pid-reuse guard; at
//!   most [`Limits::hosts`] hosts are held. A pending item pushed out by a newer one, and every
//!   item of a host evicted for a new one, is counted in [`CorrelationStats`]: such an
//!   eviction could hide a match.
//! - Observations wait in a per-host reorder buffer (at most [`Limits::pending`] × 4) until
//!   the host's newest time passes theirs by [`Limits::lateness`], and are then evaluated in
//!   time order (starts first at equal times, then input order): input reordered within the
//!   lateness gives exactly the correlations of sorted input. [`Correlator::finish`] evaluates
//!   what is still waiting. An observation older than what its host already evaluated is
//!   evaluated at once and counted as late.
//! - A pending item is kept while an observation evaluated later could still be in its
//!   window (times are evaluated in order, so expiry needs no further margin).
//! - Each anchor raises at most one correlation per rule: with the first partner seen.
//! - Results depend only on the sequence of observations (no clock, no randomness).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::observe::{
    is_loopback, Clock, Endpoint, Fact, HostKey, Inbound, Logon, Observation, Start, D3_MIN_LOCAL_PORT,
};
use super::CorrelationRule;
use crate::view::time::Timestamp;

const SECOND: i64 = 1_000_000_000;

/// Bounds on the correlation state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Hosts held at once (default 4096); the least recently seen is evicted for a new one.
    pub hosts: usize,
    /// Pending items of each kind per host (default 256).
    pub pending: usize,
    /// Allowed lateness (default 60 s): how long after a window closes its items are kept for
    /// events that arrive out of time order.
    pub lateness: i64,
    /// How far back in time an observation may jump before its host starts afresh (default
    /// one hour): recordings of one host concatenated out of time order (a folder of files
    /// sorted by name) each correlate as if alone instead of arriving late.
    pub rewind: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { hosts: 4096, pending: 256, lateness: 60 * SECOND, rewind: 3600 * SECOND }
    }
}

/// What the partner of a correlation was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partner {
    /// An inbound connection: the remote and local ends.
    Inbound {
        /// The remote address and port.
        remote: Endpoint,
        /// The local address and port.
        local: Endpoint,
    },
    /// A network logon.
    Logon {
        /// The logon id.
        logon_id: u64,
        /// Where it came from.
        source: IpAddr,
    },
}

/// One correlation: a rule's anchor met its partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Correlation<M> {
    /// The rule.
    pub rule: CorrelationRule,
    /// The anchor's mark (as given to [`Correlator::observe`]).
    pub anchor: M,
    /// The anchor's time (UTC, after any local-time shift).
    pub anchor_time: Timestamp,
    /// The partner's mark.
    pub partner: M,
    /// The partner's time.
    pub partner_time: Timestamp,
    /// What the partner was.
    pub partner_fact: Partner,
}

impl<M> Correlation<M> {
    /// Partner time minus anchor time, in nanoseconds (negative: the partner came first).
    pub fn gap_nanos(&self) -> i64 {
        self.partner_time.unix_nanos() - self.anchor_time.unix_nanos()
    }
}

/// What the correlator reports: correlations, and when an anchor candidate (a start that is
/// a COM server or an explorer child) leaves the state, so a caller holding its record for
/// the alert can let it go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<M> {
    /// A correlation, as soon as it is complete.
    Correlation(Correlation<M>),
    /// The anchor candidate with this mark will take part in no further correlation
    /// (every rule fired, its windows closed, it was evicted, or the input ended). Reported
    /// exactly once for each anchor candidate observed, after its correlations.
    Done(M),
}

/// Counts of what the correlator saw and what it may have missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorrelationStats {
    /// Observations fed.
    pub observations: u64,
    /// Correlations reported.
    pub correlations: u64,
    /// Observations older than what their host had already evaluated (later than the
    /// allowed lateness): evaluated out of order, their partners may have expired.
    pub late: u64,
    /// Observations evaluated before the lateness had passed, because their host's reorder
    /// buffer was full ([`Limits::pending`] × 4).
    pub released_early: u64,
    /// Pending items pushed out by newer ones (a full host).
    pub evicted_pending: u64,
    /// Hosts evicted for new ones, with everything they held.
    pub evicted_hosts: u64,
    /// Local-time events of a host whose clock offset was not yet known (their collector
    /// time, else the local time as UTC, was used).
    pub unaligned: u64,
    /// Times a host's observations jumped back by more than [`Limits::rewind`] and its state
    /// started afresh (concatenated recordings).
    pub rewinds: u64,
    /// Sysmon 3 connections whose local end could not be told from the host's own
    /// addresses (the destination was taken as local).
    pub side_guessed: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending<T, M> {
    time: Timestamp,
    mark: M,
    item: T,
}

/// An observation waiting in a host's reorder buffer.
#[derive(Clone, Copy, Debug)]
struct Buffered<M> {
    time: Timestamp,
    rank: u8,
    seq: u64,
    mark: M,
    fact: Fact,
}

impl<M> Buffered<M> {
    fn key(&self) -> (Timestamp, u8, u64) {
        (self.time, self.rank, self.seq)
    }
}

#[derive(Clone, Copy, Debug)]
struct Anchor {
    start: Start,
    /// Rules that may still fire on this anchor (bits of [`CorrelationRule`]).
    open: u8,
}

#[derive(Clone, Copy, Debug)]
struct Connection {
    inbound: Inbound,
    remote: Endpoint,
    local: Endpoint,
}

/// Makes room for one more item in `items`, which is never to hold more than `limit`: grows
/// the allocation by doubling (at least 4 items), never past `limit`. Amortised O(1); once a
/// deque has held `limit` items (or its high-water mark) it never allocates again.
fn make_room<T>(items: &mut VecDeque<T>, limit: usize) {
    let len = items.len();
    if len == items.capacity() && len < limit {
        let target = len.saturating_mul(2).max(4).min(limit);
        items.reserve_exact(target - len);
    }
}

/// Bounded ring of recent items: pushing into a full ring drops the oldest. Its buffer grows
/// on demand up to `capacity` items (a quiet host costs nothing) and is kept when cleared.
#[derive(Debug)]
struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring of at most `capacity` (at least 1) items; allocates nothing yet.
    fn with_capacity(capacity: usize) -> Ring<T> {
        Ring { items: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Pushes `item`; returns whether an older item was dropped. Amortised O(1); allocates
    /// only while the ring grows towards a length it has not held before.
    fn push(&mut self, item: T) -> bool {
        self.push_out(item).is_some()
    }

    /// Pushes `item`; returns the older item dropped to make room, if any.
    fn push_out(&mut self, item: T) -> Option<T> {
        let dropped = if self.items.len() >= self.capacity { self.items.pop_front() } else { None };
        make_room(&mut self.items, self.capacity);
        self.items.push_back(item);
        dropped
    }
}

#[derive(Debug)]
struct HostState<M> {
    key: HostKey,
    last_used: u64,
    /// The newest time seen (observations wait until it passes theirs by the lateness).
    newest: Option<Timestamp>,
    /// The newest time evaluated.
    released: Option<Timestamp>,
    /// Observations waiting, sorted by [`Buffered::key`].
    buffer: VecDeque<Buffered<M>>,
    /// Local time + offset = UTC.
    offset: Option<i64>,
    own: Ring<IpAddr>,
    anchors: Ring<Pending<Anchor, M>>,
    inbound: Ring<Pending<Connection, M>>,
    logons: Ring<Pending<Logon, M>>,
    /// Recent process starts: (pid, time), for the pid-reuse guard.
    pids: Ring<(u64, Timestamp)>,
}

impl<M: Copy> HostState<M> {
    fn new(key: HostKey, limits: &Limits) -> HostState<M> {
        HostState {
            key,
            last_used: 0,
            newest: None,
            released: None,
            buffer: VecDeque::new(),
            offset: None,
            own: Ring::with_capacity(8),
            anchors: Ring::with_capacity(limits.pending),
            inbound: Ring::with_capacity(limits.pending),
            logons: Ring::with_capacity(limits.pending),
            pids: Ring::with_capacity(limits.pending),
        }
    }

    /// Forgets everything (the buffers are kept), reporting each anchor candidate held as
    /// done; returns how many pending items it held.
    fn reset(&mut self, key: HostKey, emit: &mut impl FnMut(Event<M>)) -> u64 {
        for a in &self.anchors.items {
            emit(Event::Done(a.mark));
        }
        for b in &self.buffer {
            if b.fact.is_anchor_candidate() {
                emit(Event::Done(b.mark));
            }
        }
        let held = self.anchors.items.len() + self.inbound.items.len() + self.logons.items.len() + self.buffer.len();
        self.key = key;
        self.newest = None;
        self.released = None;
        self.buffer.clear();
        self.offset = None;
        self.own.items.clear();
        self.anchors.items.clear();
        self.inbound.items.clear();
        self.logons.items.clear();
        self.pids.items.clear();
        held as u64
    }
}

impl<M> HostState<M> {
    /// Whether another process start of `pid` came after `after` and at or before `until`.
    fn pid_reused(&self, pid: u64, after: Timestamp, until: Timestamp) -> bool {
        self.pids.items.iter().any(|&(p, t)| p == pid && t > after && t <= until)
    }
}

/// The correlation state machine (see the module's invariants). `M` is the caller's mark for
/// an observation (its position in the input), handed back in each [`Correlation`].
#[derive(Debug)]
pub struct Correlator<M> {
    limits: Limits,
    hosts: Vec<HostState<M>>,
    index: HashMap<HostKey, usize>,
    tick: u64,
    stats: CorrelationStats,
}

impl<M: Copy> Correlator<M> {
    /// A correlator with these limits.
    pub fn new(limits: Limits) -> Correlator<M> {
        Correlator {
            limits,
            hosts: Vec::new(),
            index: HashMap::with_capacity(limits.hosts.min(1 << 16)),
            tick: 0,
            stats: CorrelationStats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> CorrelationStats {
        self.stats
    }

    /// Feeds one observation, in input order; `emit` receives every correlation that the
    /// observations released so far complete (see [`finish`](Self::finish) for the rest).
    ///
    /// The observation waits in its host's reorder buffer until the host's newest time passes
    /// its own by the allowed lateness; observations are then evaluated in time order, so
    /// input reordered within the lateness gives exactly the correlations of sorted input.
    pub fn observe(&mut self, observation: &Observation, mark: M, mut emit: impl FnMut(Correlation<M>)) {
        self.observe_events(observation, mark, |e| {
            if let Event::Correlation(c) = e {
                emit(c);
            }
        });
    }

    /// [`observe`](Self::observe), also reporting when anchor candidates leave the state
    /// ([`Event::Done`]).
    pub fn observe_events(&mut self, observation: &Observation, mark: M, mut emit: impl FnMut(Event<M>)) {
        self.stats.observations += 1;
        self.tick += 1;
        let slot = self.host(observation.host, &mut emit);
        let limits = self.limits;
        let seq = self.tick;
        let stats = &mut self.stats;
        let host = &mut self.hosts[slot];
        host.last_used = seq;
        if let Fact::Start(Start { utc_and_local: Some((utc, local)), .. }) = observation.fact {
            host.offset = Some(round_to_quarter_hour(utc.unix_nanos() - local.unix_nanos()));
        }
        let time = match (observation.clock, host.offset) {
            (Clock::Utc, _) => observation.time,
            (Clock::Local { .. }, Some(offset)) => Timestamp::from_unix_nanos(observation.time.unix_nanos() + offset),
            (Clock::Local { collected }, None) => {
                stats.unaligned += 1;
                collected.unwrap_or(observation.time)
            }
        };
        let item = Buffered { time, rank: rank(&observation.fact), seq, mark, fact: observation.fact };
        if host.newest.is_some_and(|n| time.unix_nanos() < n.unix_nanos() - limits.rewind) {
            // A jump back in time: finish the host's current stretch, then start afresh.
            stats.rewinds += 1;
            while let Some(item) = host.buffer.pop_front() {
                process(host, stats, item, &mut emit);
            }
            // The host's clock offset and own addresses stay: they describe the host.
            let (key, offset, own) = (host.key, host.offset, std::mem::take(&mut host.own.items));
            host.reset(key, &mut emit);
            (host.offset, host.own.items) = (offset, own);
        }
        if host.released.is_some_and(|r| time < r) {
            // Older than what was already evaluated: evaluated now, out of order.
            stats.late += 1;
            process(host, stats, item, &mut emit);
        } else {
            if host.buffer.len() >= buffer_limit(&limits) {
                // A full buffer releases its oldest observation early.
                stats.released_early += 1;
                let oldest = host.buffer.pop_front().expect("a full buffer");
                process(host, stats, oldest, &mut emit);
            }
            let at = host.buffer.partition_point(|b| b.key() <= item.key());
            make_room(&mut host.buffer, buffer_limit(&limits));
            host.buffer.insert(at, item);
        }
        let newest = host.newest.map_or(time, |n| n.max(time));
        host.newest = Some(newest);
        let horizon = newest.unix_nanos() - limits.lateness;
        while host.buffer.front().is_some_and(|b| b.time.unix_nanos() <= horizon) {
            let item = host.buffer.pop_front().expect("a front item");
            process(host, stats, item, &mut emit);
        }
    }

    /// Evaluates every observation still buffered (the end of the input), host by host.
    pub fn finish(&mut self, mut emit: impl FnMut(Correlation<M>)) {
        self.finish_events(|e| {
            if let Event::Correlation(c) = e {
                emit(c);
            }
        });
    }

    /// [`finish`](Self::finish), also reporting every anchor candidate still held as
    /// [`Event::Done`]; the state is then empty of anchors.
    pub fn finish_events(&mut self, mut emit: impl FnMut(Event<M>)) {
        let stats = &mut self.stats;
        for host in &mut self.hosts {
            while let Some(item) = host.buffer.pop_front() {
                process(host, stats, item, &mut emit);
            }
            for a in host.anchors.items.drain(..) {
                emit(Event::Done(a.mark));
            }
        }
    }

    /// The bytes of the state's parts, from the sizes of its item types with this mark type
    /// `M`, in order: one host's fixed part, its index entry, a pending anchor, a pending
    /// inbound connection, a pending logon, a recent start (pid-reuse guard), an observation
    /// waiting in the reorder buffer, a learnt own address; then one host at these `limits`
    /// with every buffer full, and every host so. These are upper bounds: a host's buffers
    /// grow on demand (doubling) and a quiet host holds little more than its fixed part.
    /// Stack sizes only: the state holds no heap data beyond these buffers. O(1).
    pub fn state_bytes(limits: &Limits) -> [(&'static str, usize); 10] {
        use std::mem::size_of;
        let pending = limits.pending.max(1);
        let per_item = size_of::<Pending<Anchor, M>>()
            + size_of::<Pending<Connection, M>>()
            + size_of::<Pending<Logon, M>>()
            + size_of::<(u64, Timestamp)>();
        let index = size_of::<(HostKey, usize)>() + 1;
        let host = size_of::<HostState<M>>()
            + index
            + pending * per_item
            + pending.saturating_mul(4) * size_of::<Buffered<M>>()
            + 8 * size_of::<IpAddr>();
        [
            ("host (fixed part)", size_of::<HostState<M>>()),
            ("host index entry", index),
            ("pending anchor", size_of::<Pending<Anchor, M>>()),
            ("pending inbound connection", size_of::<Pending<Connection, M>>()),
            ("pending logon", size_of::<Pending<Logon, M>>()),
            ("recent start (pid guard)", size_of::<(u64, Timestamp)>()),
            ("buffered observation", size_of::<Buffered<M>>()),
            ("own address", size_of::<IpAddr>()),
            ("one host at these limits", host),
            ("every host at these limits", host.saturating_mul(limits.hosts.max(1))),
        ]
    }

    /// The slot of `key`'s state, creating it (or evicting the least recently seen host).
    fn host(&mut self, key: HostKey, emit: &mut impl FnMut(Event<M>)) -> usize {
        if let Some(&slot) = self.index.get(&key) {
            return slot;
        }
        let slot = if self.hosts.len() < self.limits.hosts.max(1) {
            self.hosts.push(HostState::new(key, &self.limits));
            self.hosts.len() - 1
        } else {
            let (slot, old) = self
                .hosts
                .iter()
                .enumerate()
                .min_by_key(|(_, h)| h.last_used)
                .map(|(i, h)| (i, h.key))
                .expect("at least one host");
            self.index.remove(&old);
            self.stats.evicted_hosts += 1;
            self.stats.evicted_pending += self.hosts[slot].reset(key, emit);
            slot
        };
        self.index.insert(key, slot);
        slot
    }
}

/// Evaluates one released observation against the host's pending items.
fn process<M: Copy>(
    host: &mut HostState<M>,
    stats: &mut CorrelationStats,
    item: Buffered<M>,
    emit: &mut impl FnMut(Event<M>),
) {
    let Buffered { time, mark, fact, .. } = item;
    let released = host.released.map_or(time, |r| r.max(time));
    host.released = Some(released);
    expire(host, released, emit);
    match fact {
        Fact::Outbound(out) => {
            if !is_loopback(out.local) && !host.own.items.contains(&out.local) {
                host.own.push(out.local);
            }
        }
        Fact::Start(start) => {
            if let Some(pid) = start.pid {
                host.pids.push((pid, time));
            }
            let mut open = 0;
            if start.com_server {
                open |= CorrelationRule::D2.bit() | CorrelationRule::D2L.bit();
            }
            if start.explorer_child {
                open |= CorrelationRule::D3.bit();
            }
            if open == 0 {
                return;
            }
            let mut anchor = Pending { time, mark, item: Anchor { start, open } };
            for c in &host.inbound.items {
                for rule in [CorrelationRule::D2, CorrelationRule::D3] {
                    if anchor.item.open & rule.bit() != 0 && joins_inbound(host, rule, &anchor, c) {
                        anchor.item.open &= !rule.bit();
                        stats.correlations += 1;
                        emit(Event::Correlation(inbound_correlation(rule, &anchor, c)));
                    }
                }
            }
            for l in &host.logons.items {
                if anchor.item.open & CorrelationRule::D2L.bit() != 0 && joins_logon(&anchor, l) {
                    anchor.item.open &= !CorrelationRule::D2L.bit();
                    stats.correlations += 1;
                    emit(Event::Correlation(logon_correlation(&anchor, l)));
                }
            }
            if anchor.item.open == 0 {
                emit(Event::Done(anchor.mark));
            } else if let Some(old) = host.anchors.push_out(anchor) {
                stats.evicted_pending += 1;
                emit(Event::Done(old.mark));
            }
        }
        Fact::Inbound(inbound) => {
            let Some((remote, local)) = sides(host, &inbound, stats) else {
                return;
            };
            let c = Pending { time, mark, item: Connection { inbound, remote, local } };
            for i in 0..host.anchors.items.len() {
                for rule in [CorrelationRule::D2, CorrelationRule::D3] {
                    let a = &host.anchors.items[i];
                    if a.item.open & rule.bit() != 0 && joins_inbound(host, rule, a, &c) {
                        emit(Event::Correlation(inbound_correlation(rule, a, &c)));
                        host.anchors.items[i].item.open &= !rule.bit();
                        stats.correlations += 1;
                    }
                }
            }
            if host.inbound.push(c) {
                stats.evicted_pending += 1;
            }
        }
        Fact::Logon(logon) => {
            let l = Pending { time, mark, item: logon };
            for a in &mut host.anchors.items {
                if a.item.open & CorrelationRule::D2L.bit() != 0 && joins_logon(a, &l) {
                    a.item.open &= !CorrelationRule::D2L.bit();
                    stats.correlations += 1;
                    emit(Event::Correlation(logon_correlation(a, &l)));
                }
            }
            if host.logons.push(l) {
                stats.evicted_pending += 1;
            }
        }
    }
}

/// Observations are evaluated in this order: by time, process starts before other events of
/// the same instant (so the pid-reuse guard sees a start stamped with its connection's
/// time), then in input order.
/// The most observations a host's reorder buffer holds ([`Limits::pending`] × 4, at least 1).
fn buffer_limit(limits: &Limits) -> usize {
    limits.pending.saturating_mul(4).max(1)
}

fn rank(fact: &Fact) -> u8 {
    match fact {
        Fact::Start(_) => 0,
        _ => 1,
    }
}

/// Drops what can no longer take part in a correlation.
fn expire<M: Copy>(host: &mut HostState<M>, released: Timestamp, emit: &mut impl FnMut(Event<M>)) {
    let keep = |time: Timestamp, window: i64| time.unix_nanos() + window >= released.unix_nanos();
    let longest =
        |open: u8| CorrelationRule::ALL.iter().filter(|r| open & r.bit() != 0).map(|r| r.window().1).max().unwrap_or(0);
    host.anchors.items.retain(|a| {
        let kept = a.item.open != 0 && keep(a.time, longest(a.item.open));
        if !kept {
            emit(Event::Done(a.mark));
        }
        kept
    });
    // A connection partners an anchor up to 60 s (D2) after it; a logon up to 60 s (D2L).
    host.inbound.items.retain(|c| keep(c.time, CorrelationRule::D2.window().0));
    host.logons.items.retain(|l| keep(l.time, CorrelationRule::D2L.window().0));
    host.pids.items.retain(|&(_, t)| keep(t, CorrelationRule::D2.window().0));
}

/// The remote and local ends of an inbound connection, or None when the remote end is a
/// loopback address.
fn sides<M>(host: &mut HostState<M>, inbound: &Inbound, stats: &mut CorrelationStats) -> Option<(Endpoint, Endpoint)> {
    let [source, destination] = inbound.ends;
    let local = match inbound.local {
        Some(i) => {
            let own = inbound.ends[i].0;
            if !is_loopback(own) && !host.own.items.contains(&own) {
                host.own.push(own);
            }
            i
        }
        None => match (host.own.items.contains(&source.0), host.own.items.contains(&destination.0)) {
            (true, false) => 0,
            (false, true) => 1,
            _ => {
                stats.side_guessed += 1;
                1
            }
        },
    };
    let (local, remote) = if local == 0 { (source, destination) } else { (destination, source) };
    (!is_loopback(remote.0)).then_some((remote, local))
}

fn within(rule: CorrelationRule, anchor: Timestamp, partner: Timestamp) -> bool {
    let (before, after) = rule.window();
    let gap = partner.unix_nanos() - anchor.unix_nanos();
    -before <= gap && gap <= after
}

fn joins_inbound<M>(
    host: &HostState<M>,
    rule: CorrelationRule,
    anchor: &Pending<Anchor, M>,
    c: &Pending<Connection, M>,
) -> bool {
    let s = &anchor.item.start;
    let i = &c.item.inbound;
    if !within(rule, anchor.time, c.time) {
        return false;
    }
    match rule {
        CorrelationRule::D2 => {
            if !i.com_server {
                return false;
            }
            match (s.entity, i.entity, s.pid, i.pid) {
                (Some(a), Some(b), _, _) => a == b,
                (_, _, Some(a), Some(b)) => {
                    // The connection cannot precede the start by more than the coarsest
                    // clock (4688: one second) and no other start of that pid came between.
                    // A start of the pid within the same 2 s is the same process logged by
                    // another source (Sysmon 1 beside a 4688 truncated to the second).
                    let after = Timestamp::from_unix_nanos(anchor.time.unix_nanos() + 2 * SECOND);
                    a == b
                        && c.time.unix_nanos() >= anchor.time.unix_nanos() - 2 * SECOND
                        && !host.pid_reused(a, after, c.time)
                }
                _ => false,
            }
        }
        CorrelationRule::D3 => {
            if !i.explorer || c.item.local.1.is_none_or(|port| port < D3_MIN_LOCAL_PORT) {
                return false;
            }
            match (s.parent_entity, i.entity, s.parent_pid, i.pid) {
                (Some(a), Some(b), _, _) => a == b,
                (_, _, Some(a), Some(b)) => a == b,
                _ => false,
            }
        }
        CorrelationRule::D2L => false,
    }
}

fn joins_logon<M>(anchor: &Pending<Anchor, M>, l: &Pending<Logon, M>) -> bool {
    anchor.item.start.logon_id == Some(l.item.logon_id) && within(CorrelationRule::D2L, anchor.time, l.time)
}

fn inbound_correlation<M: Copy>(
    rule: CorrelationRule,
    anchor: &Pending<Anchor, M>,
    c: &Pending<Connection, M>,
) -> Correlation<M> {
    Correlation {
        rule,
        anchor: anchor.mark,
        anchor_time: anchor.time,
        partner: c.mark,
        partner_time: c.time,
        partner_fact: Partner::Inbound { remote: c.item.remote, local: c.item.local },
    }
}

fn logon_correlation<M: Copy>(anchor: &Pending<Anchor, M>, l: &Pending<Logon, M>) -> Correlation<M> {
    Correlation {
        rule: CorrelationRule::D2L,
        anchor: anchor.mark,
        anchor_time: anchor.time,
        partner: l.mark,
        partner_time: l.time,
        partner_fact: Partner::Logon { logon_id: l.item.logon_id, source: l.item.source },
    }
}

/// A clock offset rounded to the nearest quarter hour (time zones are whole quarter hours).
fn round_to_quarter_hour(nanos: i64) -> i64 {
    const QUARTER: i64 = 15 * 60 * SECOND;
    (nanos + nanos.signum() * QUARTER / 2) / QUARTER * QUARTER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_to_quarter_hours() {
        let h = 3600 * SECOND;
        assert_eq!(round_to_quarter_hour(4 * h - 1_560_000_000), 4 * h);
        assert_eq!(round_to_quarter_hour(-4 * h + 2 * SECOND), -4 * h);
        assert_eq!(round_to_quarter_hour(5 * h + 29 * 60 * SECOND), 5 * h + 30 * 60 * SECOND);
        assert_eq!(round_to_quarter_hour(0), 0);
    }

    #[test]
    fn rings_drop_the_oldest() {
        let mut r = Ring::with_capacity(2);
        assert!(!r.push(1) && !r.push(2));
        assert!(r.push(3));
        assert_eq!(r.items, [2, 3]);
        assert_eq!(Ring::<u8>::with_capacity(0).capacity, 1);
    }
}
