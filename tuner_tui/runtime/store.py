"""The run store: TinyDB at TUNER_HOME/runs.json, one small document per run (no time series).

Several processes write it (two SSH sessions, the worker, a CLI command), so every change holds a
cross-process file lock and every write goes to a temp file, is fsynced and then `os.replace`d: a crash or a
kill -9 mid-write leaves the old file whole. Readers need no lock (they see the old or the new file).

Parsing the index is the dominant cost at scale (10,000 runs: 4 MB, ~70 ms on a small CPU), so a store
keeps what it last parsed or wrote (`IndexSnapshot`) and parses again only when another process has
replaced the file since: an update is then a stat, a dump and a write, and the run list re-parses once per
change, not per keystroke.

The run directories stay the source of truth: each keeps a copy of its record (record.json). A runs.json that
does not parse is moved aside (kept) and rebuilt from them, with a warning; so is a missing or empty one while
run directories with records exist (a deleted index must not hide a live run). Where the index cannot be
written (a read-only home, a full disk, an immutable file), reads still work from an index rebuilt in memory,
and writes fail with `IndexUnwritable`, a message naming the file.
"""

from __future__ import annotations

import errno
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
from tuner_tui.runtime.event_log import EventLog
from tuner_tui.runtime.home import Home

LOCK_TIMEOUT_S = 60
RECORD_FILE = RunDir(Path()).record.name


class CorruptIndex(Exception):
    pass


class IndexUnwritable(ProblemsFound):
    """runs.json (or its lock) cannot be written: read-only home, full disk, immutable file. Readers that only
    settle a record (reconcile) carry on in memory; a command that must change the index says why."""

    def __init__(self, path: Path | str, err: OSError | None = None, why: str | None = None):
        self.errno = err.errno if err is not None else None
        reason = why or (err.strerror if err is not None and err.strerror else str(err))
        hint = {errno.ENOSPC: "free space on that disk (`tuner rm RUN --files` deletes an old run's files)",
                errno.EDQUOT: "free space within your disk quota",
                errno.EPERM: f"the file may be immutable: `lsattr {path}`; `chattr -i {path}` lifts it",
                errno.EACCES: "it belongs to someone else or its folder is not writable by you",
                errno.EROFS: "the home is on a read-only file system: set TUNER_HOME to a writable folder",
                }.get(self.errno or 0, "set TUNER_HOME to a writable folder")
        super().__init__([Problem(str(path), f"cannot write the run index: {reason}", hint=hint)])


def _unwritable(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


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
        except OSError as err:
            self.snapshot.forget()               # the data was changed in memory but not on disk
            if _unwritable(err):
                raise IndexUnwritable(self.path, err) from None
            raise
        except BaseException:
            self.snapshot.forget()
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
        self._in_memory: dict | None = None              # an index rebuilt where it cannot be written

    @property
    def read_only(self) -> bool:
        return self.home.read_only

    # ------------------------------------------------------------------------------------------ writing

    @contextmanager
    def _runs(self) -> Iterator[Table]:
        if self.read_only:
            raise IndexUnwritable(self.home.runs_db, why=f"the home {self.home.root} is read-only here",
                                  err=OSError(errno.EROFS, os.strerror(errno.EROFS)))
        try:
            lock = FileLock(str(self.home.runs_lock), timeout=LOCK_TIMEOUT_S)
            lock.acquire()
        except OSError as err:                    # read-only, full (no inode for the lock), not ours
            raise IndexUnwritable(self.home.runs_lock, err) from None
        try:
            with suppress(OSError):
                sweep_temp_files(self.home.runs_db)
            db = self._db()
            try:
                table = db.table("runs")
                lost = db.storage.read() is None  # parse now (or reuse the snapshot), under the lock
            except CorruptIndex as why:
                self._written.forget()
                self._rebuild(f"did not parse ({why})")
                db, lost = self._db(), False
                table = db.table("runs")
            if lost and _run_dirs_with_records(self.home):
                self._rebuild("was missing" if not self.home.runs_db.exists() else "was empty")
                db = self._db()
                table = db.table("runs")
            try:
                yield table
            except BaseException:
                self._written.forget()            # an operation that failed half-way may have changed it
                raise
        finally:
            lock.release()

    def _db(self) -> TinyDB:
        return TinyDB(str(self.home.runs_db), storage=AtomicJSONStorage, snapshot=self._written)

    def _mirror(self, record: dict[str, Any] | None) -> None:
        """Keep the run directory's copy of the record (what a rebuild reads). The index is written already:
        a copy that cannot be written (disk full) only makes a later rebuild less up to date."""
        if record and record.get("run_dir") and Path(record["run_dir"]).is_dir():
            try:
                write_atomic(RunDir.of(record["run_dir"]).record, json.dumps(record, indent=1, default=str))
            except OSError as err:
                print(f"tuner: warning: could not update {RunDir.of(record['run_dir']).record}: {err.strerror}",
                      file=sys.stderr)

    def create(self, record: dict[str, Any]) -> dict[str, Any]:
        self.create_many([record])
        return record

    def create_many(self, records: list[dict[str, Any]]) -> None:
        """Insert in one write (imports, rebuilds, benchmarks); run dirs get their record copies too. A run id
        is one run: a record whose id is already indexed (say, just rebuilt from its run dir) replaces it."""
        with self._runs() as runs:
            fresh = {r["id"]: r for r in records}
            known = {doc["id"] for doc in runs.all() if doc.get("id") in fresh} if fresh else set()
            if known:
                runs.remove(Query().id.one_of(sorted(known)))
            runs.insert_multiple(_detached(list(fresh.values())))
            for record in fresh.values():
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
                data = self._listed.load()
            except CorruptIndex as why:
                return self._heal(f"did not parse ({why})")
            if data is None:
                if _run_dirs_with_records(self.home):       # deleted or emptied, the runs are still there
                    return self._heal("was missing" if not self.home.runs_db.exists() else "was empty")
                data = {}
        if data is not self._cache_source:
            prefix = os.path.join(str(self.home.runs_dir), "")
            self._cache = [self._here(doc, prefix) for doc in (data.get("runs") or {}).values()]
            self._cache_source = data
        return self._cache

    @staticmethod
    def _here(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
        """A record whose run dir is this home's: a home mounted or copied elsewhere (an archive, a colleague's
        runs) keeps the paths of where it was written, which point elsewhere or nowhere here. Strings, not
        Paths: this runs for every record of a 10,000-run list (bench/history_scale.py)."""
        record = dict(doc)
        mine = prefix + str(record.get("id"))
        if record.get("run_dir") != mine and os.path.isdir(mine):
            record["run_dir"] = mine
        return record

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

    def _heal(self, why: str) -> list[dict[str, Any]]:
        """Rebuild the index under the lock and list it; where it cannot be written, list it from memory."""
        try:
            with self._runs():
                pass
        except IndexUnwritable:
            if self._in_memory is None:
                self._in_memory = rebuilt_index(self.home)
                print(f"tuner: warning: {self.home.runs_db} {why} and cannot be rewritten here; showing "
                      f"{len(self._in_memory['runs'])} runs read from their run directories", file=sys.stderr)
            if self._in_memory is not self._cache_source:
                prefix = os.path.join(str(self.home.runs_dir), "")
                self._cache = [self._here(doc, prefix) for doc in self._in_memory["runs"].values()]
                self._cache_source = self._in_memory
            return self._cache
        return self.all()

    def _rebuild(self, why: str) -> None:
        """Move an unreadable or empty index aside (kept) and rebuild it from the run directories."""
        kept = None
        if why.startswith("did not parse"):       # an empty or missing one holds nothing worth keeping
            kept = self.home.runs_db.with_name(f"runs.json.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(self.home.runs_db, kept)
        data = rebuilt_index(self.home)
        AtomicJSONStorage(str(self.home.runs_db), self._written).write(data)
        aside = f"; kept it as {kept.name}" if kept else ""
        print(f"tuner: warning: {self.home.runs_db} {why}{aside}; rebuilt the index from {len(data['runs'])} run "
              "directories", file=sys.stderr)


def _run_dirs_with_records(home: Home) -> bool:
    """Any run directory with its record copy (a glob of the runs folder: only looked at when the index is
    missing or empty)."""
    try:
        return next(home.runs_dir.glob(f"*/{RECORD_FILE}"), None) is not None
    except OSError:
        return False


def rebuilt_index(home: Home) -> dict:
    """The index as the run directories tell it (what a rebuild writes, or keeps in memory)."""
    try:
        dirs = sorted(home.runs_dir.iterdir())
    except OSError:
        dirs = []
    records = [r for r in (record_from_dir(d) for d in dirs) if r]
    return {"runs": {str(i): r for i, r in enumerate(records, start=1)}}


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
    offset = record.get("attempt_offset")        # the latest attempt's events: never an earlier one's end
    terminal = terminal_event(EventLog(paths.events, offset=offset if isinstance(offset, int) and offset > 0
                                       else 0).read_new())
    if terminal is not None:
        record.update(fields_from_terminal(terminal))
    record["run_dir"] = str(run_dir)
    return record
