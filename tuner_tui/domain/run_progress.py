"""A run's live state, folded from its events one at a time: what the dashboard header, charts and summary
show, and `tuner run`'s attached progress line (one fold, one ETA for both). Pure and incremental: a new event
costs O(1), so following a run never re-reads its history. The metric series are `SeriesColumns` (every
metric of domain/metrics.py), the shape the run series cache stores: a run opens from its cache
(`runtime/series_cache.py`: the columns, the memory timeline and `state()`) and goes on from there.

ETA is the remaining steps at the average pace since training (or the last resume) began, which is steadier
than the last step's pace and honest about evaluation pauses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

from tuner_tui.domain.events import TERMINAL
from tuner_tui.domain.metrics import METRIC_KEYS, metric
from tuner_tui.domain.series import MAX_POINTS, Point, SeriesColumns

# Fields that are neither series nor the memory timeline: what `state()` gives the cache, as JSON.
_BULKY = ("columns", "memory")


@dataclass
class RunProgress:
    total_steps: int | None = None
    step: int = 0
    epoch: float | None = None
    phase: str | None = None
    phase_detail: str | None = None        # what the phase is doing, when the worker says (loading steps)
    started_t: float | None = None
    pace_t0: float | None = None           # (time, step) where the pace measurement starts
    pace_step0: int = 0
    last_t: float | None = None
    started: dict = field(default_factory=dict)
    terminal: dict | None = None
    warnings: list[dict] = field(default_factory=list)
    phase_peaks: dict[str, float] = field(default_factory=dict)
    columns: SeriesColumns = field(default_factory=SeriesColumns)
    memory: list[tuple[float, float, str]] = field(default_factory=list)    # (t, bytes, phase)

    def feed(self, events: list[dict]) -> None:
        self.columns.feed(events)          # the series (a `resumed` cuts them there)
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
            self.phase_detail = e.get("detail")
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
            self.phase = self.phase_detail = None

    def _log(self, e: dict) -> None:
        step = e.get("step")
        if not isinstance(step, (int, float)):
            return
        self.step = max(self.step, int(step))
        self.epoch = e.get("epoch", self.epoch)

    def _memory(self, e: dict) -> None:
        value = e.get("peak") or e.get("reserved") or e.get("nvml_process_bytes") or e.get("rss")
        t = e.get("t")
        if not isinstance(value, (int, float)) or not isinstance(t, (int, float)):
            return
        phase = e.get("phase") or self.phase or "training"
        self.memory.append((float(t), float(value), phase))
        self.phase_peaks[phase] = max(self.phase_peaks.get(phase, 0.0), float(value))

    def _resumed(self, from_step: int, t: float | None) -> None:
        """Points the earlier attempt logged after the checkpoint are superseded by the new attempt's (the
        columns cut them in `feed`); the pace restarts."""
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

    def best(self, key: str) -> float | None:
        """The best value of a metric, as its declaration says (lowest loss, highest tokens/s). An evaluation
        at step 0 is the base model's (`base`), not a result of training: it never counts as the best."""
        evaluation = metric(key).evaluation
        values = [v for step, v in self.points(key) if step > 0 or not evaluation]
        if not values:
            return None
        return max(values) if metric(key).better == "higher" else min(values)

    def base(self, key: str) -> float | None:
        """An evaluation metric before any training (eval_on_start at step 0): what the run is measured against."""
        return next((v for step, v in self.points(key) if step == 0), None) if metric(key).evaluation else None

    def best_eval(self) -> float | None:
        return self.best("eval_loss")

    def base_eval(self) -> float | None:
        return self.base("eval_loss")

    def last(self, key: str) -> float | None:
        values = self.columns.values.get(key)
        return values[-1] if values else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.last("tokens_per_s")

    @property
    def last_memory(self) -> float | None:
        return self.memory[-1][1] if self.memory else None

    def points(self, key: str) -> list[Point]:
        return self.columns.points(key)

    def downsampled(self, key: str, max_points: int = MAX_POINTS) -> list[Point]:
        return self.columns.downsampled(key, max_points)

    @property
    def series(self) -> dict[str, list[Point]]:
        """Every metric's whole series as (step, value) lists: O(points); charts use `downsampled`."""
        return {key: self.columns.points(key) for key in METRIC_KEYS}

    # ------------------------------------------------------------------------------------------ cache

    def state(self) -> dict:
        """Everything but the series and the memory timeline, as JSON values (the cache's header)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _BULKY}

    @classmethod
    def restore(cls, state: dict, columns: SeriesColumns, memory: list[tuple[float, float, str]]) -> RunProgress:
        known = {f.name for f in fields(cls)} - set(_BULKY)
        return cls(**{k: v for k, v in state.items() if k in known}, columns=columns, memory=memory)
