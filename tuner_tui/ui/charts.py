"""Charts drawn with plotext (textual-plotext), from downsampled series: about four points per column of the
chart (200 at least) whatever the run's length, and min/max buckets keep every spike. Importing plotext costs ~0.3 s, so this
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


class Chart(PlotextPlot):
    """A titled line chart; `draw` replaces every line at once (one refresh)."""

    def __init__(self, title: str, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart")
        self.title = title
        self.render_s = 0.0          # what the last render cost: dashboards pace their redraws with it

    def on_mount(self) -> None:
        self.plt.title(self.title)

    def render(self) -> RenderResult:
        began = time.perf_counter()
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
        # Braille gives two dots per cell across: more than ~4 points per column (each bucket's first, min, max
        # and last) draws nothing new and makes plotext slower (~55 ms vs ~13 ms a chart at 2,000 vs 200 points).
        most = max(200, 4 * self.size.width)
        for i, (label, points) in enumerate(lines):
            points = downsample(points, most)
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
        elif all_x and all(float(x).is_integer() for x in (min(all_x), max(all_x))) and xlabel == "step":
            ticks = step_ticks(min(all_x), max(all_x), max(2, min(5, (self.size.width or 60) // 12)))  # not 52.5
            plt.xticks(ticks, [f"{t:,}" for t in ticks])
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
