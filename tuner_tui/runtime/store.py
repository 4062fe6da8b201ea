"""The run store: TinyDB at TUNER_HOME/runs.json, one small document per run (no time series).

Several processes write it (two SSH sessions, the worker, a CLI command), so every change holds a
cross-process file lock and every write goes to a temp file, is fsynced and then `os.replace`d: a crash or a
kill -9 mid-write leaves the old file whole. Readers need no lock (they see the old or the new file).

Parsing the index is the dominant cost at scale (10,000 runs: 4 MB, ~70 ms on a small CPU), so a store
keeps what it last parsed or wrote (`IndexSnapshot`) and parses again only when another process has
replaced the file since: an update is then a stat, a dump and a write, and the run list re-parses once per
change, not per keystroke.

The run directories stay the source of truth: each keeps a copy of its record (record.json). A runs.json that
does not parse is moved aside (kept) and rebuilt from them, with a warning.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import orjson
import psutil
import yaml
from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from tuner_tui.domain.events import terminal_event
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import fields_from_terminal, new_record, record_defaults
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home

LOCK_TIMEOUT_S = 60
RECORD_FILE = RunDir(Path()).record.name


class CorruptIndex(Exception):
    pass


def write_atomic(path: Path | str, content: str | bytes) -> None:
    """Temp file in the same folder, fsync, os.replace: readers see the old or the new file, never half.

    The temp name carries the pid (so `sweep_temp_files` can tell a dead writer's leftover) and the thread,
    so two threads of one process never write into the same temp file."""
    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def sweep_temp_files(path: Path) -> None:
    """Temp files `write_atomic` left for `path` when its writer was killed mid-write (that pid is gone):
    the file itself is whole, the leftovers only take space."""
    for tmp in path.parent.glob(f"{path.name}.*.tmp"):
        pid = tmp.name.split(".")[-2].split("-")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            tmp.unlink(missing_ok=True)


def _detached(value: Any) -> Any:
    """A deep copy through JSON (microseconds for a record): what goes into or comes out of a kept snapshot
    shares no dict or list with the caller, so a caller's later edit can never leak into runs.json."""
    return orjson.loads(orjson.dumps(value))


def _file_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class IndexSnapshot:
    """runs.json as this store last parsed or wrote it, with that very file held open.

    Every writer replaces the file (`write_atomic`: a new inode), so while runs.json has the device, inode,
    size and mtime of the file held here, no one has written since and the parsed data is still the file's.
    Holding the file open is what makes the inode trustworthy: the kernel cannot give a held inode's number
    to another writer's new file, even where mtimes are coarse. Costs one file descriptor."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict | None = None
        self._file: IO[bytes] | None = None
        self._key: tuple[int, int, int, int] | None = None

    def fresh(self) -> dict | None:
        """The kept data when runs.json is still the file it came from (one stat), else None."""
        if self.data is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return self.data if _file_key(st) == self._key else None

    def load(self) -> dict | None:
        """Parse runs.json (None when missing or empty); raises CorruptIndex when it does not parse."""
        self.forget()
        try:
            fh = open(self.path, "rb")          # noqa: SIM115 - held open on purpose (see the class)
        except FileNotFoundError:
            return None
        st, raw = os.fstat(fh.fileno()), fh.read()   # the same open file: its stat describes these bytes
        try:
            data = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as err:
            fh.close()
            raise CorruptIndex(str(err).split(":")[0]) from None
        if data is not None and not isinstance(data, dict):
            fh.close()
            raise CorruptIndex("not a JSON object")
        self._hold(fh, st, data)
        return data

    def written(self, data: dict) -> None:
        """Keep data just written; call under the lock, while the file at the path is surely ours."""
        self.forget()
        try:
            fh = open(self.path, "rb")          # noqa: SIM115 - held open on purpose (see the class)
        except FileNotFoundError:
            return
        self._hold(fh, os.fstat(fh.fileno()), data)

    def forget(self) -> None:
        if self._file is not None:
            self._file.close()
        self.data, self._file, self._key = None, None, None

    def _hold(self, fh: IO[bytes], st: os.stat_result, data: dict | None) -> None:
        if data is None:
            fh.close()
            return
        self.data, self._file, self._key = data, fh, _file_key(st)


class AtomicJSONStorage(Storage):
    """TinyDB storage: orjson, atomic replace on write, and the parsed data taken from the store's snapshot
    while runs.json is unchanged (no parse at all for an operation that follows this store's last one)."""

    def __init__(self, path: str, snapshot: IndexSnapshot | None = None):
        self.path = path
        self.snapshot = snapshot or IndexSnapshot(Path(path))

    def read(self) -> dict | None:
        data = self.snapshot.fresh()
        return data if data is not None else self.snapshot.load()

    def write(self, data: dict) -> None:
        try:
            write_atomic(self.path, orjson.dumps(data))
        except BaseException:
            self.snapshot.forget()               # the data was changed in memory but not on disk
            raise
        self.snapshot.written(data)

    def close(self) -> None:
        pass


class RunStore:
    def __init__(self, home: Home):
        self.home = home.ensure()
        self._written = IndexSnapshot(self.home.runs_db)   # what writes start from (under the lock)
        self._listed = IndexSnapshot(self.home.runs_db)    # what `all()` copies from (no lock)
        self._cache_source: dict | None = None           # the parsed data `_cache` was copied from
        self._cache: list[dict[str, Any]] = []

    # ------------------------------------------------------------------------------------------ writing

    @contextmanager
    def _runs(self) -> Iterator[Table]:
        with FileLock(str(self.home.runs_lock), timeout=LOCK_TIMEOUT_S):
            sweep_temp_files(self.home.runs_db)
            db = self._db()
            try:
                table = db.table("runs")
                db.storage.read()                 # parse now (or reuse the snapshot), under the lock
            except CorruptIndex as why:
                self._written.forget()
                self._rebuild(str(why))
                db = self._db()
                table = db.table("runs")
            try:
                yield table
            except BaseException:
                self._written.forget()            # an operation that failed half-way may have changed it
                raise

    def _db(self) -> TinyDB:
        return TinyDB(str(self.home.runs_db), storage=AtomicJSONStorage, snapshot=self._written)

    def _mirror(self, record: dict[str, Any] | None) -> None:
        """Keep the run directory's copy of the record (what a rebuild reads)."""
        if record and record.get("run_dir") and Path(record["run_dir"]).is_dir():
            write_atomic(RunDir.of(record["run_dir"]).record, json.dumps(record, indent=1, default=str))

    def create(self, record: dict[str, Any]) -> dict[str, Any]:
        with self._runs() as runs:
            runs.insert(_detached(record))
            self._mirror(record)
        return record

    def create_many(self, records: list[dict[str, Any]]) -> None:
        """Bulk insert in one write (imports, rebuilds, benchmarks); run dirs get their record copies too."""
        with self._runs() as runs:
            runs.insert_multiple(_detached(records))
            for record in records:
                self._mirror(record)

    def change(self, run_id: str, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any] | None:
        """Read-modify-write one run under the lock, as one operation: `edit` gets the record as stored now
        and returns it changed (or as it was). Nothing read outside the lock can be written back, so two
        writers never lose each other's changes (8 processes x 50 tags keep 400 of 400: tests/test_store.py).

        With 10,000 runs: a stat (no parse when this store wrote or read the index last), a plain scan, one
        dump, write and fsync of runs.json, and record.json. Returns the record as written (None: no such run)."""
        with self._runs() as runs:
            storage = runs.storage
            data = storage.read() or {}
            docs = data.get("runs") or {}
            doc_id = next((key for key, doc in docs.items() if doc.get("id") == run_id), None)
            if doc_id is None:
                return None
            before = _detached(docs[doc_id])
            after = edit(_detached(before))
            if after == before:
                return before
            # Replace the document in place and write: TinyDB's update would re-key every document twice.
            docs[doc_id] = _detached(after)
            storage.write(data)
            self._mirror(after)
        return _detached(after)

    def update(self, run_id: str, **fields: Any) -> dict[str, Any] | None:
        """Set some fields of one run (values that do not depend on what is stored; else use `change`)."""
        return self.change(run_id, lambda record: {**record, **fields})

    def remove(self, run_id: str) -> None:
        with self._runs() as runs:
            runs.remove(Query().id == run_id)

    # ------------------------------------------------------------------------------------------ reading

    def all(self) -> list[dict[str, Any]]:
        """Every record; parsed once per change of runs.json (no lock: writes are atomic replaces)."""
        data = self._listed.fresh()
        if data is None:
            try:
                data = self._listed.load() or {}
            except CorruptIndex:
                with self._runs():                # heals it under the lock
                    pass
                return self.all()
        if data is not self._cache_source:
            self._cache = [dict(doc) for doc in (data.get("runs") or {}).values()]
            self._cache_source = data
        return self._cache

    def get(self, run_id: str) -> dict[str, Any] | None:
        return next((dict(r) for r in self.all() if r["id"] == run_id), None)

    def resolve(self, prefix: str) -> dict[str, Any]:
        """A run by unique id prefix, or a message listing the candidates."""
        if not prefix.strip():
            raise ProblemsFound([Problem("RUN", "the run id is empty", hint="`tuner ls` lists runs")])
        records = self.all()
        exact = [r for r in records if r["id"] == prefix]
        matches = exact or [r for r in records if r["id"].startswith(prefix)]
        if len(matches) == 1:
            return dict(matches[0])
        if not matches:
            recent = sorted(records, key=lambda r: r.get("created", 0), reverse=True)[:5]
            listing = ", ".join(f"{r['id']} ({r['name']})" for r in recent) or "no runs yet"
            raise ProblemsFound([Problem(prefix, "no run with this id", expected=f"an id prefix; recent: {listing}",
                                         hint="`tuner ls` lists runs")])
        listing = ", ".join(f"{r['id']} ({r['name']}, {r['status']})" for r in matches[:10])
        raise ProblemsFound([Problem(prefix, f"ambiguous: {len(matches)} runs start with it",
                                     expected=f"a longer prefix of one of {listing}")])

    # ------------------------------------------------------------------------------------------ healing

    def _rebuild(self, why: str) -> None:
        """Move the unreadable index aside (kept) and rebuild it from the run directories."""
        kept = self.home.runs_db.with_name(f"runs.json.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.home.runs_db, kept)
        records = [r for r in (record_from_dir(d) for d in sorted(self.home.runs_dir.iterdir())) if r]
        data = {"runs": {str(i): r for i, r in enumerate(records, start=1)}}
        AtomicJSONStorage(str(self.home.runs_db), self._written).write(data)
        print(f"tuner: warning: {self.home.runs_db} did not parse ({why}); kept it as {kept.name} and rebuilt "
              f"the index from {len(records)} run directories", file=sys.stderr)


def record_from_dir(run_dir: Path) -> dict[str, Any] | None:
    """A run's record from its directory: its record.json, brought up to date by its events."""
    if not run_dir.is_dir():
        return None
    paths = RunDir(run_dir)
    try:
        record = json.loads(paths.record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if not paths.recipe.exists():
            return None
        try:
            recipe = yaml.safe_load(paths.recipe.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            recipe = {}
        record = dict(new_record(run_dir.name, str(run_dir), name=recipe.get("name", run_dir.name),
                                 status="crashed", created=paths.recipe.stat().st_mtime,
                                 method=(recipe.get("method") or {}).get("kind"),
                                 model=(recipe.get("model") or {}).get("source")))
    record = {**record_defaults(run_dir.name, str(run_dir)), **record}     # a record.json of an older tuner
    terminal = terminal_event(read_events(paths.events))
    if terminal is not None:
        record.update(fields_from_terminal(terminal))
    record["run_dir"] = str(run_dir)
    return record
