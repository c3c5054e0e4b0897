"""The package as a user gets it: the sdist holds everything a build needs, and ``pip install``
of that sdist into a fresh virtual environment (build isolation, maturin from PyPI) gives a
working module and ``dcom-detect`` command.

The build uses the suite's Cargo target directory and the dev profile
(``MATURIN_PEP517_ARGS``): Cargo reuses what it built from identical sources and compiles
again whatever the sdist lacks or changes (a missing source file fails the build), so the
test checks the packaging, which is the same for every profile, in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from conftest import REPO

NEEDED = [
    "pyproject.toml",
    "Cargo.toml",
    "Cargo.lock",
    "README.md",
    "core/Cargo.toml",
    "core/src/lib.rs",
    "python/Cargo.toml",
    "python/src/lib.rs",
    "python/dcom_detect/__init__.py",
    "python/dcom_detect/_native.pyi",
    "python/dcom_detect/py.typed",
]

EVENT = {
    "event": {"category": ["process"], "type": ["start"]},
    "process": {"name": "cmd.exe", "parent": {"name": "MMC.EXE"}, "command_line": "cmd /c whoami"},
}


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd, env=env)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def test_the_sdist_installs_into_a_fresh_environment(tmp_path: Path) -> None:
    maturin = shutil.which("maturin") or str(Path(sys.executable).with_name("maturin"))
    if not Path(maturin).exists():
        pytest.fail("maturin is not installed (python/tests/requirements.txt installs it)")
    dist = tmp_path / "dist"
    run(maturin, "sdist", "--out", dist, cwd=REPO)
    (sdist,) = dist.glob("dcom_detect-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    top = sorted(names)[0].split("/")[0]
    missing = [n for n in NEEDED if f"{top}/{n}" not in names]
    assert not missing, f"the sdist lacks {missing}"
    assert not any("/benches/" in n for n in names), "benchmarks stay out of the sdist"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    target = REPO / os.environ.get("CARGO_TARGET_DIR", "target")  # a relative one is the repository's
    env.update(CARGO_TARGET_DIR=str(target), MATURIN_PEP517_ARGS="--profile dev")
    run(python, "-m", "pip", "install", "--quiet", "--no-cache-dir", sdist, env=env)

    # The installed package, not the checkout: run from elsewhere, with nothing on the path.
    probe = (
        "import json, sys, dcom_detect\n"
        "verdict = dcom_detect.Rule().evaluate(json.loads(sys.argv[1]))\n"
        "print(json.dumps([dcom_detect.__file__, verdict.bits, list(verdict.branches)]))\n"
    )
    out = run(python, "-c", probe, json.dumps(EVENT), cwd=tmp_path, env={**env, "PYTHONPATH": ""})
    where, bits, branches = json.loads(out.stdout)
    assert Path(where).is_relative_to(env_dir), where
    assert (bits, branches) == (1, ["office_child"])
    rule = run(env_dir / "bin" / "dcom-detect", "rule", "--json", cwd=tmp_path, env=env)
    assert json.loads(rule.stdout)["metadata"]["id"] == "3e8485db-ed53-542a-bdd7-0246bf43ff97"
