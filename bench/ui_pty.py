"""Shared by the UI benches: a program in a real pseudo-terminal (pexpect) of a fixed size and TERM, its output
drained by a thread (a terminal that stops reading would stall the app and flatter its CPU figure), and a
home with a few runs in it."""

from __future__ import annotations

import json
import os
import select
import sys
import threading
from pathlib import Path

import pexpect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TERM, ROWS, COLUMNS = "xterm-256color", 40, 140
HEAVY = {"torch", "transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate"}


def spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    """`python ARGS...` in a pty of ROWS x COLUMNS; TERM and COLUMNS/LINES the same for every program."""
    env = {**os.environ, **env, "TERM": TERM, "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    return pexpect.spawn(sys.executable, args, env=env, cwd=str(REPO), dimensions=(ROWS, COLUMNS), timeout=120)


class Drain(threading.Thread):
    """Reads everything the program writes to its terminal, as a terminal emulator would; counts the bytes."""

    def __init__(self, child: pexpect.spawn):
        super().__init__(daemon=True)
        self.child, self.bytes, self.tail = child, 0, b""
        self._halt = threading.Event()

    def run(self) -> None:
        fd = self.child.child_fd
        while not self._halt.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.bytes += len(chunk)
            self.tail = (self.tail + chunk)[-200_000:]

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


def heavy_modules(dump: Path) -> list[str]:
    """The ML modules (torch, transformers, ...) in a sys.modules dump written by bench/modules_probe.py."""
    names = json.loads(dump.read_text(encoding="utf-8"))
    return sorted({n.split(".")[0] for n in names} & HEAVY)


def seed_home(root: Path, runs: int = 5) -> None:
    """A home with a few finished runs (real store records, real event logs) for the Runs explorer to list."""
    from tuner_tui.domain.events import encode
    from tuner_tui.runtime.home import Home
    from tuner_tui.runtime.replay import synthetic_events
    from tuner_tui.runtime.store import RunStore

    home = Home(root).ensure()
    records = []
    for i in range(runs):
        run_id = f"be{i:06x}"
        run_dir = home.run_dir(run_id)
        run_dir.mkdir()
        events = synthetic_events(steps=60, seed=i)
        (run_dir / "events.jsonl").write_text("".join(encode(e) + "\n" for e in events), encoding="utf-8")
        summary = events[-1]["summary"]
        records.append({"id": run_id, "name": f"bench-{i}", "recipe_name": "bench", "status": "finished",
                        "method": "lora", "model": "Qwen/Qwen2.5-1.5B-Instruct", "created": 1.7e9 + i,
                        "started": 1.7e9 + i, "ended": 1.7e9 + i + 60, "pid": None, "pid_create_time": None,
                        "host": None, "parent_id": None, "edits": {}, "tags": [], "notes": "", "final": summary,
                        "peak_memory": summary["peak_memory"], "failure": None, "run_dir": str(run_dir)})
    RunStore(home).create_many(records)
