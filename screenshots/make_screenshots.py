"""Make the README's screenshots from the real app, driven by recorded event logs of real runs.

    .venv/bin/python screenshots/make_screenshots.py                     # from tests/fixtures/recorded
    .venv/bin/python screenshots/make_screenshots.py --from-home ~/.local/share/tuner   # your own runs

A temporary TUNER_HOME is filled with copies of the recorded run directories (record, recipe, events,
worker.log; adapters too when present, for the try-it shot). One run is replayed as a live run by the replay
worker (a real process writing the recorded events at 10 events/s), so the dashboard shot is what a user sees
while a run trains. Every shot is the real TunerApp, sized like a terminal, saved as SVG."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tuner_tui.runtime.home import Home  # noqa: E402
from tuner_tui.runtime.store import RunStore  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "recorded"
SIZE = (132, 40)


def build_home(source: Path, root: Path, with_weights: bool, default_models: Path | None = None) -> Home:
    """Copy each recorded run dir into a fresh home and index it through the real store; the models built in
    the user's own home are used (the pre-flight shot needs the model's tokenizer for its row browser)."""
    home = Home(root).ensure()
    models = root / "models"
    if default_models is not None and default_models.is_dir() and default_models != models and \
            not models.is_symlink():
        if models.is_dir() and not any(models.iterdir()):      # ensure() made it empty: use the built models
            models.rmdir()
        if not models.exists():
            models.symlink_to(default_models, target_is_directory=True)
    records = []
    runs = source / "runs" if (source / "runs").is_dir() else source
    for run_dir in sorted(p for p in runs.iterdir() if (p / "record.json").is_file()):
        target = home.run_dir(run_dir.name)
        keep = {"record.json", "recipe.yaml", "events.jsonl", "worker.log"}
        target.mkdir(parents=True)
        for item in run_dir.iterdir():
            if item.name in keep:
                shutil.copy2(item, target / item.name)
            elif with_weights and item.name in ("adapter", "merged"):
                shutil.copytree(item, target / item.name)
        record = json.loads((target / "record.json").read_text())
        record["run_dir"] = str(target)
        if record["status"] in ("queued", "running"):
            record["status"] = "finished"
        records.append(record)
    RunStore(home).create_many(records)
    return home


def by_name(home: Home, name: str) -> dict | None:
    return next((r for r in RunStore(home).all() if r["name"] == name), None)


async def settle(app, pilot, seconds: float = 0.5) -> None:
    await pilot.pause(seconds)
    await app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def shoot(home: Home, out: Path, want_try: bool, live_source: Path | None) -> list[str]:
    from tuner_tui.ui.app import TunerApp

    made: list[str] = []
    replay = None
    if live_source is not None:
        from tuner_tui.runtime.replay import start_replay

        lines = live_source.read_text().count("\n")
        record, replay = start_replay(home, live_source, name="qlora-smoke (live)", rate=40,
                                      stop_after=int(lines * 0.7), hold=True)
        recorded = by_name(home, "qlora-smoke")
        if recorded is not None:        # the replayed run is that run: same method and model
            RunStore(home).update(record["id"], method=recorded["method"], model=recorded["model"])
        time.sleep(min(6.0, lines * 0.7 / 40 + 1.0))
    try:
        app = TunerApp(home, select_recipe="demo")
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot, 1.5)
            if replay is None:
                await app.action_close_tab()
            else:
                await pilot.pause(2.5)                   # two redraws of the live dashboard
                app.save_screenshot("dashboard-live.svg", str(out))
                made.append("dashboard-live.svg")
                app.query_one("GpuPanel").remove_class("-hidden")
                await pilot.pause(1.5)
                app.save_screenshot("gpu-panel.svg", str(out))
                made.append("gpu-panel.svg")
                await app.action_close_tab()
            tabs = app.query_one("#editors")
            tabs.active = "tab-welcome"
            app.action_show_view("recipes")
            await settle(app, pilot)
            app.save_screenshot("home.svg", str(out))
            made.append("home.svg")

            await pilot.press("enter")                   # the demo recipe in the editor, with a typo
            await settle(app, pilot)
            area = app.query_one("#recipe-text")
            line = next(i for i, text in enumerate(area.text.split("\n")) if text.startswith("  lora:"))
            area.move_cursor((line + 2, 4))
            area.insert("a")                             # alpha -> aalpha
            await settle(app, pilot, 0.8)
            app.save_screenshot("recipe-editor-error.svg", str(out))
            made.append("recipe-editor-error.svg")
            area.undo()
            await settle(app, pilot, 0.6)
            await pilot.press("f5")
            for _ in range(120):
                await pilot.pause(0.25)
                if type(app.screen).__name__ == "PreflightScreen":
                    break
            await settle(app, pilot, 0.3)
            app.save_screenshot("preflight.svg", str(out))
            made.append("preflight.svg")
            await pilot.press("escape")
            await app.action_close_tab()

            first, second = by_name(home, "demo"), by_name(home, "demo-lr5e-4")
            if first and second:
                app.action_show_view("runs")
                explorer = app.query_one("RunsExplorer")
                explorer.marked = {first["id"], second["id"]}
                explorer.refill()
                app.action_compare()
                await settle(app, pilot, 1.5)
                app.save_screenshot("history-compare.svg", str(out))
                made.append("history-compare.svg")
                await app.action_close_tab()
                app.open_run(first["id"])
                await settle(app, pilot, 2.0)
                app.save_screenshot("dashboard-finished.svg", str(out))
                made.append("dashboard-finished.svg")
                if want_try and (Path(first["run_dir"]) / "adapter").is_dir():
                    app.action_try()
                    await settle(app, pilot)
                    view = app.query_one("TryView")
                    view.query_one("#try-prompt").value = "What is the capital of France?"
                    view.ask("What is the capital of France?")
                    view.query_one("#try-status").update("loading both models in a separate process…")
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.5)
                    app.save_screenshot("try-it.svg", str(out))
                    made.append("try-it.svg")
        narrow = TunerApp(home, select_recipe="demo", sample_gpu=False)
        async with narrow.run_test(size=(80, 24)) as pilot:
            await settle(narrow, pilot, 1.0)
            await narrow.action_close_tab()
            await settle(narrow, pilot)
            narrow.save_screenshot("narrow-80x24.svg", str(out))
            made.append("narrow-80x24.svg")
    finally:
        if replay is not None:
            replay.terminate()
            replay.wait(10)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-home", type=Path, help="a TUNER_HOME (or a folder of run dirs) to take runs from")
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    parser.add_argument("--no-try", action="store_true", help="skip the try-it shot (it loads two models)")
    parser.add_argument("--live", default="qlora-smoke", help="name of the run to replay as live")
    args = parser.parse_args(argv)
    source = args.from_home or FIXTURES
    args.out.mkdir(parents=True, exist_ok=True)
    default_models = Home.default().models_dir
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TUNER_HOME"] = tmp
        home = build_home(source, Path(tmp), with_weights=not args.no_try, default_models=default_models)
        live = by_name(home, args.live)
        live_source = None
        if live is not None:
            live_source = Path(tmp) / "live-source.jsonl"
            shutil.copy2(Path(live["run_dir"]) / "events.jsonl", live_source)
        made = asyncio.run(shoot(home, args.out, not args.no_try, live_source))
    print(json.dumps({"screenshots": made, "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
