"""`tuner gpu [--once] [--json] [--interval S]`: GPUs, their processes (tuner's labelled by run id), host CPU/RAM
and tuner workers, live (rich Live, Ctrl-C exits 0) or as one snapshot. Never imports torch."""

from __future__ import annotations

import argparse
import time

from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tuner_tui.commands.common import out, print_json
from tuner_tui.runtime.gpu import GpuInfo, GpuReport, GpuSampler, fmt, fmt_bytes

BAR_WIDTH = 20
PRIME_S = 0.25        # --once: two samples this far apart, so CPU % has an interval to measure


def _bar(value: float | None, total: float | None) -> RenderableType:
    if value is None or not total:
        return Text("N/A".ljust(BAR_WIDTH), style="dim")
    share = value / total
    style = "red" if share >= 0.9 else "yellow" if share >= 0.7 else "green"
    return ProgressBar(total=total, completed=min(value, total), width=BAR_WIDTH, complete_style=style,
                       finished_style=style)


def _gpu_table(gpu: GpuInfo) -> Table:
    visible = "hidden" if gpu.visible_index is None else f"cuda:{gpu.visible_index}"
    title = f"GPU {gpu.index} ({visible}) {gpu.name or 'N/A'}" + (" · MIG" if gpu.is_mig else "")
    grid = Table.grid(padding=(0, 1))
    grid.title, grid.title_justify, grid.title_style = title, "left", "bold"
    for _ in range(3):
        grid.add_column(no_wrap=True)
    grid.add_row("memory", _bar(gpu.memory_used, gpu.memory_total),
                 f"{fmt_bytes(gpu.memory_used)} / {fmt_bytes(gpu.memory_total)}")
    grid.add_row("util", _bar(gpu.utilization, 100), fmt(gpu.utilization, "d", " %"))
    grid.add_row("temp", _bar(gpu.temperature, 100), fmt(gpu.temperature, "d", " °C"))
    grid.add_row("power", _bar(gpu.power_draw, gpu.power_limit),
                 f"{fmt(gpu.power_draw, '.0f', ' W')} / {fmt(gpu.power_limit, '.0f', ' W')}")
    return grid


def _processes(report: GpuReport) -> Table | None:
    rows = [(g, p) for g in report.gpus for p in g.processes]
    if not rows:
        return None
    table = Table(title="GPU processes", title_justify="left")
    for name, justify in (("gpu", "right"), ("pid", "right"), ("memory", "right"), ("process", "left"),
                          ("tuner run", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for gpu, proc in rows:
        table.add_row(str(gpu.index), str(proc.pid), fmt_bytes(proc.used_memory), proc.name or "N/A",
                      proc.run_id or "")
    return table


def _host(report: GpuReport) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.title, grid.title_justify, grid.title_style = "Host", "left", "bold"
    for _ in range(3):
        grid.add_column(no_wrap=True)
    grid.add_row("CPU", _bar(report.cpu_percent, 100), fmt(report.cpu_percent, ".0f", " %"))
    grid.add_row("RAM", _bar(report.ram_used, report.ram_total),
                 f"{fmt_bytes(report.ram_used)} / {fmt_bytes(report.ram_total)}")
    for worker in report.workers:
        grid.add_row(f"run {worker.run_id}", Text(f"{len(worker.pids)} process(es)".ljust(BAR_WIDTH)),
                     f"RSS {fmt_bytes(worker.rss)} · CPU {fmt(worker.cpu_percent, '.0f', ' %')}")
    return grid


def render(report: GpuReport) -> RenderableType:
    clock = time.strftime("%H:%M:%S", time.localtime(report.time))
    parts: list[RenderableType] = [Text(f"tuner gpu · {clock}", style="dim")]
    if report.reason:
        parts.append(Text(report.reason, style="yellow"))
    parts += [_gpu_table(g) for g in report.gpus]
    processes = _processes(report)
    if processes is not None:
        parts.append(processes)
    parts.append(_host(report))
    return Group(*parts)


def cmd_gpu(args: argparse.Namespace) -> int:
    sampler = GpuSampler(interval=args.interval)
    if args.once or args.json:            # --json is one document: a snapshot, never a stream
        sampler.sample()
        time.sleep(PRIME_S)
        report = sampler.sample()
        if args.json:
            print_json(report.to_dict())
        else:
            out.print(render(report))
        return 0
    try:
        with Live(render(sampler.sample()), console=out, auto_refresh=False) as live:
            sampler.on_sample = lambda report: live.update(render(report), refresh=True)
            sampler.start()
            try:
                while True:
                    time.sleep(3600)
            finally:
                sampler.stop()            # before Live ends: no update lands on a stopped display
    except KeyboardInterrupt:
        pass                              # Ctrl-C is how one leaves a live view: exit 0
    return 0
