//! Zero allocation, measured: a counting global allocator (per thread, so other tests running
//! in parallel do not disturb the count) watches the exported match functions.
//! - The struct paths (UTF-8 and UTF-16) never allocate, not even on the first call.
//! - The JSON path allocates nothing once the scratch's buffers have grown.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dcom_detect::*;

use crate::common::*;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Events of every shape that could tempt an allocation: matching and not, multi-valued,
/// non-ASCII (folded under Unicode), long command lines, extra fields.
fn events() -> Vec<Owned> {
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let long = format!("powershell {} -Exec DCOM", "A".repeat(5000));
    vec![
        Owned { category: v(&["process"]), event_type: v(&["start"]), name: v(&["cmd.exe"]), parent_name: v(&["mmc.exe"]), ..Owned::default() },
        Owned { category: v(&["process"]), event_type: v(&["start"]), name: v(&["notepad.exe"]), parent_name: v(&["explorer.exe"]), command_line: v(&["notepad.exe C:\\x.txt"]) },
        Owned { category: v(&["process"]), event_type: v(&["start", "info"]), name: v(&["dcomcnfg.exe"]), ..Owned::default() },
        Owned { category: v(&["host", "process"]), event_type: v(&["start"]), name: v(&["c\u{17F}cript.exe"]), parent_name: v(&["outloo\u{212A}.exe"]), command_line: v(&["x DCOM", "y -Exec"]) },
        Owned { category: v(&["process"]), event_type: v(&["start"]), name: v(&["😀.exe"]), parent_name: v(&["\u{130}nstaller.exe"]), command_line: v(&[long.as_str()]) },
        Owned::default(),
    ]
}

const RECORDS: [&str; 4] = [
    r#"{"@timestamp":"2024-05-01T10:00:00Z","event":{"category":["process"],"type":["start"]},"process":{"name":"cmd.exe","command_line":"cmd /c whoami","parent":{"name":"MMC.EXE"}},"host":{"name":"ws1"}}"#,
    r#"{"event":{"category":"process","type":"start"},"process":{"name":"notepad.exe","parent":{"name":"explorer.exe"},"args":["a","b"]},"user":{"name":"\u0041dmin"}}"#,
    r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\dcomcnfg.exe","ParentImage":"C:\\Windows\\explorer.exe","CommandLine":"dcomcnfg"}"#,
    r#"{"process.name":"x","process":{"name":"y","command_line":["\u0044COM","-\u0045xec"]},"event.category":"process","event.type":"start"}"#,
];

#[test]
fn struct_paths_never_allocate() {
    let owned = events();
    let utf8: Vec<Utf8Event<'_>> = owned.iter().map(Utf8Event::new).collect();
    let utf16: Vec<Utf16Event> = owned.iter().map(Utf16Event::new).collect();
    for folding in [DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE] {
        let rule = RuleHandle::new(folding);
        let c8: Vec<dcom_event> = utf8.iter().map(Utf8Event::c).collect();
        let mut matched = 0;
        let n = allocations_during(|| {
            for _ in 0..100 {
                for e in &c8 {
                    let (code, branches) = rule.match_utf8(e);
                    assert_eq!(code, dcom_result::DCOM_OK);
                    matched += u32::from(branches != 0);
                }
            }
        });
        assert_eq!(n, 0, "UTF-8 struct path allocated (folding {folding})");
        assert!(matched >= 300, "the events exercise matching branches ({matched})");
        for e in &utf16 {
            let n = e.with(|c| {
                allocations_during(|| {
                    for _ in 0..100 {
                        assert_eq!(rule.match_utf16(c).0, dcom_result::DCOM_OK);
                    }
                })
            });
            assert_eq!(n, 0, "UTF-16 struct path allocated (folding {folding})");
        }
    }
}

#[test]
fn json_path_allocates_nothing_in_steady_state() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_UNICODE_SIMPLE);
    let scratch = ScratchHandle::new();
    for record in RECORDS {
        assert_eq!(rule.match_json(&scratch, record.as_bytes()).0, dcom_result::DCOM_OK, "{record}");
    }
    let mut matched = 0;
    let n = allocations_during(|| {
        for _ in 0..200 {
            for record in RECORDS {
                let (code, branches) = rule.match_json(&scratch, record.as_bytes());
                assert_eq!(code, dcom_result::DCOM_OK);
                matched += u32::from(branches != 0);
            }
        }
    });
    assert_eq!(n, 0, "JSON path allocated after warm-up");
    assert_eq!(matched, 200 * 3);
}

/// The counter works: creating a rule allocates.
#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_during(|| drop(RuleHandle::new(DCOM_CASE_FOLDING_ASCII))) > 0);
}
