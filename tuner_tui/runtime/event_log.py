"""Reading a run's events.jsonl: all at once (re-attach) or following it from an offset (live).

A follower reads only the bytes appended since its last read and keeps a torn last line for the next read,
so any number of readers (the UI, `tuner logs -f`, another SSH session) can follow one run cheaply."""

from __future__ import annotations

import os
from pathlib import Path

from tuner_tui.domain.events import Events, decode


class EventLog:
    def __init__(self, path: Path, offset: int = 0):
        self.path = path
        self.offset = offset
        self._partial = b""
        self.skipped = 0                     # whole non-blank lines `decode` refused (torn, foreign, invalid)

    @property
    def complete_offset(self) -> int:
        """Where the last whole line ends: a torn last line is not covered yet (a cache stops here)."""
        return self.offset - len(self._partial)

    def read_new(self) -> Events:
        """Events appended since the last call (all of them on the first call); `.skipped` on the result
        counts this call's invalid lines, `self.skipped` all of them so far."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return Events()
        if not chunk:
            return Events()
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()          # b"" when the chunk ended on a newline
        events = Events()
        for line in lines:
            event = decode(line)
            if event is not None:
                events.append(event)
            elif line.strip():
                events.skipped += 1
        self.skipped += events.skipped
        return events


def append_event(path: Path, line: str) -> None:
    """Append one encoded event as its own line (after a torn last line too), flushed and fsynced: for the
    rare writers other than the worker (the supervisor, reconciliation), whose event must survive."""
    with open(path, "a+b") as fh:
        fh.seek(0, 2)
        torn = fh.tell() > 0 and (fh.seek(-1, 2), fh.read(1))[1] != b"\n"
        fh.write((b"\n" if torn else b"") + line.encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_events(path: Path) -> Events:
    """Every valid event of a log; `.skipped` says how many lines were not (for "N lines skipped")."""
    return EventLog(path).read_new()
