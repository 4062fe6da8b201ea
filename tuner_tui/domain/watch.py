"""Watching the loss curves for what a person would want to be told: overfitting and loss spikes.

Pure and incremental: the worker feeds every logged value and turns the returned messages into `warning`
events; the UI can replay the same logic over a recorded run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from itertools import pairwise


@dataclass
class LossWatch:
    patience: int = 2            # evaluations of rising eval loss before we say "overfitting"
    spike_factor: float = 3.0    # a train loss this many times the recent median is a spike
    train: list[float] = field(default_factory=list)
    evals: list[tuple[float, float | None]] = field(default_factory=list)  # (eval loss, train loss then)
    warned_overfit: bool = False

    def on_train_loss(self, step: int, loss: float) -> str | None:
        recent = self.train[-10:]
        self.train.append(loss)
        if len(recent) >= 5:
            median = statistics.median(recent)
            if median > 0 and loss > self.spike_factor * median:
                return f"loss spike at step {step}: {loss:.4g} against a recent median of {median:.4g}"
        return None

    def on_eval_loss(self, step: int, eval_loss: float) -> str | None:
        train_now = self.train[-1] if self.train else None
        self.evals.append((eval_loss, train_now))
        if self.warned_overfit or len(self.evals) <= self.patience:
            return None
        window = self.evals[-(self.patience + 1):]
        eval_rising = all(b[0] > a[0] for a, b in pairwise(window))
        trains = [t for _, t in window]
        train_falling = None not in trains and trains[-1] < trains[0]  # type: ignore[operator]
        if eval_rising and train_falling:
            self.warned_overfit = True
            best = min(e for e, _ in self.evals)
            return (f"overfitting: eval loss rose {self.patience} evaluations in a row (now {eval_loss:.4g}, "
                    f"best {best:.4g}) while train loss fell; consider fewer epochs or "
                    "train.early_stopping_patience")
        return None
