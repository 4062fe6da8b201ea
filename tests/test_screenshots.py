"""The README's screenshots are made by a script from the real app and recorded runs: it must keep working."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(600)


def test_the_screenshot_script_makes_every_shot_from_the_recorded_runs(tmp_path):
    proc = subprocess.run([sys.executable, "screenshots/make_screenshots.py", "--out", str(tmp_path), "--no-try"],
                          cwd=REPO, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = json.loads(proc.stdout.strip().splitlines()[-1])["screenshots"]
    assert {"home.svg", "dashboard-live.svg", "gpu-panel.svg", "recipe-editor-error.svg", "preflight.svg",
            "history-compare.svg", "dashboard-finished.svg", "narrow-80x24.svg"} <= set(made)
    def text(name: str) -> str:
        return (tmp_path / name).read_text().replace("&#160;", " ")
    assert "RECIPES" in text("home.svg")
    assert "running" in text("dashboard-live.svg") and "qlora" in text("dashboard-live.svg")
    assert "did" in text("recipe-editor-error.svg") and "aalpha" in text("recipe-editor-error.svg")
    assert "train.learning_rate" in text("history-compare.svg")
