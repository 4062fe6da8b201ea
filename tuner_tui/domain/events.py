"""The event wire format (contract): one JSON object per line of RUN_DIR/events.jsonl.

    {"v": 1, "t": <unix seconds>, "type": <str>, ...}

Readers ignore unknown types and keys; `v` only goes up when a reader would misread old lines.

Event lines are untrusted input (anything that can write the run dir can write them): `decode` is the one
place they are parsed, and it lets through only lines whose fields a reader uses have the right type, with
finite numbers in range, so no reader, the index (`domain/runs.fields_from_terminal`) included, ever sees a
string for a time or a 2,000-deep list for a loss. What it refuses is counted (`Events.skipped`), so a
reader can say "N lines skipped" instead of failing.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from orjson import loads as _loads  # parses event lines several times faster than json (bench/)

from tuner_tui.domain.metrics import METRIC_KEYS

VERSION = 1
# `crashed` is written by the supervisor alone (the worker was killed by a signal before it could report).
TERMINAL = ("finished", "stopped", "failed", "crashed")
FAILURE_CAUSES = ("oom", "nan_loss", "data_error", "model_not_found", "disk_full", "killed", "error")
PHASES = ("loading", "training", "evaluating", "saving", "merging")
# A `phase` event may carry `detail`: what that phase is doing, in words ("tokenizer of Qwen/Qwen2.5-0.5B, then
# the data"). The worker repeats `loading` with a new detail as loading moves on; a reader that predates the
# key sees the same phase again, which changes nothing for it.


def make_event(event_type: str, /, **fields: Any) -> dict:
    return {"v": VERSION, "t": round(time.time(), 3), "type": event_type, **fields}


def encode(event: dict) -> str:
    """One line; NaN/inf become null so every line stays valid JSON for any reader."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in event.items()}
    return json.dumps(clean, separators=(",", ":"), ensure_ascii=False, default=str)


class Events(list):
    """Decoded events, and how many non-blank lines were skipped as invalid (torn, foreign or hostile)."""

    skipped: int = 0


def decode(line: str | bytes) -> dict | None:
    """A parsed, validated event, or None for a torn, foreign or invalid line (a reader never fails on one
    bad line). Costs ~1 µs over parsing for a `log` line (a dict lookup per key)."""
    try:
        event = _loads(line)
    except ValueError:                     # torn, not JSON, a number beyond a double, nested past orjson's limit
        return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not _valid(event):
        return None
    return event


# The largest time (year 5138) and count a reader accepts: `time.localtime` and `int` stay in range, and a
# double still holds every integer up to 2**53 exactly (steps are stored as doubles: domain/series.py).
MAX_TIME = 1e11
MAX_COUNT = 2**53
MAX_DEPTH = 8          # nesting of any value: repr/json of a 2,000-deep list would exceed Python's recursion limit


def _number(value: object) -> bool:
    """A finite int or float (bool is not a number here: `true` is no loss)."""
    kind = type(value)
    return (kind is float and value - value == 0.0) or kind is int      # type: ignore[operator]  # inf-inf: nan


def _optional_number(value: object) -> bool:
    return value is None or _number(value)            # the worker writes NaN/inf as null (encode)


def _count(value: object) -> bool:
    """A whole number 0..2**53 (a float step like 12.0 counts: it is what a double holds)."""
    if type(value) is int:
        return 0 <= value <= MAX_COUNT                 # type: ignore[operator]
    return value is None or (type(value) is float and 0.0 <= value <= MAX_COUNT and value.is_integer())


def _time(value: object) -> bool:
    return _number(value) and 0 <= value <= MAX_TIME  # type: ignore[operator]


def _text(value: object) -> bool:
    return value is None or isinstance(value, str)


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _text_map(value: object) -> bool:
    return value is None or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))


def _summary(value: object) -> bool:
    """A terminal event's figures (what becomes the record's `final`): numbers or null, whatever else it has."""
    return value is None or (isinstance(value, dict) and _shallow(value, MAX_DEPTH - 1)
                             and all(_optional_number(v) for k, v in value.items() if k in _FIGURES))


def _fix(value: object) -> bool:
    """A failure's `--set` overrides: key -> a plain value."""
    return value is None or (isinstance(value, dict) and _shallow(value, 2))


def _shallow(value: object, depth: int) -> bool:
    if isinstance(value, dict):
        return depth > 0 and all(_shallow(v, depth - 1) for v in value.values())
    if isinstance(value, list):
        return depth > 0 and all(_shallow(v, depth - 1) for v in value)
    return True


# Every key a reader uses, with its check (an absent key is fine: readers have defaults). Keys are the same
# whatever the event's type (`step` is a count in `log`, `memory`, `warning` and `stopped` alike).
_FIGURES = ("steps", "epoch", "train_loss", "best_eval_loss", "base_eval_loss", "tokens", "train_tokens_per_s",
            "runtime_s", "segment_runtime_s", "peak_memory")
_CHECKS = {
    "v": _count, "t": _time,
    "step": _count, "from_step": _count, "total_steps": _count, "tokens": _count, "pid": _count,
    "world_size": _count, "trainable_params": _count, "total_params": _count, "dataset_rows": _count,
    "train_rows": _count, "eval_rows": _count, "rows": _count, "dataset_tokens": _count, "trained_tokens": _count,
    "rows_dropped": _count,
    "quantized_layers": lambda v: _count(v) or (isinstance(v, dict) and all(_count(n) for n in v.values())),
    "epoch": _optional_number, "allocated": _optional_number, "reserved": _optional_number,
    "peak": _optional_number, "rss": _optional_number, "nvml_process_bytes": _optional_number,
    "phase": _text, "host": _text, "device": _text, "precision": _text, "kind": _text, "message": _text,
    "suggestion": _text, "cause": _text, "path": _text, "checkpoint": _text, "prompt": _text, "text": _text,
    "reference": _text, "traceback_tail": _text, "detail": _text,
    "devices": _texts, "outputs": _text_map, "summary": _summary, "fix": _fix,
    **{key: _optional_number for key in METRIC_KEYS},     # the declared metrics: numbers or null
}


def _valid(event: dict) -> bool:
    if "t" not in event:                      # every line has a time (make_event); readers sort and show it
        return False
    for key, value in event.items():
        check = _CHECKS.get(key)
        if check is not None:
            if not check(value):
                return False
        elif isinstance(value, (dict, list)) and not _shallow(value, MAX_DEPTH):
            return False
    return True


def terminal_event(events: list[dict]) -> dict | None:
    """The last terminal event after the last `resumed` (a resumed run's old `stopped` does not count)."""
    for event in reversed(events):
        if event["type"] in TERMINAL:
            return event
        if event["type"] == "resumed":
            return None
    return None
