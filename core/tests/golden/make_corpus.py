#!/usr/bin/env python3
"""Writes the golden corpus: events.ndjson (one record per line) and expected.tsv.

This file is the corpus's source of truth: each case is a record and the verdict docs/semantics.md
(Elasticsearch's semantics) demands for it under each case folding, worked out by hand and
explained in `why`. Every front end (Rust, C, Python, Arrow) replays the generated files and
must agree. Run it after editing a case: python3 core/tests/golden/make_corpus.py

expected.tsv columns: line, ascii, unicode_simple, id. The two verdict columns are branch bit
sets (1 office_child, 2 dcomcnfg, 4 dcom_command_line) or -1 when the record must be rejected.
"""
import json
import pathlib

OFFICE, DCOMCNFG, CMDLINE, REJECT = 1, 2, 4, -1
START = {"category": ["process"], "type": ["start"]}


def ecs(process, event=START, **extra):
    doc = {"@timestamp": "2024-05-01T10:00:00.000Z", "event": event, "process": process}
    doc.update(extra)
    return json.dumps(doc, ensure_ascii=False)


def child(parent, name, command_line=None):
    p = {"name": name, "parent": {"name": parent}}
    if command_line is not None:
        p["command_line"] = command_line
    return ecs(p)


SYSMON = "Microsoft-Windows-Sysmon/Operational"
MMC = "C:\\Windows\\System32\\mmc.exe"
CMD = "C:\\Windows\\System32\\cmd.exe"

# (id, record, ascii, unicode_simple, why)
CASES = [
    # --- the three branches
    ("office_child/mmc_cmd", child("mmc.exe", "cmd.exe", '"C:\\Windows\\System32\\cmd.exe" /Q /c whoami'), OFFICE, OFFICE, "§1 branch 1"),
    ("office_child/every_parent", None, None, None, "expanded below"),
    ("dcomcnfg/exact", ecs({"name": "dcomcnfg.exe", "parent": {"name": "explorer.exe"}}), DCOMCNFG, DCOMCNFG, "§1 branch 2"),
    ("dcom_command_line/both", ecs({"name": "powershell.exe", "command_line": "powershell -ExecutionPolicy Bypass -File Invoke-DCOM.ps1"}), CMDLINE, CMDLINE, "§1 branch 3"),
    ("all_branches", ecs({"name": ["dcomcnfg.exe", "cmd.exe"], "parent": {"name": "mmc.exe"}, "command_line": "x DCOM y -Exec z"}), OFFICE | DCOMCNFG | CMDLINE, OFFICE | DCOMCNFG | CMDLINE, "a verdict names every branch"),
    ("office_and_cmdline", child("excel.exe", "cmd.exe", "cmd /c dcom.exe -execute"), OFFICE | CMDLINE, OFFICE | CMDLINE, "two branches"),
    # --- §2.1 process where
    ("category/missing", ecs({"name": "dcomcnfg.exe"}, event={"type": ["start"]}), 0, 0, "§2.1 missing category"),
    ("category/null", ecs({"name": "dcomcnfg.exe"}, event={"category": None, "type": "start"}), 0, 0, "§2.1 null"),
    ("category/empty_array", ecs({"name": "dcomcnfg.exe"}, event={"category": [], "type": "start"}), 0, 0, "§2.1 []"),
    ("category/empty_string", ecs({"name": "dcomcnfg.exe"}, event={"category": "", "type": "start"}), 0, 0, "§2.1 empty"),
    ("category/case", ecs({"name": "dcomcnfg.exe"}, event={"category": "Process", "type": "start"}), 0, 0, "§2.1 case-sensitive"),
    ("category/second_value", ecs({"name": "dcomcnfg.exe"}, event={"category": ["host", "process"], "type": "start"}), DCOMCNFG, DCOMCNFG, "§2.6 any value"),
    ("category/null_in_array", ecs({"name": "dcomcnfg.exe"}, event={"category": [None, "process"], "type": "start"}), DCOMCNFG, DCOMCNFG, "§2.8 nulls skipped"),
    ("category/only_null_in_array", ecs({"name": "dcomcnfg.exe"}, event={"category": [None], "type": "start"}), 0, 0, "§2.8 [null]"),
    ("category/number", ecs({"name": "dcomcnfg.exe"}, event={"category": 1, "type": "start"}), 0, 0, "§2.8 number as text"),
    # --- §2.2 ==
    ("type/missing", ecs({"name": "dcomcnfg.exe"}, event={"category": "process"}), 0, 0, "event.type required"),
    ("type/upper", ecs({"name": "dcomcnfg.exe"}, event={"category": "process", "type": "START"}), 0, 0, "§2.2 == is case-sensitive"),
    ("type/process_start_pair", ecs({"name": "dcomcnfg.exe"}, event={"category": ["process"], "type": ["start", "process_start"]}), DCOMCNFG, DCOMCNFG, "Winlogbeat's pair"),
    ("type/end", ecs({"name": "dcomcnfg.exe"}, event={"category": ["process"], "type": ["end"]}), 0, 0, "process end"),
    ("type/padded", ecs({"name": "dcomcnfg.exe"}, event={"category": "process", "type": " start"}), 0, 0, "§2.2 no trimming"),
    ("dcomcnfg/upper", ecs({"name": "DCOMCNFG.EXE"}), 0, 0, "§2.2 DCOMCNFG.EXE == dcomcnfg.exe is false"),
    ("dcomcnfg/mixed", ecs({"name": "DcomCnfg.exe"}), 0, 0, "§2.2"),
    ("dcomcnfg/trailing_space", ecs({"name": "dcomcnfg.exe "}), 0, 0, "§2.2 no trimming"),
    ("dcomcnfg/kelvin_irrelevant", ecs({"name": "dcomcnfg.exe"}, event={"category": "process", "type": "start"}), DCOMCNFG, DCOMCNFG, "scalar category and type"),
    # --- §2.3 in~
    ("in/parent_upper", child("MMC.EXE", "cmd.exe"), OFFICE, OFFICE, "§2.3 ignores case"),
    ("in/winword_mixed", child("WINWORD.exe", "rundll32.exe"), OFFICE, OFFICE, "§2.3 real case from EVTX"),
    ("in/child_upper", child("outlook.exe", "PowerShell.EXE"), OFFICE, OFFICE, "§2.3"),
    ("in/whole_value", child("mmc.exe.bak", "cmd.exe"), 0, 0, "§2.3 whole-value"),
    ("in/path_not_basename", child("C:\\Windows\\System32\\mmc.exe", "cmd.exe"), 0, 0, "§2.3 whole-value, no basename in ECS"),
    ("in/no_wildcards", child("mmc.exe", "c?d.exe"), 0, 0, "§2.3 no wildcards"),
    ("in/child_not_listed", child("mmc.exe", "calc.exe"), 0, 0, "ART test 1 child"),
    ("in/parent_not_listed", child("explorer.exe", "cmd.exe"), 0, 0, "ShellWindows"),
    ("in/parent_missing", ecs({"name": "cmd.exe"}), 0, 0, "§2.7 missing parent"),
    ("in/trailing_space", child("mmc.exe ", "cmd.exe"), 0, 0, "no trimming"),
    # --- §2.4 :
    ("wildcard/lowercase", ecs({"command_line": "remote dcom call -exec"}), CMDLINE, CMDLINE, "§2.4 case-insensitive"),
    ("wildcard/only_dcom", ecs({"command_line": "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p"}), 0, 0, "near miss"),
    ("wildcard/only_exec", ecs({"command_line": "powershell.exe -NonI -W Hidden -NoP -Exec Bypass -Enc AAAA"}), 0, 0, "near miss"),
    ("wildcard/exec_before_dcom", ecs({"command_line": "-ExecutionPolicy x DCOM"}), CMDLINE, CMDLINE, "order is free"),
    ("wildcard/newlines", ecs({"command_line": "a\nDCOM\n\n-Exec\r\n"}), CMDLINE, CMDLINE, "§2.4 * spans newlines"),
    ("wildcard/exec_without_dash", ecs({"command_line": "dcom exec"}), 0, 0, "the dash is literal"),
    ("wildcard/overlap", ecs({"command_line": "DCOM-Exec"}), CMDLINE, CMDLINE, "adjacent"),
    ("wildcard/star_literal_text", ecs({"command_line": "*DCOM* *-Exec*"}), CMDLINE, CMDLINE, "stars in the value are text"),
    ("wildcard/long", ecs({"command_line": "-Exec " + "x" * 200_000 + " DCOM"}), CMDLINE, CMDLINE, "§2.9 wildcard field has no limit"),
    # --- §2.6 multi-valued
    ("multi/command_line_split", ecs({"command_line": ["a DCOM", "b -Exec"]}), CMDLINE, CMDLINE, "§2.6 worked example"),
    ("multi/parent_array", ecs({"name": "cmd.exe", "parent": {"name": ["explorer.exe", "mmc.exe"]}}), OFFICE, OFFICE, "§2.6"),
    ("multi/name_array", ecs({"name": ["notepad.exe", "mshta.exe"], "parent": {"name": "powerpnt.exe"}}), OFFICE, OFFICE, "§2.6"),
    # --- §2.7 missing
    ("missing/command_line", child("mmc.exe", "cmd.exe"), OFFICE, OFFICE, "§2.7 only disables branch 3"),
    ("missing/everything", ecs({}), 0, 0, "§2.7"),
    ("missing/null_fields", ecs({"name": None, "parent": {"name": None}, "command_line": None}), 0, 0, "§2.7"),
    # --- §2.8 document model
    ("doc/dotted", json.dumps({"event.category": "process", "event.type": "start", "process.name": "cmd.exe", "process.parent.name": "excel.exe"}), OFFICE, OFFICE, "§2.8 dotted keys"),
    ("doc/mixed_dotted", json.dumps({"event": {"category": "process", "type": "start"}, "process": {"parent.name": "outlook.exe", "name": "mshta.exe"}}), OFFICE, OFFICE, "§2.8 mixed"),
    ("doc/dotted_object", json.dumps({"event": {"category": "process", "type": "start"}, "process.parent": {"name": "visio.exe"}, "process": {"name": "cscript.exe"}}), OFFICE, OFFICE, "§2.8 dotted object key"),
    ("doc/both_ways", json.dumps({"event": START, "process.name": "notepad.exe", "process": {"name": "dcomcnfg.exe"}}), DCOMCNFG, DCOMCNFG, "§2.8 both values"),
    ("doc/array_of_objects", json.dumps({"event": START, "process": [{"name": "notepad.exe"}, {"name": "regsvr32.exe"}], "process.parent.name": "mmc.exe"}), OFFICE, OFFICE, "§2.8 arrays of objects"),
    ("doc/nested_arrays", json.dumps({"event": START, "process": {"name": [["a.exe"], [["certutil.exe"]]], "parent": [[{"name": "mmc.exe"}]]}}), OFFICE, OFFICE, "nested arrays flatten"),
    ("doc/escape_parent", '{"event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"\\u006dmc.exe"}}}', OFFICE, OFFICE, "§2.8 escapes decoded"),
    ("doc/escape_dcom", '{"event":{"category":"process","type":"start"},"process":{"command_line":"x \\u0044COM -\\u0045xec"}}', CMDLINE, CMDLINE, "§2.8 worked example"),
    ("doc/escape_key", '{"event":{"category":"process","type":"start"},"process":{"\\u006eame":"dcomcnfg.exe"}}', DCOMCNFG, DCOMCNFG, "keys are unescaped too"),
    ("doc/escape_dotted_key", '{"event":{"category":"process","type":"start"},"process\\u002ename":"dcomcnfg.exe"}', DCOMCNFG, DCOMCNFG, "an escaped dot still splits the key"),
    ("doc/escape_surrogate_pair", '{"event":{"category":"process","type":"start"},"process":{"command_line":"\\ud83d\\ude00 DCOM -Exec"}}', CMDLINE, CMDLINE, "astral escape"),
    ("doc/lone_surrogate", '{"event":{"category":"process","type":"start"},"process":{"command_line":"\\ud800 DCOM -Exec"}}', CMDLINE, CMDLINE, "lone surrogate becomes U+FFFD"),
    ("doc/escaped_nul", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe\\u0000"}}', 0, 0, "NUL is a character"),
    ("doc/number_name", ecs({"name": 123, "parent": {"name": True}}), 0, 0, "§2.8 numbers and booleans as text"),
    ("doc/whitespace", '  {  "event" : { "category" : "process" , "type" : [ "start" ] } ,\t"process" : { "name" : "dcomcnfg.exe" } }  ', DCOMCNFG, DCOMCNFG, "insignificant whitespace"),
    ("doc/unrelated_depth", json.dumps({"event": START, "process": {"name": "dcomcnfg.exe"}, "x": [[[[[[{"y": [1, 2, {"z": None}]}]]]]]]}), DCOMCNFG, DCOMCNFG, "unwanted data is skipped"),
    ("doc/same_key_other_objects", json.dumps({"event": START, "a": {"k": 1}, "b": {"k": 1}, "process": {"name": "dcomcnfg.exe"}}), DCOMCNFG, DCOMCNFG, "same key in different objects is fine"),
    ("doc/ecs_wins_over_raw", json.dumps({"event": START, "winlog": {"channel": SYSMON, "event_id": 1, "event_data": {"Image": CMD, "ParentImage": MMC}}}), 0, 0, "§3 a document with ECS fields is read as ECS"),
    # --- §2.8 rejected records
    ("reject/duplicate_key", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe","name":"x"}}', REJECT, REJECT, "§2.8 duplicate key"),
    ("reject/duplicate_after_unescape", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"pro\\u0063ess":{}}', REJECT, REJECT, "duplicates compare unescaped"),
    ("reject/duplicate_in_unwanted", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"x":{"a":1,"b":2,"a":3}}', REJECT, REJECT, "every object is checked"),
    ("reject/truncated", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"', REJECT, REJECT, "truncated"),
    ("reject/trailing_comma", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe",}}', REJECT, REJECT, "strict JSON"),
    ("reject/single_quotes", "{'event':{'category':'process'}}", REJECT, REJECT, "strict JSON"),
    ("reject/top_level_array", '[{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}}]', REJECT, REJECT, "not an object"),
    ("reject/top_level_number", "42", REJECT, REJECT, "not an object"),
    ("reject/trailing_data", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}} {}', REJECT, REJECT, "one object per record"),
    ("reject/bad_escape", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg\\x.exe"}}', REJECT, REJECT, "invalid escape"),
    ("reject/control_char", '{"event":{"category":"process","type":"start"},"process":{"name":"dcom\tcnfg.exe"}}', REJECT, REJECT, "raw tab inside a string"),
    ("reject/leading_zero", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe","pid":012}}', REJECT, REJECT, "strict numbers"),
    ("reject/empty_key", '{"event":{"category":"process","type":"start"},"":1,"process":{"name":"dcomcnfg.exe"}}', REJECT, REJECT, "empty field name"),
    ("reject/empty_key_part", '{"event":{"category":"process","type":"start"},"process..name":"dcomcnfg.exe"}', REJECT, REJECT, "empty part of a dotted name"),
    ("reject/object_at_keyword", '{"event":{"category":"process","type":"start"},"process":{"name":{"x":"dcomcnfg.exe"}}}', REJECT, REJECT, "mapping conflict"),
    ("reject/value_at_object", '{"event":{"category":"process","type":"start"},"process":"dcomcnfg.exe"}', REJECT, REJECT, "mapping conflict"),
    ("reject/too_deep", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"x":' + "[" * 1000 + "]" * 1000 + "}", REJECT, REJECT, "nesting limit 1000"),
    # --- §2.5 case folding
    ("fold/kelvin_parent", child("outloo\u212a.exe", "cmd.exe"), 0, OFFICE, "§2.5 KELVIN SIGN folds to k"),
    ("fold/long_s_parent", child("vi\u017fio.exe", "wscript.exe"), 0, OFFICE, "§2.5 LONG S folds to s"),
    ("fold/long_s_child", child("mmc.exe", "c\u017fcript.exe"), 0, OFFICE, "§2.5"),
    ("fold/dotted_capital_i", child("mmc.exe", "certut\u0130l.exe"), 0, 0, "§2.5 İ folds to nothing new"),
    ("fold/dotless_i", child("w\u0131nword.exe", "cmd.exe"), 0, 0, "§2.5 ı folds to nothing new"),
    ("fold/fullwidth", child("\uff2d\uff2d\uff23.exe", "cmd.exe"), 0, 0, "fullwidth letters are other letters"),
    ("fold/kelvin_escaped", '{"event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"outloo\\u212a.exe"}}}', 0, OFFICE, "escape then fold"),
    ("fold/dcomcnfg_kelvin_no_effect", ecs({"name": "dcomcnfg.exe"}), DCOMCNFG, DCOMCNFG, "== never folds"),
    # --- §2.9 keyword limit
    ("limit/long_category_value", ecs({"name": "dcomcnfg.exe"}, event={"category": ["x" * 2000, "process"], "type": "start"}), DCOMCNFG, DCOMCNFG, "§2.9 per element"),
    ("limit/long_parent_value", ecs({"name": "cmd.exe", "parent": {"name": ["m" * 5000, "mmc.exe"]}}), OFFICE, OFFICE, "§2.9"),
    # --- §3 raw schemas
    ("raw/flat_sysmon", json.dumps({"EventID": 1, "Channel": SYSMON, "Image": CMD, "ParentImage": MMC, "CommandLine": "cmd /c whoami", "Hostname": "WORKSTATION6"}), OFFICE, OFFICE, "§3 NXLog/OTRF flat"),
    ("raw/flat_sysmon_3", json.dumps({"EventID": 3, "Channel": SYSMON, "Image": CMD, "ParentImage": MMC}), 0, 0, "§3 other event ids never match"),
    ("raw/flat_4688_lowercase", json.dumps({"EventID": 4688, "Channel": "security", "NewProcessName": "C:\\Windows\\System32\\dcomcnfg.exe", "ParentProcessName": "C:\\Windows\\explorer.exe"}), DCOMCNFG, DCOMCNFG, "§3 Security in any case"),
    ("raw/flat_4688_no_parent", json.dumps({"EventID": 4688, "Channel": "Security", "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": ""}), 0, 0, "old OS: no parent"),
    ("raw/flat_4688_cmdline", json.dumps({"EventID": "4688", "Channel": "Security", "NewProcessName": "C:\\x\\powershell.exe", "CommandLine": "powershell -exec bypass Invoke-DCOM"}), CMDLINE, CMDLINE, "string event id"),
    ("raw/winlogbeat6", json.dumps({"log_name": SYSMON, "event_id": 1, "computer_name": "IT001", "event_data": {"Image": CMD, "ParentImage": "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE"}}), OFFICE, OFFICE, "§3 Winlogbeat 6"),
    ("raw/winlogbeat7", json.dumps({"winlog": {"channel": SYSMON, "event_id": 1, "event_data": {"Image": CMD, "ParentImage": MMC}}}), OFFICE, OFFICE, "§3 Winlogbeat 7+ raw"),
    ("raw/evtx_dump", json.dumps({"Event": {"System": {"Channel": SYSMON, "EventID": 1, "EventRecordID": 9833}, "EventData": {"Image": CMD, "ParentImage": MMC}}}), OFFICE, OFFICE, "§3 evtx_dump"),
    ("raw/evtx_dump_qualifiers", json.dumps({"Event": {"System": {"Channel": "Security", "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 4688}}, "EventData": {"NewProcessName": "C:\\Windows\\System32\\dcomcnfg.exe"}}}), DCOMCNFG, DCOMCNFG, "EventID with qualifiers"),
    ("raw/forward_slashes", json.dumps({"EventID": 1, "Channel": SYSMON, "Image": "C:/Windows/System32/cmd.exe", "ParentImage": "C:/Windows/System32/MMC.exe"}), OFFICE, OFFICE, "basename splits on / too"),
    ("raw/no_directory", json.dumps({"EventID": 1, "Channel": SYSMON, "Image": "cmd.exe", "ParentImage": "mmc.exe"}), OFFICE, OFFICE, "basename of a bare name"),
    ("raw/basename_case", json.dumps({"EventID": 1, "Channel": SYSMON, "Image": "C:\\Windows\\System32\\DCOMCNFG.EXE"}), 0, 0, "== stays case-sensitive after mapping"),
    ("raw/other_channel", json.dumps({"EventID": 1, "Channel": "Application", "Image": CMD, "ParentImage": MMC}), 0, 0, "§3 other channels never match"),
    ("raw/flat_with_host_string", json.dumps({"EventID": 1, "Channel": SYSMON, "host": "wec.internal", "Image": CMD, "ParentImage": MMC}), OFFICE, OFFICE, "raw documents have no ECS mapping conflicts"),
    # --- §2.8 field names as Elasticsearch expands them (DotExpandingXContentParser)
    ("doc/trailing_dot_key", '{"event":{"category":"process","type":"start"},"process.name.":"dcomcnfg.exe"}', DCOMCNFG, DCOMCNFG, "trailing dots are dropped: process.name. is process.name"),
    ("doc/trailing_dots_object", '{"event":{"category":"process","type":"start"},"process..":{"name":"dcomcnfg.exe"}}', DCOMCNFG, DCOMCNFG, "process.. is process"),
    ("doc/trailing_dot_beside_plain_key", '{"event":{"category":"process","type":"start"},"process":{"name":"x.exe","name.":"dcomcnfg.exe"}}', DCOMCNFG, DCOMCNFG, "name and name. are different keys to Jackson, one field with two values to Elasticsearch"),
    ("doc/nbsp_key", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"\u00a0":1}', DCOMCNFG, DCOMCNFG, "a no-break space is not Java whitespace: a valid name"),
    ("reject/blank_key", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}," ":1}', REJECT, REJECT, "field name cannot contain only whitespace"),
    ("reject/blank_key_unicode", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"\u3000\t":1}', REJECT, REJECT, "ideographic space and tab are Java whitespace"),
    ("reject/blank_key_part", '{"event":{"category":"process","type":"start"},"process. .name":"dcomcnfg.exe"}', REJECT, REJECT, "a blank part makes object resolution ambiguous"),
    ("reject/blank_last_part", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"x. ":1}', REJECT, REJECT, "a blank part is not dropped like an empty one"),
    ("reject/leading_dot", '{"event":{"category":"process","type":"start"},".process.name":"dcomcnfg.exe"}', REJECT, REJECT, "a leading empty part"),
    ("reject/dotted_key_through_keyword", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"process.name.x":1}', REJECT, REJECT, "Existing mapping for [process.name] must be of type object but found [keyword]"),
    ("reject/dotted_key_through_keyword_inside", '{"event":{"category":"process","type":"start"},"process":{"name.x":"dcomcnfg.exe"}}', REJECT, REJECT, "the same from inside process"),
    ("doc/dotted_key_beside_keyword", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe","namex.y":1,"parent.name.":"x"}}', DCOMCNFG, DCOMCNFG, "a sibling key, and a trailing dot, are not subfields of the keyword"),
    ("raw/dotted_key_through_raw_field", json.dumps({"EventID": 1, "Channel": SYSMON, "Image": CMD, "ParentImage": MMC, "Image.x": 1}), OFFICE, OFFICE, "raw documents have no ECS mapping"),
    ("reject/only_dots", '{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"},"..":1}', REJECT, REJECT, "field name cannot contain only dots"),
]


def expand():
    for case in CASES:
        if case[0] == "office_child/every_parent":
            for parent in ["mmc.exe", "excel.exe", "winword.exe", "outlook.exe", "powerpnt.exe", "visio.exe"]:
                for name in ["cmd.exe", "powershell.exe", "wscript.exe", "cscript.exe", "mshta.exe", "rundll32.exe", "regsvr32.exe", "certutil.exe"]:
                    yield (f"office_child/{parent}/{name}", child(parent, name), OFFICE, OFFICE, "§1 every pair")
            continue
        yield case


def main():
    here = pathlib.Path(__file__).resolve().parent
    records, rows, seen = [], ["line\tascii\tunicode_simple\tid"], set()
    for i, (case_id, record, ascii_bits, unicode_bits, _why) in enumerate(expand(), start=1):
        assert case_id not in seen, case_id
        assert "\n" not in record and "\r" not in record, case_id
        seen.add(case_id)
        records.append(record.encode("utf-8"))
        rows.append(f"{i}\t{ascii_bits}\t{unicode_bits}\t{case_id}")
    # One record that is not UTF-8 at all.
    records.append(b'{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe\xff"}}')
    rows.append(f"{len(records)}\t{REJECT}\t{REJECT}\treject/invalid_utf8")
    (here / "events.ndjson").write_bytes(b"\n".join(records) + b"\n")
    (here / "expected.tsv").write_text("\n".join(rows) + "\n")
    print(f"{len(records)} records")


if __name__ == "__main__":
    main()
