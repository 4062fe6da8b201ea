"""The worker's reporting channel: callers put events on a queue.Queue; one writer thread appends them to
events.jsonl, flushed per line (readers see them at once) and fsynced at checkpoints and at the end.

The training loop never waits on disk: `emit` is a queue put. Only rank 0 creates a writer.

The same thread keeps RUN_DIR/heartbeat.json fresh (every `TUNER_HEARTBEAT_S`, default 5 s): when it last beat
and when the training loop last made progress, on the monotonic clock (domain/liveness.py reads it). A
stopped or frozen process stops beating; a hung loop keeps beating without progress."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from tuner_tui.domain.events import encode, make_event

HEARTBEAT_S = float(os.environ.get("TUNER_HEARTBEAT_S") or 5.0)
# A loop is called hung after this many beats without a step, or 10 slowest steps, whichever is longer.
STALL_FLOOR_BEATS = 60
STALL_SLOWEST_STEPS = 10

_FSYNC = object()
_CLOSE = object()


class EventWriter:
    def __init__(self, path: Path, heartbeat: Path | None = None, boot_id: str | None = None):
        self.path = path
        self._queue: queue.Queue = queue.Queue()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - owned by the writer thread
        self.error: OSError | None = None
        self._heartbeat, self._boot = heartbeat, boot_id
        self._phase: str | None = None
        self._progress = self._last_beat = time.monotonic()
        self._slowest = 0.0
        self._thread = threading.Thread(target=self._drain, name="tuner-event-writer", daemon=True)
        self._thread.start()

    def emit(self, event_type: str, /, **fields: Any) -> None:
        if event_type == "phase":              # a new phase: step gaps are measured afresh
            self._phase, self._progress = fields.get("phase"), time.monotonic()
        else:
            self.progress()
        self._queue.put(make_event(event_type, **fields))

    def progress(self) -> None:
        """The training loop moved (a step, a micro-batch, an eval batch): two attribute writes, no I/O."""
        now = time.monotonic()
        if self._phase in ("training", "evaluating"):
            self._slowest = max(self._slowest, now - self._progress)
        self._progress = now

    def sync(self) -> None:
        """Ask for an fsync after the events queued so far (checkpoints)."""
        self._queue.put(_FSYNC)

    def close(self) -> None:
        """Drain everything, fsync, stop the thread. Safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join(timeout=30)

    def _drain(self) -> None:
        self._beat()
        while True:
            try:
                item = self._queue.get(timeout=HEARTBEAT_S)
            except queue.Empty:
                item = None
            if time.monotonic() - self._last_beat >= HEARTBEAT_S:
                self._beat()
            if item is None:
                continue
            try:
                if item is _CLOSE:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                    self._file.close()
                    return
                if item is _FSYNC:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                    continue
                self._file.write(encode(item) + "\n")
                self._file.flush()
            except OSError as err:     # disk full: keep draining so emit() never blocks; the worker reports it
                self.error = err

    def _beat(self) -> None:
        self._last_beat = now = time.monotonic()
        if self._heartbeat is None:
            return
        beat = {"pid": os.getpid(), "boot": self._boot, "every_s": HEARTBEAT_S, "beat": now,
                "progress": self._progress, "phase": self._phase, "t": time.time(),
                "stall_after_s": max(STALL_FLOOR_BEATS * HEARTBEAT_S, STALL_SLOWEST_STEPS * self._slowest)}
        tmp = self._heartbeat.with_name(self._heartbeat.name + ".tmp")
        try:                       # no fsync: a heartbeat is only worth something while the machine is up
            tmp.write_text(json.dumps(beat))
            os.replace(tmp, self._heartbeat)
        except OSError:
            pass


class NullWriter:
    """What ranks other than 0 get: reporting is rank 0's job."""

    def emit(self, event_type: str, /, **fields: Any) -> None:
        pass

    def progress(self) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
