"""The triage guides (docs/triage/) through the Python API, the command line and the alert card:
each is the docs file byte for byte, the right guide comes with each alert, and
``dcom-detect rule --guide`` prints them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import dcom_detect
from conftest import REPO
from dcom_detect.guide import SECTIONS, alert_guide, rule_guides

TRIAGE = REPO / "docs" / "triage"
FIXTURE = REPO / "examples" / "data" / "otrf_shellwindows_window.ndjson"
STATEFUL = {"D2": "d2.md", "D2L": "d2l.md", "D3": "d3.md", "mmc20": "mmc20.md", "shellwindows": "shellwindows.md", "hta": "hta.md"}


def doc(name: str) -> str:
    return (TRIAGE / name).read_text(encoding="utf-8")


def sections(guide: str) -> list[str]:
    return [line[3:].strip() for line in guide.splitlines() if line.startswith("## ")]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dcom_detect", *args], capture_output=True, text=True, check=False)


def test_metadata_carries_the_docs_files() -> None:
    meta = dcom_detect.Rule().metadata
    assert meta["guide"] == doc("seed.md")
    assert list(meta["branch_guides"]) == list(dcom_detect.BRANCHES)
    for branch, guide in meta["branch_guides"].items():
        assert guide == doc(f"seed_{branch}.md")
        assert sections(guide) == list(SECTIONS)
    assert dcom_detect.rule_metadata()["guide"] == meta["guide"]
    seen = set()
    for profile in ("elastic", "extended"):
        for info in dcom_detect.correlation_rules(profile):  # type: ignore[arg-type]
            assert info["guide"] == doc(STATEFUL[info["rule"]])
            assert sections(info["guide"]) == list(SECTIONS)
            seen.add(info["rule"])
    assert seen == set(STATEFUL)


def test_each_alert_gets_its_guide() -> None:
    event = {"event": {"category": "process", "type": "start"}, "process": {"name": "cmd.exe", "parent": {"name": "mmc.exe"},
             "command_line": "cmd /c Invoke-DCOM -Exec"}}
    (alert,) = dcom_detect.scan_records([event])
    assert alert.branches == ("office_child", "dcom_command_line")
    guide = alert_guide(alert)
    titles = [line for line in guide.splitlines() if line.startswith("# ")]
    assert titles == [doc(name).splitlines()[0] for name in ("seed.md", "seed_office_child.md", "seed_dcom_command_line.md")]
    assert "dcomcnfg" not in titles[1] + titles[2]

    correlations = list(dcom_detect.Rule().scan(FIXTURE, profile="extended"))
    assert {a.correlation for a in correlations} == {"D3"}
    for alert in correlations:
        assert alert_guide(alert) == doc("d3.md")
    (elastic,) = dcom_detect.Rule().scan(FIXTURE, profile="elastic")
    assert elastic.correlation == "shellwindows" and alert_guide(elastic) == doc("shellwindows.md")


def test_the_alert_card_shows_the_guide_collapsed() -> None:
    (alert,) = dcom_detect.Rule().scan(FIXTURE, profile="elastic")
    html = alert._repr_html_()
    details = re.search(r"<details[^>]*>(.*?)</details>", html, re.S)
    assert details is not None and "open" not in html[details.start() : details.start() + 40]
    body = details.group(1)
    assert "Triage guide" in body
    for section in SECTIONS:
        assert f"<b style=\"font-size:13px\">{section}</b>" in body
    assert "&lt;source.ip&gt;" in body, "Markdown is escaped"
    assert "<source.ip>" not in body


def test_the_command_line_prints_the_guides() -> None:
    seed = run("rule", "--guide")
    assert seed.returncode == 0, seed.stderr
    assert seed.stdout == rule_guides() + "\n"
    for name in ("seed.md", "seed_office_child.md", "seed_dcomcnfg.md", "seed_dcom_command_line.md"):
        assert doc(name).splitlines()[0] in seed.stdout
    assert "# D2:" not in seed.stdout
    extended = run("rule", "--guide", "--profile", "extended")
    assert extended.returncode == 0
    for rule in ("D2", "D2L", "D3"):
        assert doc(STATEFUL[rule]) in extended.stdout
    assert "# Elastic mmc20" not in extended.stdout
    elastic = run("rule", "--guide", "--profile", "elastic")
    assert all(doc(STATEFUL[r]) in elastic.stdout for r in ("mmc20", "shellwindows", "hta"))
    refused = run("rule", "--guide", "--json")
    assert refused.returncode == 2 and "--guide" in refused.stderr and refused.stdout == ""
    document = json.loads(run("rule", "--json", "--profile", "extended").stdout)
    assert document["metadata"]["guide"] == doc("seed.md")
    assert [c["guide"] for c in document["correlation_rules"]] == [doc(STATEFUL[r]) for r in ("D2", "D2L", "D3")]
    assert "--guide" in run("rule", "--help").stdout


def test_rule_guides_refuses_an_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        rule_guides("Extended")  # type: ignore[arg-type]


def test_the_module_docstring_example_runs() -> None:
    import doctest

    import dcom_detect.guide

    result = doctest.testmod(dcom_detect.guide)
    assert result.attempted >= 2 and result.failed == 0
