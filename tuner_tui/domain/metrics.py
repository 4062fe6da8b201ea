"""Every training metric, declared once: its key in `log` events, how it reads and where it is drawn.

The worker's callback copies the Trainer's keys from this table, and every reader derives what it shows from
it: the progress fold and its series (`run_progress`, `series`), the series cache, the event text
(`tuner logs`, the Events panel), the attached progress line, `tuner export` columns, the dashboard's charts
and the comparison's charts. Adding a metric here is the whole change (the worker must also log it, under
this key). Like dolphie's `MetricData`: the views read the declaration, none lists metrics of its own.

Keys are a wire-format contract (DESIGN.md, "Event wire format"): renaming one breaks old logs and users'
scripts, so add, never rename."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str                    # as in the `log` event (and the export's column)
    label: str                  # short, in a line of text: "lr 2.000e-04"
    title: str                  # long, as a chart's title or a person says it
    fmt: str                    # format spec for its value
    chart: str | None = None    # the dashboard chart that draws it (a ChartSpec key); None: not charted
    legend: str = ""            # its line's name in that chart
    better: str | None = None   # "lower" | "higher": what "best" means for it
    from_trainer: bool = True   # the HF Trainer logs it under this key (else the callback measures it)
    evaluation: bool = False    # measured on held-out data: an evaluation happened when it is logged
    on_progress_line: bool = False   # shown on `tuner run`'s attached progress line
    compared: bool = False      # overlaid per run in the comparison view

    def text(self, value: object) -> str:
        return format(value, self.fmt) if isinstance(value, (int, float)) else "n/a"


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    memory: bool = False        # drawn from the memory timeline (by phase), not from metrics
    warnings: bool = False      # loss spikes and overfitting marked on it, at their steps


METRICS: tuple[Metric, ...] = (
    Metric("loss", "loss", "train loss", ".4f", chart="loss", legend="train", better="lower",
           on_progress_line=True, compared=True),
    Metric("eval_loss", "eval loss", "eval loss", ".4f", chart="loss", legend="eval", better="lower",
           evaluation=True, on_progress_line=True, compared=True),
    Metric("learning_rate", "lr", "learning rate", ".3e", chart="lr", legend="lr"),
    Metric("grad_norm", "grad norm", "gradient norm", ".3f"),
    Metric("tokens_per_s", "tok/s", "tokens/s", ",.0f", chart="speed", legend="tokens/s", better="higher",
           from_trainer=False, on_progress_line=True),
)

# The dashboard's charts, in grid order (2 columns from 100 cells wide, else 1).
CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("loss", "loss (train, eval)", warnings=True),
    ChartSpec("lr", "learning rate"),
    ChartSpec("vram", "memory (GiB) by phase", memory=True),
    ChartSpec("speed", "tokens/s"),
)

# The dashboard header's figures, in order: (metric key, "last", "best" or "base" [step 0's evaluation, the
# untrained model's], how it reads).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("tokens_per_s", "last", "{:,.0f} tokens/s"),
    ("loss", "last", "loss {:.4f}"),
    ("eval_loss", "best", "best eval {:.4f}"),
    ("eval_loss", "base", "base eval {:.4f}"),
)

# A finished run's figures (the terminal event's `summary`, kept as the record's `final`): key, and whether
# the dashboard's summary lists it (the comparison lists them all, and the record's peak memory).
FINAL_FIGURES: tuple[tuple[str, bool], ...] = (
    ("steps", True), ("train_loss", True), ("best_eval_loss", True), ("base_eval_loss", True), ("tokens", False),
    ("train_tokens_per_s", True), ("runtime_s", True),
)

METRIC_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)
TRAINER_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS if m.from_trainer)
BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    return BY_KEY[key]


def on_chart(chart: str) -> tuple[Metric, ...]:
    return tuple(m for m in METRICS if m.chart == chart)


def is_evaluation(event: dict) -> bool:
    """A `log` event that carries an evaluation's result."""
    return any(m.evaluation and m.key in event for m in METRICS)
