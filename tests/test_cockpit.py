"""The cockpit driven with Textual's Pilot: every pane and action a user reaches, against a real home, the
real store and real worker processes (the smoke recipe on the tiny model)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import tuner
from tuner_tui.runtime.store import RunStore
from tuner_tui.ui.app import TunerApp

pytestmark = pytest.mark.timeout(600)


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot, seconds: float = 0.3) -> None:
    await pilot.pause(seconds)
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)


async def until(pilot, condition, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.25)


def text_of(widget) -> str:
    """What a Static shows, as plain text."""
    content = widget.render()
    return getattr(content, "plain", str(content))


def finished_run(home, *sets: str) -> dict:
    proc = tuner("run", "smoke", *[f"--set={s}" for s in sets], "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    return RunStore(home).all()[0] if len(RunStore(home).all()) == 1 else \
        max(RunStore(home).all(), key=lambda r: r["created"])


# ---------------------------------------------------------------------------------------------- start-up


def test_home_screen_lists_recipes_with_demo_selected_and_says_where_runs_live(home):
    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, 0.5)
            tree = app.query_one("#recipe-tree")
            assert tree.cursor_node is not None and tree.cursor_node.data.name == "demo"
            labels = [str(n.label) for n in tree.root.children[0].children]
            assert {"demo", "smoke", "qlora-llama3.1-8b"} <= set(labels)
            preview = text_of(app.query_one("#recipe-preview"))
            assert "smollm2-135m-instruct" in preview and "lora" in preview
            assert str(home.root) in text_of(app.query_one("StatusBar"))
            assert "no runs active" in text_of(app.query_one("StatusBar"))
    run(go())


def test_at_80x24_the_gpu_panel_collapses_and_ctrl_b_hides_the_side_bar(home):
    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            assert app.query_one("GpuPanel").has_class("-hidden")
            editors = app.query_one("#editors")
            assert editors.region.width >= 40, "the editor area keeps the room at 80 columns"
            await pilot.press("ctrl+b")
            await pilot.pause(0.1)
            assert app.query_one("#sidebar").has_class("-hidden")
            assert app.query_one("#editors").region.width >= 70
            await pilot.press("ctrl+j")
            await pilot.pause(0.1)
            assert app.query_one("BottomPanel").has_class("-hidden")
            await pilot.press("f8")                              # F8 brings the panel back, then cycles its tabs
            await pilot.pause(0.1)
            panel_tabs = app.query_one("#panel-tabs")
            assert not app.query_one("BottomPanel").has_class("-hidden") and panel_tabs.active == "tab-problems"
            await pilot.press("f8")
            await pilot.pause(0.1)
            assert panel_tabs.active == "tab-logs"
            await pilot.press("ctrl+j")
            await pilot.pause(0.1)
            await pilot.press("ctrl+g")
            await pilot.pause(0.1)
            assert not app.query_one("GpuPanel").has_class("-hidden")
    run(go())


def test_help_and_the_command_palette_list_the_actions(home):
    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("f1")
            await pilot.pause(0.2)
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for wanted in ("Launch recipe", "Stop run", "Re-launch with edits", "Compare runs", "Try run",
                           "Merge run", "Delete run", "Tag run", "Note on run", "Resume run"):
                assert wanted in titles
    run(go())


def test_editor_tabs_click_to_show_click_the_cross_to_close_and_keep_the_active_one_in_view(home):
    from tuner_tui.runtime.recipe_catalog import builtin_dir
    from tuner_tui.ui.editor_tabs import TabStrip

    async def click_tab(pilot, strip, pane_id: str, on_close: bool = False) -> None:
        start, close_x, end, _ = next(s for s in strip._spans if s[3] == pane_id)
        await pilot.click(TabStrip, offset=(close_x if on_close else start + 1, 0))
        await pilot.pause(0.2)

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            tabs, strip = app.query_one("#editors"), app.query_one(TabStrip)
            for name in ("demo", "smoke", "full-qwen2.5-0.5b", "lora-qwen2.5-7b"):
                app.open_recipe(builtin_dir() / f"{name}.yaml", "built-in")
                await pilot.pause(0.2)
            assert tabs.pane_ids()[0] == "tab-welcome" and len(tabs.pane_ids()) == 5
            rendered = str(strip.render())
            assert "lora-qwen2.5-7b.yaml" in rendered, "the active tab is drawn even when the tabs overflow"
            assert rendered.startswith("‹"), "tabs scrolled off to the left are signalled"
            await pilot.press("ctrl+pagedown")                  # wraps round to the first tab
            await pilot.pause(0.2)
            assert tabs.active == "tab-welcome"
            assert app.query_one("Welcome").region.area > 0
            demo = next(i for i in tabs.pane_ids() if "demo" in i)
            await click_tab(pilot, strip, demo)
            assert tabs.active == demo and app.active_editor() is not None
            await click_tab(pilot, strip, demo, on_close=True)
            assert demo not in tabs.pane_ids() and tabs.active != demo
            assert len(app.query("RecipeEditor")) == 3
    run(go())


def test_keys_typed_ahead_and_hasty_tab_clicks_neither_crash_nor_lose_edits(home):
    """F3 before the Runs explorer exists; a background tab's × clicked twice; a tab closed while it mounts
    and opened again; Ctrl+W on a recipe with unsaved edits."""
    from tuner_tui.runtime.recipe_catalog import builtin_dir
    from tuner_tui.ui.editor_tabs import TabStrip

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f3")                              # at once: the explorer is built after frame 1
            await settle(app, pilot)
            assert app.query_one("#sidebar").current == "runs-view"
            tabs = app.query_one("#editors")
            for name in ("demo", "smoke", "smoke"):              # the same recipe twice in a row
                app.open_recipe(builtin_dir() / f"{name}.yaml", "built-in")
            await pilot.pause(0.3)
            tabs.active = "tab-welcome"
            smoke = next(i for i in tabs.pane_ids() if "smoke" in i)
            strip = app.query_one(TabStrip)
            strip.post_message(TabStrip.Clicked(smoke, close=True))
            strip.post_message(TabStrip.Clicked(smoke, close=True))
            await pilot.pause(0.3)
            assert smoke not in tabs.pane_ids() and tabs.active == "tab-welcome", "the shown tab stays shown"
            app.open_recipe(builtin_dir() / "smoke.yaml", "built-in")
            await app.action_close_tab()                         # before it finished mounting
            app.open_recipe(builtin_dir() / "smoke.yaml", "built-in")
            await pilot.pause(0.3)
            editor = app.active_editor()
            assert editor is not None and "smoke" in editor.id
            editor.query_one("TextArea").insert("# my note\n")
            await pilot.pause(0.2)
            await pilot.press("ctrl+w")
            await pilot.pause(0.2)
            assert type(app.screen).__name__ == "ConfirmScreen", "unsaved edits: asks before closing"
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert editor.id in tabs.pane_ids() and "# my note" in editor.text
    run(go())


# ---------------------------------------------------------------------------------------------- recipes


def test_editor_shows_a_typo_in_problems_with_its_line_and_jumps_there(home):
    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, 0.5)
            await pilot.press("enter")                       # open demo
            await settle(app, pilot, 0.5)
            area = app.query_one("#recipe-text")
            line = next(i for i, text in enumerate(area.text.split("\n")) if text.startswith("  lora:"))
            area.move_cursor((line + 1, 4))
            area.insert("r")                                  # r: -> rr:
            await settle(app, pilot, 0.8)
            problems = app.query_one("#problems")
            assert problems.option_count == 1
            shown = str(problems.get_option_at_index(0).prompt)
            assert f"demo.yaml:{line + 2}" in shown and "method.lora.rr" in shown
            assert "did you mean 'r'" in shown and "expected one of r, alpha" in shown
            area.move_cursor((0, 0))
            problems.focus()
            problems.highlighted = 0
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert area.cursor_location[0] == line + 1
            await pilot.press("f5")                           # refuses: errors
            await pilot.pause(0.3)
            assert type(app.screen).__name__ != "PreflightScreen"
            app.query_one("#recipe-tree").focus()             # Enter on an open recipe: back to its editor
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert app.focused is area and "rr" in area.text, "the open tab is shown, edits kept"
    run(go())


def test_saving_a_built_in_recipe_asks_a_name_and_makes_your_copy_that_still_finds_its_data(home):
    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, 0.5)
            await pilot.press("enter")
            await settle(app, pilot, 0.5)
            await pilot.press("ctrl+s")                       # a built-in: asks, proposing my-demo
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "TextPromptScreen"
            assert app.screen.query_one("Input").value == "my-demo"
            await pilot.press("enter")
            await settle(app, pilot, 1.0)
            saved = home.recipes_dir / "my-demo.yaml"
            assert saved.exists() and not (home.recipes_dir / "demo.yaml").exists()
            data = yaml.safe_load(saved.read_text())
            assert data["name"] == "my-demo"
            assert Path(data["data"]["path"]).is_absolute() and Path(data["data"]["path"]).exists()
            assert saved.read_text().startswith("# yaml-language-server"), "comments are kept"
            tree = app.query_one("#recipe-tree")
            yours = [str(n.label) for n in tree.root.children[1].children]
            assert "my-demo" in yours
            assert app.query_one("#editors").label_of(app.query_one("#editors").active) == "my-demo.yaml"
            editor = app.active_editor()
            assert not editor.dirty and "yours" in text_of(editor.query_one(".editor-header"))
            await pilot.press("ctrl+shift+s")                 # an invalid name is asked again, text kept
            await pilot.pause(0.3)
            app.screen.query_one("Input").value = "bad name/v1"
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "TextPromptScreen"
            assert app.screen.query_one("Input").value == "bad name/v1"
            await pilot.press("escape")
    run(go())
    assert tuner("validate", str(home.recipes_dir / "my-demo.yaml")).returncode == 0


# ---------------------------------------------------------------------------------------------- pre-flight


@pytest.fixture
def tiny_model(home):
    """The tiny model's folder (its tokenizer is what pre-flight audits with), built once per session."""
    from tuner_tui.training.model_sources import materialize  # torch: only the tests that need the folder

    materialize("tiny-random-llama", home)
    return home.models_dir / "tiny-random-llama"


def _chat_recipe(home, rows: list[dict], name: str = "chat-xray", max_length: int = 64) -> Path:
    data = home.root / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = yaml.safe_load((Path(__file__).parents[1] / "recipes" / "smoke.yaml").read_text())
    source["name"] = name
    source["data"].update(path=str(data), format="sharegpt", max_length=max_length)
    path = home.recipes_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(source, sort_keys=False))
    return path


def _talk(question: str, answer: str) -> dict:
    return {"conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]}


def _rows(n: int, cut: tuple[int, ...] = (), nothing: tuple[int, ...] = ()) -> list[dict]:
    """n short chats; the rows in `cut` have an answer longer than max_length 64, those in `nothing` a prompt
    that leaves no room for their answer."""
    long = " ".join(f"word{k}" for k in range(60))
    return [_talk(long if i in nothing else f"what is {i} plus {i + 1}?",
                  f"{2 * i + 1}; " + long if i in cut else f"{2 * i + 1}, [b]not markup[/b]") for i in range(n)]


async def _open_preflight(app, pilot) -> None:
    await settle(app, pilot, 0.5)
    await pilot.press("f5")                              # opens the editor, then pre-flight
    await until(pilot, lambda: type(app.screen).__name__ == "PreflightScreen", 60, "pre-flight")
    await pilot.pause(0.3)


def _printed(renderable) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=__import__("io").StringIO())
    console.print(renderable)
    return console.export_text()


def _styles_of(text, fragment: str) -> set[str]:
    """The styles of the spans that cover the first place `fragment` appears in a Rich Text."""
    at = text.plain.index(fragment)
    return {str(s.style) for s in text.spans if s.start <= at < s.end}


def test_preflight_browses_rows_with_trained_text_highlighted_and_jumps_to_flagged_rows(home, tiny_model):
    _chat_recipe(home, _rows(40, cut=(7,), nothing=(19,)))

    async def go():
        app = TunerApp(home, select_recipe="chat-xray", sample_gpu=False)
        async with app.run_test(size=(120, 45)) as pilot:
            await _open_preflight(app, pilot)
            screen = app.screen
            header = text_of(screen.query_one("#row-header"))
            assert header.startswith("row 1 of 40 · ") and "chat-xray.jsonl:1 · " in header
            assert " tokens, " in header and " trained" in header and "⚑" not in header
            summary = text_of(screen.query_one(".browser-summary"))
            assert "1 of 40 rows train on nothing" in summary and "1 answers cut by max_length" in summary
            row = screen.query_one("#row-text").render()
            assert "[b]not markup[/b]" in row.plain, "row text is shown as it is, never parsed as markup"
            trained, masked = _styles_of(row, "1, [b]not"), _styles_of(row, "what is 0 plus 1?")
            assert trained and masked and trained.isdisjoint(masked)
            assert any("bold" in s for s in trained) and any("dim" in s for s in masked)
            assert " user " in row.plain and " assistant " in row.plain, "each turn's role is shown"

            await pilot.press("right_square_bracket")        # ]: the next row
            assert text_of(screen.query_one("#row-header")).startswith("row 2 of 40 · ")
            await pilot.press("left_square_bracket")
            assert text_of(screen.query_one("#row-header")).startswith("row 1 of 40 · ")
            await pilot.press("f")                           # the next flagged row: its answer is cut
            header = text_of(screen.query_one("#row-header"))
            assert header.startswith("row 8 of 40 · ") and "answer cut by max_length" in header
            assert "✂ cut at max_length 64" in screen.query_one("#row-text").render().plain
            await pilot.press("f")                           # then the one that trains on nothing
            header = text_of(screen.query_one("#row-header"))
            assert header.startswith("row 20 of 40 · ") and "trains on nothing" in header and ", 0 trained" in header
            await pilot.press("f")                           # round to the first again
            assert text_of(screen.query_one("#row-header")).startswith("row 8 of 40 · ")
            await pilot.press("escape")
    run(go())


def test_preflight_that_blocks_shows_why_with_its_rows_and_can_launch_anyway(home, tiny_model, monkeypatch):
    _chat_recipe(home, _rows(10, nothing=(3, 6)))            # 20% of rows train on nothing: blocks
    started = []
    monkeypatch.setattr(TunerApp, "start_run", lambda self, loaded, checked=None, parent=None:
                        started.append(checked) or None)

    async def go():
        app = TunerApp(home, select_recipe="chat-xray", sample_gpu=False)
        async with app.run_test(size=(120, 45)) as pilot:
            await _open_preflight(app, pilot)
            screen = app.screen
            shown = _printed(screen.query_one("#preflight-summary").content)
            assert "stopped the launch" in shown and "2 of 10 rows" in shown and "train on nothing" in shown
            header = text_of(screen.query_one("#row-header"))
            assert header.startswith("row 4 of 10 · ") and "trains on nothing" in header, "opens on the first"
            assert not screen.query("#launch") and screen.query_one("#force").label.plain.startswith("Launch anyway")
            await pilot.press("f5")                          # F5 does not launch past a block
            await pilot.pause(0.2)
            assert type(app.screen).__name__ == "PreflightScreen" and not started
            await pilot.press("f")
            assert text_of(screen.query_one("#row-header")).startswith("row 7 of 10 · ")
            await pilot.click("#force")
            await pilot.pause(0.3)
            assert len(started) == 1 and not started[0].blocking
            assert any("train on nothing" in p.message and "(launching anyway: --force)" in p.message
                       for p in started[0].warnings)
    run(go())


# ---------------------------------------------------------------------------------------------- runs


def _smoke_recipe(home, steps: int, name: str = "smoke-test") -> Path:
    source = yaml.safe_load((Path(__file__).parents[1] / "recipes" / "smoke.yaml").read_text())
    source["name"] = name
    source["data"]["path"] = str(Path(__file__).parents[1] / "recipes" / "data" / "demo.jsonl")
    source["train"]["max_steps"] = steps
    path = home.recipes_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(source, sort_keys=False))
    return path


def test_launch_smoke_from_the_editor_watch_it_finish_then_stop_a_second_one(home):
    _smoke_recipe(home, 20)
    _smoke_recipe(home, 5000, name="long-smoke")

    async def go():
        app = TunerApp(home, select_recipe="smoke-test", sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(app, pilot, 0.5)
            await pilot.press("f5")                              # opens the editor, then pre-flight
            await until(pilot, lambda: type(app.screen).__name__ == "PreflightScreen", 60, "pre-flight")
            await pilot.press("f5")                              # launch
            await until(pilot, lambda: app.records and app.records[0]["status"] in ("running", "finished"), 30,
                        "the run to start")
            run_id = app.records[0]["id"]
            assert app.query_one("#editors").active == f"run-{run_id}"
            dashboard = app.query_one(f"#run-{run_id}")
            await until(pilot, lambda: dashboard.record["status"] == "finished", 240, "the run to finish")
            await pilot.pause(1.5)
            assert dashboard.progress.step == 20
            assert len(dashboard.progress.series["loss"]) >= 5 and dashboard.progress.series["eval_loss"]
            assert "finished" in text_of(dashboard.query_one(".dash-header"))
            app.show_panel_tab("tab-events")                     # hidden tabs buffer their lines
            await pilot.pause(0.5)
            events = app.query_one("#events-log")
            assert any("finished" in line for line in events.lines)

            # a long one, stopped from the dashboard with Shift+F5 (confirmed)
            app.query_one("RecipesExplorer").set_recipes(
                [e for e in __import__("tuner_tui.runtime.recipe_catalog", fromlist=["x"]).list_recipes(home)],
                select="long-smoke")
            app.query_one("#recipe-tree").focus()
            await pilot.pause(0.3)
            await pilot.press("f5")
            await until(pilot, lambda: type(app.screen).__name__ == "PreflightScreen", 60, "pre-flight 2")
            await pilot.press("f5")
            await until(pilot, lambda: len(app.records) == 2, 30, "the second run")
            long_id = next(r["id"] for r in app.records if r["name"] == "long-smoke")
            long_dash = app.query_one(f"#run-{long_id}")
            await until(pilot, lambda: long_dash.progress.step >= 2, 120, "training steps")
            await pilot.press("shift+f5")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 10, "the confirm dialog")
            await pilot.press("y")
            await until(pilot, lambda: long_dash.record["status"] == "stopped", 180, "the stop")
    run(go())
    records = {r["name"]: r for r in RunStore(home).all()}
    assert records["smoke-test"]["status"] == "finished"
    assert records["long-smoke"]["status"] == "stopped"
    assert records["long-smoke"]["final"]["steps"] < 5000


def test_relaunch_with_edits_records_the_parent_and_the_change(home):
    parent = finished_run(home)

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(app, pilot, 0.5)
            app.action_show_view("runs")
            await pilot.pause(0.2)
            await pilot.press("e")                               # re-launch with edits
            await settle(app, pilot, 0.5)
            editor = app.query_one(f"#draft-{parent['id']}")
            area = editor.query_one("#recipe-text")
            text = area.text.replace("learning_rate: 0.001", "learning_rate: 0.0005")
            assert text != area.text
            area.load_text(text)
            await settle(app, pilot, 0.6)
            await pilot.press("f5")
            await until(pilot, lambda: type(app.screen).__name__ == "PreflightScreen", 60, "pre-flight")
            await pilot.press("f5")
            await until(pilot, lambda: len(app.records) == 2, 30, "the child run")
            child = next(r for r in app.records if r["id"] != parent["id"])
            dashboard = app.query_one(f"#run-{child['id']}")
            await pilot.pause(1.2)
            assert f"re-launch of {parent['id']}" in text_of(dashboard.query_one(".dash-edits"))
            assert "train.learning_rate: 0.001 → 0.0005" in text_of(dashboard.query_one(".dash-edits"))
            await until(pilot, lambda: dashboard.record["status"] == "finished", 240, "the child to finish")
    run(go())
    child = next(r for r in RunStore(home).all() if r["id"] != parent["id"])
    assert child["parent_id"] == parent["id"]
    assert child["edits"] == {"train.learning_rate": [0.001, 0.0005]}


def test_compare_tag_note_and_delete_from_the_runs_explorer(home):
    first = finished_run(home)
    second = finished_run(home, "train.learning_rate=0.002")

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(app, pilot, 0.5)
            app.action_show_view("runs")
            await pilot.pause(0.2)
            await pilot.press("space", "down", "space", "c")
            await settle(app, pilot, 1.5)
            compare = app.query_one("CompareView")
            diff_rows = [compare.query_one("#compare-diff").get_row_at(i)
                         for i in range(compare.query_one("#compare-diff").row_count)]
            assert any(row[0] == "train.learning_rate" for row in diff_rows)
            assert len(compare.query_one("#compare-loss").plt._active.monitor.y) == 2   # two loss lines

            app.action_show_view("runs")
            await pilot.pause(0.2)
            await pilot.press("t")
            await pilot.pause(0.2)
            await pilot.press(*"baseline", "enter")
            await pilot.press("n")
            await pilot.pause(0.2)
            await pilot.press(*"lr too high", "enter")
            await pilot.pause(0.3)
            target = app.query_one("RunsExplorer").selected_id()
            table = app.query_one("#run-table")
            await until(pilot, lambda: "#baseline" in str(table.get_row(target)[2]), 10, "the tag in the Runs list")
            await pilot.press("delete")
            await pilot.pause(0.2)
            await pilot.press("y")
            await settle(app, pilot, 0.5)
            return target
    deleted = run(go())
    left = RunStore(home).all()
    assert [r["id"] for r in left] == [({first["id"], second["id"]} - {deleted}).pop()]
    assert not Path(next(r for r in (first, second) if r["id"] == deleted)["run_dir"]).exists()


def test_a_failed_run_shows_its_cause_and_f6_relaunches_with_the_fix(home, monkeypatch):
    monkeypatch.setenv("TUNER_TEST_FAULT", "oom@3")
    failed = tuner("run", "smoke", "--json", timeout=300)
    assert failed.returncode == 1
    parent = RunStore(home).all()[0]
    assert parent["failure"]["cause"] == "oom"
    monkeypatch.delenv("TUNER_TEST_FAULT")

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(app, pilot, 0.5)
            app.open_run(parent["id"])
            await settle(app, pilot, 1.5)
            dashboard = app.query_one(f"#run-{parent['id']}")
            failure = text_of(dashboard.query_one(".dash-failure"))
            assert "oom" in failure and "press F6" in failure and "tuner relaunch" in failure
            await pilot.press("f6")
            await until(pilot, lambda: len(app.records) == 2, 30, "the fixed child run")
    run(go())
    child = next(r for r in RunStore(home).all() if r["id"] != parent["id"])
    assert child["parent_id"] == parent["id"]
    assert child["edits"]["train.batch_size"] == [8, 4] and child["edits"]["train.grad_accum"] == [1, 2]


def test_try_it_shows_base_and_tuned_answers_side_by_side(home):
    parent = finished_run(home)

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(app, pilot, 0.5)
            app.open_run(parent["id"])
            await settle(app, pilot, 0.5)
            app.action_try()
            await pilot.pause(0.3)
            view = app.query_one("TryView")
            view.query_one("#try-prompt").focus()
            await pilot.press(*"Hi", "enter")
            await until(pilot, lambda: "done" in text_of(view.query_one("#try-status"))
                        or "✖" in text_of(view.query_one("#try-status")), 300, "the answers")
            assert "done" in text_of(view.query_one("#try-status")), text_of(view.query_one("#try-status"))
            assert text_of(view.query_one("#try-base")) and text_of(view.query_one("#try-tuned"))
    run(go())


def test_reattaches_to_a_running_run_at_start_and_quitting_leaves_it_running(home):
    _smoke_recipe(home, 5000, name="long-smoke")
    started = tuner("run", str(home.recipes_dir / "long-smoke.yaml"), "--detach", "--json", timeout=60)
    run_id = started.stdout.splitlines()[0].split('"')[3]
    try:
        async def go():
            app = TunerApp(home, sample_gpu=False)
            async with app.run_test(size=(140, 45)) as pilot:
                await settle(app, pilot, 0.5)
                assert app.query_one("#editors").active == f"run-{run_id}"
                dashboard = app.query_one(f"#run-{run_id}")
                await until(pilot, lambda: dashboard.progress.step >= 1, 120, "live steps")
                step = dashboard.progress.step
                await until(pilot, lambda: dashboard.progress.step > step, 60, "more steps while watching")
                await pilot.press("ctrl+q")
            return app.return_value
        assert run(go()) == [run_id]
        assert RunStore(home).get(run_id)["status"] == "running"
    finally:
        tuner("stop", run_id, timeout=200)


def test_the_tag_dialog_adds_to_the_tags_stored_when_it_closes_not_when_it_opened(home):
    """A tag added from another SSH session (the CLI) while the dialog is open is kept."""
    from tuner_tui.domain.runs import new_record

    run_dir = home.run_dir("dlg00001")
    run_dir.mkdir(parents=True)
    RunStore(home).create(dict(new_record("dlg00001", str(run_dir), name="tagged", status="finished")))

    async def go():
        app = TunerApp(home, sample_gpu=False)
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(app, pilot, 0.5)
            app.action_show_view("runs")
            await pilot.pause(0.2)
            await pilot.press("t")
            await pilot.pause(0.2)
            assert tuner("tag", "dlg00001", "from-cli").returncode == 0      # meanwhile, elsewhere
            await pilot.press(*"baseline", "enter")
            await pilot.press("n")
            await pilot.pause(0.2)
            assert tuner("note", "dlg00001", "from the cli").returncode == 0
            await pilot.press(*" and the dialog", "enter")
            await settle(app, pilot, 0.3)
    run(go())
    stored = RunStore(home).get("dlg00001")
    assert stored["tags"] == ["baseline", "from-cli"]
