"""Shared fixtures: a private TUNER_HOME per test, with built/converted models shared by the whole session
(the tiny model builds in seconds, SmolLM2 converts in ~40 s: once per test session, not per test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuner_tui.runtime.home import Home

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def home(tmp_path, shared_models, monkeypatch) -> Home:
    root = tmp_path / "home"
    root.mkdir()
    (root / "models").symlink_to(shared_models, target_is_directory=True)
    monkeypatch.setenv("TUNER_HOME", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return Home(root).ensure()


def tuner(*args: str, env: dict | None = None, timeout: float = 300, check: bool = False):
    """Run the real `tuner` CLI in a subprocess (as a user would)."""
    proc = subprocess.run([sys.executable, "-m", "tuner_tui", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"tuner {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
