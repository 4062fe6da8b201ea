"""Charts drawn with plotext (textual-plotext), from downsampled series: at most ~400 points per line whatever
the run's length, and min/max buckets keep every spike. Importing plotext costs ~0.3 s, so this
module is only imported when the first dashboard or comparison opens, never at start-up."""

from __future__ import annotations

import math
import time

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tuner_tui.domain.series import downsample

PHASE_COLORS = {"loading": "gray", "training": "cyan", "evaluating": "orange", "saving": "magenta",
                "merging": "green"}
LINE_COLORS = ("cyan", "orange", "green", "magenta", "red", "blue", "yellow", "white")
GIB = 2**30
# Braille gives two dots per cell across, and each downsampling bucket keeps 4 points (first, min, max, last):
# ~400 points fill a 100-column chart. More draw nothing new and make plotext slower (~55 ms a chart at 2,000
# points against ~13 ms at 200, on this project's 2-core machine).
CHART_POINTS = 400


class Chart(PlotextPlot):
    """A titled line chart; `draw` replaces every line at once (one refresh)."""

    def __init__(self, title: str, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart")
        self.title = title
        self.render_s = 0.0          # what the last render cost: dashboards pace their redraws with it
        self._steps: tuple[float, float] | None = None   # a whole-step x range: ticked at render, by width

    def on_mount(self) -> None:
        self.plt.title(self.title)

    def render(self) -> RenderResult:
        began = time.perf_counter()
        if self._steps is not None:           # here, not in draw(): the width is known (and final) only now
            ticks = step_ticks(*self._steps, max(2, min(5, self.size.width // 12)))
            self.plt.xticks([float(t) for t in ticks], [f"{t:,}" for t in ticks])
        rendered = super().render()
        self.render_s = time.perf_counter() - began
        return rendered

    def draw(self, lines: list[tuple[str, list[tuple[float, float]]]], xlabel: str = "step",
             markers: list[tuple[float, str]] | None = None, scatter: bool = False) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(xlabel)
        drawn = False
        all_x: list[float] = []
        all_y: list[float] = []
        for i, (label, points) in enumerate(lines):
            points = downsample(points, CHART_POINTS)
            if not points:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            all_x += xs
            all_y += ys
            color = PHASE_COLORS.get(label) or LINE_COLORS[i % len(LINE_COLORS)]
            if scatter or len(points) == 1:
                plt.scatter(xs, ys, label=label, color=color, marker="braille")
            else:
                plt.plot(xs, ys, label=label, color=color, marker="braille")
            drawn = True
        for x, _kind in markers or []:
            plt.vline(x, "red")
        # One point (a first eval, a run at step 1): plotext would spread a zero-width axis into ticks like
        # 9.99, 10.00, 10.01. Give it a range a person reads.
        if all_x and min(all_x) == max(all_x):
            plt.xlim(all_x[0] - 1, all_x[0] + 1)
        self._steps = None
        if all_x and min(all_x) < max(all_x) and xlabel == "step" \
                and all(float(x).is_integer() for x in (min(all_x), max(all_x))):
            self._steps = (min(all_x), max(all_x))             # steps are whole: 0 50 100, not 52.5 105.0
        if all_y and min(all_y) == max(all_y):
            pad = max(abs(all_y[0]) * 0.1, 1e-3)
            plt.ylim(all_y[0] - pad, all_y[0] + pad)
        if not drawn:
            plt.title(f"{self.title} (no points yet)")
        self.refresh()


def step_ticks(low: float, high: float, count: int = 5) -> list[int]:
    """About `count` round whole numbers (1, 2 or 5 times a power of ten apart) from low to high."""
    raw = max(1.0, (high - low) / (count - 1))
    power = 10 ** math.floor(math.log10(raw))
    spacing = min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    first = math.ceil(low / spacing) * spacing
    return list(range(int(first), int(high) + 1, int(spacing)))


def vram_lines(memory: list[tuple[float, float, str]], t0: float | None) -> list[tuple[str, list]]:
    """The VRAM (or RSS) timeline as one line per phase, x in minutes since the start, y in GiB."""
    start = t0 if t0 is not None else (memory[0][0] if memory else 0.0)
    by_phase: dict[str, list[tuple[float, float]]] = {}
    for t, value, phase in memory:
        by_phase.setdefault(phase, []).append(((t - start) / 60, value / GIB))
    return list(by_phase.items())
