//! The Rust snippet of README.md, compiled and run.
#[test]
fn readme_rust_snippet() -> Result<(), Box<dyn std::error::Error>> {
    use dcom_detect_core::{Decoder, ProcessEvent, Rule};
    let rule = Rule::default();
    let event = ProcessEvent { name: "cmd.exe".into(), parent_name: "MMC.EXE".into(), ..ProcessEvent::start() };
    assert!(rule.evaluate(&event).is_match());
    let mut decoder = Decoder::new();
    let doc = decoder
        .decode(rule.paths(), br#"{"event.category":"process","event.type":"start","process.name":"dcomcnfg.exe"}"#)?;
    assert!(rule.matches(&doc));
    let view = dcom_detect_core::view::ecs::Paths::new(rule.fields()).with_view();
    let doc = decoder.decode(&view, br#"{"@timestamp":"2024-05-01T12:00:00Z","host":{"name":"ws-01"}}"#)?;
    assert_eq!(doc.timestamp().map(|t| t.unix_millis()), Some(1_714_564_800_000));
    let readme = include_str!("../../README.md");
    assert!(readme.contains(
        r##"let doc = decoder.decode(&view, br#"{"@timestamp":"2024-05-01T12:00:00Z","host":{"name":"ws-01"}}"#)?;"##
    ));
    assert!(readme.contains(r##"decoder.decode(rule.paths(), br#"{"event.category":"process","event.type":"start","process.name":"dcomcnfg.exe"}"#)?;"##));
    Ok(())
}
