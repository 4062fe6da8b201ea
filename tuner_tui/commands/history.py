"""`tuner ls` and `tuner show`: reading the run store (reconciling dead workers on the way)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from tuner_tui.commands.common import out, print_json
from tuner_tui.domain.event_text import describe, human_bytes
from tuner_tui.runtime import launcher
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.store import RunStore


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def cmd_ls(args: argparse.Namespace) -> int:
    store = RunStore(Home.default())
    records = sorted((launcher.reconcile(r, store) for r in store.all()), key=lambda r: r["created"], reverse=True)
    if args.json:
        print_json(records)
        return 0
    table = Table(title="Runs", title_justify="left")
    for column in ("id", "name", "status", "method", "model", "steps", "best eval", "peak mem", "started",
                   "duration"):
        table.add_column(column, overflow="fold")
    for r in records:
        final = r.get("final") or {}
        started = time.strftime("%m-%d %H:%M", time.localtime(r["started"])) if r.get("started") else ""
        duration = f"{(r.get('ended') or time.time()) - r['started']:.0f}s" if r.get("started") else ""
        table.add_row(r["id"], r["name"], r["status"], r["method"], r["model"], _fmt(final.get("steps")),
                      _fmt(final.get("best_eval_loss")), human_bytes(r.get("peak_memory")), started, duration)
    out.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = RunStore(Home.default())
    record = launcher.reconcile(store.resolve(args.run), store)
    if args.json:
        print_json(record)
        return 0
    for key, value in record.items():
        out.print(f"[bold]{key}[/]: {value}", highlight=False)
    events = read_events(Path(record["run_dir"]) / "events.jsonl")
    out.print("[bold]last events[/]:")
    for event in [e for e in events if e["type"] != "memory"][-8:]:
        out.print("  " + describe(event), markup=False, highlight=False)
    return 0
