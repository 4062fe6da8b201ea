"""The run store: TinyDB at TUNER_HOME/runs.json, one small document per run.

Several processes write it (two SSH sessions, the worker, a CLI command), so every operation holds a
cross-process file lock, and every write goes to a temp file, is fsynced and then `os.replace`d: a crash or a
kill -9 mid-write leaves the old file whole. The run directories stay the source of truth; this is the index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.runtime.home import Home

LOCK_TIMEOUT_S = 60


class AtomicJSONStorage(Storage):
    def __init__(self, path: str):
        self.path = path

    def read(self) -> dict | None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ProblemsFound([Problem(self.path, f"the run index does not parse ({err.msg})", line=err.lineno,
                                         hint="move it aside; the run directories still hold every run")]) from None

    def write(self, data: dict) -> None:
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def close(self) -> None:
        pass


class RunStore:
    def __init__(self, home: Home):
        self.home = home.ensure()

    @contextmanager
    def _runs(self) -> Iterator[Table]:
        with FileLock(str(self.home.runs_lock), timeout=LOCK_TIMEOUT_S):
            db = TinyDB(str(self.home.runs_db), storage=AtomicJSONStorage)
            yield db.table("runs")

    def create(self, record: dict[str, Any]) -> dict[str, Any]:
        with self._runs() as runs:
            runs.insert(record)
        return record

    def update(self, run_id: str, **fields: Any) -> None:
        with self._runs() as runs:
            runs.update(fields, Query().id == run_id)

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._runs() as runs:
            found = runs.get(Query().id == run_id)
        return dict(found) if found else None

    def all(self) -> list[dict[str, Any]]:
        with self._runs() as runs:
            return [dict(doc) for doc in runs.all()]

    def remove(self, run_id: str) -> None:
        with self._runs() as runs:
            runs.remove(Query().id == run_id)

    def resolve(self, prefix: str) -> dict[str, Any]:
        """A run by unique id prefix, or a message listing the candidates."""
        records = self.all()
        exact = [r for r in records if r["id"] == prefix]
        matches = exact or [r for r in records if r["id"].startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            recent = sorted(records, key=lambda r: r.get("created", 0), reverse=True)[:5]
            listing = ", ".join(f"{r['id']} ({r['name']})" for r in recent) or "no runs yet"
            raise ProblemsFound([Problem(prefix, "no run with this id", expected=f"an id prefix; recent: {listing}",
                                         hint="`tuner ls` lists runs")])
        listing = ", ".join(f"{r['id']} ({r['name']}, {r['status']})" for r in matches[:10])
        raise ProblemsFound([Problem(prefix, f"ambiguous: {len(matches)} runs start with it",
                                     expected=f"a longer prefix of one of {listing}")])
