"""Run history: `tuner ls | show | compare | tag | note | rm | export`. Reads the store (reconciling dead
workers on the way) and the run directories; never imports torch."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time

import yaml
from rich.table import Table
from rich.text import Text

from tuner_tui.commands.common import out, print_json
from tuner_tui.domain.event_text import describe, human_bytes
from tuner_tui.domain.liveness import Stall, short_duration
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_diff import diff_many
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.run_query import RunFilter, filter_runs
from tuner_tui.domain.runs import ACTIVE
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_service import RunService, with_stall
from tuner_tui.runtime.series_cache import RunSeries
from tuner_tui.runtime.store import RunStore


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def _figure(key: str, value: object) -> str:
    """A final figure as a person reads it: bytes as GiB/MiB, seconds as seconds."""
    if key == "peak_memory" and isinstance(value, (int, float)):
        return human_bytes(value)
    return _fmt(value)


def _service() -> RunService:
    return RunService(Home.default())


def _store() -> RunStore:
    return _service().store


def _status(record: dict) -> str:
    stall = record.get("stall")
    if stall:
        return f"stalled {short_duration(stall['silent_s'])}"
    return record["status"]


def _duration(record: dict) -> str:
    """Training time over every attempt (a resumed run's segments add up); a live run's since its launch."""
    runtime = (record.get("final") or {}).get("runtime_s", record.get("runtime_s"))
    if record["status"] not in ACTIVE and isinstance(runtime, (int, float)):
        return f"{runtime:.0f}s"
    since = record.get("launched") or record.get("started")
    if record["status"] in ACTIVE and since:
        return f"{max(0.0, time.time() - since):.0f}s"
    return ""


def cmd_ls(args: argparse.Namespace) -> int:
    wanted = RunFilter(status=args.status, method=args.method, model=args.model, tag=args.tag, text=args.search,
                       sort=args.sort, limit=args.limit)
    records = filter_runs(_service().shown(), wanted)
    if args.json:
        print_json(records)
        return 0
    wide = out.width >= 110            # at 80 columns: ids whole, fewer columns, long names cut with …
    table = Table(title=f"Runs ({len(records)})", title_justify="left")
    table.add_column("id", no_wrap=True, min_width=8)
    table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=22 if wide else 14)
    table.add_column("status", no_wrap=True, min_width=11 if any(r.get("stall") for r in records) else 8)
    table.add_column("parent", no_wrap=True, min_width=8)
    table.add_column("method", no_wrap=True, min_width=6)
    table.add_column("model", no_wrap=True, overflow="ellipsis", max_width=30 if wide else 14)
    extra_columns = ("steps", "peak mem", "started") if wide else ()
    for column in ("best eval", *extra_columns, "time"):
        table.add_column(column, no_wrap=True, justify="right")
    for r in records:
        final = r.get("final") or {}
        started = time.strftime("%m-%d %H:%M", time.localtime(r["started"])) if r.get("started") else ""
        extra = (_fmt(final.get("steps")), human_bytes(r.get("peak_memory")), started) if wide else ()
        table.add_row(r["id"], r["name"], _status(r), r.get("parent_id") or "", r.get("method") or "",
                      r.get("model") or "", _fmt(final.get("best_eval_loss")), *extra, _duration(r))
    out.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    service = _service()
    record = with_stall(service.resolve(args.run))
    children = [r["id"] for r in service.store.all() if r.get("parent_id") == record["id"]]
    paths = RunDir.of(record["run_dir"])
    run_dir = paths.path
    events = read_events(paths.events)
    recipe_text = paths.recipe.read_text(encoding="utf-8") if paths.recipe.exists() else ""
    if args.json:
        print_json({**record, "children": children, "recipe": yaml.safe_load(recipe_text) if recipe_text else None,
                    "last_events": events[-10:]})
        return 0
    out.print(Text.assemble((record["id"], "bold"), f" {record['name']} · ", (_status(record), "bold"),
                            f" · {record.get('method')} on {record.get('model')}"))
    if record.get("stall"):
        out.print(f"  the worker is alive but {Stall(**record['stall']).describe()}: tuner stop {record['id']} "
                  "stops it", markup=False)
    for key in ("created", "started", "ended"):
        if record.get(key):
            out.print(f"  {key}: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record[key]))}")
    gone = "" if run_dir.is_dir() else " (deleted: only the index entry is left; `tuner rm ID` removes it)"
    out.print(f"  run dir: {run_dir}{gone}", markup=False)
    if record.get("failure"):
        f = record["failure"]
        out.print(f"  failure: [{f.get('cause')}] {f.get('message')}\n  suggestion: {f.get('suggestion')}",
                  markup=False)
    final = record.get("final") or {}
    if final:
        out.print("  final: " + ", ".join(f"{k} {_figure(k, v)}" for k, v in final.items() if v is not None),
                  markup=False)
    if record.get("peak_memory"):
        out.print(f"  peak memory: {human_bytes(record['peak_memory'])}")
    out.print(f"  lineage: parent {record.get('parent_id') or '-'} · children {', '.join(children) or '-'}")
    for key, (old, new) in (record.get("edits") or {}).items():
        out.print(f"  edit: {key}: {old} → {new}", markup=False)
    if record.get("tags"):
        out.print(f"  tags: {', '.join(record['tags'])}")
    if record.get("notes"):
        out.print(f"  notes: {record['notes']}", markup=False)
    out.print("  last events:")
    for event in [e for e in events if e["type"] != "memory"][-8:]:
        out.print("    " + describe(event), markup=False, highlight=False)
    if events.skipped:
        out.print(f"  {events.skipped} invalid line(s) of {paths.events} skipped")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    store = _store()
    records = [store.resolve(ref) for ref in args.runs]
    if len(records) == 1:              # one run: against its parent (what a re-launch changed)
        parent_id = records[0].get("parent_id")
        parent = store.get(parent_id) if parent_id else None
        if parent is None:
            why = f"its parent {parent_id} was deleted" if parent_id else "it was not re-launched from another run"
            raise ProblemsFound([Problem(records[0]["id"], f"nothing to compare with: {why}",
                                         hint="give two or more runs: tuner compare RUN RUN...")])
        records.insert(0, parent)
    for r in records:
        RunService.require_dir(r, "compare it")
    recipes = [yaml.safe_load(RunDir.of(r["run_dir"]).recipe.read_text(encoding="utf-8")) for r in records]
    differences = diff_many(recipes)
    curves = [dict(RunSeries.open(r["run_dir"]).points("loss")) for r in records]   # cached: no full re-parse
    common = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    step_sample = common[:: max(1, len(common) // 10)] + ([common[-1]] if common else [])
    ids = [r["id"] for r in records]
    if args.json:
        print_json({"runs": ids, "recipe_differences": differences,
                    "final": {r["id"]: r.get("final") for r in records},
                    "loss_at_steps": {str(s): [c[s] for c in curves] for s in dict.fromkeys(step_sample)}})
        return 0
    table = Table(title="Recipe differences", title_justify="left")
    table.add_column("key")
    for r in records:
        table.add_column(f"{r['id']} {r['name']}", overflow="fold")
    for key, values in differences.items():
        table.add_row(key, *[_fmt(v) for v in values])
    out.print(table if differences else "recipes are identical")
    figures = Table(title="Final figures", title_justify="left")
    figures.add_column("figure")
    for r in records:
        figures.add_column(r["id"])
    from tuner_tui.domain.metrics import FINAL_FIGURES

    for key, _ in FINAL_FIGURES:
        figures.add_row(key, *[_figure(key, (r.get("final") or {}).get(key)) for r in records])
    figures.add_row("peak_memory", *[_figure("peak_memory", r.get("peak_memory")) for r in records])
    figures.add_row("status", *[r["status"] for r in records])
    out.print(figures)
    if step_sample:
        losses = Table(title="Train loss at matching steps", title_justify="left")
        losses.add_column("step")
        for r in records:
            losses.add_column(r["id"])
        for step in dict.fromkeys(step_sample):
            losses.add_row(_fmt(step), *[_fmt(c[step]) for c in curves])
        out.print(losses)
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    service = _service()
    record = service.store.resolve(args.run)
    tags = service.tag(record["id"], args.tag)
    out.print(f"{record['id']}: tags {', '.join(tags)}", markup=False)
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    service = _service()
    record = service.store.resolve(args.run)
    service.note(record["id"], args.text)
    out.print(f"{record['id']}: note saved")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    service = _service()
    record = service.resolve(args.run)
    service.remove(record, files=args.files, force=args.force)
    out.print(f"removed run {record['id']}" + (" and its files" if args.files else
                                                 f" from the index (files kept in {record['run_dir']})"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """jsonl: the log and memory events as written; csv: one row per step (domain/step_table.py)."""
    from tuner_tui.domain.step_table import COLUMNS, step_rows

    record = _store().resolve(args.run)
    events = read_events(RunService.require_dir(record, "export it").events)
    if args.format == "jsonl":
        for row in (e for e in events if e["type"] in ("log", "memory")):
            sys.stdout.write(json.dumps(row) + "\n")
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(step_rows(events))
    return 0
