//! The exceptions-file loader on arbitrary bytes: a refusal is an error with a message, never
//! a panic; an accepted file is evaluated on a few events without trouble.
#![no_main]

use dcom_detect_core::{Decoder, Options, Rule};
use libfuzzer_sys::fuzz_target;

const EVENTS: [&[u8]; 3] = [
    br#"{"event":{"category":"process","type":"start"},"host":{"name":"mgmt-ws-01"},"user":{"name":"adm_kwright"},"process":{"name":"powershell.exe","parent":{"name":"mmc.exe"},"command_line":"x"}}"#,
    br#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"h","User":"D\\u","Image":"C:\\cmd.exe","ParentImage":"C:\\EXCEL.EXE"}"#,
    br#"{"event.category":"process","event.type":"start","process.name":"dcomcnfg.exe"}"#,
];

fuzz_target!(|data: &[u8]| {
    match Rule::with_exceptions(Options::default(), data) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(rule) => {
            let mut decoder = Decoder::new();
            for event in EVENTS {
                let doc = decoder.decode(rule.paths(), event).expect("valid event");
                let verdict = rule.evaluate(&doc);
                if let Some(item) = verdict.suppressed_by {
                    assert!(verdict.fired() && item < rule.exceptions().items().len());
                }
            }
        }
    }
});
