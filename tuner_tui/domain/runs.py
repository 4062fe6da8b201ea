"""Run records: the small document the store keeps per run (no time series: those live in events.jsonl)."""

from __future__ import annotations

import secrets
from typing import Literal

Status = Literal["queued", "running", "finished", "stopped", "failed", "crashed"]
ACTIVE: tuple[str, ...] = ("queued", "running")


def new_run_id() -> str:
    """8 lowercase hex digits: short to type, and a prefix of 3-4 is usually unique (like git)."""
    return secrets.token_hex(4)


def fields_from_terminal(event: dict) -> dict:
    """The store fields a terminal event implies; the worker and reconciliation both use this."""
    status = {"finished": "finished", "stopped": "stopped", "failed": "failed"}[event["type"]]
    fields: dict = {"status": status, "ended": event["t"], "final": event.get("summary", {})}
    if "peak_memory" in event.get("summary", {}):
        fields["peak_memory"] = event["summary"]["peak_memory"]
    if status == "failed":
        fields["failure"] = {k: event.get(k) for k in ("cause", "message", "suggestion", "fix")}
    else:
        fields["failure"] = None
    return fields
