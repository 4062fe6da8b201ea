"""The event wire format (contract): one JSON object per line of RUN_DIR/events.jsonl.

    {"v": 1, "t": <unix seconds>, "type": <str>, ...}

Readers ignore unknown types and keys; `v` only goes up when a reader would misread old lines.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from orjson import loads as _loads  # parses event lines several times faster than json (bench/)

VERSION = 1
# `crashed` is written by the supervisor alone (the worker was killed by a signal before it could report).
TERMINAL = ("finished", "stopped", "failed", "crashed")
FAILURE_CAUSES = ("oom", "nan_loss", "data_error", "model_not_found", "disk_full", "killed", "error")
PHASES = ("loading", "training", "evaluating", "saving", "merging")


def make_event(event_type: str, /, **fields: Any) -> dict:
    return {"v": VERSION, "t": round(time.time(), 3), "type": event_type, **fields}


def encode(event: dict) -> str:
    """One line; NaN/inf become null so every line stays valid JSON for any reader."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in event.items()}
    return json.dumps(clean, separators=(",", ":"), ensure_ascii=False, default=str)


def decode(line: str | bytes) -> dict | None:
    """A parsed event, or None for a torn or foreign line (a reader never fails on one bad line)."""
    try:
        event = _loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    return event


def terminal_event(events: list[dict]) -> dict | None:
    """The last terminal event after the last `resumed` (a resumed run's old `stopped` does not count)."""
    for event in reversed(events):
        if event["type"] in TERMINAL:
            return event
        if event["type"] == "resumed":
            return None
    return None
