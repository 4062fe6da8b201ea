"""`tuner serve`: the cockpit in a browser through textual-serve, on loopback unless told otherwise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tuner_tui", "serve", "--port", str(port), *args], cwd=REPO,
                            env={**os.environ, "TUNER_HOME": str(home.root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, port


def get(port: int, deadline_s: float = 30) -> str:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_serve_answers_on_loopback_with_the_cockpit_page(home):
    proc, port = serve(home)
    try:
        page = get(port)
        assert "tuner" in page and "textual" in page.lower()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert "serving the cockpit on http://127.0.0.1" in out
    assert "warning" not in err.lower()


def test_serve_on_all_interfaces_warns(home):
    proc, port = serve(home, "--host", "0.0.0.0")
    try:
        get(port)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "anyone who can reach port" in err and "ssh -L" in err
