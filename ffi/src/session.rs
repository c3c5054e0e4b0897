//! The stateful door: a correlation session over a stream of JSON records, fed one record at
//! a time in input order, with every alert of its profile kept in a bounded queue that C
//! drains without callbacks.
//!
//! A `dcom_session` wraps core's `correlate::Session` (the correlation rules' state, fed in
//! input order) and the seed rule's `AlertWriter`: `dcom_session_feed_json` decodes the record
//! once with the rule's view paths, evaluates the seed rule on it, feeds the document to the
//! correlation state, and queues the alerts this completes (the correlations first, then the
//! record's own seed-rule alert: the order every other door writes them in).
//! `dcom_session_next_alert` hands the queued documents out through the library's buffer
//! convention; `dcom_session_finish` ends the input and queues what the state still held.
//!
//! Invariants: the queue never holds more than `alert_queue` alerts when a feed starts (a
//! full queue refuses the record before anything is done), so memory is bounded by the
//! correlation limits plus the alerts one record (or `finish`) completes; a session is used
//! by one call at a time (an atomic claim, as a scratch's); a panic poisons the session.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ffi::c_char;
use std::mem::{align_of, size_of};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dcom_detect_core::correlate::{ElasticLimits, Limits, Profile, Session, SessionStats};
use dcom_detect_core::{
    Alert, AlertOptions, AlertWriter, DecodeError, Decoder, ErrorKind, FlatRecord, Origin, Position, Rule,
};

use crate::alert::{alert_options, core_origin, dcom_origin};
use crate::args::{input, optional_output, output, slice};
use crate::buffer::{write_text, TextOut};
use crate::event::{dcom_event, dcom_event16, CField, Checked as CheckedEvent};
use crate::result::{
    dcom_result, guard, guard_value, DCOM_ERROR_BAD_JSON, DCOM_ERROR_FINISHED, DCOM_ERROR_INTERNAL,
    DCOM_ERROR_INVALID_OPTION, DCOM_ERROR_INVALID_UTF8, DCOM_ERROR_MISALIGNED_POINTER, DCOM_ERROR_NULL_ARGUMENT,
    DCOM_ERROR_QUEUE_FULL, DCOM_ERROR_SESSION_BUSY,
};
use crate::rule::dcom_rule;
use crate::verdict::dcom_verdict;

/// `dcom_session_create` profile: the seed rule only (its alerts, exactly those of
/// `dcom_rule_alert_json`; no correlation state). The values are core's `Profile` names:
/// `seed`, `elastic`, `extended`.
pub const DCOM_PROFILE_SEED: u32 = 0;
/// `dcom_session_create` profile: the seed rule and Elastic's three DCOM sequence rules,
/// verbatim, with Elasticsearch's sequence semantics (docs/semantics.md).
pub const DCOM_PROFILE_ELASTIC: u32 = 1;
/// `dcom_session_create` profile: the seed rule and the correlation rules D2, D2L and D3
/// (docs/correlation.md).
pub const DCOM_PROFILE_EXTENDED: u32 = 2;

/// The largest `hosts` a session accepts.
pub const DCOM_SESSION_MAX_HOSTS: u32 = 1 << 20;
/// The largest `pending` a session accepts (each host's buffers are sized from it).
pub const DCOM_SESSION_MAX_PENDING: u32 = 1 << 16;
/// The largest `alert_queue`, `elastic_pending` and `elastic_buffer` a session accepts.
pub const DCOM_SESSION_MAX_QUEUE: u32 = 1 << 22;

/// How much state a session may hold: input to `dcom_session_create`, read during the call
/// only.
///
/// Fill it with `dcom_session_limits_default` and change what you need; every field is then
/// taken as it is (0 is a value, not "default": an allowed lateness of 0 suits a sensor that
/// feeds events as they happen and wants its alerts at once). Counts must be at least 1 and
/// at most the `DCOM_SESSION_MAX_*` constants; durations at most 9,223,372,036,854 ms
/// (`INT64_MAX` nanoseconds); anything else is `DCOM_ERROR_INVALID_OPTION`.
///
/// ```c
/// dcom_session_limits limits;
/// dcom_session_limits_default(&limits);
/// limits.lateness_ms = 5000;   // events arrive at most 5 s out of order
/// ```
///
/// Versioned by size like `dcom_rule_options`: `struct_size` is `sizeof(dcom_session_limits)`
/// as the caller compiled it; a newer library takes its defaults for fields an older caller's
/// struct does not have, and an older library refuses a newer struct only if a field it does
/// not know is non-zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dcom_session_limits {
    /// `sizeof(dcom_session_limits)` as the caller compiled it.
    pub struct_size: u32,
    /// `extended`: hosts whose state is held at once (default 4096); the least recently seen
    /// is evicted, with everything it holds, for a new one (counted: `evicted_hosts`).
    pub hosts: u32,
    /// `extended`: pending anchors, connections and logons per host (default 256 each); the
    /// oldest is pushed out (`evicted_pending`). Each host's reorder buffer holds 4 × this.
    pub pending: u32,
    /// Alerts that may wait in the queue (default 1024): a feed that finds this many waiting
    /// refuses its record (`DCOM_ERROR_QUEUE_FULL`). One feed may add more than one alert,
    /// so the queue can exceed it by what one record (or `dcom_session_finish`) completes.
    pub alert_queue: u32,
    /// Allowed lateness, both profiles (default 60,000 ms): how long a host's events wait
    /// for others older than them before they are evaluated; input reordered within it gives
    /// the correlations of time-sorted input. Alerts come out this much (in event time)
    /// after their partner.
    pub lateness_ms: u64,
    /// `extended`: how far back in time a host's events may jump before its state starts
    /// afresh (default 3,600,000 ms; concatenated recordings).
    pub rewind_ms: u64,
    /// `elastic`: pending first events per rule (default 1024).
    pub elastic_pending: u32,
    /// `elastic`: events waiting in the reorder buffer (default 4096); a full buffer releases
    /// its oldest early (`elastic_released_early`).
    pub elastic_buffer: u32,
}

/// The size of the first version of `dcom_session_limits`.
const LIMITS_SIZE_V1: u32 = size_of::<dcom_session_limits>() as u32;
/// The largest `struct_size` accepted (of the limits and of the stats).
const STRUCT_SIZE_MAX: u32 = 4096;

/// A session's counts: written by `dcom_session_get_stats`.
///
/// Set `struct_size` to `sizeof(dcom_session_stats)` before the call: the library writes that
/// many bytes (the fields it knows, zeroes past them), so a program built against an older
/// header gets the fields it knows of. Every count is since the session was created; the
/// correlation state's counts stop at `dcom_session_finish`. Counts of a profile the session
/// does not run are 0.
///
/// The ones that say a match may have been missed: `evicted_hosts`, `evicted_pending`,
/// `released_early`, `late` (and their `elastic_` counterparts) and `unwritten`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dcom_session_stats {
    /// Set by the caller: `sizeof(dcom_session_stats)`.
    pub struct_size: u32,
    /// The session's profile (`DCOM_PROFILE_*`).
    pub profile: u32,
    /// Records fed (accepted or rejected; a record refused for a full queue is not counted).
    pub records: u64,
    /// Records rejected (`DCOM_ERROR_BAD_JSON`, `DCOM_ERROR_INVALID_UTF8`).
    pub rejected: u64,
    /// Seed-rule alerts queued.
    pub alerts: u64,
    /// Records on which the seed rule fired but an exception item suppressed the alert.
    pub suppressed: u64,
    /// Correlation alerts queued (`extended` and `elastic` rules).
    pub correlation_alerts: u64,
    /// Alerts waiting in the queue now.
    pub waiting: u64,
    /// `extended`: records that were observed (a process start, network or logon event).
    pub observations: u64,
    /// `extended`: correlations the rules found (each one an alert, unless `unwritten`).
    pub correlations: u64,
    /// `extended`: observations older than what their host had already evaluated, evaluated
    /// out of order (their partners may have expired).
    pub late: u64,
    /// `extended`: observations evaluated before the lateness had passed because their
    /// host's reorder buffer was full.
    pub released_early: u64,
    /// `extended`: pending items pushed out of a full host by newer ones.
    pub evicted_pending: u64,
    /// `extended`: hosts evicted for new ones, with everything they held.
    pub evicted_hosts: u64,
    /// `extended`: local-time events of a host whose clock offset was not yet known.
    pub unaligned: u64,
    /// `extended`: times a host's time jumped back by more than `rewind_ms` and its state
    /// started afresh.
    pub rewinds: u64,
    /// `extended`: Sysmon 3 connections whose local end was guessed (the destination).
    pub side_guessed: u64,
    /// `elastic`: events pushed to the sequence matcher.
    pub elastic_events: u64,
    /// `elastic`: sequences completed.
    pub elastic_sequences: u64,
    /// `elastic`: second events whose pending first event was older than the maxspan.
    pub elastic_rejected_maxspan: u64,
    /// `elastic`: pending first events superseded by a newer one of the same key.
    pub elastic_replaced: u64,
    /// `elastic`: pending first events dropped because they could no longer complete.
    pub elastic_expired: u64,
    /// `elastic`: pending first events evicted from a full map while they could still
    /// complete.
    pub elastic_evicted_pending: u64,
    /// `elastic`: events evaluated before the lateness had passed (full reorder buffer).
    pub elastic_released_early: u64,
    /// `elastic`: events older than what was already evaluated.
    pub elastic_late: u64,
    /// `elastic`: stages an event satisfied without a `host.id` or key value.
    pub elastic_keyless: u64,
    /// `elastic`: stages whose key combinations exceeded the matcher's maximum.
    pub elastic_keys_truncated: u64,
    /// Correlations whose alert could not be written (the anchor record no longer decodes):
    /// should stay 0.
    pub unwritten: u64,
}

/// The size of the first version of `dcom_session_stats`.
const STATS_SIZE_V1: u32 = size_of::<dcom_session_stats>() as u32;

/// A correlation session: records in, in input order; alerts of its profile out. Opaque;
/// create with `dcom_session_create`, free with `dcom_session_destroy`.
///
/// Thread safety: **one thread at a time**. A session may move between threads, but only one
/// call may use it at a time; a second, concurrent call fails with `DCOM_ERROR_SESSION_BUSY`
/// instead of corrupting it. Records must be fed in input order (the order of their files,
/// lines, EVTX records or arrival), so a parallel sensor decodes where it likes and feeds one
/// session from one place; or keeps one session per partition of hosts (state is per host).
pub struct dcom_session {
    busy: AtomicBool,
    /// Set when a call panicked: the state may be half-updated, every later call is refused.
    poisoned: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached through `Claim`, which `busy` makes exclusive; everything
// in it is `Send` (the rule is shared through an `Arc`).
unsafe impl Sync for dcom_session {}

const _: () = {
    const fn sendable<T: Send>() {}
    sendable::<State>();
};

/// Exclusive use of a session's state for one call; released on drop, and the session
/// poisoned if the call is unwinding from a panic.
struct Claim<'s> {
    session: &'s dcom_session,
}

impl dcom_session {
    fn claim(&self) -> Result<Claim<'_>, dcom_result> {
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(DCOM_ERROR_SESSION_BUSY);
        }
        let claim = Claim { session: self };
        if self.poisoned.load(Ordering::Relaxed) {
            return Err(DCOM_ERROR_INTERNAL);
        }
        Ok(claim)
    }
}

impl Claim<'_> {
    fn state(&mut self) -> &mut State {
        // SAFETY: `busy` was false and is now ours until drop: no other reference exists.
        unsafe { &mut *self.session.state.get() }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.session.poisoned.store(true, Ordering::Relaxed);
        }
        self.session.busy.store(false, Ordering::Release);
    }
}

/// The counts this door keeps itself (core keeps the correlation state's).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    records: u64,
    rejected: u64,
    alerts: u64,
    suppressed: u64,
    correlation_alerts: u64,
}

/// A session's state. Fields drop in declaration order: `correlation` and `writer` borrow
/// the rule that `rule` keeps alive, so `rule` comes last.
struct State {
    /// The correlation rules' state; `None` for the seed profile and once finished.
    correlation: Option<Session<'static>>,
    /// Writes the seed rule's alerts.
    writer: AlertWriter<'static>,
    decoder: Decoder,
    /// Where a struct event is written as its JSON record.
    flat: FlatRecord,
    profile: u32,
    queue: VecDeque<Alert>,
    queue_limit: usize,
    /// Why the last record fed was rejected; `None` after one was accepted.
    last_error: Option<DecodeError>,
    finished: bool,
    counts: Counts,
    /// The correlation state's counts, kept when `finish` drops the state.
    final_stats: SessionStats,
    rule: Arc<Rule>,
}

impl State {
    fn new(rule: Arc<Rule>, profile: u32, limits: Checked, options: AlertOptions) -> State {
        // SAFETY: the rule lives in the `Arc`'s allocation, which `State::rule` keeps alive
        // (and unmoved) for as long as the borrowers declared before it, which drop first.
        let shared: &'static Rule = unsafe { &*Arc::as_ptr(&rule) };
        // The seed profile keeps no state, and decodes only the rule's fields.
        let correlation = match limits.profile {
            Profile::Seed => None,
            other => Some(
                Session::new(shared, other, options).with_limits(limits.extended).with_elastic_limits(limits.elastic),
            ),
        };
        State {
            correlation,
            writer: AlertWriter::new(shared, options),
            decoder: Decoder::new(),
            flat: FlatRecord::new(),
            profile,
            queue: VecDeque::new(),
            queue_limit: limits.alert_queue,
            last_error: None,
            finished: false,
            counts: Counts::default(),
            final_stats: SessionStats::default(),
            rule,
        }
    }

    /// Decodes, evaluates and feeds one record; queues the alerts it completes.
    fn feed(&mut self, record: &[u8], origin: Origin<'_>) -> Result<dcom_verdict, dcom_result> {
        if self.finished {
            return Err(DCOM_ERROR_FINISHED);
        }
        if self.queue.len() >= self.queue_limit {
            return Err(DCOM_ERROR_QUEUE_FULL);
        }
        self.counts.records += 1;
        self.last_error = None;
        // A record without a position is numbered: the n-th record fed is row n.
        let position = origin.position.unwrap_or(Position::Row { row: self.counts.records });
        let origin = Origin { file: origin.file, position: Some(position) };
        let rule: &Rule = &self.rule;
        let paths = if self.correlation.is_some() { rule.view_paths() } else { rule.paths() };
        let (queue, counts, correlation) = (&mut self.queue, &mut self.counts, &mut self.correlation);
        let evaluated = rule.evaluate_json_with(paths, &mut self.decoder, record, |doc, verdict| {
            if let Some(session) = correlation {
                session.feed(doc, record, origin.file, position, |alert, _, _| {
                    counts.correlation_alerts += 1;
                    queue.push_back(alert);
                });
            }
            dcom_verdict::from_core(verdict)
        });
        let verdict = match evaluated {
            Ok(verdict) => verdict,
            Err(error) => {
                self.counts.rejected += 1;
                let code = if matches!(error.kind(), ErrorKind::InvalidUtf8) {
                    DCOM_ERROR_INVALID_UTF8
                } else {
                    DCOM_ERROR_BAD_JSON
                };
                self.last_error = Some(error);
                return Err(code);
            }
        };
        if verdict.is_alert() {
            // The record just decoded with the same limits and rule: core agrees it raises an
            // alert, or there is a bug.
            let alert = self.writer.document(record, &origin).ok().flatten().ok_or(DCOM_ERROR_INTERNAL)?;
            self.counts.alerts += 1;
            self.queue.push_back(alert);
        } else if verdict.branches != 0 {
            self.counts.suppressed += 1;
        }
        Ok(verdict)
    }

    /// Feeds a struct event as its JSON record (`dcom_event_json`'s).
    fn feed_event<F: CField>(
        &mut self,
        event: &CheckedEvent<'_, F>,
        origin: Origin<'_>,
    ) -> Result<dcom_verdict, dcom_result> {
        let mut flat = std::mem::take(&mut self.flat);
        let fed = self.feed(event.flat(&mut flat), origin);
        self.flat = flat;
        fed
    }

    /// Ends the input: queues what the correlation state still held and drops the state.
    fn finish(&mut self) -> Result<(), dcom_result> {
        if self.finished {
            return Err(DCOM_ERROR_FINISHED);
        }
        self.finished = true;
        if let Some(mut session) = self.correlation.take() {
            let (queue, counts) = (&mut self.queue, &mut self.counts);
            session.finish(|alert, _, _| {
                counts.correlation_alerts += 1;
                queue.push_back(alert);
            });
            self.final_stats = session.stats();
        }
        // Nothing more is decoded: let the decoder's buffers go too.
        self.decoder = Decoder::new();
        self.flat = FlatRecord::new();
        Ok(())
    }

    fn stats(&self) -> dcom_session_stats {
        let SessionStats { extended, elastic, unwritten } =
            self.correlation.as_ref().map_or(self.final_stats, Session::stats);
        let Counts { records, rejected, alerts, suppressed, correlation_alerts } = self.counts;
        dcom_session_stats {
            struct_size: STATS_SIZE_V1,
            profile: self.profile,
            records,
            rejected,
            alerts,
            suppressed,
            correlation_alerts,
            waiting: self.queue.len() as u64,
            observations: extended.observations,
            correlations: extended.correlations,
            late: extended.late,
            released_early: extended.released_early,
            evicted_pending: extended.evicted_pending,
            evicted_hosts: extended.evicted_hosts,
            unaligned: extended.unaligned,
            rewinds: extended.rewinds,
            side_guessed: extended.side_guessed,
            elastic_events: elastic.events,
            elastic_sequences: elastic.sequences,
            elastic_rejected_maxspan: elastic.rejected_maxspan,
            elastic_replaced: elastic.replaced,
            elastic_expired: elastic.expired,
            elastic_evicted_pending: elastic.evicted_pending,
            elastic_released_early: elastic.released_early,
            elastic_late: elastic.late,
            elastic_keyless: elastic.keyless,
            elastic_keys_truncated: elastic.keys_truncated,
            unwritten,
        }
    }
}

/// The limits `dcom_session_limits_default` gives: core's defaults.
fn default_limits() -> dcom_session_limits {
    let core = Limits::default();
    let elastic = ElasticLimits::default();
    const MS: i64 = 1_000_000;
    dcom_session_limits {
        struct_size: LIMITS_SIZE_V1,
        hosts: core.hosts as u32,
        pending: core.pending as u32,
        alert_queue: 1024,
        lateness_ms: (core.lateness / MS) as u64,
        rewind_ms: (core.rewind / MS) as u64,
        elastic_pending: elastic.pending as u32,
        elastic_buffer: elastic.buffer as u32,
    }
}

/// Checks that `ptr` could point to a `T` (not NULL, aligned) without making a reference to
/// one (the caller's struct may be an older, shorter version).
fn check_pointer<T>(ptr: *const T) -> Result<(), dcom_result> {
    if ptr.is_null() {
        return Err(DCOM_ERROR_NULL_ARGUMENT);
    }
    if !(ptr as usize).is_multiple_of(align_of::<T>()) {
        return Err(DCOM_ERROR_MISALIGNED_POINTER);
    }
    Ok(())
}

/// The caller's limits, checked: defaults for NULL and for fields past the caller's
/// `struct_size`, and a refusal of unknown non-zero fields past this library's.
///
/// # Safety
/// `limits` is NULL or points to `struct_size` readable bytes.
unsafe fn read_limits(limits: *const dcom_session_limits) -> Result<dcom_session_limits, dcom_result> {
    let defaults = default_limits();
    if limits.is_null() {
        return Ok(defaults);
    }
    check_pointer(limits)?;
    let size = *limits.cast::<u32>();
    if !(LIMITS_SIZE_V1..=STRUCT_SIZE_MAX).contains(&size) {
        return Err(DCOM_ERROR_INVALID_OPTION);
    }
    let mut copy = defaults;
    let known = size.min(LIMITS_SIZE_V1) as usize;
    std::ptr::copy_nonoverlapping(limits.cast::<u8>(), (&mut copy as *mut dcom_session_limits).cast::<u8>(), known);
    if size > LIMITS_SIZE_V1 {
        let newer = std::slice::from_raw_parts(limits.cast::<u8>().add(known), (size - LIMITS_SIZE_V1) as usize);
        if newer.iter().any(|&b| b != 0) {
            return Err(DCOM_ERROR_INVALID_OPTION);
        }
    }
    Ok(copy)
}

/// What `dcom_session_create` was asked for, checked and in core's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Checked {
    profile: Profile,
    extended: Limits,
    elastic: ElasticLimits,
    alert_queue: usize,
}

/// Core's profile for a `DCOM_PROFILE_*` value.
fn core_profile(profile: u32) -> Result<Profile, dcom_result> {
    match profile {
        DCOM_PROFILE_SEED => Ok(Profile::Seed),
        DCOM_PROFILE_ELASTIC => Ok(Profile::Elastic),
        DCOM_PROFILE_EXTENDED => Ok(Profile::Extended),
        _ => Err(DCOM_ERROR_INVALID_OPTION),
    }
}

/// Core's limits for checked C limits.
fn core_limits(profile: Profile, limits: &dcom_session_limits) -> Result<Checked, dcom_result> {
    let count = |value: u32, max: u32| {
        if (1..=max).contains(&value) {
            Ok(value as usize)
        } else {
            Err(DCOM_ERROR_INVALID_OPTION)
        }
    };
    let nanos =
        |ms: u64| ms.checked_mul(1_000_000).and_then(|n| i64::try_from(n).ok()).ok_or(DCOM_ERROR_INVALID_OPTION);
    let lateness = nanos(limits.lateness_ms)?;
    Ok(Checked {
        profile,
        extended: Limits {
            hosts: count(limits.hosts, DCOM_SESSION_MAX_HOSTS)?,
            pending: count(limits.pending, DCOM_SESSION_MAX_PENDING)?,
            lateness,
            rewind: nanos(limits.rewind_ms)?,
        },
        elastic: ElasticLimits {
            pending: count(limits.elastic_pending, DCOM_SESSION_MAX_QUEUE)?,
            buffer: count(limits.elastic_buffer, DCOM_SESSION_MAX_QUEUE)?,
            // At most `INT64_MAX` nanoseconds, so the milliseconds fit.
            lateness_ms: lateness / 1_000_000,
        },
        alert_queue: count(limits.alert_queue, DCOM_SESSION_MAX_QUEUE)?,
    })
}

/// Fills `*limits` with the defaults (and `struct_size`): 4096 hosts, 256 pending items per
/// host, 1024 queued alerts, 60 s allowed lateness, 1 h rewind, 1024 pending and 4096
/// buffered `elastic` events. NULL `limits`: `DCOM_ERROR_NULL_ARGUMENT`.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`. No allocation.
/// Thread-safe.
///
/// # Safety
/// `limits` is NULL or valid for a write of a `dcom_session_limits`.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_limits_default(limits: *mut dcom_session_limits) -> dcom_result {
    guard(|| {
        output(limits)?.write(default_limits());
        Ok(())
    })
}

/// Creates a session running `profile` (`DCOM_PROFILE_SEED`, `DCOM_PROFILE_ELASTIC` or
/// `DCOM_PROFILE_EXTENDED`) with the seed rule `rule` (its case folding and exceptions apply
/// to the seed rule's alerts; the correlation rules are not tuned by exceptions).
///
/// `limits` may be NULL for the defaults (`dcom_session_limits_default`). `flags`: 0 or
/// `DCOM_ALERT_INCLUDE_ORIGINAL` (every alert embeds its record, for a correlation the
/// anchor's, as `event.original`). On success `*session` receives a new handle, to be freed
/// with `dcom_session_destroy`; on failure `*session` is set to NULL.
///
/// Ownership: `rule` is shared, not borrowed: the session keeps the compiled rule alive, so
/// the rule handle may be destroyed before the session. `limits` is read during the call only.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`rule` or `session` NULL),
/// `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_OPTION` (unknown profile or flag, a
/// limit out of range, an unknown `struct_size`), `DCOM_ERROR_INTERNAL`.
///
/// Cost: a few small allocations; each host's state is allocated the first time the host is
/// seen, and reused for later hosts once evicted. Thread-safe.
///
/// # Safety
/// `rule` is NULL or a live handle; `limits` is NULL or points to a `dcom_session_limits`
/// whose `struct_size` bytes are readable; `session` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_create(
    rule: *const dcom_rule,
    profile: u32,
    limits: *const dcom_session_limits,
    flags: u32,
    session: *mut *mut dcom_session,
) -> dcom_result {
    guard(|| {
        let mut out = output(session)?;
        out.write(std::ptr::null_mut());
        let rule = Arc::clone(&input(rule)?.rule);
        let checked = core_limits(core_profile(profile)?, &read_limits(limits)?)?;
        let options = alert_options(flags)?;
        let state = State::new(rule, profile, checked, options);
        out.write(Box::into_raw(Box::new(dcom_session {
            busy: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            state: UnsafeCell::new(state),
        })));
        Ok(())
    })
}

/// Frees a session, its state and any alerts still queued. NULL is allowed and does
/// nothing. No call may be using it, and it must not be used again.
///
/// # Safety
/// `session` is NULL or a handle from `dcom_session_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_destroy(session: *mut dcom_session) {
    guard_value((), || {
        if !session.is_null() {
            drop(Box::from_raw(session));
        }
    })
}

/// Feeds one JSON record (`json_len` bytes at `json`: ECS, or a raw Windows event in any
/// wrapper, exactly what `dcom_rule_match_json` accepts) to the session, in input order.
///
/// `origin` says where the record came from, as for `dcom_rule_alert_json`: its alerts (and a
/// correlation's partner) name it in `log.file.path` and `dcom_detect.source`. NULL, or
/// `DCOM_POSITION_NONE`, numbers the record instead: the n-th record fed is `row` n.
///
/// On success `*verdict` (if not NULL) is the seed rule's verdict on the record (as
/// `dcom_rule_evaluate_json`), and `*alerts_waiting` (if not NULL) the number of alerts now in
/// the queue: the correlations this record completed (possibly with earlier records as
/// anchors: an alert comes once its partner has been seen and the allowed lateness has
/// passed), then the record's own seed-rule alert. Take them with
/// `dcom_session_next_alert`.
///
/// Failures, each with nothing fed and the out-parameters neutral (`{0,
/// DCOM_NOT_SUPPRESSED}`, 0; alerts already queued stay queued):
/// - `DCOM_ERROR_BAD_JSON`, `DCOM_ERROR_INVALID_UTF8`: the record was rejected (counted in
///   `rejected`); `dcom_session_error_offset` / `dcom_session_error_message` say where and why;
/// - `DCOM_ERROR_QUEUE_FULL`: `alert_queue` alerts are waiting; take them, then feed the
///   record again;
/// - `DCOM_ERROR_FINISHED`: `dcom_session_finish` was called;
/// - `DCOM_ERROR_NULL_ARGUMENT` (`session` NULL, `json` NULL with a length),
///   `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`, `DCOM_ERROR_INVALID_UTF8`
///   (`origin->file`), `DCOM_ERROR_INVALID_OPTION` (inconsistent `origin`),
///   `DCOM_ERROR_SESSION_BUSY`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: one decode of the record with the rule's and the correlation view's fields, the
/// seed rule, and `O(pending)` work on the record's host (`extended`) or key (`elastic`). Once the buffers have
/// grown (warm-up), a record that completes no alert allocates nothing, except that an
/// anchor candidate (a COM server start, an explorer child: rare) reuses a pooled copy of its
/// record and a new `origin->file` name is kept (once per distinct name). Writing an alert
/// allocates (the document, about the size of the record). No lock.
///
/// # Safety
/// `session` is NULL or a live handle; `json` is NULL or valid for `json_len` bytes and
/// `origin` NULL or a valid `dcom_origin` (its `file` valid for its length), both unchanged
/// during the call (neither is kept); `verdict` and `alerts_waiting` are NULL or valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_feed_json(
    session: *mut dcom_session,
    json: *const u8,
    json_len: usize,
    origin: *const dcom_origin,
    verdict: *mut dcom_verdict,
    alerts_waiting: *mut usize,
) -> dcom_result {
    feed_with(session, origin, verdict, alerts_waiting, |state, origin| {
        let record = slice(json, json_len)?;
        state.feed(record, origin)
    })
}

/// Feeds one struct event (`dcom_event`, UTF-8) to the session, in input order: exactly as
/// `dcom_session_feed_json` feeds the JSON record `dcom_event_json` writes for it.
///
/// So a sensor that hands the seed rule struct events (`dcom_rule_evaluate`) hands the same
/// structs to a correlation profile, giving in `other` what the correlation rules read:
/// `@timestamp`, `host.id` or `host.name`, `process.pid`, `process.entity_id`,
/// `process.parent.pid`, `process.parent.entity_id`, `process.args` (one entry per
/// argument), `winlog.logon.id` for process starts; `event.category` `network`,
/// `network.direction`, `network.transport`, `source.ip`, `source.port`, `destination.ip`,
/// `destination.port` for connections; `event.category` `authentication`,
/// `winlog.logon.type`, `winlog.logon.id`, `source.ip` for logons (docs/correlation.md lists
/// them per rule). Numbers are given as decimal or `0x` hexadecimal strings.
///
/// Outcomes, out-parameters, alerts and errors: as `dcom_session_feed_json`, plus the event's
/// own checks (`DCOM_ERROR_NULL_ARGUMENT` for `event` NULL, a NULL pointer with a length or
/// an `other` path NULL; `DCOM_ERROR_INVALID_UTF8`: checked before anything is fed, so not
/// counted in `records` or `rejected`). A record the view refuses (`DCOM_ERROR_BAD_JSON`:
/// an empty path, `process` beside `process.name`) is counted in `rejected`, and
/// `dcom_session_error_offset` is an offset in the event's JSON record. Alerts are those of
/// the JSON record (`dcom_detect.schema` `"ecs"`).
///
/// Cost: the event written as JSON into the session's reused buffer (O(n log n) in its `n`
/// values, then the text), then `dcom_session_feed_json`'s cost; after warm-up no allocation
/// for an event that completes no alert.
///
/// # Safety
/// As `dcom_session_feed_json`, with `event` a valid `dcom_event` whose strings and arrays
/// are valid for their lengths, unchanged during the call.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_feed_event(
    session: *mut dcom_session,
    event: *const dcom_event,
    origin: *const dcom_origin,
    verdict: *mut dcom_verdict,
    alerts_waiting: *mut usize,
) -> dcom_result {
    feed_with(session, origin, verdict, alerts_waiting, |state, origin| {
        state.feed_event(&input(event)?.checked()?, origin)
    })
}

/// `dcom_session_feed_event` for a `dcom_event16` (UTF-16 values, written as UTF-8 into the
/// record; `DCOM_ERROR_INVALID_UTF16` for an unpaired surrogate).
///
/// # Safety
/// As `dcom_session_feed_event`.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_feed_event16(
    session: *mut dcom_session,
    event: *const dcom_event16,
    origin: *const dcom_origin,
    verdict: *mut dcom_verdict,
    alerts_waiting: *mut usize,
) -> dcom_result {
    feed_with(session, origin, verdict, alerts_waiting, |state, origin| {
        state.feed_event(&input(event)?.checked()?, origin)
    })
}

/// The common shape of the feeds: the out-parameters made neutral first, the session
/// claimed, `feed` run on its state, then the verdict and the queue's length written.
///
/// # Safety
/// As the feeds: `session` NULL or live, `origin` NULL or valid, `verdict` and
/// `alerts_waiting` NULL or valid for a write.
unsafe fn feed_with(
    session: *mut dcom_session,
    origin: *const dcom_origin,
    verdict: *mut dcom_verdict,
    alerts_waiting: *mut usize,
    feed: impl FnOnce(&mut State, Origin<'_>) -> Result<dcom_verdict, dcom_result>,
) -> dcom_result {
    guard(|| {
        let mut verdict_out = optional_output(verdict)?;
        if let Some(out) = &mut verdict_out {
            out.write(dcom_verdict::NONE);
        }
        let mut waiting_out = optional_output(alerts_waiting)?;
        if let Some(out) = &mut waiting_out {
            out.write(0);
        }
        let session = input(session.cast_const())?;
        let origin = core_origin(origin)?;
        let mut claim = session.claim()?;
        let state = claim.state();
        let evaluated = feed(state, origin)?;
        if let Some(out) = &mut verdict_out {
            out.write(evaluated);
        }
        if let Some(out) = &mut waiting_out {
            out.write(state.queue.len());
        }
        Ok(())
    })
}

/// Takes the next queued alert: its ECS document (one line of JSON, no newline,
/// NUL-terminated) is written to `alert` and removed from the queue.
///
/// Alerts come out in the order they were completed. A correlation alert is anchored on its
/// process start (`@timestamp`, `host`, `user`, `process` and `dcom_detect.source` are the
/// anchor record's) and names the rule (`rule.*`) and its partner
/// (`dcom_detect.correlation`): the same bytes the command line and Python write.
///
/// Buffer: the library's text-output convention. When the queue is empty the call returns
/// `DCOM_OK` with `*alert_needed` **0** and `alert` (if `alert_size` > 0) holding the empty
/// string. When the alert does not fit, `DCOM_ERROR_BUFFER_TOO_SMALL` is returned,
/// `*alert_needed` holds the size needed and the alert **stays** at the front of the queue:
/// call again with a buffer of `*alert_needed` bytes. `{NULL, 0}` asks for the next alert's
/// size without taking it.
///
/// Works before and after `dcom_session_finish`.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`session` NULL, `alert` NULL with a size),
/// `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`,
/// `DCOM_ERROR_BUFFER_TOO_SMALL`, `DCOM_ERROR_SESSION_BUSY`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: a copy of the document; frees it. No allocation.
///
/// # Safety
/// `session` is NULL or a live handle; `alert` is NULL or valid for `alert_size` bytes of
/// writes; `alert_needed` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_next_alert(
    session: *mut dcom_session,
    alert: *mut c_char,
    alert_size: usize,
    alert_needed: *mut usize,
) -> dcom_result {
    guard(|| {
        let mut text = TextOut::new(alert, alert_size, alert_needed)?;
        text.nothing();
        let session = input(session.cast_const())?;
        let mut claim = session.claim()?;
        let state = claim.state();
        if let Some(next) = state.queue.front() {
            text.write(next.json())?;
            state.queue.pop_front();
        }
        Ok(())
    })
}

/// Ends the input: evaluates what the correlation state still holds (events waiting for
/// the allowed lateness, anchors whose window is still open), queues the alerts this
/// completes, and frees the state. `*alerts_waiting` (if not NULL) receives the number of
/// alerts now queued (this call may queue more than `alert_queue`). Afterwards the session
/// takes no more records (`DCOM_ERROR_FINISHED`, also for a second `dcom_session_finish`);
/// `dcom_session_next_alert` and `dcom_session_get_stats` keep working.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_FINISHED`, `DCOM_ERROR_SESSION_BUSY`, `DCOM_ERROR_INTERNAL`. On failure
/// `*alerts_waiting` is 0.
///
/// Cost: `O(held)`; allocates only the alerts it writes.
///
/// # Safety
/// `session` is NULL or a live handle; `alerts_waiting` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_finish(session: *mut dcom_session, alerts_waiting: *mut usize) -> dcom_result {
    guard(|| {
        let mut waiting_out = optional_output(alerts_waiting)?;
        if let Some(out) = &mut waiting_out {
            out.write(0);
        }
        let session = input(session.cast_const())?;
        let mut claim = session.claim()?;
        let state = claim.state();
        state.finish()?;
        if let Some(out) = &mut waiting_out {
            out.write(state.queue.len());
        }
        Ok(())
    })
}

/// The session's counts into `*stats`, whose `struct_size` the caller sets first
/// (`sizeof(dcom_session_stats)`; at least the first version's size): exactly that many
/// bytes are written. A `struct_size` out of range is `DCOM_ERROR_INVALID_OPTION` and nothing
/// is written.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_INVALID_OPTION`, `DCOM_ERROR_SESSION_BUSY`, `DCOM_ERROR_INTERNAL`. No
/// allocation.
///
/// # Safety
/// `session` is NULL or a live handle; `stats` is NULL or points to `struct_size` writable
/// bytes (the `struct_size` it holds).
#[no_mangle]
pub unsafe extern "C" fn dcom_session_get_stats(
    session: *const dcom_session,
    stats: *mut dcom_session_stats,
) -> dcom_result {
    guard(|| {
        check_pointer(stats.cast_const())?;
        let size = *stats.cast::<u32>();
        if !(STATS_SIZE_V1..=STRUCT_SIZE_MAX).contains(&size) {
            return Err(DCOM_ERROR_INVALID_OPTION);
        }
        let session = input(session)?;
        let mut claim = session.claim()?;
        let mut counts = claim.state().stats();
        counts.struct_size = size;
        let bytes = stats.cast::<u8>();
        std::ptr::copy_nonoverlapping(
            (&counts as *const dcom_session_stats).cast::<u8>(),
            bytes,
            STATS_SIZE_V1 as usize,
        );
        std::ptr::write_bytes(bytes.add(STATS_SIZE_V1 as usize), 0, (size - STATS_SIZE_V1) as usize);
        Ok(())
    })
}

/// The byte offset, in the record, where the last record fed to this session was found bad,
/// into `*offset`; 0 if that record was not rejected.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_SESSION_BUSY`, `DCOM_ERROR_INTERNAL`.
///
/// # Safety
/// `session` is NULL or a live handle; `offset` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_error_offset(session: *const dcom_session, offset: *mut usize) -> dcom_result {
    guard(|| {
        let mut out = output(offset)?;
        out.write(0);
        let mut claim = input(session)?.claim()?;
        out.write(claim.state().last_error.as_ref().map_or(0, DecodeError::offset));
        Ok(())
    })
}

/// Why the last record fed to this session was rejected, as an English, NUL-terminated
/// message without the offset (the text `dcom_scratch_error_message` gives for the same
/// record); the empty string if that record was not rejected. The library's text-output
/// convention.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`session` NULL, or `buffer` NULL with `size` > 0),
/// `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`, `DCOM_ERROR_BUFFER_TOO_SMALL`,
/// `DCOM_ERROR_SESSION_BUSY`, `DCOM_ERROR_INTERNAL`. No allocation.
///
/// # Safety
/// `session` is NULL or a live handle; `buffer` is NULL or valid for `size` bytes of writes;
/// `needed` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_session_error_message(
    session: *const dcom_session,
    buffer: *mut c_char,
    size: usize,
    needed: *mut usize,
) -> dcom_result {
    guard(|| {
        let mut claim = input(session)?.claim()?;
        match &claim.state().last_error {
            Some(error) => write_text(error.kind(), buffer, size, needed),
            None => write_text("", buffer, size, needed),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::DCOM_OK;
    use crate::rule::{dcom_rule_create, dcom_rule_destroy};

    fn session(profile: u32, limits: Option<&dcom_session_limits>) -> (dcom_result, *mut dcom_session) {
        let mut rule = std::ptr::null_mut();
        assert_eq!(unsafe { dcom_rule_create(std::ptr::null(), &mut rule) }, DCOM_OK);
        let mut session = std::ptr::dangling_mut();
        let limits = limits.map_or(std::ptr::null(), |l| l as *const _);
        let code = unsafe { dcom_session_create(rule, profile, limits, 0, &mut session) };
        unsafe { dcom_rule_destroy(rule) };
        (code, session)
    }

    #[test]
    fn limits_are_checked_and_translated() {
        let defaults = default_limits();
        let core = core_limits(Profile::Extended, &defaults).unwrap();
        assert_eq!(
            (core.extended, core.elastic, core.alert_queue),
            (Limits::default(), ElasticLimits::default(), 1024)
        );
        let zero_lateness = dcom_session_limits { lateness_ms: 0, ..defaults };
        let core = core_limits(Profile::Elastic, &zero_lateness).unwrap();
        assert_eq!((core.extended.lateness, core.elastic.lateness_ms), (0, 0), "0 is a value, not the default");
        for bad in [
            dcom_session_limits { hosts: 0, ..defaults },
            dcom_session_limits { hosts: DCOM_SESSION_MAX_HOSTS + 1, ..defaults },
            dcom_session_limits { pending: 0, ..defaults },
            dcom_session_limits { alert_queue: 0, ..defaults },
            dcom_session_limits { elastic_buffer: DCOM_SESSION_MAX_QUEUE + 1, ..defaults },
            dcom_session_limits { elastic_pending: 0, ..defaults },
            dcom_session_limits { lateness_ms: u64::MAX, ..defaults },
            dcom_session_limits { rewind_ms: i64::MAX as u64 / 1_000_000 + 1, ..defaults },
        ] {
            assert_eq!(core_limits(Profile::Extended, &bad), Err(DCOM_ERROR_INVALID_OPTION), "{bad:?}");
            assert_eq!(session(DCOM_PROFILE_EXTENDED, Some(&bad)), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()));
        }
        let largest = dcom_session_limits { rewind_ms: i64::MAX as u64 / 1_000_000, ..defaults };
        assert!(core_limits(Profile::Extended, &largest).is_ok());
    }

    /// A struct of an unknown size is refused; a larger one with zero tail is read.
    #[test]
    fn limits_struct_versions() {
        #[repr(C)]
        struct Newer {
            v1: dcom_session_limits,
            next: u64,
        }
        let mut newer = Newer { v1: dcom_session_limits { hosts: 7, ..default_limits() }, next: 0 };
        newer.v1.struct_size = size_of::<Newer>() as u32;
        let read = unsafe { read_limits(&newer.v1) }.unwrap();
        assert_eq!(read.hosts, 7);
        newer.next = 1;
        assert_eq!(unsafe { read_limits(&newer.v1) }, Err(DCOM_ERROR_INVALID_OPTION));
        for size in [0, 8, LIMITS_SIZE_V1 - 1, STRUCT_SIZE_MAX + 1] {
            let short = dcom_session_limits { struct_size: size, ..default_limits() };
            assert_eq!(unsafe { read_limits(&short) }, Err(DCOM_ERROR_INVALID_OPTION), "{size}");
        }
        assert_eq!(unsafe { read_limits(std::ptr::null()) }, Ok(default_limits()));
        let misaligned = (&newer.v1 as *const dcom_session_limits).cast::<u8>().wrapping_add(4).cast();
        assert_eq!(unsafe { read_limits(misaligned) }, Err(DCOM_ERROR_MISALIGNED_POINTER));
    }

    #[test]
    fn profiles() {
        for profile in [DCOM_PROFILE_SEED, DCOM_PROFILE_ELASTIC, DCOM_PROFILE_EXTENDED] {
            let (code, session) = session(profile, None);
            assert_eq!(code, DCOM_OK);
            unsafe { dcom_session_destroy(session) };
        }
        assert_eq!(session(3, None), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()));
    }

    /// A second user of a session in use gets an error, not a data race; a panic inside a
    /// call poisons the session, which then refuses every call (but can be destroyed).
    #[test]
    fn busy_and_poisoned_sessions() {
        let (code, handle) = session(DCOM_PROFILE_EXTENDED, None);
        assert_eq!(code, DCOM_OK);
        let s = unsafe { &*handle };
        let json = b"{}";
        let feed = || unsafe {
            dcom_session_feed_json(
                handle,
                json.as_ptr(),
                2,
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let claim = s.claim().unwrap();
        assert_eq!(feed(), DCOM_ERROR_SESSION_BUSY);
        let mut waiting = 0;
        assert_eq!(unsafe { dcom_session_finish(handle, &mut waiting) }, DCOM_ERROR_SESSION_BUSY);
        drop(claim);
        assert_eq!(feed(), DCOM_OK);
        let code = guard(|| {
            let _claim = s.claim()?;
            panic!("simulated bug while holding the session");
        });
        assert_eq!(code, DCOM_ERROR_INTERNAL);
        assert_eq!(feed(), DCOM_ERROR_INTERNAL, "poisoned");
        let mut needed = 0;
        let code = unsafe { dcom_session_next_alert(handle, std::ptr::null_mut(), 0, &mut needed) };
        assert_eq!(code, DCOM_ERROR_INTERNAL);
        unsafe { dcom_session_destroy(handle) };
    }
}
