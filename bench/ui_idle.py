"""What does watching a run cost? CPU time of the cockpit process while it follows a live run (a replay at 10
events/s) with the GPU panel sampling at 1 Hz, against the same cockpit with no runs.

    .venv/bin/python bench/ui_idle.py [--seconds 30] [--settle 8]

The real app (`python bench/modules_probe.py`, which runs `python -m tuner_tui` through runpy and dumps
sys.modules at exit) in a pseudo-terminal of a fixed size (bench/ui_pty.py), its output drained as a terminal
would. The live run is a real run started with runtime.replay.start_replay (a store record with the replay's
pid), so the cockpit re-attaches to it at start and opens its dashboard. CPU = user + system time of the app
process (all its threads: the GPU sampler's too), measured with psutil over --seconds after --settle seconds of
start-up, as % of one core. The sampler uses the real NVML: on a machine without a GPU it runs its "no GPU"
path (figures say which). Last line: {"name", "figures", "goal", "met"}.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import psutil
from ui_pty import COLUMNS, ROWS, TERM, Drain, heavy_modules, seed_home, spawn

from tuner_tui.runtime.home import Home
from tuner_tui.runtime.replay import start_replay, write_recording

GOAL_PERCENT = 2.0
RATE = 10.0


def measure(home: Path, settle: float, seconds: float, events: Path | None, dump: Path) -> dict:
    """Start the cockpit, let it settle, measure its CPU time over `seconds`, quit it with Ctrl+Q."""
    child = spawn(["bench/modules_probe.py"], {"TUNER_HOME": str(home), "TUNER_MODULES_DUMP": str(dump)})
    drain = Drain(child)
    drain.start()
    try:
        proc = psutil.Process(child.pid)
        time.sleep(settle)
        lines_before = _lines(events)
        cpu_before, bytes_before, began = sum(proc.cpu_times()[:2]), drain.bytes, time.monotonic()
        time.sleep(seconds)
        cpu_after, bytes_after, took = sum(proc.cpu_times()[:2]), drain.bytes, time.monotonic() - began
        lines_after = _lines(events)
        child.sendcontrol("q")
        deadline = time.monotonic() + 20
        while child.isalive() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        drain.stop()
        if child.isalive():
            child.kill(signal.SIGKILL)
    if not dump.exists():
        raise SystemExit(f"the cockpit did not quit cleanly; its screen ended with:\n{drain.tail[-2000:]!r}")
    return {"cpu_percent": round(100 * (cpu_after - cpu_before) / took, 2), "seconds": round(took, 1),
            "cpu_s": round(cpu_after - cpu_before, 3), "events_followed": lines_after - lines_before,
            "terminal_bytes_per_s": round((bytes_after - bytes_before) / took), "heavy": heavy_modules(dump)}


def _lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    with open(path, "rb") as fh:
        return fh.read().count(b"\n")


def gpu_state() -> str:
    from tuner_tui.runtime.gpu import read_gpus

    report = read_gpus()
    return f"{len(report.gpus)} GPU(s) via NVML" if report.gpus else f"no GPU ({report.reason})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=8.0, help="start-up excluded from the window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = measure(folder / "empty", args.settle, args.seconds, None, folder / "modules-empty.json")
        seed_home(folder / "home")
        steps = int(RATE * (args.settle + args.seconds + 30) / 2) + 20     # ~2 events per step: never runs dry
        source = write_recording(folder / "recording", steps=steps)
        record, replay = start_replay(Home(folder / "home"), source, name="live-replay", rate=RATE)
        try:
            live = measure(folder / "home", args.settle, args.seconds, Path(record["run_dir"]) / "events.jsonl",
                           folder / "modules-live.json")
        finally:
            replay.terminate()
            replay.wait(10)
    heavy = sorted(set(baseline.pop("heavy")) | set(live.pop("heavy")))
    figures = {"seconds": args.seconds, "settle_s": args.settle, "terminal": f"{TERM} {COLUMNS}x{ROWS} (pty)",
               "replay_events_per_s": RATE, "gpu_sampling_hz": 1, "gpu": gpu_state(),
               "live_run": live, "no_runs": baseline, "cpu_percent_live": live["cpu_percent"],
               "cpu_percent_no_runs": baseline["cpu_percent"], "heavy_modules_imported": heavy,
               "torch_imported": "torch" in heavy, "cpu_cores": os.cpu_count()}
    print(json.dumps({"name": "ui_idle", "figures": figures,
                      "goal": f"<= {GOAL_PERCENT}% of one core following a live run; no torch",
                      "met": live["cpu_percent"] <= GOAL_PERCENT and not heavy}))


if __name__ == "__main__":
    main()
