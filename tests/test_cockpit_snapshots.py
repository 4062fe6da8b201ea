"""SVG snapshots of the cockpit from recorded real runs (tests/fixtures/recorded: two SmolLM2 demo runs and a
QLoRA run on the tiny model).

Deterministic: a fixed home path, UTC clock, no GPU sampling, workers awaited before the shot. After an
intended change of the look, update with `pytest tests/test_cockpit_snapshots.py --snapshot-update` and
review the SVGs in tests/__snapshots__/."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tuner_tui.ui.app import TunerApp

SNAPSHOT_HOME = Path(tempfile.gettempdir()) / "tuner-snapshot-home"


def _screenshots_module():
    spec = importlib.util.spec_from_file_location("make_screenshots", REPO / "screenshots" / "make_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def recorded_home(monkeypatch):
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setenv("TUNER_HOME", str(SNAPSHOT_HOME))
    home = _screenshots_module().build_home(REPO / "tests" / "fixtures" / "recorded", SNAPSHOT_HOME,
                                            with_weights=False)
    yield home
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.delenv("TZ")
    time.tzset()


async def _settled(pilot) -> None:
    await pilot.pause(0.5)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)


def test_home_at_80x24(snap_compare, recorded_home):
    assert snap_compare(TunerApp(recorded_home, sample_gpu=False), terminal_size=(80, 24), run_before=_settled)


def test_finished_run_dashboard(snap_compare, recorded_home):
    async def open_demo(pilot):
        await _settled(pilot)
        pilot.app.open_run("4f4c5ce8")
        await _settled(pilot)
        await pilot.pause(1.2)          # one chart redraw

    assert snap_compare(TunerApp(recorded_home, sample_gpu=False), terminal_size=(130, 42), run_before=open_demo)


def test_runs_explorer_and_compare(snap_compare, recorded_home):
    async def compare(pilot):
        await _settled(pilot)
        pilot.app.action_show_view("runs")
        await pilot.press("down", "space", "down", "space", "c")      # the two demo runs (lr 2e-3 vs 5e-4)
        await _settled(pilot)
        await pilot.pause(0.5)

    assert snap_compare(TunerApp(recorded_home, sample_gpu=False), terminal_size=(130, 42), run_before=compare)


def test_snapshot_home_leaves_no_trace():
    assert not os.path.exists(SNAPSHOT_HOME) or not any(SNAPSHOT_HOME.iterdir())
