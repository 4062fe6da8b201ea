"""A run's metrics as a table, one row per step: what `tuner export --format csv` writes.

A spreadsheet user plots columns against `step`, so every step is one row: the step's train log and its
evaluation (two `log` events at the same step) share it, and the memory events of that step (one after each
log, one at each phase change: evaluating, saving) are merged into its memory columns as the highest value
each reached around that step, rather than repeated as rows of their own with the metrics empty. A step that
only has memory (step 0: loading) gets a row too. A resumed run's rows after its checkpoint are replaced by
the new attempt's. The metric columns come from domain/metrics.py."""

from __future__ import annotations

from collections.abc import Iterable

from tuner_tui.domain.metrics import METRIC_KEYS

MEMORY_COLUMNS = ("allocated", "reserved", "peak", "rss", "nvml_process_bytes")   # bytes, the memory event's
COLUMNS = ("step", "epoch", "t", *METRIC_KEYS, "tokens", "device", *MEMORY_COLUMNS)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def step_rows(events: Iterable[dict]) -> list[dict]:
    """Rows in step order, keyed by COLUMNS (a missing value is absent)."""
    rows: dict[float, dict] = {}
    for e in events:
        kind, step = e.get("type"), e.get("step")
        if kind == "resumed":
            cut = e.get("from_step") or 0
            rows = {s: row for s, row in rows.items() if s <= cut}
            continue
        if kind not in ("log", "memory") or not isinstance(step, (int, float)):
            continue
        row = rows.setdefault(step, {"step": step})
        row.setdefault("t", e.get("t"))
        if kind == "log":
            row.update({k: e[k] for k in ("epoch", *METRIC_KEYS, "tokens") if e.get(k) is not None})
        else:
            if e.get("device"):
                row["device"] = e["device"]
            for k in MEMORY_COLUMNS:
                if _number(e.get(k)):
                    row[k] = max(row.get(k, e[k]), e[k])
    return [rows[s] for s in sorted(rows)]
