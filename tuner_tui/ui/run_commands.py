"""Run actions of the cockpit: open a dashboard, stop, resume, re-launch (with edits, or with an OOM's fix),
compare, try, merge, tag, note, delete. Anything that waits (stopping takes up to a step, merging loads a
model) runs in a worker thread or a separate process; destructive actions ask first."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from textual import work

from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime.event_log import EventLog
from tuner_tui.ui.cockpit_host import CockpitHost
from tuner_tui.ui.tabs import active_dashboard, open_tab

if TYPE_CHECKING:                   # imported when first used: not needed for the first frame
    from tuner_tui.ui.runs_explorer import RunsExplorer


def run_tab_title(record: dict) -> str:
    """A run dashboard's tab: ▶ while the run is live (launched or training)."""
    live = record.get("status") == "running" or (record.get("status") == "queued" and record.get("pid"))
    return f"{'▶ ' if live else ''}{record.get('name')} {record['id'][:6]}"


class RunCommands(CockpitHost):
    """Mixed into TunerApp."""

    def record(self, run_id: str) -> dict | None:
        return next((r for r in self.records if r["id"] == run_id), None)

    def current_run(self) -> dict | None:
        """The run of the active dashboard, else the one highlighted in the Runs explorer."""
        dashboard = active_dashboard(self)
        if dashboard is not None:
            return self.record(dashboard.run_id) or dashboard.record
        run_id = self.runs_explorer.selected_id_or_none()
        return self.record(run_id) if run_id else None

    def _need_run(self) -> dict | None:
        record = self.current_run()
        if record is None:
            self.notify("select a run first (Ctrl+Shift+R shows runs)", severity="warning")
        return record

    # ------------------------------------------------------------------------------------------ open

    def on_runs_explorer_run_opened(self, event: RunsExplorer.RunOpened) -> None:
        self.open_run(event.run_id)

    def open_run(self, run_id: str, record: dict | None = None) -> None:
        from tuner_tui.ui.run_dashboard import RunDashboard  # plotext: imported when first needed

        record = record or self.record(run_id)
        if record is None:
            return
        dashboard, created = open_tab(self, f"run-{run_id}", run_tab_title(record), lambda: RunDashboard(record))
        if created:
            self.load_run(dashboard, record["run_dir"])
        self.show_active_run_in_panel()

    @work(thread=True, group="runs")
    def load_run(self, dashboard, run_dir: str) -> None:
        """The run as its series cache has it (a finished run of thousands of steps opens in milliseconds;
        only bytes appended since the cache are parsed) plus the log's tail for the Events panel; then the
        follower takes over from where the cache ends. The dashboard is handed the result directly: it may
        not be mounted yet when the read ends."""
        from tuner_tui.runtime.series_cache import RunSeries, recent_events

        series = RunSeries.open(run_dir)
        recent = recent_events(run_dir, series.offset)
        log = EventLog(RunDir.of(run_dir).events, series.offset)
        self.call_from_thread(self._run_loaded, dashboard, log, series.progress, recent)

    def _run_loaded(self, dashboard, log: EventLog, progress, recent: list[dict]) -> None:
        dashboard.history_loaded(progress, recent)
        self.follower.adopt(dashboard.run_id, log)
        self.show_active_run_in_panel(force=True)

    # ------------------------------------------------------------------------------------------ stop / resume

    def action_stop_run(self) -> None:
        record = self._need_run()
        if record is None:
            return
        if record["status"] not in ("queued", "running"):
            self.notify(f"run {record['id']} is not running (it is {record['status']})", severity="warning")
            return
        question = (f"Stop run {record['id']} ({record['name']})?\nIt saves a checkpoint at the end of the "
                    f"current step; you can resume it later.")
        from tuner_tui.ui.dialogs import ConfirmScreen

        def answered(ok: bool | None) -> None:
            if ok:
                self.stop_in_background(record)

        self.push_screen(ConfirmScreen(question, yes="Stop"), answered)

    @work(thread=True, group="stop")
    def stop_in_background(self, record: dict) -> None:
        from tuner_tui.domain.problems import ProblemsFound

        self.call_from_thread(self.notify, f"stopping {record['id']}: it checkpoints at the end of the step…")
        try:
            final = self.run_service().stop(record)
        except ProblemsFound as found:
            self.call_from_thread(self.notify, found.problems[0].format(), severity="warning")
            return
        self.call_from_thread(self.notify, f"run {record['id']} is {final['status']}")

    def action_resume(self) -> None:
        from tuner_tui.domain.problems import ProblemsFound

        record = self._need_run()
        if record is None:
            return
        try:
            self.workers_started.append(self.run_service().resume(record))
        except ProblemsFound as found:
            self.notify(found.problems[0].format(), severity="warning")
            return
        self.notify(f"resumed {record['id']} from its last checkpoint")
        self.open_run(record["id"])

    # ------------------------------------------------------------------------------------------ re-launch

    def action_relaunch(self) -> None:
        """Re-launch with edits: the parent's recipe opens as a draft; F5 launches it as a child run."""
        record = self._need_run()
        if record is None:
            return
        try:
            text = RunDir.of(record["run_dir"]).recipe.read_text(encoding="utf-8")
        except OSError as err:
            self.notify(f"run {record['id']} has no recipe.yaml: {err}", severity="error")
            return
        self.open_draft(text, record)
        self.notify("edit the recipe, then F5: the new run records this one as its parent")

    def action_relaunch_fix(self) -> None:
        """After an OOM: one key re-launches with the proposed fix (same effective batch)."""
        from tuner_tui.domain.problems import ProblemsFound
        from tuner_tui.domain.recipe_loader import load_recipe

        record = self._need_run()
        fix = ((record or {}).get("failure") or {}).get("fix")
        if not record or not fix:
            self.notify("no proposed fix for this run (only failed runs with a known cause have one)",
                        severity="warning")
            return
        overrides = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fix.items()]
        try:
            loaded = load_recipe(RunDir.of(record["run_dir"]).recipe, overrides)
        except ProblemsFound as found:
            self.notify(found.problems[0].format(), severity="error")
            return
        self.start_run(loaded, parent=record)

    # ------------------------------------------------------------------------------------------ compare / try

    def action_compare(self) -> None:
        from tuner_tui.ui.compare_view import CompareView

        explorer = self.runs_explorer
        records = [r for r in (self.record(i) for i in sorted(explorer.marked)) if r]
        if len(records) < 2:
            current = self.current_run()
            parent = self.record(current["parent_id"]) if current and current.get("parent_id") else None
            if current and parent:
                records = [parent, current]
            else:
                self.notify("mark two or more runs with Space in the Runs explorer, then c", severity="warning")
                return
        ids = "-".join(r["id"][:6] for r in records)
        open_tab(self, f"compare-{ids}", f"⇄ {len(records)} runs", lambda: CompareView(records))

    def action_try(self) -> None:
        from tuner_tui.ui.try_view import TryView

        record = self._need_run()
        if record is None:
            return
        if not any(d.is_dir() for d in (RunDir.of(record["run_dir"]).adapter, RunDir.of(record["run_dir"]).merged)):
            self.notify(f"run {record['id']} has no trained weights yet ({record['status']})", severity="warning")
            return
        open_tab(self, f"try-{record['id']}", f"? {record['name']}", lambda: TryView(record))

    def action_merge(self) -> None:
        record = self._need_run()
        if record is not None:
            self.merge_in_background(record)

    @work(thread=True, group="merge")
    def merge_in_background(self, record: dict) -> None:
        from tuner_tui.runtime.run_actions import merge_argv

        self.call_from_thread(self.notify, f"merging {record['id']} in a separate process…")
        proc = subprocess.run(merge_argv(record["id"]), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        lines = (proc.stderr if proc.returncode else proc.stdout).strip().splitlines()
        message = lines[-1] if lines else ""
        self.call_from_thread(self.notify, f"merge {'done' if proc.returncode == 0 else 'failed'}: {message}",
                              severity="information" if proc.returncode == 0 else "error")

    # ------------------------------------------------------------------------------------------ tag / note / delete

    def action_tag(self) -> None:
        record = self._need_run()
        if record is None:
            return

        def chosen(tag: str | None) -> None:
            if tag and tag.strip():      # added to the tags stored now, not to those read when the dialog opened
                self._change_run(record, lambda service: service.tag(record["id"], tag),
                                 lambda tags: f"tagged {record['id']}: {', '.join(tags)}")

        from tuner_tui.ui.dialogs import TextPromptScreen

        self.push_screen(TextPromptScreen(f"Tag run {record['id']}:", "e.g. baseline"), chosen)

    def action_note(self) -> None:
        record = self._need_run()
        if record is None:
            return

        def chosen(note: str | None) -> None:
            if note is not None:
                self._change_run(record, lambda service: service.note(record["id"], note),
                                 lambda _: f"note saved on {record['id']}")

        from tuner_tui.ui.dialogs import TextPromptScreen

        self.push_screen(TextPromptScreen(f"Note on run {record['id']}:", "what you learned",
                                          record.get("notes") or ""), chosen)

    def action_delete_run(self) -> None:
        record = self._need_run()
        if record is None:
            return
        if record["status"] in ("queued", "running"):
            self.notify(f"run {record['id']} is running: stop it first (Shift+F5)", severity="warning")
            return
        children = [r["id"] for r in self.records if r.get("parent_id") == record["id"]]
        question = (f"Delete run {record['id']} ({record['name']}, {record['status']})?\n"
                    f"Its record and its folder {record['run_dir']} (checkpoints, adapter) are removed.")
        if children:
            question += (f"\n{len(children)} run(s) were re-launched from it ({', '.join(children[:5])}): they keep "
                         "their own recipes and figures, but lose their parent for comparisons.")
        from tuner_tui.ui.dialogs import ConfirmScreen

        self.push_screen(ConfirmScreen(question, yes="Delete"), lambda ok: self._delete(record) if ok else None)

    def _delete(self, record: dict) -> None:
        from tuner_tui.domain.problems import ProblemsFound

        try:
            self.run_service().remove(record, files=True)
        except ProblemsFound as found:
            self.notify(found.problems[0].format(), severity="warning")
            return
        self.runs_explorer.marked.discard(record["id"])
        self.notify(f"deleted run {record['id']}")

    def _change_run(self, record: dict, change, said) -> None:
        """A tag or note through the run service (one read-modify-write under the store's lock)."""
        from tuner_tui.domain.problems import ProblemsFound

        try:
            result = change(self.run_service())
        except ProblemsFound as found:
            self.notify(found.problems[0].format(), severity="warning")
            return
        self.notify(said(result), markup=False)

    def run_service(self):
        """The service the CLI uses too (same guards, same messages), over the app's store."""
        from tuner_tui.runtime.run_service import RunService

        return RunService(self.home, self.store)
