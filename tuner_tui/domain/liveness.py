"""Is a live worker making progress? Read from the heartbeat its event writer keeps (RunDir.heartbeat).

Whether a worker is alive at all is answered by its run lock (runtime/run_lock.py), never by clocks. The
heartbeat answers the second question, "is it making progress?", with durations measured on the monotonic
clock (`time.monotonic()`, CLOCK_MONOTONIC: one clock for every process of a boot, and NTP or a live migration
stepping the wall clock does not move it). A stalled worker is shown as stalled; it is never written crashed.
"""

from __future__ import annotations

from dataclasses import dataclass

# The writer beats every `every_s`; a process that missed this many beats is stopped (SIGSTOP) or frozen.
MISSED_BEATS = 4
# Phases with steps: there, a beat without progress for `stall_after_s` means a hung loop (a deadlock, a
# hung NCCL collective). Loading and saving have no steps to count, so only the beat is judged there.
STEPPED_PHASES = ("training", "evaluating")


@dataclass(frozen=True)
class Stall:
    silent_s: float
    why: str

    def describe(self) -> str:
        return f"stalled: {self.why} for {short_duration(self.silent_s)}"


def stall(heartbeat: dict | None, now_mono: float, boot_id: str | None = None) -> Stall | None:
    """The stall a heartbeat shows at `now_mono` (this boot's monotonic clock), or None when it is fresh,
    unreadable or from another boot (then nothing can be said)."""
    if not heartbeat:
        return None
    try:
        beat, progress = float(heartbeat["beat"]), float(heartbeat["progress"])
        every_s, stall_after_s = float(heartbeat["every_s"]), float(heartbeat["stall_after_s"])
    except (KeyError, TypeError, ValueError):
        return None
    if boot_id and heartbeat.get("boot") not in (None, boot_id):
        return None
    silent = now_mono - beat
    if silent > MISSED_BEATS * every_s:
        return Stall(silent, "no heartbeat (the worker is stopped or frozen)")
    quiet = now_mono - progress
    if heartbeat.get("phase") in STEPPED_PHASES and quiet > stall_after_s:
        return Stall(quiet, f"no step while {heartbeat['phase']}")
    return None


def short_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
