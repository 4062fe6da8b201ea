"""`tuner run`, `resume`, `stop`, `logs`: launching workers and watching them. No torch in this process."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.text import Text

from tuner_tui.commands.common import err, out, print_json, print_problems
from tuner_tui.domain.event_text import describe
from tuner_tui.domain.events import TERMINAL, terminal_event
from tuner_tui.domain.metrics import is_evaluation
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.progress_text import progress_line
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.domain.runs import ACTIVE, fields_from_terminal
from tuner_tui.runtime import launcher
from tuner_tui.runtime.event_log import EventLog, read_events
from tuner_tui.runtime.exit_cause import complete_checkpoints
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.preflight import preflight
from tuner_tui.runtime.recipe_catalog import resolve_recipe
from tuner_tui.runtime.run_service import RunService
from tuner_tui.runtime.store import RunStore

POLL_S = 0.5


def cmd_run(args: argparse.Namespace) -> int:
    home = Home.default().ensure()
    path = resolve_recipe(args.recipe, home)
    loaded = load_recipe(path, args.overrides)
    checked = preflight(loaded, home, force=args.force)
    if not args.json:
        print_problems(checked.warnings)
    launched = RunService(home).start(loaded, name=args.name, checked=checked)
    return _follow_launched(launched.record, launched.process, home, args, resume=False)


def cmd_resume(args: argparse.Namespace) -> int:
    home = Home.default()
    service = RunService(home)
    record = service.resolve(args.run)
    proc = service.resume(record)
    return _follow_launched(record, proc, home, args, resume=True)


def cmd_relaunch(args: argparse.Namespace) -> int:
    home = Home.default().ensure()
    service = RunService(home)
    parent = service.resolve(args.run)
    source = service.require_dir(parent, "re-launch it").recipe
    if args.edit:
        draft = source.parent.parent / f".relaunch-{parent['id']}-{os.getpid()}.yaml"
        shutil.copyfile(source, draft)
        try:
            loaded = _edit_until_valid(draft, args.overrides)
        finally:
            draft.unlink(missing_ok=True)
        loaded.path = source           # relative paths stay relative to the parent's run dir
    else:
        loaded = load_recipe(source, args.overrides)
    checked = preflight(loaded, home, force=args.force)
    if not args.json:
        print_problems(checked.warnings)
    launched = service.start(loaded, name=args.name, parent=parent, checked=checked)
    if not args.json:
        edits = launched.record.get("edits") or {}
        changed = ", ".join(f"{k}: {old} → {new}" for k, (old, new) in edits.items()) or "no changes"
        out.print(f"re-launch of {parent['id']} as {launched.record['name']}: {changed}", markup=False)
    return _follow_launched(launched.record, launched.process, home, args, resume=False)


def _edit_until_valid(path: Path, overrides: list[str]):
    """Open the draft in $EDITOR; on errors show them and open it again (Ctrl-C gives up)."""
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    while True:
        subprocess.run([*editor, str(path)], check=False)
        try:
            return load_recipe(path, overrides)
        except ProblemsFound as found:
            print_problems(found.problems)
            if not sys.stdin.isatty():
                raise
            input("Press Enter to edit again (Ctrl-C gives up) ")


def _follow_launched(record: dict, proc: subprocess.Popen, home: Home, args: argparse.Namespace,
                     resume: bool) -> int:
    run_id, run_dir = record["id"], record["run_dir"]
    if args.json:
        sys.stdout.write(json.dumps({"run_id": run_id, "run_dir": run_dir}) + "\n")
        sys.stdout.flush()
    else:
        out.print(Text.assemble(f"{'resumed' if resume else 'launched'} run ", (run_id, "bold"),
                                f" ({record['name']}) · {run_dir}"))
    if args.detach:
        if not args.json:
            out.print(f"follow: [bold]tuner logs -f {run_id}[/]   stop: [bold]tuner stop {run_id}[/]", markup=True)
        return 0
    log = EventLog(RunDir.of(run_dir).events)
    if resume:
        log.read_new()       # start following after the previous attempt's events
    try:
        final = _follow(log, record, home, proc, quiet=args.json)
    except KeyboardInterrupt:
        err.print(f"\ndetached; the run goes on. re-attach: tuner logs -f {run_id}   stop: tuner stop {run_id}")
        return 0
    if final is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)             # the worker's last store update comes after its terminal event
    service = RunService(home)
    record = service.reconcile(service.store.get(run_id) or record)
    if final is not None and record["status"] in ACTIVE:
        record = {**record, **fields_from_terminal(final)}     # a worker slow to exit: its event says how
    if args.json:
        sys.stdout.write(json.dumps(record, default=str) + "\n")
    else:
        _print_end(record, final)
    return 1 if record["status"] in ("failed", "crashed") else 0


def _follow(log: EventLog, record: dict, home: Home, proc, quiet: bool) -> dict | None:
    """Poll the event log until a terminal event or the worker's death. Returns the terminal event."""
    state = RunProgress()          # the cockpit's dashboard folds the same way: one ETA
    store = RunStore(home)
    console = Console(file=io.StringIO()) if quiet else out    # --json: stdout carries JSON only
    with Live(Text("starting worker..."), console=console, refresh_per_second=4, transient=True) as live:
        while True:
            for event in log.read_new():
                _update(state, event)
                if not quiet and _worth_a_line(event, console.is_terminal):
                    live.console.print(describe(event), markup=False, highlight=False)
                if event["type"] in TERMINAL:
                    return event
            live.update(_progress(state))
            if proc.poll() is not None:
                tail = log.read_new()
                for event in tail:
                    _update(state, event)
                terminal = terminal_event(tail)
                if terminal is None:
                    launcher.reconcile(store.get(record["id"]) or record, store)
                return terminal
            time.sleep(POLL_S)


def _worth_a_line(event: dict, terminal: bool) -> bool:
    """Above the live bar: milestones and evaluations; without a terminal (no bar), every logged step too."""
    kind = event["type"]
    if kind in ("warning", "started", "resumed", "checkpoint"):
        return True
    if kind == "phase" and event.get("detail"):       # loading steps: the bar has no steps to show yet
        return True
    return kind == "log" and (is_evaluation(event) or not terminal)


def _update(state: RunProgress, event: dict) -> None:
    state.feed([event])


def _progress(state: RunProgress) -> Text:
    return Text(progress_line(state, now=time.time()))


def _print_end(record: dict, final: dict | None) -> None:
    status = record["status"]
    color = {"finished": "green", "stopped": "yellow"}.get(status, "red")
    out.print(f"[{color}]{status}[/] run [bold]{record['id']}[/]", markup=True)
    if final is not None:
        out.print(describe(final), markup=False, highlight=False)
    elif record.get("failure"):
        failure = record["failure"]
        out.print(f"{failure.get('message')}\n    suggestion: {failure.get('suggestion')}", markup=False)
    if status in ("failed", "crashed", "stopped"):
        out.print(f"log: {record['run_dir']}/worker.log   {_next_step(record)}", markup=False)


def _next_step(record: dict) -> str:
    """Resume only where a complete checkpoint exists (as `tuner resume` itself requires); else relaunch."""
    if complete_checkpoints(RunDir.of(record["run_dir"])):
        return f"resume: tuner resume {record['id']}"
    return f"no checkpoint to resume from: tuner relaunch {record['id']} starts it again"


def cmd_stop(args: argparse.Namespace) -> int:
    service = RunService(Home.default())
    record = service.stop(service.resolve(args.run))
    if args.json:
        print_json(record)
    else:
        out.print(f"run {record['id']} is {record['status']}")
    return 0 if record["status"] in ("stopped", "finished") else 1


def cmd_logs(args: argparse.Namespace) -> int:
    """The run's events; with -f, followed until it ends. Exits 1 when the run failed or crashed (as `run`)."""
    service = RunService(Home.default())
    record = service.resolve(args.run)
    path = service.require_dir(record, "show its log").events
    if args.json:
        print_json(read_events(path))
        return 0
    log, stalled = EventLog(path), None
    try:
        while True:
            events = log.read_new()
            for event in events:
                if event["type"] != "memory":
                    out.print(describe(event), markup=False, highlight=False)
            if not args.follow or terminal_event(events) is not None:
                break
            record = service.reconcile(service.store.get(record["id"]) or record)
            if record["status"] not in ACTIVE:
                for event in log.read_new():
                    out.print(describe(event), markup=False, highlight=False)
                break
            stalled = _say_stall(record, stalled)
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        err.print("stopped following; the run goes on")
        return 0
    if log.skipped:
        err.print(f"{log.skipped} invalid line(s) of {path} skipped")
    record = service.store.get(record["id"]) or record
    if args.follow or record["status"] not in ACTIVE:
        out.print(f"run is {record['status']}")
    return 1 if record["status"] in ("failed", "crashed") else 0


def _say_stall(record: dict, said: float | None) -> float | None:
    """Print once when the live worker falls silent and again every minute it stays so; once when it recovers."""
    found = launcher.stall_of(record)
    if found is None:
        if said is not None:
            err.print("the worker is making progress again")
        return None
    if said is None or found.silent_s - said >= 60:
        err.print(f"run {record['id']} is {found.describe()}; it is alive (not crashed): tuner stop "
                  f"{record['id']} stops it")
        return found.silent_s
    return said
