//! Raw Windows events → ECS fields: the one mapping used for matching, the event view and
//! alerts.
//!
//! A raw event (no ECS field of its own) arrives in one of four [`Wrapper`]s and is one of the
//! [`RawKind`]s below, recognised by its channel and event id. Every ECS field the engine reads
//! from such an event comes from one table (`raw_lookup`), which states, as Winlogbeat's `sysmon` and
//! `security` modules map them, which raw field (and which transform of it) gives each ECS
//! path. The rule's fields, the event view's fields and the alert's `host`, `user` and
//! `process` objects all read through this table; there is no second copy.
//!
//! | kind | `event.category` | fields |
//! |---|---|---|
//! | Sysmon 1, Security 4688 | `process` (`event.type: start`) | `process.*`, parent, user, logon id |
//! | Sysmon 3, Security 5156 | `network` (`event.type: start, connection`) | `source.*`, `destination.*`, `network.direction`, `network.transport`, `process.pid`/`entity_id`/`executable`/`name` |
//! | Security 4624 | `authentication` (`event.type: start`) | `source.ip`/`port`, `winlog.logon.id`, `winlog.logon.type`, `user.*` |
//!
//! Values are the raw text (a pid stays `"0x1a2c"` in 4688; [`parse_number`] reads both
//! forms), except where a transform names a constant or a part of the text. Cost: a lookup is
//! a `match` on the path; no transform allocates.

/// The wrappers raw Windows events arrive in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wrapper {
    /// `evtx_dump`-style JSON: `Event.System.*`, `Event.EventData.*` (also what the EVTX
    /// reader produces).
    EvtxDump,
    /// Winlogbeat 7+ without a module: `winlog.channel`, `winlog.event_id`,
    /// `winlog.event_data.*`.
    Winlogbeat,
    /// Winlogbeat 6: `log_name`, `event_id`, `event_data.*`.
    Winlogbeat6,
    /// NXLog / OTRF flat JSON: `Channel`, `EventID` and every EventData field at the top.
    Flat,
}

impl Wrapper {
    pub(crate) const ALL: [Wrapper; 4] = [Wrapper::EvtxDump, Wrapper::Winlogbeat, Wrapper::Winlogbeat6, Wrapper::Flat];

    /// Path of the computer name.
    pub(crate) fn computer_path(self) -> &'static str {
        match self {
            Wrapper::EvtxDump => "Event.System.Computer",
            Wrapper::Winlogbeat => "winlog.computer_name",
            Wrapper::Winlogbeat6 => "computer_name",
            Wrapper::Flat => "Hostname",
        }
    }

    /// Paths of the channel, the event id, an alternative event id path, and the record
    /// number.
    pub(crate) fn header_paths(self) -> [&'static str; 4] {
        match self {
            Wrapper::EvtxDump => [
                "Event.System.Channel",
                "Event.System.EventID",
                "Event.System.EventID.#text",
                "Event.System.EventRecordID",
            ],
            Wrapper::Winlogbeat => ["winlog.channel", "winlog.event_id", "winlog.event_id", "winlog.record_id"],
            Wrapper::Winlogbeat6 => ["log_name", "event_id", "event_id", "record_number"],
            Wrapper::Flat => ["Channel", "EventID", "EventID", "RecordNumber"],
        }
    }

    /// Prefix of the EventData fields.
    pub(crate) fn data_prefix(self) -> &'static str {
        match self {
            Wrapper::EvtxDump => "Event.EventData.",
            Wrapper::Winlogbeat => "winlog.event_data.",
            Wrapper::Winlogbeat6 => "event_data.",
            Wrapper::Flat => "",
        }
    }
}

/// Which raw Windows event a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawKind {
    /// Sysmon event 1, process creation (`Microsoft-Windows-Sysmon/Operational`).
    Sysmon1,
    /// Security event 4688, process creation.
    Security4688,
    /// Sysmon event 3, network connection.
    Sysmon3,
    /// Security event 5156, a connection the Windows Filtering Platform permitted.
    Security5156,
    /// Security event 4624, a successful logon.
    Security4624,
}

impl RawKind {
    /// The kind of a raw event with this channel and event id (the channel compared without
    /// ASCII case), if it is one the engine reads.
    pub fn of(channel: &str, event_id: &str) -> Option<RawKind> {
        if channel.eq_ignore_ascii_case("Microsoft-Windows-Sysmon/Operational") {
            match event_id {
                "1" => Some(RawKind::Sysmon1),
                "3" => Some(RawKind::Sysmon3),
                _ => None,
            }
        } else if channel.eq_ignore_ascii_case("Security") {
            match event_id {
                "4688" => Some(RawKind::Security4688),
                "5156" => Some(RawKind::Security5156),
                "4624" => Some(RawKind::Security4624),
                _ => None,
            }
        } else {
            None
        }
    }

    /// Whether this kind is a process creation (the only kind the seed rule can match).
    pub fn is_process_start(self) -> bool {
        matches!(self, RawKind::Sysmon1 | RawKind::Security4688)
    }

    /// A stable short name: `sysmon_1`, `security_4688`, `sysmon_3`, `security_5156`,
    /// `security_4624`.
    pub fn name(self) -> &'static str {
        match self {
            RawKind::Sysmon1 => "sysmon_1",
            RawKind::Security4688 => "security_4688",
            RawKind::Sysmon3 => "sysmon_3",
            RawKind::Security5156 => "security_5156",
            RawKind::Security4624 => "security_4624",
        }
    }
}

/// A raw Windows field the mapping reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RawField {
    Channel,
    EventId,
    RecordId,
    Computer,
    /// Sysmon's `UtcTime`.
    UtcTime,
    /// EVTX's `System.TimeCreated`.
    TimeCreated,
    /// An EventData field, by its name.
    Data(Data),
}

/// EventData fields, named as Windows names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Data {
    Image,
    ParentImage,
    CommandLine,
    ParentCommandLine,
    NewProcessName,
    ParentProcessName,
    User,
    SubjectUserName,
    SubjectDomainName,
    SubjectUserSid,
    ProcessGuid,
    ParentProcessGuid,
    ProcessId,
    ParentProcessId,
    NewProcessId,
    CurrentDirectory,
    LogonId,
    TargetLogonId,
    TargetUserName,
    TargetDomainName,
    TargetUserSid,
    LogonType,
    IpAddress,
    IpPort,
    Initiated,
    Protocol,
    SourceIp,
    SourcePort,
    DestinationIp,
    DestinationPort,
    Application,
    Direction,
    SourceAddress,
    DestAddress,
    DestPort,
    /// 5156's process id (`ProcessID` in EVTX; NXLog writes `ProcessId`, read as
    /// [`Data::ProcessId`]).
    ProcessIdWfp,
    /// NXLog's `EventTime`: the host's local time, one-second resolution (flat wrapper only).
    EventTime,
}

impl Data {
    /// The fields the seed rule's mapping reads (decoded with every rule).
    pub(crate) const RULE: [Data; 9] = [
        Data::Image,
        Data::ParentImage,
        Data::CommandLine,
        Data::ParentCommandLine,
        Data::NewProcessName,
        Data::ParentProcessName,
        Data::User,
        Data::SubjectUserName,
        Data::SubjectDomainName,
    ];

    /// The further fields the event view reads (decoded with [`Paths::with_view`](crate::view::ecs::Paths::with_view)).
    pub(crate) const VIEW: [Data; 28] = [
        Data::EventTime,
        Data::SubjectUserSid,
        Data::ProcessGuid,
        Data::ParentProcessGuid,
        Data::ProcessId,
        Data::ParentProcessId,
        Data::NewProcessId,
        Data::CurrentDirectory,
        Data::LogonId,
        Data::TargetLogonId,
        Data::TargetUserName,
        Data::TargetDomainName,
        Data::TargetUserSid,
        Data::LogonType,
        Data::IpAddress,
        Data::IpPort,
        Data::Initiated,
        Data::Protocol,
        Data::SourceIp,
        Data::SourcePort,
        Data::DestinationIp,
        Data::DestinationPort,
        Data::Application,
        Data::Direction,
        Data::SourceAddress,
        Data::DestAddress,
        Data::DestPort,
        Data::ProcessIdWfp,
    ];

    /// The EventData name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Data::Image => "Image",
            Data::ParentImage => "ParentImage",
            Data::CommandLine => "CommandLine",
            Data::ParentCommandLine => "ParentCommandLine",
            Data::NewProcessName => "NewProcessName",
            Data::ParentProcessName => "ParentProcessName",
            Data::User => "User",
            Data::SubjectUserName => "SubjectUserName",
            Data::SubjectDomainName => "SubjectDomainName",
            Data::SubjectUserSid => "SubjectUserSid",
            Data::ProcessGuid => "ProcessGuid",
            Data::ParentProcessGuid => "ParentProcessGuid",
            Data::ProcessId => "ProcessId",
            Data::ParentProcessId => "ParentProcessId",
            Data::NewProcessId => "NewProcessId",
            Data::CurrentDirectory => "CurrentDirectory",
            Data::LogonId => "LogonId",
            Data::TargetLogonId => "TargetLogonId",
            Data::TargetUserName => "TargetUserName",
            Data::TargetDomainName => "TargetDomainName",
            Data::TargetUserSid => "TargetUserSid",
            Data::LogonType => "LogonType",
            Data::IpAddress => "IpAddress",
            Data::IpPort => "IpPort",
            Data::Initiated => "Initiated",
            Data::Protocol => "Protocol",
            Data::SourceIp => "SourceIp",
            Data::SourcePort => "SourcePort",
            Data::DestinationIp => "DestinationIp",
            Data::DestinationPort => "DestinationPort",
            Data::Application => "Application",
            Data::Direction => "Direction",
            Data::SourceAddress => "SourceAddress",
            Data::DestAddress => "DestAddress",
            Data::DestPort => "DestPort",
            Data::ProcessIdWfp => "ProcessID",
            Data::EventTime => "EventTime",
        }
    }
}

/// How a field of the view is produced from stored values.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lookup {
    /// The raw event has no such field.
    Nothing,
    /// Constant values (`event.category: process`).
    Constant(&'static [&'static str]),
    /// The values of one raw field, transformed.
    Raw(RawField, Transform),
    /// The first raw field with a value, else the second (a field two wrappers name
    /// differently).
    Either(RawField, RawField, Transform),
    /// The command line's arguments, split by the decoder ([`split_command_line`]).
    Args,
}

/// What of a stored value a mapped field takes. None allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transform {
    Whole,
    /// After the last `\` or `/` (an executable's name).
    Basename,
    /// After the first `\` (the name of `DOMAIN\name`).
    AfterBackslash,
    /// Before the first `\` (the domain of `DOMAIN\name`; nothing without one).
    BeforeBackslash,
    /// Sysmon's `Initiated` (`true` / `false`) as Winlogbeat's `network.direction`.
    Initiated,
    /// WFP's `Direction` (`%%14592` inbound, `%%14593` outbound) as `network.direction`.
    WfpDirection,
    /// An IANA protocol number (`6`, `17`) as `network.transport`; a name stays as it is,
    /// lower-cased when it is one Sysmon writes.
    Transport,
    /// A Windows logon type number as Winlogbeat's `winlog.logon.type` name.
    LogonType,
    /// Nothing for Windows' placeholder `-`, else the whole value (`IpAddress: "-"`).
    NotDash,
}

impl Transform {
    /// The transformed value, or None when the value gives this field nothing.
    pub(crate) fn apply(self, v: &str) -> Option<&str> {
        match self {
            Transform::Whole => Some(v),
            Transform::Basename => Some(windows_basename(v)),
            Transform::AfterBackslash => Some(v.split_once('\\').map_or(v, |(_, name)| name)),
            Transform::BeforeBackslash => v.split_once('\\').map(|(domain, _)| domain),
            Transform::Initiated => match v {
                "true" | "True" | "TRUE" => Some("egress"),
                "false" | "False" | "FALSE" => Some("ingress"),
                _ => None,
            },
            Transform::WfpDirection => match v {
                "%%14592" | "Inbound" => Some("ingress"),
                "%%14593" | "Outbound" => Some("egress"),
                _ => None,
            },
            Transform::Transport => Some(match v {
                "6" | "tcp" | "TCP" => "tcp",
                "17" | "udp" | "UDP" => "udp",
                "1" | "icmp" | "ICMP" => "icmp",
                "58" => "ipv6-icmp",
                other => other,
            }),
            Transform::LogonType => Some(match v {
                "2" => "Interactive",
                "3" => "Network",
                "4" => "Batch",
                "5" => "Service",
                "7" => "Unlock",
                "8" => "NetworkCleartext",
                "9" => "NewCredentials",
                "10" => "RemoteInteractive",
                "11" => "CachedInteractive",
                other => other,
            }),
            Transform::NotDash => (v != "-" && !v.is_empty()).then_some(v),
        }
    }
}

/// How Winlogbeat's `sysmon` and `security` modules fill the ECS field `path` from a raw
/// event of this kind. The single table of the raw mapping.
pub(crate) fn raw_lookup(kind: RawKind, path: &str) -> Lookup {
    use Data as D;
    use Transform as T;
    let data = |d: Data, t: Transform| Lookup::Raw(RawField::Data(d), t);
    let common = match path {
        "host.name" => Some(Lookup::Raw(RawField::Computer, T::Whole)),
        _ => None,
    };
    if let Some(lookup) = common {
        return lookup;
    }
    match kind {
        RawKind::Sysmon1 => match path {
            "event.category" => Lookup::Constant(&["process"]),
            "event.type" => Lookup::Constant(&["start"]),
            "process.name" => data(D::Image, T::Basename),
            "process.executable" => data(D::Image, T::Whole),
            "process.command_line" => data(D::CommandLine, T::Whole),
            "process.args" => Lookup::Args,
            "process.pid" => data(D::ProcessId, T::Whole),
            "process.entity_id" => data(D::ProcessGuid, T::Whole),
            "process.working_directory" => data(D::CurrentDirectory, T::Whole),
            "process.parent.name" => data(D::ParentImage, T::Basename),
            "process.parent.executable" => data(D::ParentImage, T::Whole),
            "process.parent.command_line" => data(D::ParentCommandLine, T::Whole),
            "process.parent.pid" => data(D::ParentProcessId, T::Whole),
            "process.parent.entity_id" => data(D::ParentProcessGuid, T::Whole),
            "user.name" => data(D::User, T::AfterBackslash),
            "user.domain" => data(D::User, T::BeforeBackslash),
            "winlog.logon.id" => data(D::LogonId, T::Whole),
            _ => Lookup::Nothing,
        },
        RawKind::Security4688 => match path {
            "event.category" => Lookup::Constant(&["process"]),
            "event.type" => Lookup::Constant(&["start"]),
            "process.name" => data(D::NewProcessName, T::Basename),
            "process.executable" => data(D::NewProcessName, T::Whole),
            "process.command_line" => data(D::CommandLine, T::Whole),
            "process.args" => Lookup::Args,
            "process.pid" => data(D::NewProcessId, T::Whole),
            "process.parent.name" => data(D::ParentProcessName, T::Basename),
            "process.parent.executable" => data(D::ParentProcessName, T::Whole),
            "process.parent.pid" => data(D::ProcessId, T::Whole),
            "user.name" => data(D::SubjectUserName, T::Whole),
            "user.domain" => data(D::SubjectDomainName, T::Whole),
            "user.id" => data(D::SubjectUserSid, T::Whole),
            "winlog.logon.id" => data(D::TargetLogonId, T::Whole),
            _ => Lookup::Nothing,
        },
        RawKind::Sysmon3 => match path {
            "event.category" => Lookup::Constant(&["network"]),
            "event.type" => Lookup::Constant(&["start", "connection"]),
            "process.name" => data(D::Image, T::Basename),
            "process.executable" => data(D::Image, T::Whole),
            "process.pid" => data(D::ProcessId, T::Whole),
            "process.entity_id" => data(D::ProcessGuid, T::Whole),
            "network.direction" => data(D::Initiated, T::Initiated),
            "network.transport" => data(D::Protocol, T::Transport),
            "source.ip" => data(D::SourceIp, T::Whole),
            "source.port" => data(D::SourcePort, T::Whole),
            "destination.ip" => data(D::DestinationIp, T::Whole),
            "destination.port" => data(D::DestinationPort, T::Whole),
            "user.name" => data(D::User, T::AfterBackslash),
            "user.domain" => data(D::User, T::BeforeBackslash),
            _ => Lookup::Nothing,
        },
        RawKind::Security5156 => match path {
            "event.category" => Lookup::Constant(&["network"]),
            "event.type" => Lookup::Constant(&["start", "connection"]),
            "process.name" => data(D::Application, T::Basename),
            "process.executable" => data(D::Application, T::Whole),
            "process.pid" => Lookup::Either(RawField::Data(D::ProcessIdWfp), RawField::Data(D::ProcessId), T::Whole),
            "network.direction" => data(D::Direction, T::WfpDirection),
            "network.transport" => data(D::Protocol, T::Transport),
            "source.ip" => data(D::SourceAddress, T::Whole),
            "source.port" => data(D::SourcePort, T::Whole),
            "destination.ip" => data(D::DestAddress, T::Whole),
            "destination.port" => data(D::DestPort, T::Whole),
            _ => Lookup::Nothing,
        },
        RawKind::Security4624 => match path {
            "event.category" => Lookup::Constant(&["authentication"]),
            "event.type" => Lookup::Constant(&["start"]),
            "event.outcome" => Lookup::Constant(&["success"]),
            "source.ip" => data(D::IpAddress, T::NotDash),
            "source.port" => data(D::IpPort, T::NotDash),
            "winlog.logon.id" => data(D::TargetLogonId, T::Whole),
            "winlog.logon.type" => data(D::LogonType, T::LogonType),
            "user.name" => data(D::TargetUserName, T::Whole),
            "user.domain" => data(D::TargetDomainName, T::Whole),
            "user.id" => data(D::TargetUserSid, T::Whole),
            "process.pid" => data(D::ProcessId, T::Whole),
            "process.executable" => data(D::Application, T::NotDash),
            _ => Lookup::Nothing,
        },
    }
}

/// The part after the last `\` or `/`.
pub fn windows_basename(path: &str) -> &str {
    match memchr::memrchr2(b'\\', b'/', path.as_bytes()) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Splits a Windows command line into arguments as Winlogbeat does for `process.args`
/// (its `windows.splitCommandLine`, Go's `commandLineToArgv`: the Microsoft C runtime rules,
/// with the pre-2008 treatment of `""` inside quotes): blanks (space, tab) separate
/// arguments outside quotes; `"` toggles quoting; `2n` backslashes before a quote give `n`
/// backslashes, `2n+1` give `n` and a literal quote; other backslashes are literal. Each
/// argument is handed to `emit`, in order: borrowed from `cmd` when it has no quote, else
/// built in `buf` (cleared first). No allocation once `buf` has grown.
pub fn split_command_line(mut cmd: &str, buf: &mut String, mut emit: impl FnMut(&str)) {
    loop {
        cmd = cmd.trim_start_matches([' ', '\t']);
        if cmd.is_empty() {
            return;
        }
        let (plain, rest) = next_arg(cmd, buf);
        match plain {
            Some(arg) => emit(arg),
            None => emit(buf),
        }
        cmd = rest;
    }
}

/// One argument from the start of `cmd` (which starts with no blank): `Some(slice)` when the
/// argument is `cmd`'s own text, else `None` with the argument written to `out`; and the rest.
fn next_arg<'c>(cmd: &'c str, out: &mut String) -> (Option<&'c str>, &'c str) {
    let bytes = cmd.as_bytes();
    // Fast path: no quote before the next blank (backslashes are literal unless they
    // precede a quote).
    let end = bytes.iter().position(|&b| b == b' ' || b == b'\t').unwrap_or(bytes.len());
    if !bytes[..end].contains(&b'"') {
        return (Some(&cmd[..end]), &cmd[end..]);
    }
    out.clear();
    let mut in_quote = false;
    let mut slashes = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' if !in_quote => {
                push_slashes(out, slashes);
                return (None, &cmd[i + 1..]);
            }
            b'"' => {
                push_slashes(out, slashes / 2);
                if slashes.is_multiple_of(2) {
                    if in_quote && bytes.get(i + 1) == Some(&b'"') {
                        out.push('"');
                        i += 1;
                    }
                    in_quote = !in_quote;
                } else {
                    out.push('"');
                }
                slashes = 0;
                i += 1;
                continue;
            }
            b'\\' => {
                slashes += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        push_slashes(out, slashes);
        slashes = 0;
        // Copy the whole UTF-8 character.
        let len = utf8_len(c);
        out.push_str(&cmd[i..i + len]);
        i += len;
    }
    push_slashes(out, slashes);
    (None, "")
}

fn push_slashes(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push('\\');
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// A Windows number as raw events write it: decimal (`"6700"`) or hexadecimal with `0x`
/// (`"0x1A2C"`, any case), as JSON numbers or strings. None for anything else.
pub fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_decimal_or_prefixed_hex() {
        assert_eq!(parse_number("6700"), Some(6700));
        assert_eq!(parse_number("0x1a2c"), Some(0x1a2c));
        assert_eq!(parse_number("0X191EE68"), Some(0x191ee68));
        for bad in ["", "0x", "-1", "1.0", "12a", "0xg", "+5", "99999999999999999999999"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn kinds_by_channel_and_id() {
        assert_eq!(RawKind::of("microsoft-windows-sysmon/operational", "3"), Some(RawKind::Sysmon3));
        assert_eq!(RawKind::of("Security", "4624"), Some(RawKind::Security4624));
        assert_eq!(RawKind::of("Security", "1"), None);
        assert_eq!(RawKind::of("System", "4688"), None);
        assert!(RawKind::Security4688.is_process_start() && !RawKind::Sysmon3.is_process_start());
    }

    #[test]
    fn only_process_starts_are_in_the_process_category() {
        // The seed rule reads `process where ...`: a network or logon event must never map
        // to the process category, or the seed verdicts would change.
        for kind in [RawKind::Sysmon3, RawKind::Security5156, RawKind::Security4624] {
            match raw_lookup(kind, "event.category") {
                Lookup::Constant(c) => assert!(!c.contains(&"process"), "{kind:?}"),
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }

    fn split(cmd: &str) -> Vec<String> {
        let mut out = Vec::new();
        split_command_line(cmd, &mut String::new(), |a| out.push(a.to_owned()));
        out
    }

    #[test]
    fn command_lines_split_as_windows_does() {
        assert_eq!(split(r#"C:\Windows\system32\mmc.exe -Embedding"#), [r"C:\Windows\system32\mmc.exe", "-Embedding"]);
        assert_eq!(
            split(r#""C:\Program Files (x86)\EXCEL.EXE" /automation -Embedding"#),
            [r"C:\Program Files (x86)\EXCEL.EXE", "/automation", "-Embedding"]
        );
        assert_eq!(split("  a\t b  "), ["a", "b"]);
        assert_eq!(split(""), Vec::<String>::new());
        // The Microsoft rules: backslashes before a quote, quotes inside an argument.
        assert_eq!(split(r#"a\\\"b "c d" e"f"g"#), [r#"a\"b"#, "c d", "efg"]);
        assert_eq!(split(r#"a\\"b c" d"#), [r"a\b c", "d"]);
        // `""` inside quotes is a literal quote and ends the quoting (the pre-2008 rule).
        assert_eq!(split(r#""a""b" c"#), [r#"a"b c"#]);
        assert_eq!(split(r#"x\\y "é ü""#), [r"x\\y", "é ü"]);
        assert_eq!(split(r#""unterminated \"#), [r"unterminated \"]);
    }

    #[test]
    fn transforms() {
        assert_eq!(Transform::Initiated.apply("false"), Some("ingress"));
        assert_eq!(Transform::Initiated.apply("maybe"), None);
        assert_eq!(Transform::WfpDirection.apply("%%14592"), Some("ingress"));
        assert_eq!(Transform::Transport.apply("6"), Some("tcp"));
        assert_eq!(Transform::LogonType.apply("3"), Some("Network"));
        assert_eq!(Transform::NotDash.apply("-"), None);
        assert_eq!(Transform::BeforeBackslash.apply("name"), None);
    }
}
