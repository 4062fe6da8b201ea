"""Metric series from events, downsampled for charts without losing spikes.

A chart a few hundred cells wide cannot show 100,000 points; averaging would hide a loss spike. Min/max
buckets keep, for every bucket, its first, lowest, highest and last point, so every extreme survives.

Two shapes of the same series: `series_from_events` (plain (step, value) lists: the definition, easy to
read) and `SeriesColumns` (two compact arrays per metric: what the run series cache stores and the cockpit
feeds live). Tests pin them to the same points."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from tuner_tui.domain.metrics import METRIC_KEYS

Point = tuple[float, float]          # (step, value)
SERIES_KEYS = METRIC_KEYS            # every declared metric has a series (domain/metrics.py)
SERIES_NAMES = (*SERIES_KEYS, "memory")
MAX_POINTS = 2000


def series_from_events(events: Iterable[dict]) -> dict[str, list[Point]]:
    """Per-metric (step, value) lists; a resumed run's points after its checkpoint replace the old ones."""
    out: dict[str, list[Point]] = {key: [] for key in SERIES_NAMES}
    for event in events:
        kind = event.get("type")
        if kind == "resumed":
            cut = event.get("from_step") or 0
            for points in out.values():
                while points and points[-1][0] > cut:
                    points.pop()
        elif kind == "log":
            step = event.get("step")
            for key in SERIES_KEYS:
                value = event.get(key)
                if isinstance(value, (int, float)) and step is not None:
                    out[key].append((step, float(value)))
        elif kind == "memory":
            value = event.get("peak") or event.get("allocated") or event.get("rss")
            if isinstance(value, (int, float)) and event.get("step") is not None:
                out["memory"].append((event["step"], float(value)))
    return out


def _memory_value(event: dict) -> object:
    return event.get("peak") or event.get("allocated") or event.get("rss")


class SeriesColumns:
    """Every metric as two parallel arrays of doubles (steps, values).

    16 bytes a point instead of ~100 for a tuple of two floats; an array goes to and from bytes in one
    memcpy (the run series cache), and min/max buckets are slices and C-level min/max, not a lambda per
    point. Steps must be numbers (the worker always writes ints); whole steps come back as ints."""

    def __init__(self) -> None:
        self.steps: dict[str, array] = {name: array("d") for name in SERIES_NAMES}
        self.values: dict[str, array] = {name: array("d") for name in SERIES_NAMES}

    def feed(self, events: Iterable[dict]) -> None:
        """Append the points of these events (in log order); a `resumed` event drops the points after its
        checkpoint, as `series_from_events` does. Costs ~1-2 µs an event."""
        steps, values = self.steps, self.values
        for event in events:
            kind = event.get("type")
            if kind == "log":
                step = event.get("step")
                if not isinstance(step, (int, float)):
                    continue
                for key in SERIES_KEYS:
                    value = event.get(key)
                    if isinstance(value, (int, float)):
                        steps[key].append(step)
                        values[key].append(value)
            elif kind == "memory":
                step, value = event.get("step"), _memory_value(event)
                if isinstance(step, (int, float)) and isinstance(value, (int, float)):
                    steps["memory"].append(step)
                    values["memory"].append(value)
            elif kind == "resumed":
                self.cut_after(event.get("from_step") or 0)

    def cut_after(self, step: float) -> None:
        """Drop the trailing points past `step` (the points an earlier attempt logged after a checkpoint)."""
        for name, steps in self.steps.items():
            keep = len(steps)
            while keep and steps[keep - 1] > step:
                keep -= 1
            if keep < len(steps):
                del steps[keep:]
                del self.values[name][keep:]

    def __len__(self) -> int:
        return sum(len(v) for v in self.values.values())

    def points(self, name: str) -> list[Point]:
        """The whole series of one metric as (step, value) pairs (100,000 points: ~15 ms)."""
        return [(_step(s), v) for s, v in zip(self.steps[name], self.values[name], strict=True)]

    def downsampled(self, name: str, max_points: int = MAX_POINTS) -> list[Point]:
        """At most ~max_points points of one metric, each bucket's extremes kept (100,000 points: ~15 ms)."""
        return downsample_columns(self.steps[name], self.values[name], max_points)


def _step(step: float) -> float:
    """Whole steps back to ints, as the log wrote them (a table shows `12000`, not `1.2e+04`)."""
    return int(step) if step.is_integer() else step


def downsample_columns(steps: Sequence[float], values: Sequence[float],
                       max_points: int = MAX_POINTS) -> list[Point]:
    """At most ~max_points points; each bucket keeps its first, min, max and last point, in series order.

    Works on parallel sequences by slicing, so the per-point work is C-level min/max/index."""
    n = len(values)
    if n <= max_points:
        return [(_step(float(s)), float(v)) for s, v in zip(steps, values, strict=True)]
    buckets = max(1, max_points // 4)
    size = n / buckets
    out: list[Point] = []
    for b in range(buckets):
        first, end = int(b * size), int((b + 1) * size)
        if end <= first:
            continue
        for i in sorted({first, *_extremes(values, first, end), end - 1}):
            out.append((_step(float(steps[i])), float(values[i])))
    return out


def _extremes(values: Sequence[float], first: int, end: int) -> tuple[int, int]:
    """Indices of the first lowest and first highest value in values[first:end], NaNs aside.

    An array's slice goes through a memoryview to a list: one C loop makes the floats, and then min, max
    and index compare objects already made (index matches the very object min returned, by identity)."""
    chunk: Any = memoryview(values)[first:end].tolist() if isinstance(values, array) else values[first:end]
    low, high = min(chunk), max(chunk)
    if low != low or high != high:   # a leading NaN wins every comparison: find the extremes among numbers
        numbers = [i for i in range(first, end) if values[i] == values[i]] or [first]
        return min(numbers, key=values.__getitem__), max(numbers, key=values.__getitem__)
    return first + chunk.index(low), first + chunk.index(high)


def downsample(points: list[Point], max_points: int = MAX_POINTS) -> list[Point]:
    """At most ~max_points points; each bucket keeps its first, min, max and last point, in step order."""
    if len(points) <= max_points:
        return points
    steps = [p[0] for p in points]
    values = [p[1] for p in points]
    return downsample_columns(steps, values, max_points)
