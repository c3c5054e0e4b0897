//! The triage guides (`docs/triage/`, `dcom_detect_core::guide`) through the public metadata:
//! every rule a scan can raise carries its own guide, byte for byte the file in `docs/triage/`,
//! with the four sections; every exceptions item a guide offers is a valid exceptions file; and
//! each false-positive section names the families of `examples/exceptions.json` it claims.

use std::path::Path;

use dcom_detect_core::correlate::{Profile, ProfileRule};
use dcom_detect_core::guide::{sections, SECTIONS};
use dcom_detect_core::{Branch, Options, Rule, METADATA};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(repo().join("docs/triage").join(name)).unwrap()
}

/// Every stateful rule of every profile, with the file its guide comes from.
fn stateful() -> Vec<(ProfileRule, String)> {
    Profile::ALL.iter().flat_map(|p| p.rules()).map(|r| (*r, format!("{}.md", r.name().to_ascii_lowercase()))).collect()
}

#[test]
fn each_rule_carries_its_docs_file() {
    assert_eq!(METADATA.guide, doc("seed.md"));
    let branches: Vec<Branch> = METADATA.branch_guides.iter().map(|g| g.branch).collect();
    assert_eq!(branches, Branch::ALL);
    for g in METADATA.branch_guides {
        assert_eq!(g.guide, doc(&format!("seed_{}.md", g.branch.name())));
        assert_eq!(g.branch.guide(), g.guide);
    }
    let rules = stateful();
    assert_eq!(rules.len(), 6, "D2, D2L, D3, mmc20, shellwindows, hta");
    let mut seen = std::collections::BTreeSet::from([METADATA.guide]);
    for (rule, file) in &rules {
        let meta = rule.metadata();
        assert_eq!(meta.guide, doc(file), "{}", rule.name());
        assert!(meta.branch_guides.is_empty(), "{}", rule.name());
        assert!(seen.insert(meta.guide), "{} shares its guide", rule.name());
    }
}

#[test]
fn every_guide_has_the_sections_and_a_title_naming_its_rule() {
    let mut guides: Vec<(&str, &str)> = vec![("seed", METADATA.guide)];
    guides.extend(METADATA.branch_guides.iter().map(|g| (g.branch.name(), g.guide)));
    guides.extend(stateful().into_iter().map(|(r, _)| (r.name(), r.metadata().guide)));
    for (name, guide) in guides {
        let title = guide.lines().next().unwrap();
        assert!(title.starts_with("# "), "{name}: {title}");
        assert!(title.to_ascii_lowercase().contains(&name.to_ascii_lowercase()), "{name}: {title}");
        assert_eq!(sections(guide).collect::<Vec<_>>(), SECTIONS, "{name}");
        for section in SECTIONS {
            let body = section_body(guide, section);
            assert!(body.trim().len() > 200, "{name}: section {section} is too thin");
        }
    }
}

/// The text of one `## ` section, up to the next.
fn section_body<'a>(guide: &'a str, section: &str) -> &'a str {
    let start = guide.find(&format!("\n## {section}\n")).unwrap() + section.len() + 5;
    let rest = &guide[start..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The ```json blocks of a text.
fn json_blocks(text: &str) -> Vec<&str> {
    text.split("```json\n").skip(1).map(|b| &b[..b.find("```").unwrap()]).collect()
}

#[test]
fn every_exception_item_a_guide_offers_is_valid_and_families_are_named() {
    let families: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("examples/exceptions.json")).unwrap()).unwrap();
    let names: Vec<&str> =
        families["exceptions"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 4);
    let mut guides = vec![METADATA.guide];
    guides.extend(METADATA.branch_guides.iter().map(|g| g.guide));
    guides.extend(stateful().into_iter().map(|(r, _)| r.metadata().guide));
    for guide in &guides {
        let fp = section_body(guide, "False positives");
        let blocks = json_blocks(fp);
        assert!(!blocks.is_empty(), "{}: no exceptions item", guide.lines().next().unwrap());
        for block in blocks {
            let file = format!("[{block}]");
            if let Err(e) = Rule::with_exceptions(Options::default(), file.as_bytes()) {
                panic!("{}: {e}\n{block}", guide.lines().next().unwrap());
            }
        }
        assert!(fp.contains("examples/exceptions.json"), "{}", guide.lines().next().unwrap());
    }
    // The seed rule's guide and its office_child guide name all four families.
    for guide in [METADATA.guide, Branch::OfficeChild.guide()] {
        for name in &names {
            assert!(guide.contains(name), "{name}");
        }
    }
}
