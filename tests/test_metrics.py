"""Metrics declared once (domain/metrics.py): a metric added there reaches the event text, the progress fold,
the series cache, the export and the dashboard's charts with no other edit; the CLI's attached bar and the
cockpit's dashboard show one ETA for the same events; `tuner export --format csv` is one row per step."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import textwrap
import time

from tests.conftest import REPO, tuner
from tuner_tui.domain.events import encode
from tuner_tui.domain.metrics import METRIC_KEYS, METRICS, TRAINER_KEYS
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.domain.step_table import COLUMNS
from tuner_tui.runtime.replay import synthetic_events
from tuner_tui.runtime.store import RunStore

# A new metric, as a person would add it: one line in the declaration, charted on the learning-rate chart.
NEW_METRIC = ('    Metric("loss_scale", "scale", "loss scale", ".1f", chart="lr", legend="scale", '
              'on_progress_line=True),\n')

CHECK_NEW_METRIC = textwrap.dedent('''
    import asyncio, sys, time
    from pathlib import Path
    from textual.app import App
    from tuner_tui.domain.event_text import describe
    from tuner_tui.domain.events import encode, make_event
    from tuner_tui.domain.progress_text import progress_line
    from tuner_tui.domain.step_table import COLUMNS, step_rows
    from tuner_tui.runtime.series_cache import RunSeries
    from tuner_tui.domain.metrics import TRAINER_KEYS
    from tuner_tui.ui.run_dashboard import RunDashboard

    run_dir = Path(sys.argv[1])
    events = [make_event("started", total_steps=10), make_event("phase", phase="training", total_steps=10)]
    events += [make_event("log", step=s, loss=1.0 / s, learning_rate=1e-4, loss_scale=1024.0 * s)
               for s in range(1, 6)]
    (run_dir / "events.jsonl").write_text("".join(encode(e) + "\\n" for e in events))
    assert "loss_scale" in TRAINER_KEYS                               # the worker's callback keeps it
    assert "scale 5120.0" in describe(events[-1])                     # tuner logs, the Events panel
    assert "loss_scale" in COLUMNS and step_rows(events)[-1]["loss_scale"] == 5120.0     # tuner export
    RunSeries.open(run_dir)                                           # builds the cache
    cached = RunSeries.open(run_dir)
    assert cached.bytes_parsed == 0 and cached.progress.last("loss_scale") == 5120.0   # from the cache
    assert "scale 5120.0" in progress_line(cached.progress, now=time.time())           # tuner run's bar

    class Host(App):
        open_dashboards = set()

    async def main():
        app = Host()
        async with app.run_test(size=(120, 40)) as pilot:
            dash = RunDashboard({"id": "r1", "name": "n", "status": "finished", "run_dir": str(run_dir)})
            await app.mount(dash)
            dash.history_loaded(cached.progress, [])
            dash._redraw()
            await pilot.pause()
            lines = dash.charts["lr"].plt._active.monitor.y
            assert len(lines) == 2 and lines[1] == [1024.0 * s for s in range(1, 6)], lines
    asyncio.run(main())
    print("reached everywhere")
''')


def test_a_metric_added_to_the_declaration_reaches_every_view(tmp_path):
    package = tmp_path / "src" / "tuner_tui"
    shutil.copytree(REPO / "tuner_tui", package, ignore=shutil.ignore_patterns("__pycache__"))
    declaration = package / "domain" / "metrics.py"
    source = declaration.read_text()
    anchor = "\n)\n\n# The dashboard's charts"
    assert anchor in source
    declaration.write_text(source.replace(anchor, "\n" + NEW_METRIC.rstrip("\n") + anchor, 1))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = subprocess.run([sys.executable, "-c", CHECK_NEW_METRIC, str(run_dir)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "reached everywhere" in proc.stdout, proc.stderr[-3000:]
    # the callback copies TRAINER_KEYS from the Trainer's logs (checked by source: importing torch costs ~15 s)
    assert "LOG_KEYS = TRAINER_KEYS" in (REPO / "tuner_tui" / "training" / "callbacks.py").read_text()


def test_no_other_module_lists_the_metrics():
    """Outside the declaration, metric keys are spelled only where the wire format is produced or read
    one by one for a reason (the worker's callback measures tokens/s and watches the losses)."""
    allowed = {"domain/metrics.py", "training/callbacks.py", "training/session.py", "runtime/replay.py",
               "domain/run_progress.py"}
    for path in (REPO / "tuner_tui").rglob("*.py"):
        name = path.relative_to(REPO / "tuner_tui").as_posix()
        text = path.read_text()
        for key in ("grad_norm", '"tokens_per_s"', '"eval_loss"'):  # learning_rate is a recipe key too
            assert name in allowed or key not in text, f"{name} spells {key}: derive it from domain/metrics.py"


def test_the_replay_recording_logs_only_declared_metrics():
    logged = {k for e in synthetic_events(60) if e["type"] == "log" for k in e} - {"v", "t", "type", "step",
                                                                                   "epoch", "tokens"}
    assert logged == set(METRIC_KEYS) and set(TRAINER_KEYS) < set(METRIC_KEYS)
    assert all(m.text(1.0) != "n/a" for m in METRICS)


def _events_of_a_live_run() -> list[dict]:
    out = [{"v": 1, "t": 100.0, "type": "started", "total_steps": 40},
           {"v": 1, "t": 101.0, "type": "phase", "phase": "training", "total_steps": 40}]
    for step in range(1, 11):         # 10 steps in 20 s since training began: 30 to go at 2 s a step
        out.append({"v": 1, "t": 101.0 + 2 * step, "type": "log", "step": step, "epoch": step / 40,
                    "loss": 2.0 - step / 20, "tokens_per_s": 900.0})
        out.append({"v": 1, "t": 101.0 + 2 * step, "type": "memory", "step": step, "phase": "training",
                    "device": "cpu", "rss": 2**30})
    return out


def test_the_cli_bar_and_the_dashboard_show_one_eta(monkeypatch):
    from tuner_tui.commands import runs
    from tuner_tui.ui.run_dashboard import RunDashboard

    events = _events_of_a_live_run()
    now = 126.0                        # 5 s after the last log: both count down from the same pace
    monkeypatch.setattr(time, "time", lambda: now)
    cli = RunProgress()
    for event in events:               # as `tuner run` follows the log, one event at a time
        runs._update(cli, event)
    bar = runs._progress(cli).plain
    dashboard = RunDashboard({"id": "r1", "name": "demo", "status": "running", "run_dir": "/nonexistent"})
    dashboard.feed(events)             # as the cockpit's tick feeds it, in one batch
    header = dashboard._header().plain
    eta = (40 - 10) * (now - 101.0) / 10
    assert cli.eta_s(now) == dashboard.progress.eta_s(now) == eta
    assert "ETA 1m15s" in bar and "ETA 1m15s" in header, (bar, header)
    assert "10/40" in bar and "loss 1.5000" in bar and "tok/s 900" in bar and "mem 1.0 GiB" in bar


def test_csv_export_is_one_row_per_step_with_memory_merged(home):
    run_id, run_dir = "c0ffee01", home.runs_dir / "c0ffee01"
    run_dir.mkdir(parents=True)
    events = synthetic_events(steps=120)     # eval at 50 and 100, a checkpoint at 100, memory at each phase
    (run_dir / "events.jsonl").write_text("".join(encode(e) + "\n" for e in events))
    RunStore(home).create({"id": run_id, "name": "exported", "status": "finished", "created": time.time(),
                           "run_dir": str(run_dir), "final": {}, "tags": [], "notes": ""})
    text = tuner("export", run_id, "--format", "csv", check=True).stdout
    table = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header == list(COLUMNS)
    assert header[:5] == ["step", "epoch", "t", "loss", "eval_loss"] and "peak" in header
    steps = [int(row["step"]) for row in table]
    assert steps == list(range(0, 121))      # step 0: the loading phase's memory; then every logged step once
    at_100 = table[100]
    assert at_100["loss"] and at_100["eval_loss"] and at_100["learning_rate"]     # train + eval: one row
    peaks = [e["peak"] for e in events if e["type"] == "memory" and e["step"] == 100]
    assert len(peaks) == 3 and int(at_100["peak"]) == max(peaks)     # training, evaluating, saving: merged
    assert table[0]["loss"] == "" and table[0]["peak"]


def test_a_run_reopened_from_its_cache_is_the_fold_of_its_whole_log(tmp_path):
    from tuner_tui.runtime.series_cache import RunSeries, recent_events

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    events = synthetic_events(steps=3000)
    (run_dir / "events.jsonl").write_text("".join(encode(e) + "\n" for e in events))
    whole = RunProgress()
    whole.feed(events)
    RunSeries.open(run_dir)
    reopened = RunSeries.open(run_dir)
    assert reopened.bytes_parsed == 0                        # nothing of the log was decoded again
    assert reopened.progress.state() == whole.state()
    assert reopened.progress.memory == whole.memory and reopened.progress.series == whole.series
    tail = recent_events(run_dir, reopened.offset)
    assert tail[-1] == events[-1] and 1000 < len(tail) < len(events)    # the Events panel's window


def test_the_cockpit_opens_a_finished_run_from_its_cache(home, monkeypatch):
    """A finished run of thousands of steps: the dashboard opens from series.cache, not by decoding the log."""
    import asyncio

    from tuner_tui.runtime import series_cache
    from tuner_tui.ui.app import TunerApp

    run_id, run_dir = "c0ffee02", home.runs_dir / "c0ffee02"
    run_dir.mkdir(parents=True)
    (run_dir / "events.jsonl").write_text("".join(encode(e) + "\n" for e in synthetic_events(steps=3000)))
    RunStore(home).create({"id": run_id, "name": "long", "status": "finished", "created": time.time(),
                           "run_dir": str(run_dir), "final": {"steps": 3000}, "tags": [], "notes": ""})
    series_cache.RunSeries.open(run_dir)
    opened: list = []
    real_open = series_cache.RunSeries.open
    monkeypatch.setattr(series_cache.RunSeries, "open",
                        classmethod(lambda cls, d, **kw: opened.append(real_open(d, **kw)) or opened[-1]))

    async def run() -> None:
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(130, 42)) as pilot:
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            app.open_run(run_id)
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            dashboard = next(iter(app.open_dashboards))
            assert dashboard.progress.step == 3000 and dashboard.progress.terminal["type"] == "finished"
            assert "step 3000/3000" in dashboard._header().plain
            assert dashboard.events_for_panel()[-1]["type"] == "finished"

    asyncio.run(run())
    assert len(opened) == 1 and opened[0].bytes_parsed == 0
