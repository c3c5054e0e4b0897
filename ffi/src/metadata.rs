//! The rule's metadata as a static C struct.
//!
//! Core keeps its metadata as Rust `&'static str`s, which are not NUL-terminated. The C
//! copies are made once, on the first call, and live for the rest of the process (they are
//! never freed; valgrind reports them as "still reachable", not as leaks).

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use dcom_detect_core::correlate::ProfileRule;
use dcom_detect_core::{rule::AttackRef, METADATA};

use crate::result::guard_value;

/// One MITRE ATT&CK entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_attack_ref {
    /// The ATT&CK id (`"TA0008"`, `"T1021"`, `"T1021.003"`).
    pub id: *const c_char,
    /// Its name (`"Lateral Movement"`, ...).
    pub name: *const c_char,
    /// Its attack.mitre.org URL.
    pub reference: *const c_char,
}

/// What is known about the rule. Returned by `dcom_rule_metadata`; every string is static,
/// NUL-terminated UTF-8, never NULL, and never needs freeing.
///
/// Fields are only ever appended in later versions; `struct_size` says how many this library
/// fills. Immutable: any thread may read it at any time.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_metadata {
    /// `sizeof(dcom_metadata)` as this library knows it.
    pub struct_size: usize,
    /// Stable rule id (a UUID).
    pub id: *const c_char,
    /// Rule name.
    pub name: *const c_char,
    /// What the rule detects, one paragraph.
    pub description: *const c_char,
    /// Rule version; changes when the logic or the metadata change.
    pub version: u32,
    /// Elastic's risk score for the severity (73 for high).
    pub risk_score: u32,
    /// Severity (`"high"`).
    pub severity: *const c_char,
    /// Confidence (`"high"`).
    pub confidence: *const c_char,
    /// The ruleset the rule belongs to.
    pub ruleset: *const c_char,
    /// The query language (`"eql"`).
    pub language: *const c_char,
    /// Reference URLs: an array of `reference_count` strings.
    pub references: *const *const c_char,
    /// Number of entries in `references`.
    pub reference_count: usize,
    /// Threat framework (`"MITRE ATT&CK"`).
    pub framework: *const c_char,
    /// ATT&CK tactic: TA0008 Lateral Movement.
    pub tactic: dcom_attack_ref,
    /// ATT&CK technique: T1021 Remote Services.
    pub technique: dcom_attack_ref,
    /// ATT&CK sub-technique: T1021.003 Distributed Component Object Model.
    pub subtechnique: dcom_attack_ref,
    /// The triage guide common to the rule's branches (Markdown, `docs/triage/seed.md`):
    /// investigation, false positives, response, hunting pivots. Appended, with the two fields
    /// below, after `subtechnique`: a caller built against an older header never reads them,
    /// and one built against this header reads them only when `struct_size` covers them.
    pub guide: *const c_char,
    /// Each branch's own guide: an array of `branch_guide_count` strings, entry `i` for the
    /// branch whose bit is `1 << i` (`dcom_branch_name(1 << i)` names it).
    pub branch_guides: *const *const c_char,
    /// Number of entries in `branch_guides` (3).
    pub branch_guide_count: usize,
}

/// The C view and the strings it points into, built together so the pointers stay valid.
struct Storage {
    view: dcom_metadata,
    _strings: Vec<CString>,
    _references: Vec<*const c_char>,
    _branch_guides: Vec<*const c_char>,
}

// SAFETY: the raw pointers point into `_strings`, `_references` and `_branch_guides`, which are never changed
// or moved (heap buffers owned by the same value) after construction; everything is
// read-only from then on.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    fn build() -> Storage {
        let mut strings = Vec::new();
        let mut c = |s: &'static str| -> *const c_char {
            let owned = CString::new(s).expect("metadata has no NUL");
            let ptr = owned.as_ptr();
            strings.push(owned); // moves the CString, not its heap buffer
            ptr
        };
        let m = &METADATA;
        let mut attack = |r: AttackRef| dcom_attack_ref { id: c(r.id), name: c(r.name), reference: c(r.reference) };
        let tactic = attack(m.threat.tactic);
        let technique = attack(m.threat.technique);
        let subtechnique = attack(m.threat.subtechnique);
        let references: Vec<*const c_char> = m.references.iter().map(|r| c(r)).collect();
        let branch_guides: Vec<*const c_char> = m.branch_guides.iter().map(|g| c(g.guide)).collect();
        let view = dcom_metadata {
            struct_size: std::mem::size_of::<dcom_metadata>(),
            id: c(m.id),
            name: c(m.name),
            description: c(m.description),
            version: m.version,
            risk_score: m.risk_score,
            severity: c(m.severity),
            confidence: c(m.confidence),
            ruleset: c(m.ruleset),
            language: c(m.language),
            references: references.as_ptr(),
            reference_count: references.len(),
            framework: c(m.threat.framework),
            tactic,
            technique,
            subtechnique,
            guide: c(m.guide),
            branch_guides: branch_guides.as_ptr(),
            branch_guide_count: branch_guides.len(),
        };
        Storage { view, _strings: strings, _references: references, _branch_guides: branch_guides }
    }
}

static METADATA_C: OnceLock<Storage> = OnceLock::new();

/// The rule's metadata (id, name, severity, risk score, MITRE ATT&CK mapping, references):
/// a pointer to a static struct, valid for the life of the process; never free it.
///
/// The first call builds it (one small allocation, once); later calls only read it.
/// Thread-safe. Returns NULL only on an internal error.
#[no_mangle]
pub extern "C" fn dcom_rule_metadata() -> *const dcom_metadata {
    guard_value(std::ptr::null(), || &METADATA_C.get_or_init(Storage::build).view as *const _)
}

/// The stateful rules' guides, NUL-terminated, built on first use.
static GUIDES_C: OnceLock<Vec<(ProfileRule, CString)>> = OnceLock::new();

/// The triage guide (Markdown, `docs/triage/`) of a stateful rule of the `elastic` or
/// `extended` profile, named as its alerts name it (`"D2"`, `"D2L"`, `"D3"`, `"mmc20"`,
/// `"shellwindows"`, `"hta"`, ASCII case ignored) or by its `rule.id`: a static NUL-terminated
/// string, valid for the life of the process; never free it. The seed rule's guides are in
/// `dcom_metadata` (`guide`, `branch_guides`).
///
/// Returns NULL when `rule` is NULL, not UTF-8, or names no stateful rule. The first call
/// builds the six strings (once); later calls compare at most six names. Thread-safe.
///
/// # Safety
/// `rule`, when not NULL, must point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_guide(rule: *const c_char) -> *const c_char {
    guard_value(std::ptr::null(), || {
        if rule.is_null() {
            return std::ptr::null();
        }
        // SAFETY: the caller passes a NUL-terminated string.
        let Ok(name) = unsafe { std::ffi::CStr::from_ptr(rule) }.to_str() else { return std::ptr::null() };
        let Some(found) = ProfileRule::find(name) else { return std::ptr::null() };
        let guides = GUIDES_C.get_or_init(|| {
            [dcom_detect_core::correlate::Profile::Elastic, dcom_detect_core::correlate::Profile::Extended]
                .iter()
                .flat_map(|p| p.rules())
                .map(|r| (*r, CString::new(r.metadata().guide).expect("guide has no NUL")))
                .collect()
        });
        guides.iter().find(|(r, _)| *r == found).map_or(std::ptr::null(), |(_, g)| g.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn s(p: *const c_char) -> &'static str {
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn metadata_is_cores() {
        let m = unsafe { &*dcom_rule_metadata() };
        assert_eq!(m.struct_size, std::mem::size_of::<dcom_metadata>());
        assert_eq!(s(m.id), METADATA.id);
        assert_eq!(s(m.name), METADATA.name);
        assert_eq!(s(m.description), METADATA.description);
        assert_eq!((m.version, m.risk_score), (METADATA.version, METADATA.risk_score));
        assert_eq!(s(m.severity), METADATA.severity);
        assert_eq!(s(m.confidence), METADATA.confidence);
        assert_eq!(s(m.ruleset), METADATA.ruleset);
        assert_eq!(s(m.language), METADATA.language);
        let refs = unsafe { std::slice::from_raw_parts(m.references, m.reference_count) };
        assert_eq!(refs.iter().map(|r| s(*r)).collect::<Vec<_>>(), METADATA.references);
        assert_eq!(s(m.framework), METADATA.threat.framework);
        for (c, r) in [
            (m.tactic, METADATA.threat.tactic),
            (m.technique, METADATA.threat.technique),
            (m.subtechnique, METADATA.threat.subtechnique),
        ] {
            assert_eq!((s(c.id), s(c.name), s(c.reference)), (r.id, r.name, r.reference));
        }
        assert_eq!(s(m.guide), METADATA.guide);
        let guides = unsafe { std::slice::from_raw_parts(m.branch_guides, m.branch_guide_count) };
        let expected: Vec<&str> = METADATA.branch_guides.iter().map(|g| g.guide).collect();
        assert_eq!(guides.iter().map(|g| s(*g)).collect::<Vec<_>>(), expected);
        assert_eq!(dcom_rule_metadata(), m as *const _, "one static struct");
    }

    #[test]
    fn stateful_guides_by_name_or_id() {
        for rule in ProfileRule::find("d2").into_iter().chain(ProfileRule::find("HTA")) {
            let name = CString::new(rule.name()).unwrap();
            let by_name = unsafe { dcom_rule_guide(name.as_ptr()) };
            assert_eq!(s(by_name), rule.metadata().guide);
            let id = CString::new(rule.id()).unwrap();
            assert_eq!(unsafe { dcom_rule_guide(id.as_ptr()) }, by_name, "one static string");
        }
        for bad in [c"seed", c"office_child", c""] {
            assert!(unsafe { dcom_rule_guide(bad.as_ptr()) }.is_null());
        }
        assert!(unsafe { dcom_rule_guide(std::ptr::null()) }.is_null());
    }
}
