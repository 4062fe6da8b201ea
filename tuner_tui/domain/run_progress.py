"""A run's live state, folded from its events one at a time: what the dashboard header, charts and summary
show. Pure and incremental: a new event costs O(1), so following a run never re-reads its history.

ETA is the remaining steps at the average pace since training (or the last resume) began, which is steadier
than the last step's pace and honest about evaluation pauses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tuner_tui.domain.events import TERMINAL

CHART_KEYS = ("loss", "eval_loss", "learning_rate", "grad_norm", "tokens_per_s")


@dataclass
class RunProgress:
    total_steps: int | None = None
    step: int = 0
    epoch: float | None = None
    phase: str | None = None
    tokens_per_s: float | None = None
    started_t: float | None = None
    pace_t0: float | None = None           # (time, step) where the pace measurement starts
    pace_step0: int = 0
    last_t: float | None = None
    started: dict = field(default_factory=dict)
    terminal: dict | None = None
    warnings: list[dict] = field(default_factory=list)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {k: [] for k in CHART_KEYS})
    memory: list[tuple[float, float, str]] = field(default_factory=list)    # (t, bytes, phase)
    phase_peaks: dict[str, float] = field(default_factory=dict)

    def feed(self, events: list[dict]) -> None:
        for event in events:
            self._one(event)

    def _one(self, e: dict) -> None:
        kind, t = e.get("type"), e.get("t")
        self.last_t = t if isinstance(t, (int, float)) else self.last_t
        if kind == "started":
            self.started = e
            self.total_steps = e.get("total_steps") or self.total_steps
            self.started_t = self.started_t or t
            self.terminal = None
        elif kind == "phase":
            self.phase = e.get("phase")
            self.total_steps = e.get("total_steps") or self.total_steps
            if self.phase == "training" and self.pace_t0 is None:
                self.pace_t0, self.pace_step0 = t, self.step
        elif kind == "log":
            self._log(e)
        elif kind == "memory":
            self._memory(e)
        elif kind == "warning":       # the worker warns just before the step's log line: mark the next step
            self.warnings.append({**e, "step": e.get("step", self.step + 1)})
        elif kind == "resumed":
            self._resumed(e.get("from_step") or 0, t)
        elif kind in TERMINAL:
            self.terminal = e
            self.phase = None

    def _log(self, e: dict) -> None:
        step = e.get("step")
        if not isinstance(step, (int, float)):
            return
        self.step = max(self.step, int(step))
        self.epoch = e.get("epoch", self.epoch)
        if isinstance(e.get("tokens_per_s"), (int, float)):
            self.tokens_per_s = e["tokens_per_s"]
        for key in CHART_KEYS:
            value = e.get(key)
            if isinstance(value, (int, float)):
                self.series[key].append((float(step), float(value)))

    def _memory(self, e: dict) -> None:
        value = e.get("peak") or e.get("reserved") or e.get("nvml_process_bytes") or e.get("rss")
        t = e.get("t")
        if not isinstance(value, (int, float)) or not isinstance(t, (int, float)):
            return
        phase = e.get("phase") or self.phase or "training"
        self.memory.append((float(t), float(value), phase))
        self.phase_peaks[phase] = max(self.phase_peaks.get(phase, 0.0), float(value))

    def _resumed(self, from_step: int, t: float | None) -> None:
        """Points the earlier attempt logged after the checkpoint are superseded by the new attempt's."""
        for points in self.series.values():
            while points and points[-1][0] > from_step:
                points.pop()
        self.step = from_step
        self.terminal = None
        self.pace_t0, self.pace_step0 = t, from_step

    # ------------------------------------------------------------------------------------------ derived

    def eta_s(self, now: float | None = None) -> float | None:
        if self.terminal or not self.total_steps or self.pace_t0 is None or self.step <= self.pace_step0:
            return None
        elapsed = (now or time.time()) - self.pace_t0
        per_step = elapsed / (self.step - self.pace_step0)
        return max(0.0, (self.total_steps - self.step) * per_step)

    def best_eval(self) -> float | None:
        values = [v for _, v in self.series["eval_loss"]]
        return min(values) if values else None

    def last(self, key: str) -> float | None:
        points = self.series.get(key) or []
        return points[-1][1] if points else None
