//! Criterion benchmarks of the two match paths, on a typical non-matching and a matching
//! process start: the struct view (a sensor's borrowed strings) and the JSON path (a ~2.5 KB
//! Elastic Defend process event, `benches/data/ecs_*.json`, decoded with a reused decoder).
//!
//! `cargo bench -p dcom-detect-core --bench match`; instruction counts per event come from
//! `examples/callgrind.rs` (see its header).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dcom_detect_core::{CaseFolding, Decoder, Options, ProcessEvent, Rule};

const MISS_JSON: &[u8] = include_bytes!("data/ecs_miss.json");
const HIT_JSON: &[u8] = include_bytes!("data/ecs_hit.json");

fn miss() -> ProcessEvent<'static> {
    ProcessEvent {
        name: "WmiPrvSE.exe".into(),
        parent_name: "svchost.exe".into(),
        command_line: r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding".into(),
        ..ProcessEvent::start()
    }
}

fn hit() -> ProcessEvent<'static> {
    ProcessEvent {
        name: "cmd.exe".into(),
        parent_name: "mmc.exe".into(),
        command_line: r#""C:\Windows\System32\cmd.exe" /Q /c cd \ 1> \\127.0.0.1\ADMIN$\__1556656511.61 2>&1"#.into(),
        ..ProcessEvent::start()
    }
}

fn struct_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("struct");
    group.throughput(Throughput::Elements(1));
    for folding in [CaseFolding::Ascii, CaseFolding::UnicodeSimple] {
        let rule = Rule::new(Options { case_folding: folding });
        for (name, event) in [("miss", miss()), ("hit", hit())] {
            group.bench_function(format!("{name}/{}", folding.name()), |b| {
                b.iter(|| rule.evaluate(black_box(&event)).branches())
            });
        }
    }
    group.finish();
}

fn json_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    let rule = Rule::default();
    let mut decoder = Decoder::new();
    for (name, record) in [("miss", MISS_JSON), ("hit", HIT_JSON)] {
        group.throughput(Throughput::Bytes(record.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let doc = decoder.decode(rule.paths(), black_box(record)).unwrap();
                rule.evaluate(&doc).branches()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, struct_path, json_path);
criterion_main!(benches);
