"""The cockpit: layout, keys, and the tick that keeps it live. Recipe and run actions live in their own
modules (recipe_commands, run_commands); widgets in one module each.

Start-up stays as fast as a bare Textual app: the store, the recipe schema (pydantic) and the charts
(plotext) are imported after the first frame, in worker threads or when first needed. Live updates come from
one timer: a `stat` per followed run when nothing changed, the store re-read only when runs.json changed,
the GPU panel drawn from the sampler thread's latest snapshot."""

from __future__ import annotations

import gc
import os
import subprocess
from functools import cached_property
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher

from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.terminal_text import printable
from tuner_tui.runtime.follower import RunFollower
from tuner_tui.runtime.home import Home
from tuner_tui.ui.activity_bar import ActivityBar
from tuner_tui.ui.after_first_frame import AfterFirstFrame
from tuner_tui.ui.editor_tabs import EditorTabs
from tuner_tui.ui.recipe_commands import RecipeCommands
from tuner_tui.ui.recipes_explorer import RecipesExplorer
from tuner_tui.ui.run_commands import RunCommands
from tuner_tui.ui.status_bar import StatusBar
from tuner_tui.ui.welcome import Welcome

if TYPE_CHECKING:                   # loaded after the first frame
    from tuner_tui.runtime.gpu import GpuSampler
    from tuner_tui.runtime.store import RunStore

TICK_S = 1.0            # new events, log tail, GPU panel; the store every other tick
MAX_REATTACH_TABS = 4
NARROW_WIDTH = 100


class TunerApp(RecipeCommands, RunCommands, App):
    CSS_PATH = "app.tcss"
    TITLE = "tuner"
    BINDINGS = [
        Binding("ctrl+b", "toggle_sidebar", "Side bar"),
        Binding("ctrl+j", "toggle_panel", "Panel"),
        Binding("ctrl+g", "toggle_gpu", "GPU"),
        # F2/F3 too: tmux (extended-keys off) and many terminals never send Ctrl+Shift+letter.
        Binding("ctrl+shift+e,f2", "show_view('recipes')", "Recipes", show=False),
        Binding("ctrl+shift+r,f3", "show_view('runs')", "Runs", show=False),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+shift+s", "save_as", "Save as", show=False, priority=True),
        Binding("f5", "launch", "Launch"),          # not priority: the pre-flight dialog's F5 means "go"
        Binding("shift+f5", "stop_run", "Stop"),
        Binding("f6", "relaunch_fix", "Re-launch with fix", show=False),
        Binding("f8", "next_panel_tab", "Next panel tab", show=False),
        Binding("ctrl+tab,ctrl+pagedown", "next_tab", "Next tab", show=False, priority=True),
        Binding("ctrl+shift+tab,ctrl+pageup", "previous_tab", "Previous tab", show=False, priority=True),
        Binding("ctrl+w", "close_tab", "Close tab", show=False, priority=True),
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, home: Home | None = None, select_recipe: str | None = "demo",
                 exit_on_first_frame: bool = False, sample_gpu: bool = True) -> None:
        super().__init__()
        self.home = home or Home.default()
        self.select_recipe = select_recipe
        self.exit_on_first_frame = exit_on_first_frame
        self.sample_gpu = sample_gpu
        self.follower = RunFollower()
        self.records: list[dict] = []
        self._listed: list[dict] | None = None  # the store's list `records` was reconciled from
        self.store: RunStore | None = None      # created after the first frame
        self.sampler: GpuSampler | None = None
        self.workers_started: list[subprocess.Popen] = []   # workers we started: reaped so they leave no zombies
        self._ticks = 0
        self.open_dashboards: set = set()       # RunDashboards register here: the tick feeds them, no DOM query
        self.status_bar = StatusBar()
        self._view_wanted: str | None = None    # F3 typed before the Runs explorer was mounted

    # The first frame is the Recipes explorer, the editor area and the status bar, as fast as a bare app. The
    # bottom panel, the GPU panel and the Runs explorer (and the modules behind them: DataTable, Input, Log,
    # OptionList, Sparkline) follow a few ms later (AfterFirstFrame). Until mounted they are plain objects:
    # their methods keep what they are given and show it once mounted.

    @cached_property
    def bottom(self):
        from tuner_tui.ui.bottom_panel import BottomPanel

        return BottomPanel()

    @cached_property
    def gpu_panel(self):
        from tuner_tui.ui.gpu_panel import GpuPanel

        return GpuPanel()

    @cached_property
    def runs_explorer(self):
        from tuner_tui.ui.runs_explorer import RunsExplorer

        explorer = RunsExplorer(id="runs-view")
        explorer.display = False                    # the ContentSwitcher shows recipes first
        return explorer

    # ------------------------------------------------------------------------------------------ layout

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification is plain text (run names, paths and error messages are in them), with no
        terminal control: markup is off unless a caller asks for it."""
        super().notify(printable(message), title=printable(title), severity=severity, timeout=timeout,
                       markup=markup)

    def compose(self) -> ComposeResult:
        with Horizontal(id="workbench"):
            yield ActivityBar()
            with ContentSwitcher(initial="recipes-view", id="sidebar"):
                yield RecipesExplorer(id="recipes-view")
                yield AfterFirstFrame(lambda: self.runs_explorer, then=self._runs_explorer_mounted)
            with Vertical(id="center"):
                yield EditorTabs("Welcome", Welcome(str(self.home.root), id="tab-welcome"), id="editors")
                yield AfterFirstFrame(lambda: self.bottom)
            yield AfterFirstFrame(lambda: self.gpu_panel)
        yield self.status_bar

    def on_mount(self) -> None:
        self.query_one(ActivityBar).show_active("recipes")
        self._apply_width(self.size.width)
        if not gc.isenabled():                  # paused by `tuner` for start-up (commands/cockpit.py)
            self.call_after_refresh(self.resume_gc)
        if self.exit_on_first_frame:
            self.call_after_refresh(self.exit)
            return
        self.load_home()
        self.set_interval(TICK_S, self.tick)
        if self.sample_gpu:
            self.call_after_refresh(self.start_sampler)
        else:
            self.gpu_panel.show_off()

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        """At 80 columns the GPU panel would squeeze the editor: it collapses (Ctrl+G brings it back)."""
        narrow = width < NARROW_WIDTH
        self.screen.set_class(narrow, "-narrow")
        if narrow:
            self.gpu_panel.add_class("-hidden")

    @staticmethod
    def resume_gc() -> None:
        """After the first frame: collect start-up's garbage once, then freeze what survived (modules, styles,
        the widget tree) so later collections, while the cockpit idles, do not walk it again."""
        gc.collect()
        gc.freeze()
        gc.enable()

    # ------------------------------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="load")
    def load_home(self) -> None:
        """After the first frame: the store (TinyDB), the recipe list (validated with pydantic)."""
        from tuner_tui.runtime.recipe_catalog import list_recipes
        from tuner_tui.runtime.store import RunStore

        store = RunStore(self.home)
        records = self._reconciled(store)
        self.call_from_thread(self._records_loaded, store, records)
        entries = list_recipes(self.home)
        self.call_from_thread(self.query_one(RecipesExplorer).set_recipes, entries, self.select_recipe)

    def _reconciled(self, store) -> list[dict]:
        """The runs as the CLI shows them (the same service): dead workers settled, silent ones `stall`ed."""
        from tuner_tui.runtime.run_service import RunService

        return RunService(self.home, store).shown()

    def _records_loaded(self, store, records: list[dict]) -> None:
        self.store = store
        self._set_records(records)
        self._status(None)                      # the status bar at once, not at the first tick
        running = [r for r in records if r["status"] == "running" or (r["status"] == "queued" and r.get("pid"))]
        for record in sorted(running, key=lambda r: r.get("created", 0))[-MAX_REATTACH_TABS:]:
            self.open_run(record["id"])
        if running:
            self.notify(f"re-attached to {len(running)} running run(s)")
        if store.read_only:                     # once: every view works, nothing will be saved
            self.notify(f"{self.home.root} is read-only here: runs are shown as they are; nothing is saved",
                        severity="warning", timeout=10)

    def _set_records(self, records: list[dict]) -> None:
        self.records = records
        self.runs_explorer.set_records(records)
        by_id = {r["id"]: r for r in records}
        from tuner_tui.ui.run_commands import run_tab_title
        from tuner_tui.ui.tabs import dashboards, editors

        for dashboard in dashboards(self):
            if dashboard.run_id in by_id:
                if by_id[dashboard.run_id].get("status") != dashboard.record.get("status"):   # ▶ comes and goes
                    editors(self).set_label(f"run-{dashboard.run_id}", run_tab_title(by_id[dashboard.run_id]))
                dashboard.set_record(by_id[dashboard.run_id])

    def start_sampler(self) -> None:
        try:
            from tuner_tui.runtime.gpu import GpuSampler
        except ImportError:
            return
        self.sampler = GpuSampler(home=self.home)
        self.sampler.start()

    # ------------------------------------------------------------------------------------------ live

    def tick(self) -> None:
        """Once a second: new events for followed runs, the log tail, the GPU panel; the store every 2 s."""
        if not self.is_running:               # shutting down: the widgets are being taken away
            return
        self._ticks += 1
        from tuner_tui.ui.tabs import dashboards

        with self.batch_update():             # everything below lands in one frame, once a second
            news = self.follower.poll()
            for dashboard in dashboards(self):
                if dashboard.run_id in news:
                    dashboard.feed(news[dashboard.run_id])
                dashboard.redraw_if_dirty()
            panel = self.bottom
            if panel.events_run in news:
                panel.add_events(panel.events_run, news[panel.events_run])
            self.bottom.poll_log()
            self._refresh_gpu()
            if self._ticks % 2 == 0:
                self._refresh_store()
                self.workers_started = [p for p in self.workers_started if p.poll() is None]

    def _refresh_store(self) -> None:
        if self.store is None:
            return
        records = self.store.all()              # cached: a stat unless runs.json changed
        active = [r for r in records if r["status"] in ("queued", "running")]
        if records is not self._listed or (active and self._ticks % 2 == 0):
            self._listed = records
            reconciled = self._reconciled(self.store)
            if reconciled != self.runs_explorer.records:   # unchanged: no refill, no relayout
                self._set_records(reconciled)

    def _refresh_gpu(self) -> None:
        report = self.sampler.latest() if self.sampler is not None else None
        panel = self.gpu_panel
        if report is not None and panel.display and not panel.has_class("-hidden"):
            panel.show(report)
        self._status(report)

    def _status(self, report) -> None:
        from tuner_tui.domain.event_text import human_bytes

        if report is not None and report.gpus:
            used = sum(g.memory_used or 0 for g in report.gpus)
            total = sum(g.memory_total or 0 for g in report.gpus)
            gpu = f"GPU {human_bytes(used)} / {human_bytes(total)}"
        elif report is not None:
            gpu = "no GPU"
        else:
            gpu = "GPU: sampling…" if self.sampler else "GPU: off"
        active = sum(1 for r in self.records if r["status"] in ("queued", "running"))
        home = str(self.home.root).replace(os.path.expanduser("~"), "~", 1)
        self.status_bar.show(gpu, active, home)     # no query: the tick may run while the app shuts down

    # ------------------------------------------------------------------------------------------ views

    def action_toggle_sidebar(self) -> None:
        self.query_one("#sidebar").toggle_class("-hidden")

    def action_toggle_panel(self) -> None:
        self.bottom.toggle_class("-hidden")
        if self.bottom.is_mounted:
            self.bottom.became_visible()

    def action_toggle_gpu(self) -> None:
        self.gpu_panel.toggle_class("-hidden")
        self._refresh_gpu()

    def action_show_view(self, view: str) -> None:
        if view == "gpu":
            self.action_toggle_gpu()
            return
        if view == "runs" and not self.runs_explorer.is_mounted:
            self._view_wanted = view                # F3 typed ahead at start-up: shown once it is mounted
            return
        self._view_wanted = None
        self.query_one("#sidebar").remove_class("-hidden")
        self.query_one("#sidebar", ContentSwitcher).current = f"{view}-view"
        self.query_one(ActivityBar).show_active(view)
        if view == "recipes":
            self.query_one(RecipesExplorer).recipe_tree.focus()
        else:
            self.query_one("#run-table").focus()

    def _runs_explorer_mounted(self) -> None:
        if self._view_wanted:
            self.action_show_view(self._view_wanted)
            self._view_wanted = None

    def on_activity_bar_view_chosen(self, event: ActivityBar.ViewChosen) -> None:
        self.action_show_view(event.view)

    def show_panel_tab(self, tab: str) -> None:
        from textual.widgets import TabbedContent as Tabs

        panel = self.bottom
        panel.remove_class("-hidden")
        if panel.is_mounted:
            panel.query_one(Tabs).active = tab

    PANEL_TABS = ("tab-problems", "tab-logs", "tab-events")

    def action_next_panel_tab(self) -> None:
        """F8: Problems -> Logs -> Events, showing the panel first if it was hidden."""
        from textual.widgets import TabbedContent as Tabs

        panel = self.bottom
        if not panel.is_mounted:
            return
        active = panel.query_one(Tabs).active
        if panel.has_class("-hidden"):
            self.show_panel_tab(active or self.PANEL_TABS[0])
            return
        step = self.PANEL_TABS.index(active) + 1 if active in self.PANEL_TABS else 0
        self.show_panel_tab(self.PANEL_TABS[step % len(self.PANEL_TABS)])

    def action_help(self) -> None:
        from tuner_tui.ui.help_screen import HelpScreen

        self.push_screen(HelpScreen())

    def action_next_tab(self) -> None:
        self._cycle_tab(1)

    def action_previous_tab(self) -> None:
        self._cycle_tab(-1)

    def _cycle_tab(self, step: int) -> None:
        tabs = self.query_one("#editors", EditorTabs)
        panes = tabs.pane_ids()
        if panes and tabs.active in panes:
            tabs.active = panes[(panes.index(tabs.active) + step) % len(panes)]

    async def action_close_tab(self) -> None:
        active = self.query_one("#editors", EditorTabs).active
        if active:
            await self.close_tab(active)

    async def close_tab(self, pane_id: str) -> None:
        """Ctrl+W or a tab's ×: a recipe with unsaved edits asks first."""
        from tuner_tui.ui.tabs import close

        widget = self.query_one("#editors", EditorTabs).get_pane(pane_id)
        if getattr(widget, "dirty", False):
            from tuner_tui.ui.dialogs import ConfirmScreen

            async def answered(ok: bool | None) -> None:
                if ok:
                    await close(self, pane_id)

            name = getattr(widget, "name_hint", pane_id)
            self.push_screen(ConfirmScreen(f"{name} has unsaved changes. Close it and lose them?",
                                           yes="Close"), answered)
            return
        await close(self, pane_id)

    def on_editor_tabs_activated(self, event: EditorTabs.Activated) -> None:
        self.show_active_run_in_panel()

    async def on_editor_tabs_close_requested(self, event: EditorTabs.CloseRequested) -> None:
        await self.close_tab(event.pane_id)         # a background tab's ×: that one goes, the shown one stays

    def show_active_run_in_panel(self, force: bool = False) -> None:
        from tuner_tui.ui.tabs import active_dashboard

        dashboard = active_dashboard(self)
        panel = self.bottom
        if dashboard is None or (panel.events_run == dashboard.run_id and not force):
            return
        panel.follow_log(RunDir.of(dashboard.record["run_dir"]).log)
        panel.show_events(dashboard.run_id, dashboard.events_for_panel())

    # ------------------------------------------------------------------------------------------ palette

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        from tuner_tui.ui.palette import cockpit_commands

        for title, help_text, callback in cockpit_commands(self):
            yield SystemCommand(title, help_text, callback)

    # ------------------------------------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        self.exit(self.running_runs())

    def running_runs(self) -> list[str]:
        return [r["id"] for r in self.records if r["status"] in ("queued", "running")]
