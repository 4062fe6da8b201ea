"""The cockpit in a real pseudo-terminal, as a user over SSH starts it: `tuner`, resized, quit with Ctrl+Q,
while a run trains in the background. Nothing the worker prints may reach the screen, and quitting leaves the
run going and says so."""

from __future__ import annotations

import os
import sys
import time

import pexpect
import pytest

from tests.conftest import REPO, tuner
from tests.test_cockpit import _smoke_recipe
from tuner_tui.runtime.store import RunStore

pytestmark = pytest.mark.timeout(300)


def test_tuner_in_a_pty_resizes_quits_and_leaves_the_run_going(home):
    _smoke_recipe(home, 5000, name="long-smoke")
    started = tuner("run", str(home.recipes_dir / "long-smoke.yaml"), "--detach", "--json", timeout=60)
    run_id = started.stdout.splitlines()[0].split('"')[3]
    env = {**os.environ, "TUNER_HOME": str(home.root), "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    try:
        child = pexpect.spawn(sys.executable, ["-m", "tuner_tui"], cwd=str(REPO), env=env, dimensions=(24, 80),
                              encoding="utf-8", codec_errors="replace", timeout=60)
        child.expect("RECIPES")                          # the first frame
        child.expect("1 running", timeout=60)            # re-attached to the background run (status bar)
        child.setwinsize(40, 120)
        time.sleep(1.5)
        child.setwinsize(24, 80)
        time.sleep(1.5)
        assert child.isalive(), "the cockpit survived two resizes"
        child.sendcontrol("q")
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        screen = child.before or ""
        assert child.exitstatus == 0
        assert f"1 run(s) go on in the background: {run_id}" in screen.replace("\r\n", " ").replace("\n", " ")
        # (the dashboard may say "importing torch, ..." as the loading step: paths are what leaked output shows)
        for stray in ("Traceback", "it/s]", "{'loss'", "UserWarning", "site-packages", "torch/"):
            assert stray not in screen, f"worker output leaked onto the screen: {stray!r}"
        assert RunStore(home).get(run_id)["status"] == "running"
    finally:
        tuner("stop", run_id, timeout=200)


def test_tuner_without_a_terminal_prints_help_instead_of_a_broken_screen(home):
    proc = tuner()
    assert proc.returncode == 2
    assert "needs a terminal" in proc.stderr and "tuner --help" in proc.stderr
