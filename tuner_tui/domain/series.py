"""Metric series from events, downsampled for charts without losing spikes.

A chart a few hundred cells wide cannot show 100,000 points; averaging would hide a loss spike. Min/max
buckets keep, for every bucket, its first, lowest, highest and last point, so every extreme survives."""

from __future__ import annotations

from collections.abc import Iterable

Point = tuple[float, float]          # (step, value)
SERIES_KEYS = ("loss", "eval_loss", "learning_rate", "grad_norm", "tokens_per_s")
MAX_POINTS = 2000


def series_from_events(events: Iterable[dict]) -> dict[str, list[Point]]:
    """Per-metric (step, value) lists; a resumed run's points after its checkpoint replace the old ones."""
    out: dict[str, list[Point]] = {key: [] for key in (*SERIES_KEYS, "memory")}
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


def downsample(points: list[Point], max_points: int = MAX_POINTS) -> list[Point]:
    """At most ~max_points points; each bucket keeps its first, min, max and last point, in step order."""
    n = len(points)
    if n <= max_points:
        return points
    buckets = max(1, max_points // 4)
    size = n / buckets
    out: list[Point] = []
    for b in range(buckets):
        chunk = points[int(b * size): int((b + 1) * size)]
        if not chunk:
            continue
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        keep = {id(p): p for p in (chunk[0], low, high, chunk[-1])}
        out.extend(sorted(keep.values(), key=lambda p: p[0]))
    return out
