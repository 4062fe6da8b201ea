"""The GPU panel: per GPU a memory bar, utilization, temperature, power and a short memory history; the
processes on it, tuner runs labelled with their run id. Without a GPU it says why and shows CPU and RAM.

It only reads the sampler's latest snapshot (taken by the sampler's own thread at 1 Hz): drawing never
waits on NVML."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.terminal_text import printable
from tuner_tui.ui.repaint import show

HISTORY = 60          # samples kept for the sparkline (a minute at 1 Hz)


def bar(fraction: float | None, width: int = 16) -> Text:
    if fraction is None:
        return Text("N/A".ljust(width), style="dim")
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    style = "red" if fraction > 0.9 else ("yellow" if fraction > 0.7 else "green")
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def na(value: object, unit: str = "", fmt: str = "{:.0f}") -> str:
    return "N/A" if value is None else fmt.format(value) + unit


class GpuPanel(Vertical):
    def __init__(self) -> None:
        super().__init__()
        self.history: dict[int, deque] = {}
        self._off = False
        # Held, not queried: shown once a second. Why there is no GPU sits apart from the numbers: it does not
        # change, and re-wrapping it every second cost more than the numbers themselves.
        self.state = Static("", id="gpu-state")
        self.state.display = False
        self.body = Static("waiting for the first sample…", classes="gpu-body", id="gpu-body")
        self.spark = Sparkline([], id="gpu-history")
        self.procs = Static("", id="gpu-procs")

    def compose(self) -> ComposeResult:
        yield Static("GPU", classes="sidebar-title")
        yield self.state
        yield self.body
        yield self.spark
        yield self.procs

    def on_mount(self) -> None:
        if self._off:
            self.show_off()

    def show_off(self) -> None:
        self._off = True
        if not self.is_mounted:
            return
        self.body.update(Text("GPU sampling is off", style="dim"))
        self.spark.display = False

    def show(self, report) -> None:
        """Render one snapshot from runtime.gpu (or None before the first sample)."""
        if report is None or not self.is_mounted:
            return
        body, procs, spark = self.body, self.procs, self.spark
        host = self._host(report)
        if not report.gpus:
            self.state.display = True
            show(self.state, Text(f"{report.reason or 'no GPU'}\n", style="yellow"))
            show(body, host)
            spark.display = False
            show(procs, self._workers(report))
            return
        self.state.display = False
        text = Text()
        for gpu in report.gpus:
            used, total = gpu.memory_used, gpu.memory_total
            fraction = used / total if used is not None and total else None
            text.append(f"{gpu.index} {gpu.name}\n", style="bold")
            text.append("mem  ") + text.append_text(bar(fraction))
            text.append(f"\n     {human_bytes(used)} / {human_bytes(total)}\n")
            util = gpu.utilization / 100 if gpu.utilization is not None else None
            text.append("util ") + text.append_text(bar(util))
            text.append(f" {na(gpu.utilization, '%')}\n")
            text.append(f"temp {na(gpu.temperature, '°C')}  power {na(gpu.power_draw, 'W')}"
                        f"/{na(gpu.power_limit, 'W')}\n")
            self.history.setdefault(gpu.index, deque(maxlen=HISTORY)).append(used or 0)
        show(body, text + host)
        spark.display = True
        spark.data = list(self.history.get(report.gpus[0].index, []))
        show(procs, self._processes(report))

    def _host(self, report) -> Text:
        cpu, used, total = getattr(report, "cpu_percent", None), getattr(report, "ram_used", None), \
            getattr(report, "ram_total", None)
        text = Text()
        text.append("cpu  ") + text.append_text(bar(cpu / 100 if cpu is not None else None))
        text.append(f" {na(cpu, '%')}\n")
        text.append("ram  ") + text.append_text(bar(used / total if used and total else None))
        text.append(f"\n     {human_bytes(used)} / {human_bytes(total)}\n")
        return text

    # Plain text rows, not rich Tables: these change every second, and a Table is measured and laid out
    # again on each change (bench/ui_idle.py).

    def _processes(self, report) -> Text:
        text = Text()
        for gpu in report.gpus:
            for proc in gpu.processes or []:
                run_id = getattr(proc, "run_id", None)
                label = f"run {run_id}" if run_id else printable(proc.name or "?")   # any user's process
                text.append(f"{gpu.index} {proc.pid:>7} {human_bytes(proc.used_memory):>9} ")
                text.append(f"{label}\n", style="bold green" if run_id else "")
        if not text:
            return self._workers(report)
        header = Text()
        header.append("gpu     pid       mem what\n", style="dim")
        return header + text

    def _workers(self, report) -> Text:
        workers = getattr(report, "workers", None) or []
        if not workers:
            return Text("")
        text = Text()
        text.append("tuner workers\n", style="italic")
        text.append("run         pid       rss  cpu\n", style="dim")
        for w in workers:
            text.append(f"{w.run_id[:8]:<8} {w.pid:>6} {human_bytes(w.rss):>9} {na(w.cpu_percent, '%'):>4}\n")
        return text
