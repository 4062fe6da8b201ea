"""The worker: `python -m tuner_tui.training.worker RUN_DIR [--resume]`.

Started by the launcher in its own session with output to RUN_DIR/worker.log, it loads the model and data,
trains, and reports every step as events (RUN_DIR/events.jsonl). It ends with exactly one terminal event:
finished, stopped (SIGTERM: checkpoint at the end of the step) or failed (with a cause and a fix), and puts
the final figures in the run store. Only rank 0 reports.

Two faults end a run with its cause kept: a full disk (the run's space reserve is let go before the traceback
and the terminal event are written, runtime/disk_reserve.py) and a run dir deleted under the worker (the event
writer notices; the worker stops and tells the store, the one place left)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import attempts_runtime_s, fields_from_terminal
from tuner_tui.runtime.disk_reserve import release_reserve
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_lock import boot_id, keep_private
from tuner_tui.runtime.store import RunStore
from tuner_tui.training.event_writer import EventWriter, NullWriter
from tuner_tui.training.failures import RunDirLost, classify
from tuner_tui.training.hub_access import check_hub_model, loading_step, needs_hub_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner-worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    born = _identity(run_dir)
    rank = int(os.environ.get("RANK", "0"))
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    paths = RunDir(run_dir)
    keep_private(paths)
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
        _check_model_first(writer, loaded)                      # before 10-20 s of imports: fail fast
        loading_step(writer, "importing torch, transformers, peft and trl")
        from tuner_tui.training.session import TrainingSession  # heavy imports happen here, timed as loading

        session = TrainingSession(run_dir, loaded, writer, stop_requested, resume=args.resume)
        terminal = session.run()
    except BaseException as exc:  # noqa: BLE001 - every failure must end in a `failed` event
        lost = getattr(writer, "lost", None)
        failure = classify(RunDirLost(lost) if lost else exc, recipe, run_id, run_dir)
        if failure.cause == "disk_full":
            release_reserve(paths)                          # room for the traceback, the event and the record
        if lost:
            _drop_recreated(run_dir, born)
        with contextlib.suppress(OSError):                  # a full disk must not lose the terminal event
            traceback.print_exception(exc, file=sys.stderr)  # the whole story stays in worker.log
            sys.stderr.flush()
        terminal = ("failed", {"cause": failure.cause, "message": failure.message,
                               "suggestion": failure.suggestion, "fix": failure.fix,
                               "traceback_tail": failure.traceback_tail[-4000:],
                               "summary": _failed_summary(paths, round(time.monotonic() - began, 1))})
    kind, fields = terminal
    writer.emit(kind, **fields)
    writer.close()
    if store:
        from tuner_tui.domain.events import make_event

        try:
            store.update(run_id, **fields_from_terminal(make_event(kind, **fields)))
        except ProblemsFound as why:          # the index cannot be written: readers settle from the event log
            with contextlib.suppress(OSError):
                print(f"tuner worker: {why}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):
        print(f"tuner worker: {kind}", flush=True)
    return 0 if kind != "failed" else 1


def _check_model_first(writer, loaded) -> None:
    """A hub id not in the local cache: ask the hub once, briefly (training/hub_access.py), so an unreachable
    hub or a typo'd id ends the run in seconds as model_not_found, not after a minute of retries."""
    model = loaded.recipe.model
    if not needs_hub_check(model.source, model.revision, loaded.base_dir):
        return
    loading_step(writer, f"asking the hub for {model.source} (not in the local cache)")
    size = check_hub_model(model.source, model.revision)
    found = f" ({human_bytes(size)} of weights to download)" if size else ""
    loading_step(writer, f"{model.source} is on the hub{found}")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _drop_recreated(run_dir: Path, born: tuple[int, int] | None) -> None:
    """The run dir was deleted under us; if a save recreated it meanwhile (the Trainer makes checkpoints/ with
    its parents), remove that half dir: it holds no recipe or record, only what this worker wrote."""
    paths = RunDir(run_dir)
    if _identity(run_dir) not in (None, born) and not paths.recipe.exists() and not paths.record.exists():
        shutil.rmtree(run_dir, ignore_errors=True)


def _failed_summary(paths: RunDir, segment_s: float) -> dict:
    """A failed attempt's figures: its own runtime and the run's over every attempt (the earlier ones ended
    with terminal events in the log; this one has not written its own yet)."""
    try:
        before = attempts_runtime_s(read_events(paths.events))
    except OSError:
        before = 0.0
    return {"segment_runtime_s": segment_s, "runtime_s": round(before + segment_s, 1)}


def _balloon() -> None:
    """Test hook (TUNER_TEST_FAULT=rss_balloon): take CPU RAM until the kernel's OOM killer ends the process,
    as a too-large model or batch does; only useful inside a memory-limited cgroup (tests/test_run_life.py)."""
    held = []
    while True:
        held.append(bytearray(64 * 2**20))      # bytearray(n) is zero-filled: its pages are really touched


if __name__ == "__main__":
    sys.exit(main())
