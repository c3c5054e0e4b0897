//! Handles and C structs built from Rust values, for the tests.

use dcom_detect::*;

/// A rule handle, destroyed on drop.
pub struct RuleHandle(pub *mut dcom_rule);

impl RuleHandle {
    pub fn new(case_folding: u32) -> RuleHandle {
        RuleHandle::with_exceptions(case_folding, None)
    }

    /// A rule with an exceptions file (`None` = no exceptions).
    pub fn with_exceptions(case_folding: u32, exceptions: Option<&[u8]>) -> RuleHandle {
        let options = dcom_rule_options {
            struct_size: std::mem::size_of::<dcom_rule_options>() as u32,
            case_folding,
            exceptions: exceptions.map_or(std::ptr::null(), <[u8]>::as_ptr),
            exceptions_len: exceptions.map_or(0, <[u8]>::len),
        };
        let mut rule = std::ptr::null_mut();
        assert_eq!(unsafe { dcom_rule_create(&options, &mut rule) }, dcom_result::DCOM_OK);
        RuleHandle(rule)
    }

    /// `(code, branches)` of `dcom_rule_match`.
    pub fn match_utf8(&self, event: &dcom_event) -> (dcom_result, u32) {
        let mut branches = u32::MAX;
        let code = unsafe { dcom_rule_match(self.0, event, &mut branches) };
        (code, branches)
    }

    /// `(code, branches)` of `dcom_rule_match_utf16`.
    pub fn match_utf16(&self, event: &dcom_event16) -> (dcom_result, u32) {
        let mut branches = u32::MAX;
        let code = unsafe { dcom_rule_match_utf16(self.0, event, &mut branches) };
        (code, branches)
    }

    /// `(code, branches)` of `dcom_rule_match_json`.
    pub fn match_json(&self, scratch: &ScratchHandle, json: &[u8]) -> (dcom_result, u32) {
        let mut branches = u32::MAX;
        let code = unsafe { dcom_rule_match_json(self.0, scratch.0, json.as_ptr(), json.len(), &mut branches) };
        (code, branches)
    }
}

impl Drop for RuleHandle {
    fn drop(&mut self) {
        unsafe { dcom_rule_destroy(self.0) }
    }
}

/// A scratch handle, destroyed on drop.
pub struct ScratchHandle(pub *mut dcom_scratch);

impl ScratchHandle {
    pub fn new() -> ScratchHandle {
        let mut scratch = std::ptr::null_mut();
        assert_eq!(unsafe { dcom_scratch_create(&mut scratch) }, dcom_result::DCOM_OK);
        ScratchHandle(scratch)
    }
}

impl Drop for ScratchHandle {
    fn drop(&mut self) {
        unsafe { dcom_scratch_destroy(self.0) }
    }
}

pub fn s(v: &str) -> dcom_str {
    dcom_str { ptr: v.as_ptr(), len: v.len() }
}

pub fn s16(v: &[u16]) -> dcom_str16 {
    dcom_str16 { ptr: v.as_ptr(), len: v.len() }
}

pub const ABSENT: dcom_str = dcom_str { ptr: std::ptr::null(), len: 0 };
pub const ABSENT16: dcom_str16 = dcom_str16 { ptr: std::ptr::null(), len: 0 };

/// An event's five fields as owned values (several values per field allowed).
#[derive(Clone, Debug, Default)]
pub struct Owned {
    pub category: Vec<String>,
    pub event_type: Vec<String>,
    pub name: Vec<String>,
    pub parent_name: Vec<String>,
    pub command_line: Vec<String>,
}

/// The UTF-8 C struct for an [`Owned`] event, with the strings it borrows. The first value
/// of a single-valued C field goes in its slot, any further ones in `other` (which adds
/// values to the five fields).
pub struct Utf8Event<'a> {
    category: Vec<dcom_str>,
    event_type: Vec<dcom_str>,
    other: Vec<dcom_field>,
    name: dcom_str,
    parent_name: dcom_str,
    command_line: dcom_str,
    _owner: std::marker::PhantomData<&'a Owned>,
}

impl<'a> Utf8Event<'a> {
    pub fn new(e: &'a Owned) -> Utf8Event<'a> {
        let mut other = Vec::new();
        let mut single = |path: &'static str, values: &'a [String]| -> dcom_str {
            for extra in values.iter().skip(1) {
                other.push(dcom_field { path: s(path), value: s(extra) });
            }
            values.first().map_or(ABSENT, |v| s(v))
        };
        let name = single("process.name", &e.name);
        let parent_name = single("process.parent.name", &e.parent_name);
        let command_line = single("process.command_line", &e.command_line);
        Utf8Event {
            category: e.category.iter().map(|v| s(v)).collect(),
            event_type: e.event_type.iter().map(|v| s(v)).collect(),
            other,
            name,
            parent_name,
            command_line,
            _owner: std::marker::PhantomData,
        }
    }

    pub fn c(&self) -> dcom_event {
        fn arr<T>(v: &[T]) -> *const T {
            if v.is_empty() {
                std::ptr::null()
            } else {
                v.as_ptr()
            }
        }
        dcom_event {
            event_category: arr(&self.category),
            event_category_count: self.category.len(),
            event_type: arr(&self.event_type),
            event_type_count: self.event_type.len(),
            process_name: self.name,
            process_parent_name: self.parent_name,
            process_command_line: self.command_line,
            other: arr(&self.other),
            other_count: self.other.len(),
        }
    }
}

/// The UTF-16 form of an [`Owned`] event: owns its transcoded strings.
pub struct Utf16Event {
    units: Vec<Vec<u16>>,
    /// (field slot, index into `units`): 0 category, 1 type, 2 name, 3 parent, 4 command line.
    slots: Vec<(u8, usize)>,
}

const PATHS: [&str; 5] =
    ["event.category", "event.type", "process.name", "process.parent.name", "process.command_line"];

impl Utf16Event {
    pub fn new(e: &Owned) -> Utf16Event {
        let mut units = Vec::new();
        let mut slots = Vec::new();
        for (slot, values) in
            [&e.category, &e.event_type, &e.name, &e.parent_name, &e.command_line].into_iter().enumerate()
        {
            for v in values {
                slots.push((slot as u8, units.len()));
                units.push(v.encode_utf16().collect());
            }
        }
        Utf16Event { units, slots }
    }

    /// Calls `f` with the C struct (whose arrays live on this stack frame).
    pub fn with<R>(&self, f: impl FnOnce(&dcom_event16) -> R) -> R {
        let values = |slot: u8| -> Vec<dcom_str16> {
            self.slots.iter().filter(|(s, _)| *s == slot).map(|&(_, i)| s16(&self.units[i])).collect()
        };
        let category = values(0);
        let event_type = values(1);
        let mut other = Vec::new();
        let mut single = |slot: u8| -> dcom_str16 {
            let all = values(slot);
            for extra in all.iter().skip(1) {
                other.push(dcom_field16 { path: s(PATHS[usize::from(slot)]), value: *extra });
            }
            all.first().copied().unwrap_or(ABSENT16)
        };
        let (name, parent_name, command_line) = (single(2), single(3), single(4));
        let arr = |len: usize, ptr| if len == 0 { std::ptr::null() } else { ptr };
        let event = dcom_event16 {
            event_category: arr(category.len(), category.as_ptr()),
            event_category_count: category.len(),
            event_type: arr(event_type.len(), event_type.as_ptr()),
            event_type_count: event_type.len(),
            process_name: name,
            process_parent_name: parent_name,
            process_command_line: command_line,
            other: if other.is_empty() { std::ptr::null() } else { other.as_ptr() },
            other_count: other.len(),
        };
        f(&event)
    }
}

/// The outcome of `dcom_rule_alert_json`: code, verdict, alert text (None when `needed` is 0).
#[derive(Debug, PartialEq, Eq)]
pub struct AlertOutcome {
    pub code: dcom_result,
    pub verdict: dcom_verdict,
    pub alert: Option<String>,
}

impl RuleHandle {
    /// `(code, verdict)` of `dcom_rule_evaluate`.
    pub fn evaluate_utf8(&self, event: &dcom_event) -> (dcom_result, dcom_verdict) {
        let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
        let code = unsafe { dcom_rule_evaluate(self.0, event, &mut verdict) };
        (code, verdict)
    }

    /// `(code, verdict)` of `dcom_rule_evaluate_utf16`.
    pub fn evaluate_utf16(&self, event: &dcom_event16) -> (dcom_result, dcom_verdict) {
        let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
        let code = unsafe { dcom_rule_evaluate_utf16(self.0, event, &mut verdict) };
        (code, verdict)
    }

    /// `(code, verdict)` of `dcom_rule_evaluate_json`.
    pub fn evaluate_json(&self, scratch: &ScratchHandle, json: &[u8]) -> (dcom_result, dcom_verdict) {
        let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
        let code = unsafe { dcom_rule_evaluate_json(self.0, scratch.0, json.as_ptr(), json.len(), &mut verdict) };
        (code, verdict)
    }

    /// `dcom_rule_alert_json` into `buffer`; checks the buffer convention on the way.
    pub fn alert_json_into(
        &self,
        scratch: &ScratchHandle,
        json: &[u8],
        origin: Option<&dcom_origin>,
        flags: u32,
        buffer: &mut [u8],
    ) -> (AlertOutcome, usize) {
        let mut verdict = dcom_verdict { branches: u32::MAX, suppressed_by: 99 };
        let mut needed = usize::MAX;
        let code = unsafe {
            dcom_rule_alert_json(
                self.0,
                scratch.0,
                json.as_ptr(),
                json.len(),
                origin.map_or(std::ptr::null(), |o| o as *const _),
                flags,
                &mut verdict,
                if buffer.is_empty() { std::ptr::null_mut() } else { buffer.as_mut_ptr().cast() },
                buffer.len(),
                &mut needed,
            )
        };
        assert_ne!(needed, usize::MAX, "needed is always written");
        let alert = if code == dcom_result::DCOM_OK && needed > 0 {
            assert_eq!(buffer[needed - 1], 0, "NUL-terminated");
            Some(String::from_utf8(buffer[..needed - 1].to_vec()).expect("alerts are UTF-8"))
        } else {
            if code != dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL {
                assert_eq!(needed, 0, "no alert: needed is 0 ({code:?})");
            }
            if let Some(first) = buffer.first() {
                if code != dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL {
                    assert_eq!(*first, 0, "no alert: the empty string");
                }
            }
            None
        };
        (AlertOutcome { code, verdict, alert }, needed)
    }

    /// `dcom_rule_alert_json` with a buffer that grows until the alert fits (the documented
    /// retry loop).
    pub fn alert_json(
        &self,
        scratch: &ScratchHandle,
        json: &[u8],
        origin: Option<&dcom_origin>,
        flags: u32,
    ) -> AlertOutcome {
        let mut buffer = vec![0u8; 64];
        loop {
            let (outcome, needed) = self.alert_json_into(scratch, json, origin, flags, &mut buffer);
            if outcome.code != dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL {
                return outcome;
            }
            assert!(needed > buffer.len());
            assert_eq!(outcome.verdict, NO_VERDICT, "a failed call leaves the verdict neutral");
            buffer = vec![0u8; needed];
        }
    }
}

/// The neutral verdict of a failed call (and of an event on which nothing fired).
pub const NO_VERDICT: dcom_verdict = dcom_verdict { branches: 0, suppressed_by: DCOM_NOT_SUPPRESSED };

/// An origin for an NDJSON line of `file`.
pub fn line_origin(file: &str, line: u64, offset: u64) -> dcom_origin {
    dcom_origin {
        file: s(file),
        position: DCOM_POSITION_LINE,
        has_event_record_id: 0,
        line,
        offset,
        record: 0,
        event_record_id: 0,
    }
}
