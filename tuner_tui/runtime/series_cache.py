"""A run's folded progress without re-parsing its whole log: RUN_DIR/series.cache.

Decoding a 100,000-line events.jsonl costs ~600 ms on a small CPU; reading the same series back as arrays
costs a few ms. The cache holds the run's `RunProgress` fold of the log up to a byte offset that ends on a
whole line: its metric series (`SeriesColumns`: steps and values as doubles), its memory timeline (times and
bytes as doubles, phases run-length coded) and the rest of its state (started event, phase, warnings,
terminal event, pace: small JSON), plus what identifies that log: its device and inode and checksums of its
first and last 4 KB before that offset. Opening a run reads the cache, parses only the bytes appended after
the offset (`EventLog` from there) and downsamples. The cockpit's dashboards and comparisons, and
`tuner compare`, open runs this way.

The cache is disposable: missing, corrupt, written for another log (rewritten, replaced or shrunk), from
another version or byte order, it is ignored and rebuilt from the log, silently. Readers build it (the
cockpit, `tuner compare`); the worker never writes it, so training never pays for it. It is replaced
atomically (`write_atomic`); where the run dir is read-only, the series is still served, just not saved.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from tuner_tui.domain.events import decode
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.domain.series import MAX_POINTS, Point, SeriesColumns
from tuner_tui.runtime.event_log import EventLog
from tuner_tui.runtime.store import write_atomic

CACHE_FILE = RunDir(Path()).series_cache.name
LOG_FILE = "events.jsonl"
MAGIC = b"tuner-series\n"
VERSION = 2                                    # 2: the whole progress fold, not only the metric series
FINGERPRINT_BYTES = 4096
# Re-parsing 256 KB of new lines (~2,000 events) on the next open costs ~10 ms; rewriting the cache costs
# a write and an fsync of the whole series. Below this, opening leaves the cache as it is.
REWRITE_AFTER_BYTES = 256 * 1024
# The Events panel's window into a log opened from its cache: ~2,000 lines, the panel keeps 1,000 of them.
TAIL_BYTES = 512 * 1024


@dataclass(frozen=True)
class LogMark:
    """Where a cache stops in events.jsonl, and how to recognise that same log again."""

    dev: int
    ino: int
    offset: int
    head_crc: int
    tail_crc: int


class RunSeries:
    """One run's progress (series included), loaded from its cache plus the log's new bytes, kept up to date.

    `open` for a run as it is now; then `read_new` (follow the log) or `feed` (events the caller already
    has) to extend it, and `downsampled` for a chart: no step re-reads the whole log."""

    def __init__(self, run_dir: Path, progress: RunProgress | None = None, offset: int = 0):
        self.run_dir = Path(run_dir)
        self.progress = progress or RunProgress()
        self._log = EventLog(self.run_dir / LOG_FILE, offset)
        self._identity = _identity(self._log.path)
        self._fed = False                 # points came from `feed`: the cache could not say which bytes
        self.bytes_parsed = 0             # log bytes decoded by this object (the cache's saving, measurable)

    @classmethod
    def open(cls, run_dir: Path | str, *, save: bool = True) -> RunSeries:
        """The run's series now: cache + appended bytes. Saves the cache when it was unusable or far
        behind (never raises; a read-only run dir just goes without)."""
        run_dir = Path(run_dir)
        cached = load_cache(run_dir)
        series = cls(run_dir, *cached) if cached else cls(run_dir)
        series.read_new()
        if save and (cached is None or series.bytes_parsed >= REWRITE_AFTER_BYTES):
            series.save()
        return series

    @property
    def columns(self) -> SeriesColumns:
        return self.progress.columns

    @property
    def offset(self) -> int:
        """Log bytes covered by whole lines: follow the log from here to get what this series lacks."""
        return self._log.complete_offset

    def read_new(self) -> list[dict]:
        """Events appended since the last read, fed into the series and returned (for an events panel).
        A log that was replaced or shrank is read again from the start."""
        identity = _identity(self._log.path)
        if identity is not None and (identity[:2] != (self._identity or identity)[:2]
                                     or identity[2] < self._log.offset):
            self._restart()
        self._identity = identity or self._identity
        before = self._log.offset
        events = self._log.read_new()
        self.bytes_parsed += self._log.offset - before
        self.progress.feed(events)
        return events

    def feed(self, events: list[dict]) -> None:
        """Extend the series with events read elsewhere (from `self.offset` on). The cache is not saved
        from then on: this object no longer knows which log bytes its points came from."""
        self._fed = True
        self.progress.feed(events)

    def points(self, name: str) -> list[Point]:
        return self.columns.points(name)

    def downsampled(self, name: str, max_points: int = MAX_POINTS) -> list[Point]:
        return self.columns.downsampled(name, max_points)

    def save(self) -> bool:
        """Write the cache (atomic replace); False when it cannot or should not be written."""
        if self._fed:
            return False
        mark = mark_log(self._log.path, self.offset)
        if mark is None:
            return False
        try:
            write_atomic(RunDir.of(self.run_dir).series_cache, encode_cache(mark, self.progress))
        except OSError:                  # read-only home, disk full: the series is served all the same
            return False
        return True

    def _restart(self) -> None:
        self.progress = RunProgress()
        self._log = EventLog(self._log.path)
        self._fed = False


def recent_events(run_dir: Path | str, end: int, max_bytes: int = TAIL_BYTES) -> list[dict]:
    """The events of the last whole lines before byte `end` (at most `max_bytes` of them): what an Events
    panel lists, without decoding the whole log (~20 ms for 512 KB, whatever the log's length)."""
    start = max(0, end - max_bytes)
    try:
        with open(Path(run_dir) / LOG_FILE, "rb") as fh:
            fh.seek(start)
            chunk = fh.read(end - start)
    except OSError:
        return []
    lines = chunk.split(b"\n")
    if start > 0:
        lines = lines[1:]                      # the first line began before the window
    return [event for event in map(decode, lines) if event is not None]


def _identity(log_path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(log_path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size


def mark_log(log_path: Path, offset: int) -> LogMark | None:
    """The log's identity up to `offset`: two 4 KB reads, so a rewritten log is told from an appended one."""
    try:
        with open(log_path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_size < offset:
                return None
            head = fh.read(min(offset, FINGERPRINT_BYTES))
            fh.seek(max(0, offset - FINGERPRINT_BYTES))
            tail = fh.read(offset - max(0, offset - FINGERPRINT_BYTES))
    except OSError:
        return None
    return LogMark(st.st_dev, st.st_ino, offset, zlib.crc32(head), zlib.crc32(tail))


def encode_cache(mark: LogMark, progress: RunProgress) -> bytes:
    """MAGIC, a 4-byte header length, an orjson header (the fold's state, the memory timeline's phases),
    then each metric's steps and values as doubles, then the memory timeline's times and bytes."""
    columns = progress.columns
    times = array("d", (t for t, _, _ in progress.memory))
    sizes = array("d", (b for _, b, _ in progress.memory))
    body = b"".join(columns.steps[name].tobytes() + columns.values[name].tobytes() for name in columns.steps)
    body += times.tobytes() + sizes.tobytes()
    header = orjson.dumps({"version": VERSION, "byteorder": sys.byteorder, "log": asdict(mark),
                           "columns": {name: len(v) for name, v in columns.values.items()},
                           "state": progress.state(), "memory_phases": _runs(p for _, _, p in progress.memory),
                           "body_crc": zlib.crc32(body)})
    return MAGIC + struct.pack("<I", len(header)) + header + body


def load_cache(run_dir: Path) -> tuple[RunProgress, int] | None:
    """The cached progress and the log offset it covers, or None when there is no cache this log can use."""
    try:
        blob = RunDir.of(run_dir).series_cache.read_bytes()
        header, body = _split(blob)
        mark = LogMark(**header["log"])
        if mark != mark_log(run_dir / LOG_FILE, mark.offset):
            return None                   # another log now: rewritten, replaced, shrunk or gone
        columns, at = _columns(header["columns"], body)
        memory = _memory(header["memory_phases"], body[at:])
        return RunProgress.restore(header["state"], columns, memory), mark.offset
    except Exception:                     # a cache is disposable: anything odd about it means rebuild
        return None


def _runs(phases) -> list[list]:
    """Run-length coded phases: [["training", 480], ["evaluating", 1], ...] (a timeline has few changes)."""
    out: list[list] = []
    for phase in phases:
        if out and out[-1][0] == phase:
            out[-1][1] += 1
        else:
            out.append([phase, 1])
    return out


def _memory(phases: list[list], raw: memoryview) -> list[tuple[float, float, str]]:
    n = sum(count for _, count in phases)
    if len(raw) != 16 * n:
        raise ValueError("memory timeline does not match")
    times, sizes = _doubles(raw[:8 * n]), _doubles(raw[8 * n:])
    names = [phase for phase, count in phases for _ in range(count)]
    return list(zip(times, sizes, names, strict=True))


def _split(blob: bytes) -> tuple[dict, memoryview]:
    if not blob.startswith(MAGIC):
        raise ValueError("not a series cache")
    start = len(MAGIC) + 4
    (size,) = struct.unpack_from("<I", blob, len(MAGIC))
    header = orjson.loads(blob[start:start + size])
    body = memoryview(blob)[start + size:]
    if header.get("version") != VERSION or header.get("byteorder") != sys.byteorder:
        raise ValueError("another version or byte order")
    if zlib.crc32(body) != header["body_crc"]:
        raise ValueError("torn or damaged")
    return header, body


def _columns(lengths: dict[str, int], body: memoryview) -> tuple[SeriesColumns, int]:
    """The metric series, and where they end in the body. Another set of metrics (the declaration in
    domain/metrics.py changed) means rebuild."""
    columns = SeriesColumns()
    if set(lengths) != set(columns.values) or 16 * sum(lengths.values()) > len(body):
        raise ValueError("columns do not match")
    at = 0
    for name in lengths:                       # the order encode_cache wrote them in
        n = 8 * lengths[name]
        columns.steps[name] = _doubles(body[at:at + n])
        columns.values[name] = _doubles(body[at + n:at + 2 * n])
        at += 2 * n
    return columns, at


def _doubles(raw: memoryview) -> array:
    out = array("d")
    out.frombytes(raw)                         # one memcpy
    return out
