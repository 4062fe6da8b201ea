"""Following several runs at once: the cockpit watches every open dashboard and every running run.

Each poll costs one `stat` per watched run when nothing was appended (no open, no read, no parse), so a
cockpit polling twice a second while a run trains idles near 0% CPU. Readers never touch the store here."""

from __future__ import annotations

import os
from pathlib import Path

from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime.event_log import EventLog


class RunFollower:
    def __init__(self) -> None:
        self._logs: dict[str, EventLog] = {}

    def watch(self, run_id: str, run_dir: str | Path, offset: int = 0) -> None:
        """Start following; offset = bytes already read elsewhere (e.g. from a series cache)."""
        if run_id not in self._logs:
            self._logs[run_id] = EventLog(RunDir.of(run_dir).events, offset)

    def adopt(self, run_id: str, log: EventLog) -> None:
        """Continue from a log that was read elsewhere (e.g. a dashboard's first full read in a thread)."""
        self._logs[run_id] = log

    def unwatch(self, run_id: str) -> None:
        self._logs.pop(run_id, None)

    def watching(self) -> list[str]:
        return list(self._logs)

    def offset(self, run_id: str) -> int:
        log = self._logs.get(run_id)
        return log.offset if log else 0

    def poll(self) -> dict[str, list[dict]]:
        """New events per run (only runs that have some)."""
        out: dict[str, list[dict]] = {}
        for run_id, log in list(self._logs.items()):
            try:
                size = os.stat(log.path).st_size
            except OSError:
                continue
            if size == log.offset:
                continue
            if size < log.offset:            # the log was replaced (a rebuilt run dir): read it again
                log = self._logs[run_id] = EventLog(log.path)
            events = log.read_new()
            if events:
                out[run_id] = events
        return out
