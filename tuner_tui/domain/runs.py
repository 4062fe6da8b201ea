"""Run records: the small document the store keeps per run (no time series: those live in events.jsonl).

`RunRecord` is the one shape of a record; `new_record` builds it at creation and `record_defaults` fills the
same fields when a record is rebuilt from a run directory, so the two can never disagree on what a record has.

Who writes which fields (one writer per transition, docs/architecture.md):
- the launcher: creation (`queued`), and `pid`/`launched` when it starts the supervisor (again on resume);
- the worker: `running` with `started`, `worker_pid`; its terminal state and `final`;
- the supervisor: the terminal state when the worker could not write it;
- reconciliation: `crashed` only for a run whose lock is free (supervisor and worker both gone);
- the user (tag, note, rename): `tags`, `notes`, under the store lock, read-modify-write in one operation.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from typing import Any, Literal, TypedDict

Status = Literal["queued", "running", "finished", "stopped", "failed", "crashed"]
ACTIVE: tuple[str, ...] = ("queued", "running")
ENDED: tuple[str, ...] = ("finished", "stopped", "failed", "crashed")


class RunRecord(TypedDict, total=False):
    id: str
    name: str
    recipe_name: str
    recipe_path: str | None
    recipe_origin: str                  # built-in | yours | path | relaunch | replay
    method: str | None
    model: str | None
    status: Status
    created: float
    started: float | None               # the first attempt's start (the worker's clock)
    launched: float | None              # the latest attempt's launch
    ended: float | None
    pid: int | None                     # the supervisor of the latest attempt
    worker_pid: int | None
    host: str | None
    parent_id: str | None
    edits: dict[str, list]
    tags: list[str]
    notes: str
    final: dict[str, Any]
    peak_memory: int | None
    failure: dict[str, Any] | None
    run_dir: str
    trust_remote_code: bool
    attempts: int
    attempt_offset: int                 # where the latest attempt's events begin in events.jsonl
    runtime_s: float | None             # training time over every attempt (monotonic segments added up)
    replay_of: str | None               # a replayed recording (runtime/replay.py): its events.jsonl


def new_run_id() -> str:
    """8 lowercase hex digits: short to type, and a prefix of 3-4 is usually unique (like git)."""
    return secrets.token_hex(4)


def record_defaults(run_id: str, run_dir: str) -> RunRecord:
    return RunRecord(id=run_id, name=run_id, recipe_name=run_id, recipe_path=None, recipe_origin="path",
                     method=None, model=None, status="queued", created=time.time(), started=None,
                     launched=None, ended=None, pid=None, worker_pid=None, host=None, parent_id=None, edits={},
                     tags=[], notes="", final={}, peak_memory=None, failure=None, run_dir=run_dir,
                     trust_remote_code=False, attempts=0, replay_of=None)


def new_record(run_id: str, run_dir: str, **fields: Any) -> RunRecord:
    """A record as the launcher creates it (status `queued`); unknown field names are a programming error."""
    record = record_defaults(run_id, run_dir)
    unknown = set(fields) - set(RunRecord.__annotations__)
    if unknown:
        raise TypeError(f"not run record fields: {sorted(unknown)}")
    record.update(fields)          # type: ignore[typeddict-item]
    return record


def fields_from_terminal(event: dict) -> dict:
    """The store fields a terminal event implies; the worker, the supervisor and reconciliation all use this."""
    status = {"finished": "finished", "stopped": "stopped", "failed": "failed", "crashed": "crashed"}[event["type"]]
    summary = _plain_figures(event.get("summary"))
    ended = event.get("t")
    fields: dict = {"status": status, "ended": ended if _finite(ended) else time.time()}
    if summary.get("steps") is not None or status == "finished":   # a supervisor's event knows no figures
        fields["final"] = summary
    if "peak_memory" in summary:
        fields["peak_memory"] = summary["peak_memory"]
    if isinstance(summary.get("runtime_s"), (int, float)):
        fields["runtime_s"] = summary["runtime_s"]      # every attempt's training time, however it ended
    if status in ("failed", "crashed"):
        failure = {k: event.get(k) if isinstance(event.get(k), str) else None for k in ("cause", "message",
                                                                                          "suggestion")}
        fields["failure"] = {**failure, "fix": event["fix"] if isinstance(event.get("fix"), dict) else None}
    else:
        fields["failure"] = None
    return fields


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain_figures(summary: object) -> dict:
    """A summary's scalar figures (numbers, text, null): what the index keeps as `final`. Event lines are
    checked by `domain/events.decode`; this keeps anything else (a hand-made event) out of the index too."""
    if not isinstance(summary, dict):
        return {}
    return {str(k): v for k, v in summary.items()
            if v is None or isinstance(v, (str, bool)) or _finite(v)}


def child_name(parent_name: str, taken: set[str]) -> str:
    """A re-launch's default name: the family's next number (demo -> demo-2 -> demo-3; demo-2's child too)."""
    family = re.sub(r"-\d+$", "", parent_name) or parent_name
    number = 2
    while f"{family}-{number}" in taken:
        number += 1
    return f"{family}-{number}"


def attempts_runtime_s(events: list[dict]) -> float:
    """Training time of the attempts that ended in `events` (each ends with one terminal event whose summary
    has `segment_runtime_s`, on the worker's or supervisor's monotonic clock; older logs wrote it as
    `runtime_s`). A resumed run's runtime is this plus the current attempt's."""
    total = 0.0
    for event in events:
        if event.get("type") not in ("finished", "stopped", "failed", "crashed"):
            continue
        summary: dict = event["summary"] if isinstance(event.get("summary"), dict) else {}
        value = summary.get("segment_runtime_s", summary.get("runtime_s"))
        if isinstance(value, (int, float)) and value == value and value >= 0:
            total += float(value)
    return total
