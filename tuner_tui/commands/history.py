"""Run history: `tuner ls | show | compare | tag | note | rm | export`. Reads the store (reconciling dead
workers on the way) and the run directories; never imports torch."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

import yaml
from rich.table import Table

from tuner_tui.commands.common import out, print_json
from tuner_tui.domain.event_text import describe, human_bytes
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_diff import diff_many
from tuner_tui.domain.run_query import RunFilter, filter_runs
from tuner_tui.domain.runs import ACTIVE
from tuner_tui.runtime import launcher
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.series_cache import RunSeries
from tuner_tui.runtime.store import RunStore


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def _store() -> RunStore:
    return RunStore(Home.default())


def _reconciled(store: RunStore) -> list[dict]:
    return [launcher.reconcile(r, store) if r["status"] in ACTIVE else r for r in store.all()]


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    wanted = RunFilter(status=args.status, method=args.method, model=args.model, tag=args.tag, text=args.search,
                       sort=args.sort, limit=args.limit)
    records = filter_runs(_reconciled(store), wanted)
    if args.json:
        print_json(records)
        return 0
    wide = out.width >= 110            # at 80 columns: ids whole, fewer columns, long names cut with …
    table = Table(title=f"Runs ({len(records)})", title_justify="left")
    table.add_column("id", no_wrap=True, min_width=8)
    table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=22 if wide else 14)
    table.add_column("status", no_wrap=True, min_width=8)
    table.add_column("method", no_wrap=True, min_width=6)
    table.add_column("model", no_wrap=True, overflow="ellipsis", max_width=30 if wide else 14)
    extra_columns = ("steps", "peak mem", "started") if wide else ()
    for column in ("best eval", *extra_columns, "time"):
        table.add_column(column, no_wrap=True, justify="right")
    for r in records:
        final = r.get("final") or {}
        started = time.strftime("%m-%d %H:%M", time.localtime(r["started"])) if r.get("started") else ""
        duration = f"{(r.get('ended') or time.time()) - r['started']:.0f}s" if r.get("started") else ""
        extra = (_fmt(final.get("steps")), human_bytes(r.get("peak_memory")), started) if wide else ()
        table.add_row(r["id"], r["name"], r["status"], r.get("method") or "", r.get("model") or "",
                      _fmt(final.get("best_eval_loss")), *extra, duration)
    out.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store()
    record = launcher.reconcile(store.resolve(args.run), store)
    children = [r["id"] for r in store.all() if r.get("parent_id") == record["id"]]
    run_dir = Path(record["run_dir"])
    events = read_events(run_dir / "events.jsonl")
    recipe_text = (run_dir / "recipe.yaml").read_text(encoding="utf-8") if (run_dir / "recipe.yaml").exists() else ""
    if args.json:
        print_json({**record, "children": children, "recipe": yaml.safe_load(recipe_text) if recipe_text else None,
                    "last_events": events[-10:]})
        return 0
    out.print(f"[bold]{record['id']}[/] {record['name']} · [bold]{record['status']}[/] · {record.get('method')} on "
              f"{record.get('model')}", highlight=False)
    for key in ("created", "started", "ended"):
        if record.get(key):
            out.print(f"  {key}: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record[key]))}")
    out.print(f"  run dir: {run_dir}", markup=False)
    if record.get("failure"):
        f = record["failure"]
        out.print(f"  failure: [{f.get('cause')}] {f.get('message')}\n  suggestion: {f.get('suggestion')}",
                  markup=False)
    final = record.get("final") or {}
    if final:
        out.print("  final: " + ", ".join(f"{k} {_fmt(v)}" for k, v in final.items() if v is not None),
                  markup=False)
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
    recipes = [yaml.safe_load((Path(r["run_dir"]) / "recipe.yaml").read_text(encoding="utf-8")) for r in records]
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
    for key in ("steps", "train_loss", "best_eval_loss", "tokens", "runtime_s"):
        figures.add_row(key, *[_fmt((r.get("final") or {}).get(key)) for r in records])
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
    store = _store()
    record = store.resolve(args.run)
    tags = sorted(set(record.get("tags") or []) | {args.tag})
    store.update(record["id"], tags=tags)
    out.print(f"{record['id']}: tags {', '.join(tags)}")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    store = _store()
    record = store.resolve(args.run)
    store.update(record["id"], notes=args.text)
    out.print(f"{record['id']}: note saved")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    home = Home.default()
    store = RunStore(home)
    record = launcher.reconcile(store.resolve(args.run), store)
    if record["status"] in ACTIVE:
        if not args.force:
            raise ProblemsFound([Problem(record["id"], "the run is still running",
                                         hint=f"tuner stop {record['id']} first, or tuner rm {record['id']} --force")])
        launcher.stop(record, home)
    store.remove(record["id"])
    if args.files:
        shutil.rmtree(record["run_dir"], ignore_errors=True)
    out.print(f"removed run {record['id']}" + (" and its files" if args.files else
                                                 f" from the index (files kept in {record['run_dir']})"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """jsonl: the log and memory events as written; csv: one row per step (domain/step_table.py)."""
    from tuner_tui.domain.step_table import COLUMNS, step_rows

    record = _store().resolve(args.run)
    events = read_events(Path(record["run_dir"]) / "events.jsonl")
    if args.format == "jsonl":
        for row in (e for e in events if e["type"] in ("log", "memory")):
            sys.stdout.write(json.dumps(row) + "\n")
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(step_rows(events))
    return 0
