"""The hunting notebook runs headless without errors; the hand-written stubs match the
built module (mypy.stubtest) and the package type-checks under mypy --strict."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

NOTEBOOK = REPO / "examples" / "hunting.ipynb"


def test_hunting_notebook_runs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError if any cell fails
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert html.count("Distributed Component Object Model lateral movement") == 5, "five alert cards"
    assert "ws-finance-07" in html and "office_child" in html
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "4 alerts, 1 suppressed" in text and "suppressed by 'IT workstations: admins open dcomcnfg'" in text
    # The real alert (OTRF ShellWindows, D3): its card with the collapsed guide, the guide's
    # hunting pivots, the pivot table (the stager calling home) and the timeline.
    assert html.count("Triage guide: investigation, false positives, response, hunting pivots") == 6
    assert "Incoming connection to explorer.exe with an explorer.exe child" in html
    assert "correlations=2" in text and text.count("## Hunting pivots") == 1
    assert "powershell.exe" in html and "10.10.10.5" in html and "whoami.exe" in html
    assert any("image/png" in o.get("data", {}) for o in outputs), "the timeline plot"


def test_stubs_match_the_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "dcom_detect", "--allowlist", str(REPO / "python" / "tests" / "stubtest-allowlist.txt")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_type_checks() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_docstring_examples_run() -> None:
    import doctest

    import dcom_detect

    result = doctest.testmod(dcom_detect)
    assert result.attempted >= 8 and result.failed == 0
