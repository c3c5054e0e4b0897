//! Evaluates one kind of event N times, for instruction counts under callgrind:
//!
//! ```sh
//! cargo build --release -p dcom-detect-core --example callgrind
//! for n in 1000 11000; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n \
//!     target/release/examples/callgrind json-miss $n 2>&1 | grep -o 'refs: .*'; done
//! ```
//! Instructions per event = (Ir at 11000 − Ir at 1000) / 10000, which cancels start-up.
//! Kinds: `struct-miss`, `struct-hit`, `json-miss`, `json-hit`.
use dcom_detect_core::{Decoder, ProcessEvent, Rule};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().expect("kind");
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect("count");
    let rule = Rule::default();
    let miss_json = include_bytes!("../benches/data/ecs_miss.json");
    let hit_json = include_bytes!("../benches/data/ecs_hit.json");
    let miss = ProcessEvent {
        name: "WmiPrvSE.exe".into(),
        parent_name: "svchost.exe".into(),
        command_line: r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding".into(),
        ..ProcessEvent::start()
    };
    let hit = ProcessEvent {
        name: "cmd.exe".into(),
        parent_name: "mmc.exe".into(),
        command_line: r#""C:\Windows\System32\cmd.exe" /Q /c cd \ 1> \\127.0.0.1\ADMIN$\__1556656511.61 2>&1"#.into(),
        ..ProcessEvent::start()
    };
    let mut decoder = Decoder::new();
    let mut matched = 0u32;
    for _ in 0..n {
        matched += u32::from(match kind.as_str() {
            "struct-miss" => rule.evaluate(black_box(&miss)).branches().bits(),
            "struct-hit" => rule.evaluate(black_box(&hit)).branches().bits(),
            "json-miss" | "json-hit" => {
                let record: &[u8] = if kind == "json-miss" { miss_json } else { hit_json };
                let doc = decoder.decode(rule.paths(), black_box(record)).expect("valid");
                rule.evaluate(&doc).branches().bits()
            }
            other => panic!("unknown kind {other}"),
        });
    }
    println!("{kind} x{n}: {matched}");
}
