"""The worker's reporting channel: callers put events on a queue.Queue; one writer thread appends them to
events.jsonl, flushed per line (readers see them at once) and fsynced at checkpoints and at the end.

The training loop never waits on disk: `emit` is a queue put. Only rank 0 creates a writer.

The same thread keeps RUN_DIR/heartbeat.json fresh (every `TUNER_HEARTBEAT_S`, default 5 s): when it last beat
and when the training loop last made progress, on the monotonic clock (domain/liveness.py reads it). A
stopped or frozen process stops beating; a hung loop keeps beating without progress.

Each beat also checks, with two stats, that the run dir and events.jsonl are still the ones the worker started
with: when someone deleted (or replaced) the run dir, `lost` says so and the training loop's next `progress()`
raises RunDirLost, so the worker stops instead of recreating a half run dir with its next checkpoint.

On a full disk a line may be written in part: the next line then starts on a fresh line, so the terminal event
(written once the run's space reserve is let go) is never glued to a torn one."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from tuner_tui.domain.events import encode, make_event
from tuner_tui.training.failures import RunDirLost

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
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - owned by the writer thread; one write a line
        self._torn = False                             # the last write failed part-way: start the next line afresh
        self.error: OSError | None = None
        self.lost: str | None = None                   # why the run dir is no longer this worker's
        self._identity = (_identity(path.parent), os.fstat(self._file.fileno()).st_ino)
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
            self._moved()
        self._queue.put(make_event(event_type, **fields))

    def progress(self) -> None:
        """The training loop moved (a step, a micro-batch, an eval batch): two attribute writes, no I/O.
        Raises RunDirLost in the training loop once the run dir is gone (the writer thread found out)."""
        if self.lost:
            raise RunDirLost(self.lost)
        self._moved()

    def _moved(self) -> None:
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
                    with contextlib.suppress(OSError):
                        os.fsync(self._file.fileno())
                    self._file.close()
                    return
                if item is _FSYNC:
                    os.fsync(self._file.fileno())
                    continue
                self._write_line((encode(item) + "\n").encode("utf-8"))
            except OSError as err:     # disk full: keep draining so emit() never blocks; the worker reports it
                self.error, self._torn = err, True

    def _write_line(self, data: bytes) -> None:
        if self._torn:
            data = b"\n" + data      # a blank line costs readers nothing; a glued one loses the event
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0:]
        self._torn = False

    def _beat(self) -> None:
        self._last_beat = now = time.monotonic()
        if self._heartbeat is None:
            return
        if self.lost or self._run_dir_lost():
            return                     # never write into a run dir that is not ours any more
        beat = {"pid": os.getpid(), "boot": self._boot, "every_s": HEARTBEAT_S, "beat": now,
                "progress": self._progress, "phase": self._phase, "t": time.time(),
                "stall_after_s": max(STALL_FLOOR_BEATS * HEARTBEAT_S, STALL_SLOWEST_STEPS * self._slowest)}
        tmp = self._heartbeat.with_name(self._heartbeat.name + ".tmp")
        try:                       # no fsync: a heartbeat is only worth something while the machine is up
            tmp.write_text(json.dumps(beat))
            os.replace(tmp, self._heartbeat)
        except OSError:
            pass


    def _run_dir_lost(self) -> bool:
        folder, events = self._identity
        if _identity(self.path.parent) != folder:
            self.lost = f"its run directory {self.path.parent} was deleted or replaced while the worker ran"
        elif _identity(self.path, inode_only=True) != events:
            self.lost = f"its event log {self.path} was deleted or replaced while the worker ran"
        return self.lost is not None


def _identity(path: Path, inode_only: bool = False):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino if inode_only else (st.st_dev, st.st_ino)


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
