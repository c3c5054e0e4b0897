"""Tuning from Python: Rule(exceptions=...) from every kind of argument, every error, the four
false-positive families of examples/exceptions.json (each suppresses its case, near misses
still alert; mirrors core/tests/exceptions.rs), Verdict.suppressed_by, scans that list and
count suppressed records, pickling, and the validation report."""

from __future__ import annotations

import copy
import io
import json
import math
import pathlib
import pickle
from typing import Any

import pytest

import dcom_detect
from conftest import DATA, REPO, SAMPLE_NAME
from dcom_detect import ExceptionItem, ExceptionsFileError, Rule, UnreadableInputError

EXAMPLE = REPO / "examples" / "exceptions.json"
EXAMPLE_BYTES = EXAMPLE.read_bytes()
EXAMPLE_DATA: dict[str, Any] = json.loads(EXAMPLE_BYTES)
NAMES = [item["name"] for item in EXAMPLE_DATA["exceptions"]]
REALDATA = REPO.parent / "shared" / "realdata"
GOLDEN_ALERTS = (DATA / "sample_alerts.ndjson").read_text(encoding="utf-8").splitlines()


def ev(host: str, user: str, parent: str, name: str, command_line: str, **process: Any) -> dict[str, Any]:
    """A process start in ECS, as the families' cases are written in core/tests/exceptions.rs."""
    return {
        "event": {"category": ["process"], "type": ["start"]},
        "host": {"name": host},
        "user": {"name": user},
        "process": {"name": name, "command_line": command_line, "parent": {"name": parent}, **process},
    }


SIGNED = {"code_signature": {"subject_name": "Microsoft Windows", "trusted": True}}
ADMIN = ev("mgmt-ws-03", "adm_kwright", "mmc.exe", "powershell.exe", "powershell.exe -NoExit -Command Get-Service")
EDR = ev(
    "ws-hr-0117", "SYSTEM", "mmc.exe", "powershell.exe",
    r"powershell.exe -File C:\Program Files\Contoso EDR\response\collect.ps1", **SIGNED,
)  # fmt: skip
SCCM = ev("ws-sales-0233", "SYSTEM", "WINWORD.EXE", "cmd.exe", r"cmd.exe /c C:\Windows\CCM\ccmsetup.exe /update")
FINANCE = ev("ws-fin-0042", "mlopez", "EXCEL.EXE", "wscript.exe", r"wscript.exe \\fileserver\finance\approved-macros\close.vbs")
#: Each family's case and the item that must suppress it.
FAMILIES = [(ADMIN, NAMES[0]), (EDR, NAMES[1]), (SCCM, NAMES[2]), (FINANCE, NAMES[3])]


def changed(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``event`` with the dotted ``path`` set to ``value`` (removed when None)."""
    out = copy.deepcopy(event)
    *parents, last = path.split(".")
    target = out
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return out


#: One condition off each time: every one must still alert.
NEAR_MISSES = [
    changed(ADMIN, "host.name", "ws-fin-0042"),
    changed(ADMIN, "user.name", "jdoe"),
    changed(ADMIN, "process.command_line", "powershell.exe -nop -enc SQBFAFgA"),
    changed(ADMIN, "process.name", "cmd.exe"),
    changed(EDR, "process.command_line", r"powershell.exe -File C:\Program Files\Temp\response\collect.ps1"),
    changed(EDR, "process.code_signature", None),
    changed(EDR, "process.code_signature.trusted", False),
    changed(SCCM, "user.name", "bob"),
    changed(SCCM, "host.name", "dc-01"),
    changed(SCCM, "process.command_line", r"cmd.exe /c C:\Users\Public\ccmsetup.exe /update"),
    changed(FINANCE, "host.name", "ws-hr-0117"),
    changed(FINANCE, "process.command_line", r"wscript.exe \\fileserver\finance\downloads\close.vbs"),
    changed(FINANCE, "process.command_line", r"wscript.exe \\fileserver\finance\approved-macros\http-get.vbs"),
    changed(FINANCE, "process.name", "mshta.exe"),
    # Genuine DCOM lateral movement (impacket's dcomexec) on a host and by a user that
    # appear in the exceptions.
    ev("ws-fin-0042", "adm_kwright", "mmc.exe", "cmd.exe", r"cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1556656511.61 2>&1"),
]


@pytest.fixture(scope="module")
def tuned() -> Rule:
    return Rule(exceptions=EXAMPLE)


# -- loading --------------------------------------------------------------------------------


def test_every_kind_of_argument_gives_the_same_rule(in_repo: pathlib.Path) -> None:
    text = EXAMPLE_BYTES.decode("utf-8")
    rules = {
        "path str": Rule(exceptions=str(EXAMPLE)),
        "pathlib.Path": Rule(exceptions=EXAMPLE),
        "bytes": Rule(exceptions=EXAMPLE_BYTES),
        "bytearray": Rule(exceptions=bytearray(EXAMPLE_BYTES)),
        "dict": Rule(exceptions=EXAMPLE_DATA),
        "list": Rule(exceptions=EXAMPLE_DATA["exceptions"]),
        "str JSON": Rule(exceptions=text),
        "str JSON after whitespace": Rule(exceptions="\n\t  " + text),
        "str JSON list": Rule(exceptions=json.dumps(EXAMPLE_DATA["exceptions"])),
    }
    expected = tuple(ExceptionItem for _ in NAMES)
    for how, rule in rules.items():
        assert [item.name for item in rule.exceptions] == NAMES, how
        assert tuple(type(item) for item in rule.exceptions) == expected
        assert rule == rules["path str"] and hash(rule) == hash(rules["path str"]), how
        verdicts = [rule.evaluate(event).suppressed_by for event, _ in FAMILIES]
        assert verdicts == NAMES, how
    item = rules["dict"].exceptions[0]
    assert item.description is not None and item.description.startswith("Tier-1 admins")
    assert item == rules["bytes"].exceptions[0] and hash(item) == hash(rules["bytes"].exceptions[0])
    assert repr(item).startswith("ExceptionItem(name='Managed endpoints: administrators start PowerShell from MMC', description=")
    # A relative path, and a path object of another kind.
    assert Rule(exceptions="examples/exceptions.json") == rules["dict"]
    assert Rule(exceptions=pathlib.PurePosixPath("examples/exceptions.json")) == rules["dict"]  # type: ignore[arg-type]


def test_a_str_is_json_only_when_it_starts_with_a_bracket(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented rule: after leading whitespace, ``{`` or ``[`` means JSON text;
    anything else is a path. A file whose name starts with a bracket needs a Path."""
    odd = tmp_path / "[tuning].json"
    odd.write_bytes(EXAMPLE_BYTES)
    assert len(Rule(exceptions=odd).exceptions) == 4
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExceptionsFileError, match="not valid JSON"):
        Rule(exceptions="[tuning].json")
    (tmp_path / " tuning.json").write_bytes(EXAMPLE_BYTES)
    assert len(Rule(exceptions=" tuning.json").exceptions) == 4  # whitespace, then no bracket: a path


def test_no_exceptions() -> None:
    assert Rule().exceptions == () and Rule(exceptions=None).exceptions == ()
    empty = Rule(exceptions={"exceptions": []})
    assert empty.exceptions == ()
    # No item: the same rule as no exceptions file.
    assert empty == Rule() and hash(empty) == hash(Rule())
    assert repr(empty) == "Rule(exceptions=<0 items>, case_folding='ascii')"
    assert repr(Rule()) == "Rule(case_folding='ascii')"


def test_equality_hash_and_repr_account_for_exceptions() -> None:
    one = [{"name": "jump hosts", "entries": [{"field": "host.name", "operator": "is", "value": "jump-01"}]}]
    other = [{"name": "jump hosts", "entries": [{"field": "host.name", "operator": "is", "value": "jump-02"}]}]
    assert Rule(exceptions=one) != Rule(exceptions=other)
    assert Rule(exceptions=one) != Rule()
    assert Rule(exceptions=one) != Rule(exceptions=one, case_folding="unicode_simple")
    # The same JSON however it is written (key order, whitespace).
    reordered = '[ {"entries": [{"value": "jump-01", "operator": "is", "field": "host.name"}], "name": "jump hosts"} ]'
    assert Rule(exceptions=reordered) == Rule(exceptions=one)
    assert hash(Rule(exceptions=reordered)) == hash(Rule(exceptions=one))
    assert len({Rule(exceptions=one), Rule(exceptions=reordered), Rule(exceptions=other), Rule()}) == 3
    assert repr(Rule(exceptions=one, case_folding="unicode_simple")) == (
        "Rule(exceptions=<1 item: 'jump hosts'>, case_folding='unicode_simple')"
    )


def test_pickling_keeps_the_exceptions() -> None:
    for rule in (Rule(exceptions=EXAMPLE), Rule(exceptions=EXAMPLE_DATA, case_folding="unicode_simple")):
        clone = pickle.loads(pickle.dumps(rule))
        assert clone == rule and hash(clone) == hash(rule)
        assert clone.exceptions == rule.exceptions and clone.case_folding == rule.case_folding
        assert [clone.evaluate(e).suppressed_by for e, _ in FAMILIES] == NAMES
        assert clone.match_many(NEAR_MISSES) == [True] * len(NEAR_MISSES)
    assert pickle.loads(pickle.dumps(Rule())) == Rule()


# -- errors ---------------------------------------------------------------------------------


def test_a_bad_file_names_the_item_entry_and_field(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "tuning.json"
    bad.write_text(
        json.dumps(
            [
                {"name": "ok", "entries": [{"field": "a", "operator": "exists"}]},
                {"name": "second", "entries": [{"field": "host.name", "operator": "equals", "value": "x"}]},
            ]
        )
    )
    with pytest.raises(ExceptionsFileError) as caught:
        Rule(exceptions=bad)
    error = caught.value
    assert str(error).startswith(
        f'{bad}: bad exceptions file: item 2 ("second"), entry 1 (field "host.name"): unknown operator "equals"'
    )
    assert isinstance(error, dcom_detect.DcomDetectError) and isinstance(error, ValueError)
    assert (error.path, error.item, error.item_name, error.entry, error.field) == (str(bad), 2, "second", 1, "host.name")
    assert error.reason.startswith('unknown operator "equals"; expected one of "is", "is not"')
    # The same content given as JSON has no path.
    with pytest.raises(ExceptionsFileError) as caught:
        Rule(exceptions=bad.read_bytes())
    assert caught.value.path is None and str(caught.value).startswith('bad exceptions file: item 2 ("second")')


@pytest.mark.parametrize(
    ("exceptions", "needles", "where"),
    [
        (b"not json", ["not valid JSON"], (None, None, None, None)),
        ('{"items": []}', ['expected {"exceptions"'], (None, None, None, None)),
        ([{"entries": [{"field": "a", "operator": "exists"}]}], ["item 1", 'needs a "name"'], (1, None, None, None)),
        ([{"name": "x", "entries": []}], ['item 1 ("x")', "would suppress every alert"], (1, "x", None, None)),
        (
            [{"name": "x", "entries": [{"field": "host.name", "operator": "is one of", "value": "a"}]}],
            ["entry 1", 'field "host.name"', "needs a list of strings"],
            (1, "x", 1, "host.name"),
        ),
        (
            [{"name": "x", "entries": [{"field": "host.name", "operator": "is", "value": "a", "vaule": "b"}]}],
            ['unknown key "vaule"'],
            (1, "x", 1, "host.name"),
        ),
        (
            {"exceptions": [{"name": "a", "entries": [{"field": "x", "operator": "exists"}]}, {"name": "b", "entries": [{"operator": "exists"}]}]},
            ['item 2 ("b"), entry 1', 'needs a "field"'],
            (2, "b", 1, None),
        ),
        (
            [{"name": "x", "entries": [{"field": "host.name", "type": "list", "operator": "included", "value": "a"}]}],
            ["not supported"],
            (1, "x", 1, "host.name"),
        ),
    ],
)
def test_every_refusal_is_an_exceptions_file_error(exceptions: Any, needles: list[str], where: tuple[Any, ...]) -> None:
    with pytest.raises(ExceptionsFileError) as caught:
        Rule(exceptions=exceptions)
    error = caught.value
    for needle in needles:
        assert needle in str(error)
    assert (error.item, error.item_name, error.entry, error.field) == where
    assert error.reason in str(error)


def test_unreadable_paths(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(UnreadableInputError) as caught:
        Rule(exceptions=missing)
    assert caught.value.errno == 2 and caught.value.filename == str(missing)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, dcom_detect.DcomDetectError)
    with pytest.raises(UnreadableInputError, match="No such file"):
        Rule(exceptions=str(missing))
    with pytest.raises(UnreadableInputError, match="Is a directory"):
        Rule(exceptions=tmp_path)


def test_wrong_types() -> None:
    for value in (42, 1.5, True, ("a",), {"a"}, object(), io.BytesIO(EXAMPLE_BYTES)):
        with pytest.raises(TypeError, match="exceptions must be a path .* not "):
            Rule(exceptions=value)  # type: ignore[arg-type]
    # Values JSON cannot represent, inside the structure: the message names where.
    with pytest.raises(TypeError, match=r"exceptions\[0\]\['entries'\]\[0\]\['value'\]: set is not JSON serialisable"):
        Rule(exceptions=[{"name": "x", "entries": [{"field": "a", "operator": "is one of", "value": {"a"}}]}])
    with pytest.raises(TypeError, match=r"keys must be str"):
        Rule(exceptions={"exceptions": [{1: "x"}]})
    # NaN is a type JSON has no value for: the file is refused, like NaN in JSON text.
    with pytest.raises(ExceptionsFileError, match="NaN is not a JSON number"):
        Rule(exceptions=[{"name": "x", "entries": [{"field": "a", "operator": "is", "value": math.nan}]}])
    with pytest.raises(TypeError, match="case_folding must be"):
        Rule(exceptions=EXAMPLE, case_folding=3)  # type: ignore[arg-type]


# -- verdicts -------------------------------------------------------------------------------


def test_each_family_suppresses_its_case(tuned: Rule) -> None:
    plain = Rule()
    for event, name in FAMILIES:
        assert plain.evaluate(event), "the rule fires on every family's case"
        verdict = tuned.evaluate(event)
        assert verdict.suppressed_by == name
        assert not verdict and not verdict.matched and verdict.fired
        assert verdict.branches == plain.evaluate(event).branches and verdict.branches
        assert not tuned.matches(event)
        # Exactly its own item: without it, nothing else suppresses the case.
        others = [item for item in EXAMPLE_DATA["exceptions"] if item["name"] != name]
        assert Rule(exceptions=others).matches(event), name
    assert tuned.match_many(event for event, _ in FAMILIES) == [False] * 4


def test_near_misses_still_alert(tuned: Rule) -> None:
    for event in NEAR_MISSES:
        verdict = tuned.evaluate(event)
        assert verdict and verdict.matched and verdict.fired and verdict.suppressed_by is None, event
    assert tuned.match_many(NEAR_MISSES) == [True] * len(NEAR_MISSES)
    assert tuned.match_many([json.dumps(e) for e in NEAR_MISSES]) == [True] * len(NEAR_MISSES)


def test_exceptions_never_touch_events_the_rule_does_not_fire_on() -> None:
    everything = Rule(exceptions=[{"name": "t", "entries": [{"field": "host.name", "operator": "does not exist"}]}])
    quiet = {"event": {"category": "process", "type": "start"}, "process": {"name": "notepad.exe"}}
    verdict = everything.evaluate(quiet)
    assert not verdict.fired and verdict.suppressed_by is None
    assert repr(verdict) == "Verdict(matched=False, schema='ecs')"


def test_verdict_repr_and_equality_show_the_suppression(tuned: Rule) -> None:
    verdict = tuned.evaluate(SCCM)
    assert repr(verdict) == (
        "Verdict(matched=False, suppressed_by='SCCM / Intune patch cycles drive Office COM', "
        "office_child=OfficeChild(parent_name='WINWORD.EXE', name='cmd.exe'), schema='ecs')"
    )
    assert verdict != Rule().evaluate(SCCM)
    assert verdict == tuned.evaluate(json.dumps(SCCM)) and hash(verdict) == hash(tuned.evaluate(json.dumps(SCCM)))


def test_operators_through_the_binding() -> None:
    """A few rows of core's operator table, to show the binding passes them through."""
    base = {"event": {"category": "process", "type": "start"}, "process": {"name": "cmd.exe", "parent": {"name": "mmc.exe"}}}

    def suppressed(operator: str, value: Any, host: Any) -> bool:
        entry: dict[str, Any] = {"field": "host.name", "operator": operator}
        if value is not None:
            entry["value"] = value
        rule = Rule(exceptions=[{"name": "t", "entries": [entry]}])
        event = dict(base, host={"name": host}) if host is not None else base
        return rule.evaluate(event).suppressed_by == "t"

    assert suppressed("is", "WS-01", "WS-01") and not suppressed("is", "WS-01", "ws-01")
    assert suppressed("is", "WS-01", ["X", "WS-01"]) and not suppressed("is not", "WS-01", ["X", "WS-01"])
    assert suppressed("is not", "WS-01", None)  # must_not: holds when absent
    assert suppressed("is one of", ["a", "b"], ["c", "b"]) and suppressed("is not one of", ["a", "b"], None)
    assert not suppressed("exists", None, []) and suppressed("does not exist", None, [None])
    assert suppressed("matches", "ws-?1", "WS-01") and suppressed("does not match", "ws-*", "db-01")


def test_case_folding_applies_to_matches() -> None:
    tuning = [{"name": "t", "entries": [{"field": "host.name", "operator": "matches", "value": "k*"}]}]
    kelvin = {"event": {"category": "process", "type": "start"}, "host": {"name": "\u212aERBEROS"}, "process": {"name": "dcomcnfg.exe"}}
    assert Rule(exceptions=tuning).matches(kelvin)
    assert not Rule(exceptions=tuning, case_folding="unicode_simple").matches(kelvin)


def test_raw_windows_events_expose_ecs_fields() -> None:
    rule = Rule(
        exceptions=[
            {
                "name": "raw",
                "entries": [
                    {"field": "host.name", "operator": "is", "value": "WORKSTATION6.theshire.local"},
                    {"field": "user.name", "operator": "is", "value": "pgustavo"},
                    {"field": "user.domain", "operator": "is", "value": "THESHIRE"},
                ],
            }
        ]
    )
    sysmon = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Hostname": "WORKSTATION6.theshire.local",
        "User": "THESHIRE\\pgustavo",
        "Image": "C:\\Windows\\System32\\cmd.exe",
        "ParentImage": "C:\\Windows\\System32\\mmc.exe",
    }
    assert rule.evaluate(sysmon).suppressed_by == "raw"
    assert rule.evaluate({**sysmon, "User": "THESHIRE\\sbeavers"}).matched


# -- scans ----------------------------------------------------------------------------------


def family_lines() -> list[str]:
    """The four cases and the near misses, interleaved, as NDJSON lines (case i on line 2i+1)."""
    lines = []
    for i, (event, _) in enumerate(FAMILIES):
        lines.append(json.dumps(event))
        lines.append(json.dumps(NEAR_MISSES[i]))
    lines.extend(json.dumps(e) for e in NEAR_MISSES[4:])
    return lines


@pytest.mark.parametrize("threads", [1, 0])
def test_scan_lists_and_counts_suppressed_records(tuned: Rule, tmp_path: pathlib.Path, threads: int) -> None:
    path = tmp_path / "tuning.ndjson"
    lines = family_lines()
    path.write_text("\n".join(lines) + "\n")
    scan = tuned.scan(path, threads=threads)
    alerts = list(scan)
    assert [a.line for a in alerts] == [2, 4, 6, 8, *range(9, len(lines) + 1)]
    suppressed = scan.suppressed
    assert [(s.line, s.item) for s in suppressed] == [(1, NAMES[0]), (3, NAMES[1]), (5, NAMES[2]), (7, NAMES[3])]
    assert [s.item_index for s in suppressed] == [0, 1, 2, 3]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()) + 1)
    first = suppressed[0]
    assert (first.offset, first.file, first.record, first.record_id) == (0, str(path), None, None)
    assert suppressed[2].offset == offsets[4]
    assert first.branches == ("office_child",) and first.bits == 1
    assert first.position == "line 1 (byte 0)"
    assert str(first) == f"{path}: line 1 (byte 0): office_child suppressed by '{NAMES[0]}'"
    assert repr(first) == f"<Suppressed {first}>"
    stats = scan.stats
    assert (stats.records, stats.matched, stats.suppressed, stats.not_matched, stats.rejected) == (len(lines), len(lines) - 4, 4, 0, 0)
    assert stats.records == stats.matched + stats.suppressed + stats.not_matched + stats.rejected
    assert stats.to_dict()["suppressed"] == 4
    assert "4 suppressed" in repr(scan)


def test_scan_of_an_iterable_lists_suppressed_records_too(tuned: Rule) -> None:
    events: list[Any] = [FINANCE, NEAR_MISSES[0], json.dumps(ADMIN), "", json.dumps(EDR).encode()]
    scan = tuned.scan_records(events)
    assert [a.line for a in scan] == [2]
    assert [(s.line, s.item, s.file) for s in scan.suppressed] == [(1, NAMES[3], None), (3, NAMES[0], None), (5, NAMES[1], None)]
    assert str(scan.suppressed[0]) == f"line 1 (byte 0): office_child suppressed by '{NAMES[3]}'"
    stats = scan.stats
    assert (stats.records, stats.matched, stats.suppressed, stats.blank_lines) == (4, 1, 3, 1)


def test_alerts_of_unsuppressed_records_are_unchanged(in_repo: pathlib.Path) -> None:
    """Tuning out one host of the sample: the other alerts are byte for byte the golden ones."""
    jump = [{"name": "jump hosts", "entries": [{"field": "host.name", "operator": "is", "value": "jump-01"}]}]
    scan = dcom_detect.scan(SAMPLE_NAME, exceptions=jump)
    alerts = [a.json for a in scan]
    suppressed_lines = [s.line for s in scan.suppressed]
    assert suppressed_lines == [10]
    assert alerts == [a for a in GOLDEN_ALERTS if json.loads(a)["dcom_detect"]["source"]["line"] != 10]
    assert (scan.stats.matched, scan.stats.suppressed, scan.stats.rejected) == (4, 1, 1)


def test_a_scan_without_exceptions_suppresses_nothing(in_repo: pathlib.Path) -> None:
    scan = Rule().scan(SAMPLE_NAME)
    assert len(list(scan)) == 5
    assert scan.suppressed == [] and scan.stats.suppressed == 0


# -- validation report ----------------------------------------------------------------------


def test_validate_bundled_events() -> None:
    report = dcom_detect.validate()
    assert report.ok
    assert "OK: every verdict is the expected one" in report.table and str(report) == report.table
    for text in ("ShellWindows", "parent explorer.exe is not a COM host", "MMC20.Application", "dcomcnfg"):
        assert text in report.table
    document = report.to_dict()
    assert document["ok"] is True and document["recordings"] == []
    assert json.loads(report.json) == document
    steps = document["methodology"]
    assert len(steps) >= 15 and all(step["agrees"] for step in steps)
    assert set(steps[0]["fired"]) == {"ecs", "sysmon", "security_4688"}
    assert repr(report) == f"<ValidationReport ok: {len(steps)} methodology steps, 0 recordings>"
    # With a rule's options and exceptions (the report shows what fired, suppressed or not).
    assert Rule(exceptions=EXAMPLE, case_folding="unicode_simple").validate().ok
    assert dcom_detect.validate(exceptions=EXAMPLE).to_dict() == document


def test_validate_a_recording_and_errors(tmp_path: pathlib.Path) -> None:
    recording = tmp_path / "sample.ndjson"
    recording.write_bytes((REPO / SAMPLE_NAME).read_bytes())
    report = Rule().validate(recording)
    document = report.to_dict()
    assert [r["file"] for r in document["recordings"]] == ["sample.ndjson"]
    assert len(document["recordings"][0]["fired"]) == 5
    # The sample holds a record with a duplicate key: a rejected record is a disagreement.
    assert not report.ok and document["recordings"][0]["rejected"]
    assert "FAILED" in report.table and repr(report).startswith("<ValidationReport FAILED")
    assert Rule().validate([str(recording), recording]).to_dict()["recordings"][1]["file"] == "sample.ndjson"
    with pytest.raises(UnreadableInputError, match="missing.ndjson"):
        Rule().validate([tmp_path / "missing.ndjson"])
    with pytest.raises(TypeError, match="paths must be"):
        Rule().validate(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each path must be"):
        Rule().validate([5])  # type: ignore[list-item]


def test_validate_real_recordings() -> None:
    if not (REALDATA / "labels.json").exists():
        pytest.skip(f"real recordings not available: {REALDATA} (../shared/realdata)")
    report = dcom_detect.validate([REALDATA])
    assert report.ok, report.table
    recordings = report.to_dict()["recordings"]
    assert sum(len(r["fired"]) for r in recordings) == 9
    assert sum(r["records"] for r in recordings) == 26_655
    assert any("evtx/dcom/LM_impacket_docmexec_mmc_sysmon_01.evtx" == r["file"] for r in recordings)


def test_evtx_records_are_suppressed_with_their_record_ids(evtx_path: pathlib.Path) -> None:
    tuning = [{"name": "whoami", "entries": [{"field": "process.command_line", "operator": "matches", "value": "*whoami*"}]}]
    scan = Rule(exceptions=tuning).scan(evtx_path)
    assert [a.record_id for a in scan] == [9833, 9838]
    [suppressed] = scan.suppressed
    assert (suppressed.record, suppressed.record_id, suppressed.line, suppressed.offset) == (8, 9839, None, None)
    assert suppressed.item == "whoami" and suppressed.branches == ("office_child",)
    assert str(suppressed) == f"{evtx_path}: record 8 (EventRecordID 9839): office_child suppressed by 'whoami'"
    assert (scan.stats.matched, scan.stats.suppressed) == (2, 1)
