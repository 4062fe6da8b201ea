"""The worker's reporting channel: callers put events on a queue.Queue; one writer thread appends them to
events.jsonl, flushed per line (readers see them at once) and fsynced at checkpoints and at the end.

The training loop never waits on disk: `emit` is a queue put. Only rank 0 creates a writer."""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any

from tuner_tui.domain.events import encode, make_event

_FSYNC = object()
_CLOSE = object()


class EventWriter:
    def __init__(self, path: Path):
        self.path = path
        self._queue: queue.Queue = queue.Queue()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - owned by the writer thread
        self._thread = threading.Thread(target=self._drain, name="tuner-event-writer", daemon=True)
        self._thread.start()
        self.error: OSError | None = None

    def emit(self, event_type: str, /, **fields: Any) -> None:
        self._queue.put(make_event(event_type, **fields))

    def sync(self) -> None:
        """Ask for an fsync after the events queued so far (checkpoints)."""
        self._queue.put(_FSYNC)

    def close(self) -> None:
        """Drain everything, fsync, stop the thread. Safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join(timeout=30)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
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


class NullWriter:
    """What ranks other than 0 get: reporting is rank 0's job."""

    def emit(self, event_type: str, /, **fields: Any) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
