"""The worker: `python -m tuner_tui.training.worker RUN_DIR [--resume]`.

Started by the launcher in its own session with output to RUN_DIR/worker.log, it loads the model and data,
trains, and reports every step as events (RUN_DIR/events.jsonl). It ends with exactly one terminal event:
finished, stopped (SIGTERM: checkpoint at the end of the step) or failed (with a cause and a fix), and puts
the final figures in the run store. Only rank 0 reports."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import fields_from_terminal
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_lock import boot_id
from tuner_tui.runtime.store import RunStore
from tuner_tui.training.event_writer import EventWriter, NullWriter
from tuner_tui.training.failures import classify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner-worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    rank = int(os.environ.get("RANK", "0"))
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    paths = RunDir(run_dir)
    writer = EventWriter(paths.events, paths.heartbeat, boot_id()) if rank == 0 else NullWriter()
    store = RunStore(Home.default()) if rank == 0 else None
    run_id = run_dir.name
    recipe = None
    started, began = time.time(), time.monotonic()
    if store:     # the worker alone writes `running`; `started` stays the first attempt's
        store.change(run_id, lambda r: {**r, "status": "running", "started": r.get("started") or started,
                                        "worker_pid": os.getpid(), "host": socket.gethostname()})
    if os.environ.get("TUNER_TEST_FAULT") == "rss_balloon":
        _balloon()
    try:
        loaded = load_recipe(run_dir / "recipe.yaml")
        recipe = loaded.recipe
        from tuner_tui.training.session import TrainingSession  # heavy imports happen here, timed as loading

        session = TrainingSession(run_dir, loaded, writer, stop_requested, resume=args.resume)
        terminal = session.run()
    except BaseException as exc:  # noqa: BLE001 - every failure must end in a `failed` event
        failure = classify(exc, recipe, run_id)
        traceback.print_exception(exc, file=sys.stderr)     # the whole story stays in worker.log
        sys.stderr.flush()
        terminal = ("failed", {"cause": failure.cause, "message": failure.message,
                               "suggestion": failure.suggestion, "fix": failure.fix,
                               "traceback_tail": failure.traceback_tail[-4000:],
                               "summary": {"segment_runtime_s": round(time.monotonic() - began, 1)}})
    kind, fields = terminal
    writer.emit(kind, **fields)
    writer.close()
    if store:
        from tuner_tui.domain.events import make_event

        store.update(run_id, **fields_from_terminal(make_event(kind, **fields)))
    print(f"tuner worker: {kind}", flush=True)
    return 0 if kind != "failed" else 1


def _balloon() -> None:
    """Test hook (TUNER_TEST_FAULT=rss_balloon): take CPU RAM until the kernel's OOM killer ends the process,
    as a too-large model or batch does; only useful inside a memory-limited cgroup (tests/test_run_life.py)."""
    held = []
    while True:
        held.append(bytearray(64 * 2**20))      # bytearray(n) is zero-filled: its pages are really touched


if __name__ == "__main__":
    sys.exit(main())
