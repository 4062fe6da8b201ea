"""Hostile input (issue 12, items 6-8): event lines are untrusted, user strings never become markup or terminal
control, and work on hostile input is bounded. Real CLI subprocesses, real replayed runs under their
supervisors, the real cockpit under Pilot; the corpus of hostile event lines, strings and chat templates is in
tests/corpus/hostile/."""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import tuner
from tests.test_engine import wait_for, write_recipe
from tuner_tui.domain.events import decode
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import new_record
from tuner_tui.domain.terminal_text import printable
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.replay import start_replay, write_recording
from tuner_tui.runtime.store import RunStore

CORPUS = Path(__file__).parent / "corpus" / "hostile"
INVALID_LINES = (CORPUS / "event_lines_invalid.jsonl").read_bytes().splitlines()
VALID_LINES = (CORPUS / "event_lines_valid.jsonl").read_bytes()
STRINGS: list[str] = json.loads((CORPUS / "strings.json").read_text(encoding="utf-8"))
TEMPLATES = sorted((CORPUS / "chat_templates").glob("*.jinja"))
ESC_NAME = "\x1b[2J\x1b]0;pwned\x07"


def no_terminal_control(text: str) -> bool:
    """What reached the terminal holds no ESC, BEL, CR or C1 control (newline and tab are fine)."""
    return printable(text) == text


def finished_replay(home, tmp_path: Path, name: str = "replay") -> dict:
    source = write_recording(tmp_path / f"rec-{len(list(tmp_path.iterdir()))}", steps=6)
    record, proc = start_replay(home, source, name=name, rate=1000)
    assert proc.wait(60) == 0
    wait_for(lambda: RunStore(home).get(record["id"])["status"] == "finished", timeout=30)
    return RunStore(home).get(record["id"])


def dead_running_run(home, events: bytes) -> dict:
    """A run the index says is running whose worker and supervisor are gone (its lock is free)."""
    run_id = "deadbeef"
    run_dir = RunDir(home.run_dir(run_id))
    run_dir.path.mkdir(parents=True)
    run_dir.events.write_bytes(events)
    run_dir.recipe.write_text("name: dead\n", encoding="utf-8")
    RunStore(home).create(dict(new_record(run_id, str(run_dir.path), name="dead", status="running",
                                          started=1_700_000_000.0)))
    return RunStore(home).get(run_id)


# ------------------------------------------------------------------------------------------ 6: event lines

def test_every_hostile_event_line_is_skipped_and_counted(tmp_path):
    for line in INVALID_LINES:
        assert decode(line) is None, line[:120]
    log = tmp_path / "events.jsonl"
    log.write_bytes(VALID_LINES + b"\n".join(INVALID_LINES) + b"\n\n")
    events = read_events(log)
    assert len(events) == 3 and events.skipped == len(INVALID_LINES)      # blank lines are not counted


def test_every_line_a_real_worker_wrote_is_kept():
    """The recorded runs (real workers on the tiny model and SmolLM2) lose no line to the validation."""
    logs = sorted((Path(__file__).parent / "fixtures" / "recorded").glob("*/events.jsonl"))
    assert logs
    for log in logs:
        events = read_events(log)
        assert events.skipped == 0 and len(events) > 10, log


def test_a_run_with_hostile_event_lines_keeps_every_reader_working(home, tmp_path):
    """show, logs, ls, export, compare on a run whose log holds the whole corpus: no internal error, the valid
    events still shown, and the readers say how many lines they skipped."""
    first, second = finished_replay(home, tmp_path), finished_replay(home, tmp_path)
    with open(RunDir.of(first["run_dir"]).events, "ab") as fh:
        fh.write(b"\n".join(INVALID_LINES) + b"\n" + VALID_LINES)
    rid = first["id"]
    for args in (("show", rid), ("show", rid, "--json"), ("logs", rid), ("logs", rid, "--json"), ("ls",),
                 ("ls", "--json"), ("export", rid, "--format", "csv"), ("export", rid, "--format", "jsonl"),
                 ("compare", rid, second["id"]), ("compare", rid, second["id"], "--json")):
        proc = tuner(*args, timeout=60)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        assert "internal error" not in proc.stderr and no_terminal_control(proc.stdout + proc.stderr), args
    shown = tuner("show", rid).stdout
    assert f"{len(INVALID_LINES)} invalid line(s)" in shown and "[/x]" in shown and "spike" in shown
    assert f"{len(INVALID_LINES)} invalid line(s)" in tuner("logs", rid).stderr
    rows = tuner("export", rid, "--format", "csv").stdout.splitlines()
    assert len(rows) == 1 + 7 and all("abc" not in row for row in rows)    # header + steps 0-6


@pytest.mark.parametrize("terminal", [b'{"type":"finished","t":"yesterday","summary":{"steps":3}}',
                                      b'{"type":"finished","summary":{"steps":3}}',
                                      b'{"type":"finished","t":1700000100,"summary":{"steps":"3"}}'])
def test_reconcile_never_copies_a_hostile_terminal_event_into_the_index(home, terminal):
    """A dead run whose last line is an invalid `finished`: reconciled as crashed (that line does not count),
    with a real time, and `tuner ls` keeps working for the whole home."""
    record = dead_running_run(home, b'{"v":1,"t":1700000000,"type":"phase","phase":"training"}\n' + terminal + b"\n")
    listed = tuner("ls", "--json", check=True)
    [shown] = json.loads(listed.stdout)
    assert shown["status"] == "crashed" and isinstance(shown["ended"], (int, float))
    stored = RunStore(home).get(record["id"])
    assert isinstance(stored["ended"], (int, float)) and stored["final"] in ({}, None) or "steps" not in stored["final"]
    assert tuner("ls", check=True).returncode == 0 and tuner("show", record["id"], check=True).returncode == 0


def test_a_terminal_event_keeps_only_plain_figures_in_the_index(home):
    record = dead_running_run(home, b'{"v":1,"t":1700000100,"type":"finished","summary":{"steps":3,'
                                    b'"train_loss":0.5,"junk":{"a":[1,2]}}}\n')
    [shown] = json.loads(tuner("ls", "--json", check=True).stdout)
    assert shown["status"] == "finished" and shown["ended"] == 1700000100
    assert RunStore(home).get(record["id"])["final"] == {"steps": 3, "train_loss": 0.5}


# ------------------------------------------------------------------------------------------ 7: markup, control

def test_hostile_names_and_tags_show_as_text_in_ls_and_show(home, tmp_path):
    runs = [finished_replay(home, tmp_path, name=name) for name in STRINGS[:5]]
    for text in STRINGS:
        proc = tuner("tag", runs[0]["id"], text)
        assert proc.returncode == 0 and no_terminal_control(proc.stdout), (text, proc.stderr)
    tuner("note", runs[0]["id"], STRINGS[3] + " [/x] note", check=True)
    for args in (("ls",), ("show", runs[0]["id"]), ("show", runs[3]["id"]), ("ls", "--tag", "[/x]")):
        proc = tuner(*args, env={"COLUMNS": "200"})
        assert proc.returncode == 0, (args, proc.stderr)
        assert no_terminal_control(proc.stdout + proc.stderr) and "internal error" not in proc.stderr, args
    shown = tuner("show", runs[0]["id"], env={"COLUMNS": "200"}).stdout
    assert "[/x]" in shown and "[bold]not bold[/bold]" in shown and "[/x] note" in shown
    assert "[/x]" in tuner("ls", env={"COLUMNS": "200"}).stdout
    assert json.loads(tuner("show", runs[3]["id"], "--json").stdout)["name"] == ESC_NAME   # stored as given


def test_a_recipe_name_with_escapes_never_reaches_the_terminal(home, tmp_path):
    recipe = write_recipe(tmp_path, steps=2)
    data = yaml.safe_load(recipe.read_text())
    recipe.write_text('name: "\\e[2J\\e]0;pwned\\a[/x]"\n' + yaml.safe_dump({k: v for k, v in data.items()
                                                                           if k != "name"}))
    checked = tuner("validate", str(recipe))
    assert checked.returncode == 0, checked.stderr
    assert "ok" in checked.stdout and "[/x]" in checked.stdout and no_terminal_control(checked.stdout)
    launched = tuner("run", str(recipe), "--detach", "--name", "[/x]")
    assert launched.returncode == 0 and "internal error" not in launched.stderr, launched.stderr
    assert "([/x])" in launched.stdout and no_terminal_control(launched.stdout)
    run_id = RunStore(home).all()[0]["id"]
    wait_for(lambda: RunStore(home).get(run_id)["status"] not in ("queued", "running"), timeout=240)
    for args in (("ls",), ("show", run_id), ("logs", run_id)):
        proc = tuner(*args, env={"COLUMNS": "200"})
        assert proc.returncode == 0 and no_terminal_control(proc.stdout + proc.stderr), (args, proc.stderr)


def test_the_cockpit_opens_a_hostile_run_and_shows_its_text_plainly(home, tmp_path):
    from tuner_tui.ui.app import TunerApp

    record = finished_replay(home, tmp_path, name="[/x] " + ESC_NAME + "[bold]n[/bold]")
    RunStore(home).update(record["id"], tags=["[/x]"], status="failed",
                          failure={"cause": "error", "message": "[/x] boom \x1b[2J", "suggestion": "[link=x]y"})
    with open(RunDir.of(record["run_dir"]).events, "ab") as fh:
        fh.write(b"\n".join(INVALID_LINES) + b"\n" + VALID_LINES)
    RunDir.of(record["run_dir"]).log.write_text("Traceback [/x]\n\x1b]0;pwned\x07 ValueError: [red]no[/]\n")

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            app.open_run(record["id"])
            await pilot.pause(1.5)
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            dashboard = app.query_one(f"#run-{record['id']}")
            header = dashboard.query_one(".dash-header").render().plain
            failure = dashboard.query_one(".dash-failure").render().plain
            app.notify(f"launched run {record['id']} ({record['name']})")
            await pilot.pause(0.3)
            return header, failure

    header, failure = asyncio.run(go())
    assert "[/x]" in header and "[bold]n[/bold]" in header and no_terminal_control(header)
    assert "[/x] boom" in failure and "[red]no[/]" in failure and no_terminal_control(failure)


# ------------------------------------------------------------------------------------------ 8: bounded work

def chat_recipe(tmp_path: Path, template: str) -> Path:
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                                     {"role": "assistant", "content": f"answer {i}"}]}) + "\n"
                            for i in range(40)), encoding="utf-8")
    recipe = tmp_path / "chat.yaml"
    recipe.write_text("name: chat\nmodel: {source: tiny-random-llama}\nmethod: {kind: lora}\n"
                      f"data:\n  path: {data}\n  format: messages\n  val_split: 0.1\n"
                      f"  chat_template: {json.dumps(template)}\n", encoding="utf-8")
    return recipe


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.stem for t in TEMPLATES])
def test_a_hostile_chat_template_is_refused_in_bounded_time_naming_the_key(home, tmp_path, template):
    recipe = chat_recipe(tmp_path, template.read_text(encoding="utf-8"))
    began = time.monotonic()
    proc = tuner("validate", str(recipe), timeout=120)
    took = time.monotonic() - began
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "data.chat_template" in proc.stderr and f"{recipe}:8" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr and took < 30, took


def test_the_cockpits_preflight_refuses_a_hostile_template_without_spinning(home, tmp_path):
    """F5 runs this same pre-flight in a worker thread: it must return, not spin (time-bounded per thread)."""
    import threading

    from tuner_tui.domain.problems import ProblemsFound
    from tuner_tui.domain.recipe_loader import load_recipe
    from tuner_tui.runtime.preflight import preflight
    recipe = chat_recipe(tmp_path, (CORPUS / "chat_templates" / "nested_range.jinja").read_text())
    outcome: list = []

    def check() -> None:
        try:
            preflight(load_recipe(recipe), home)
        except ProblemsFound as found:
            outcome.append(found.problems[0])

    thread = threading.Thread(target=check)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and outcome and outcome[0].key == "data.chat_template"
    assert "2 s" in outcome[0].message


def test_a_good_chat_template_still_renders(home, tmp_path):
    recipe = chat_recipe(tmp_path, "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}")
    proc = tuner("validate", str(recipe))
    assert proc.returncode == 0, proc.stderr


def test_a_sparse_two_gigabyte_jsonl_is_refused_after_sniffing(home, tmp_path):
    recipe = write_recipe(tmp_path, steps=2)
    data = yaml.safe_load(recipe.read_text())
    sparse = tmp_path / "huge.jsonl"
    subprocess.run(["truncate", "-s", "2G", str(sparse)], check=True)
    data["data"]["path"] = str(sparse)
    recipe.write_text(yaml.safe_dump(data))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.monotonic()
    proc = tuner("validate", str(recipe), timeout=120)
    took = time.monotonic() - began
    assert proc.returncode == 1 and "binary file" in proc.stderr and str(sparse) in proc.stderr, proc.stderr
    assert took < 10, took
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib == before or peak_kib < 1024 * 1024, peak_kib           # under 1 GiB (reading it: 2.1 GB)
