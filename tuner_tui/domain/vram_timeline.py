"""A run's memory over time, by phase, from its memory events (for the VRAM chart and its phase legend).

The worker emits a memory event at every log and at every phase change, tagged with the phase it closes; on
CUDA its `peak` is the highest allocation since the previous memory event. So the timeline's points are window
peaks, and the highest point of each phase is that phase's peak (evaluation and saving included). Events
written before phases were recorded count as "training". Pure: no I/O, no torch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

DEFAULT_PHASE = "training"
# Which figure stands for "memory" when the caller names none: torch's window peak on CUDA, RSS on CPU.
VALUE_KEYS = ("peak", "allocated", "rss")


class VramPoint(NamedTuple):
    x: float            # the step (x="step") or unix seconds (x="t")
    bytes: int
    phase: str


def memory_bytes(event: dict, key: str | None = None) -> int | None:
    """An event's memory figure: `key` (e.g. "nvml_process_bytes", "reserved") or the first of VALUE_KEYS."""
    for name in (key,) if key else VALUE_KEYS:
        value = event.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def vram_timeline(events: Iterable[dict], x: str = "step", key: str | None = None) -> list[VramPoint]:
    """(x, bytes, phase) for every memory event that has the figure, in event order. With x="step", points of
    an earlier attempt beyond the checkpoint a `resumed` event restarts from are dropped (as in the loss
    series); with x="t" every point is kept, time being unambiguous."""
    out: list[VramPoint] = []
    for event in events:
        kind = event.get("type")
        if kind == "resumed" and x == "step":
            cut = event.get("from_step") or 0
            while out and out[-1].x > cut:
                out.pop()
        elif kind == "memory":
            value, where = memory_bytes(event, key), event.get(x)
            if value is not None and isinstance(where, (int, float)):
                out.append(VramPoint(float(where), value, str(event.get("phase") or DEFAULT_PHASE)))
    return out


def phase_peaks(events: Iterable[dict], key: str | None = None) -> dict[str, int]:
    """{phase: highest memory figure} over all memory events, superseded attempts included (that memory was
    really used), in the order phases first appear."""
    peaks: dict[str, int] = {}
    for event in events:
        if event.get("type") != "memory":
            continue
        value = memory_bytes(event, key)
        if value is not None:
            phase = str(event.get("phase") or DEFAULT_PHASE)
            peaks[phase] = max(peaks.get(phase, value), value)
    return peaks
