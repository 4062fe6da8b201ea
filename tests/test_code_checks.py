"""ruff over the package, the tests and the benches, as part of the test command (a fraction of a second).

mypy over the whole package is `mypy` in the repo root ([tool.mypy] in pyproject.toml): ~60 s the first time
on this machine (it reads the torch/transformers stubs), ~3 s with its cache, so it is not run from here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    assert ruff.is_file(), f"{ruff} is missing: pip install -e '.[dev]'"
    proc = subprocess.run([str(ruff), "check", "tuner_tui", "tests", "bench"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
