"""Every cockpit action in the command palette (Ctrl+P), with what it does."""

from __future__ import annotations

from collections.abc import Callable, Iterator


def cockpit_commands(app) -> Iterator[tuple[str, str, Callable]]:
    actions = [
        ("Launch recipe", "pre-flight, then start a run from the open recipe (F5)", app.action_launch),
        ("Stop run", "checkpoint and stop the current run (Shift+F5)", app.action_stop_run),
        ("Resume run", "continue a stopped, failed or crashed run from its last checkpoint", app.action_resume),
        ("Re-launch with edits", "open the run's recipe as a draft; F5 launches a child run", app.action_relaunch),
        ("Re-launch with the proposed fix", "after an OOM: same effective batch, less memory (F6)",
         app.action_relaunch_fix),
        ("Compare runs", "the marked runs (Space), or a run and its parent", app.action_compare),
        ("Try run", "base and tuned answers to a prompt, side by side", app.action_try),
        ("Merge run", "merge the LoRA adapter into the base weights (merged/)", app.action_merge),
        ("Tag run", "add a tag to the current run", app.action_tag),
        ("Note on run", "write a note on the current run", app.action_note),
        ("Delete run", "remove the run's record and folder (asks first)", app.action_delete_run),
        ("Save recipe", "save the open recipe (built-in: as your copy) (Ctrl+S)", app.action_save),
        ("Save recipe as…", "save the open recipe under a new name in your recipes", app.action_save_as),
        ("Show recipes", "the Recipes explorer (Ctrl+Shift+E)", lambda: app.action_show_view("recipes")),
        ("Show runs", "the Runs explorer (Ctrl+Shift+R)", lambda: app.action_show_view("runs")),
        ("Toggle side bar", "Ctrl+B", app.action_toggle_sidebar),
        ("Toggle panel", "Problems, Logs, Events (Ctrl+J)", app.action_toggle_panel),
        ("Toggle GPU panel", "Ctrl+G", app.action_toggle_gpu),
        ("Close tab", "Ctrl+W", lambda: app.run_action("close_tab")),
        ("Help: every key", "F1", app.action_help),
        ("Show Problems", "the panel's Problems tab", lambda: app.show_panel_tab("tab-problems")),
        ("Show Logs", "the panel's Logs tab: the current run's worker.log", lambda: app.show_panel_tab("tab-logs")),
        ("Show Events", "the panel's Events tab: the current run's events", lambda: app.show_panel_tab("tab-events")),
    ]
    yield from actions
    for record in app.records[:200]:
        yield (f"Open run {record['id']} {record.get('name', '')}", f"{record['status']} · {record.get('model')}",
               lambda run_id=record["id"]: app.open_run(run_id))
