//! The correlation rules as data: metadata for alerts and display, and the EQL a user can
//! paste into Kibana (order-insensitivity is two sequences, one per order; EQL's `maxspan` is
//! symmetric, so D2L's 60 s before / 2 s after is written as the two orders' spans).

use crate::guide;
use crate::rule::definition::{DataSource, Metadata, METADATA, THREAT};

use super::{CorrelationRule, ElasticRule};

const SOURCES: &[DataSource] = &[
    DataSource { name: "Elastic Defend", index: "logs-endpoint.events.*" },
    DataSource { name: "Winlogbeat with Sysmon", index: "winlogbeat-*" },
    DataSource { name: "Windows Security events 4688, 5156, 4624", index: "logs-system.security-*" },
];

static D2: Metadata = Metadata {
    id: "3f0c6d2e-8a41-4d7b-9a52-d2c0f3a1e702",
    name: "Remote DCOM activation of a lateral-movement COM server (inbound connection)",
    description: "A COM server that DCOM abuse starts (MMC, Office, Internet Explorer, mshta, \
        explorer and others) started by svchost.exe for an activation (-Embedding or /automation) \
        and receiving an inbound TCP connection from another host within 60 seconds, in either \
        order: the target side of DCOM lateral movement (MMC20.Application, Excel, \
        InternetExplorer.Application, LethalHTA).",
    version: 1,
    ruleset: "dcom-detect extended",
    language: "eql",
    severity: "high",
    risk_score: 73,
    confidence: "medium",
    references: &["https://attack.mitre.org/techniques/T1021/003/"],
    threat: THREAT,
    data_sources: SOURCES,
    false_positives: &[
        "Remote administration consoles legitimately activating MMC or Office over DCOM.",
        "Document management or reporting servers automating Office through remote COM.",
    ],
    guide: guide::D2,
    branch_guides: &[],
};

static D2L: Metadata = Metadata {
    id: "6b1e9a47-2c58-4f3d-8e16-d21c0b7c4a91",
    name: "Remote DCOM activation of a lateral-movement COM server (network logon session)",
    description: "The same COM server start as D2, in the logon session of a network logon \
        (4624 type 3) from another host that began at most 60 seconds before it: the DCOM \
        activation seen with Security logs alone.",
    version: 1,
    ruleset: "dcom-detect extended",
    language: "eql",
    severity: "high",
    risk_score: 73,
    confidence: "medium",
    references: &["https://attack.mitre.org/techniques/T1021/003/"],
    threat: THREAT,
    data_sources: SOURCES,
    false_positives: &["Remote administration that activates MMC or Office in a network logon session."],
    guide: guide::D2L,
    branch_guides: &[],
};

static D3: Metadata = Metadata {
    id: "9d4a2f61-7e35-4b8c-a0d9-d3e1c5f8b204",
    name: "Incoming connection to explorer.exe with an explorer.exe child (ShellWindows / ShellBrowserWindow)",
    description: "explorer.exe receives an inbound TCP connection from another host on a \
        dynamic RPC port (49152 or above) and starts a child process within 10 seconds, in \
        either order: the ShellWindows / ShellBrowserWindow DCOM technique, whose commands run \
        as children of the logged-on user's explorer.",
    version: 1,
    ruleset: "dcom-detect extended",
    language: "eql",
    severity: "high",
    risk_score: 73,
    confidence: "medium",
    references: &["https://attack.mitre.org/techniques/T1021/003/"],
    threat: THREAT,
    data_sources: SOURCES,
    false_positives: &["A user starting a program while explorer.exe serves a remote file-sharing or RPC request."],
    guide: guide::D3,
    branch_guides: &[],
};

const ELASTIC_SOURCES: &[DataSource] = &[
    DataSource { name: "Elastic Defend", index: "logs-endpoint.events.*" },
    DataSource { name: "Winlogbeat with Sysmon", index: "winlogbeat-*" },
];

/// Elastic's metadata for one of its rules: its `rule_id`, name and severity; the
/// description says what the rule's EQL ([`ElasticRule::query`]) looks for.
const fn elastic(rule: ElasticRule, description: &'static str) -> Metadata {
    let (severity, risk_score) = match rule {
        ElasticRule::Mmc20 | ElasticRule::Hta => ("high", 73),
        ElasticRule::ShellWindows => ("medium", 47),
    };
    Metadata {
        id: match rule {
            ElasticRule::Mmc20 => "51ce96fb-9e52-4dad-b0ba-99b54440fc9a",
            ElasticRule::ShellWindows => "8f919d4b-a5af-47ca-a594-6be59cd924a4",
            ElasticRule::Hta => "622ecb68-fa81-4601-90b5-f8cd661e4520",
        },
        name: match rule {
            ElasticRule::Mmc20 => "Incoming DCOM Lateral Movement with MMC",
            ElasticRule::ShellWindows => "Incoming DCOM Lateral Movement with ShellBrowserWindow or ShellWindows",
            ElasticRule::Hta => "Incoming DCOM Lateral Movement via MSHTA",
        },
        description,
        version: 1,
        ruleset: "elastic/detection-rules",
        language: "eql",
        severity,
        risk_score,
        confidence: "medium",
        references: &["https://attack.mitre.org/techniques/T1021/003/"],
        threat: THREAT,
        data_sources: ELASTIC_SOURCES,
        false_positives: &[],
        guide: match rule {
            ElasticRule::Mmc20 => guide::MMC20,
            ElasticRule::ShellWindows => guide::SHELLWINDOWS,
            ElasticRule::Hta => guide::HTA,
        },
        branch_guides: &[],
    }
}

static MMC20: Metadata = elastic(
    ElasticRule::Mmc20,
    "An inbound TCP connection on dynamic ports to mmc.exe followed within one minute by a child \
     of that mmc.exe: remote execution through the MMC20.Application COM object.",
);

static SHELLWINDOWS: Metadata = elastic(
    ElasticRule::ShellWindows,
    "An inbound TCP connection on dynamic ports to explorer.exe followed within five seconds by a \
     child of that explorer.exe: remote execution through the ShellBrowserWindow or ShellWindows \
     COM objects.",
);

static HTA: Metadata = elastic(
    ElasticRule::Hta,
    "mshta.exe started for a COM activation (-Embedding) followed within one minute by an inbound \
     TCP connection on dynamic ports to it: remote execution of HTML applications over DCOM.",
);

const SERVER_START: &str = r#"[process where event.type == "start" and
    process.parent.name : "svchost.exe" and process.args : ("-Embedding", "/automation") and
    process.name : ("baaupdate.exe", "excel.exe", "explorer.exe", "ielowutil.exe", "iexplore.exe",
                    "mmc.exe", "msaccess.exe", "mshta.exe", "mspub.exe", "outlook.exe",
                    "powerpnt.exe", "speechruntime.exe", "visio.exe", "winword.exe")]"#;

const INBOUND: &str = r#"[network where network.direction : ("ingress", "incoming", "inbound") and
    network.transport : "tcp" and not cidrmatch(source.ip, "127.0.0.0/8", "::1/128")]"#;

const EXPLORER_INBOUND: &str = r#"[network where network.direction : ("ingress", "incoming", "inbound") and
    network.transport : "tcp" and process.name : "explorer.exe" and destination.port >= 49152 and
    not cidrmatch(source.ip, "127.0.0.0/8", "::1/128")]"#;

const NETWORK_LOGON: &str = r#"[authentication where event.code == "4624" and winlog.logon.type == "Network" and
    not cidrmatch(source.ip, "127.0.0.0/8", "::1/128")]"#;

const EXPLORER_CHILD: &str = r#"[process where event.type == "start" and process.parent.name : "explorer.exe"]"#;

impl CorrelationRule {
    /// The rule's metadata (its `id` is [`CorrelationRule::id`]).
    pub fn metadata(self) -> &'static Metadata {
        match self {
            CorrelationRule::D2 => &D2,
            CorrelationRule::D2L => &D2L,
            CorrelationRule::D3 => &D3,
        }
    }

    /// The rule in EQL: one sequence per order of anchor and partner.
    pub fn eql(self) -> String {
        let pair = |span: &str, first: &str, by1: &str, second: &str, by2: &str| {
            format!("sequence by host.id with maxspan={span}\n  {first} by {by1}\n  {second} by {by2}")
        };
        match self {
            CorrelationRule::D2 => [
                pair("60s", SERVER_START, "process.entity_id", INBOUND, "process.entity_id"),
                pair("60s", INBOUND, "process.entity_id", SERVER_START, "process.entity_id"),
            ]
            .join("\n\n"),
            CorrelationRule::D2L => [
                pair("60s", NETWORK_LOGON, "winlog.logon.id", SERVER_START, "winlog.logon.id"),
                pair("2s", SERVER_START, "winlog.logon.id", NETWORK_LOGON, "winlog.logon.id"),
            ]
            .join("\n\n"),
            CorrelationRule::D3 => [
                pair("10s", EXPLORER_INBOUND, "process.entity_id", EXPLORER_CHILD, "process.parent.entity_id"),
                pair("10s", EXPLORER_CHILD, "process.parent.entity_id", EXPLORER_INBOUND, "process.entity_id"),
            ]
            .join("\n\n"),
        }
    }
}

impl ElasticRule {
    /// The rule's metadata (its `id`, name and severity are Elastic's).
    pub fn metadata(self) -> &'static Metadata {
        match self {
            ElasticRule::Mmc20 => &MMC20,
            ElasticRule::ShellWindows => &SHELLWINDOWS,
            ElasticRule::Hta => &HTA,
        }
    }
}

/// The seed rule's metadata, for symmetry with [`CorrelationRule::metadata`].
pub fn seed_metadata() -> &'static Metadata {
    &METADATA
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_agree_and_are_distinct() {
        let mut ids = std::collections::BTreeSet::new();
        for rule in CorrelationRule::ALL {
            assert_eq!(rule.metadata().id, rule.id());
            assert!(ids.insert(rule.id()));
            assert!(rule.eql().matches("sequence by host.id").count() == 2, "{}", rule.eql());
        }
        assert!(!ids.contains(seed_metadata().id));
    }
}
