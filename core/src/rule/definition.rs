//! The rule as Elastic publishes it: its EQL text, the literal lists its comparisons use and
//! its catalogue metadata. Data only; [`crate::rule`] evaluates it and [`crate::rule::prefilter`]
//! derives its byte needles from it, so neither depends on the other.

use crate::guide::{self, BranchGuide};

/// The rule's EQL text, byte for byte as Elastic ships it.
pub const EQL_SOURCE: &str = r#"process where event.type == "start" and
(
  (
    process.parent.name in~ ("mmc.exe", "excel.exe", "winword.exe", "outlook.exe", "powerpnt.exe", "visio.exe") and
    process.name in~ ("cmd.exe", "powershell.exe", "wscript.exe", "cscript.exe", "mshta.exe", "rundll32.exe", "regsvr32.exe", "certutil.exe")
  ) or
  process.name == "dcomcnfg.exe" or
  (
    process.command_line : "*DCOM*" and process.command_line : "*-Exec*"
  )
)"#;

/// The COM hosts of the first branch (`process.parent.name in~ (...)`).
pub const COM_HOST_PARENTS: [&str; 6] =
    ["mmc.exe", "excel.exe", "winword.exe", "outlook.exe", "powerpnt.exe", "visio.exe"];

/// The script hosts and LOLBins of the first branch (`process.name in~ (...)`).
pub const SPAWNED_CHILDREN: [&str; 8] = [
    "cmd.exe",
    "powershell.exe",
    "wscript.exe",
    "cscript.exe",
    "mshta.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "certutil.exe",
];

/// The second branch's exact process name (`process.name == "dcomcnfg.exe"`).
pub const DCOMCNFG: &str = "dcomcnfg.exe";

/// The third branch's two wildcard patterns on `process.command_line`.
pub const COMMAND_LINE_PATTERNS: [&str; 2] = ["*DCOM*", "*-Exec*"];

/// The implicit `process where` condition: `event.category == "process"`.
pub const PROCESS_CATEGORY: &str = "process";

/// `event.type == "start"`.
pub const START_TYPE: &str = "start";

/// What is known about the rule, for alerts and for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Stable rule id.
    pub id: &'static str,
    /// Rule name.
    pub name: &'static str,
    /// What the rule detects.
    pub description: &'static str,
    /// Rule version (changes when the logic or metadata change).
    pub version: u32,
    /// The ruleset the rule belongs to.
    pub ruleset: &'static str,
    /// Query language.
    pub language: &'static str,
    /// Severity (`high`).
    pub severity: &'static str,
    /// Elastic's risk score for `high`.
    pub risk_score: u32,
    /// Confidence (`high`).
    pub confidence: &'static str,
    /// Reference URLs.
    pub references: &'static [&'static str],
    /// MITRE ATT&CK mapping.
    pub threat: Threat,
    /// Where this rule's events come from.
    pub data_sources: &'static [DataSource],
    /// Known false positives, from the rule's notes.
    pub false_positives: &'static [&'static str],
    /// The triage guide (Markdown, Elastic's `note`): investigation, false positives, response,
    /// hunting pivots ([`crate::guide`], `docs/triage/`). Never empty.
    pub guide: &'static str,
    /// The seed rule's per-branch guides, one per branch in [`Branch::ALL`](crate::rule::Branch::ALL)
    /// order; empty for a stateful rule (its alert has no branches).
    pub branch_guides: &'static [BranchGuide],
}

/// One MITRE ATT&CK entry: id, name and reference URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttackRef {
    /// `T1021`, `TA0008`, …
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// attack.mitre.org URL.
    pub reference: &'static str,
}

/// The rule's MITRE ATT&CK mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threat {
    /// Always "MITRE ATT&CK".
    pub framework: &'static str,
    /// TA0008 Lateral Movement.
    pub tactic: AttackRef,
    /// T1021 Remote Services.
    pub technique: AttackRef,
    /// T1021.003 Distributed Component Object Model.
    pub subtechnique: AttackRef,
}

/// A product that produces events this rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataSource {
    /// Product name.
    pub name: &'static str,
    /// Elasticsearch index pattern it writes to.
    pub index: &'static str,
}

/// The MITRE ATT&CK mapping of the seed rule and the correlation rules: TA0008 Lateral
/// Movement, T1021.003 Distributed Component Object Model.
pub const THREAT: Threat = Threat {
    framework: "MITRE ATT&CK",
    tactic: AttackRef { id: "TA0008", name: "Lateral Movement", reference: "https://attack.mitre.org/tactics/TA0008/" },
    technique: AttackRef {
        id: "T1021",
        name: "Remote Services",
        reference: "https://attack.mitre.org/techniques/T1021/",
    },
    subtechnique: AttackRef {
        id: "T1021.003",
        name: "Distributed Component Object Model",
        reference: "https://attack.mitre.org/techniques/T1021/003/",
    },
};

/// The rule's metadata.
pub static METADATA: Metadata = Metadata {
    id: "3e8485db-ed53-542a-bdd7-0246bf43ff97",
    name: "Distributed Component Object Model lateral movement",
    description: "Identifies process starts that indicate lateral movement over DCOM \
        (MITRE ATT&CK T1021.003): a COM host (MMC or an Office application) starting a script \
        host or LOLBin, the DCOM configuration tool being started, or a command line that \
        references DCOM together with an -Exec... switch.",
    version: 1,
    ruleset: "dcom-detect",
    language: "eql",
    severity: "high",
    risk_score: 73,
    confidence: "high",
    references: &["https://attack.mitre.org/techniques/T1021/003/"],
    threat: THREAT,
    data_sources: &[
        DataSource { name: "Elastic Defend", index: "logs-endpoint.events.process-*" },
        DataSource { name: "Winlogbeat with Sysmon", index: "winlogbeat-*" },
        DataSource { name: "Windows Security event 4688", index: "logs-system.security-*" },
    ],
    false_positives: &[
        "Administrators using mmc.exe to start PowerShell on managed endpoints.",
        "Security or EDR agents using COM automation to start cmd.exe or PowerShell.",
        "Software deployment (SCCM, Intune) driving Office COM interfaces during patch cycles.",
        "Approved Excel macro automation starting wscript.exe or cmd.exe in finance or operations.",
    ],
    guide: guide::SEED,
    branch_guides: &guide::SEED_BRANCHES,
};
