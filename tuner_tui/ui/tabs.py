"""The editor area's tabs: open one per recipe / run / comparison (re-focus if already open), close, find."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.widget import Widget

from tuner_tui.ui.cockpit_host import cockpit
from tuner_tui.ui.editor_tabs import EditorTabs


def editors(app: App) -> EditorTabs:
    return app.query_one("#editors", EditorTabs)


def open_tab(app: App, tab_id: str, title: str, make: Callable[[], Widget]) -> tuple[Widget, bool]:
    """Activate tab_id, creating its content with make() when absent: (content, created)."""
    tabs = editors(app)
    pane = tabs.get_pane(tab_id)
    if pane is not None:
        tabs.active = tab_id
        return pane, False
    content = make()
    content.id = tab_id                     # the content is the pane: one widget level less in every frame
    tabs.add_pane(title, content)
    tabs.active = tab_id
    return content, True


def active_content(app: App) -> Widget | None:
    tabs = editors(app)
    if not tabs.active:
        return None
    return tabs.get_pane(tabs.active)


def active_dashboard(app: App):
    from tuner_tui.ui.run_dashboard import RunDashboard  # noqa: PLC0415 (plotext: imported on first use)

    widget = active_content(app)
    return widget if isinstance(widget, RunDashboard) else None


def dashboards(app: App) -> list:
    """Open dashboards, from the registry they keep on the app (no DOM query: the tick calls this)."""
    return list(cockpit(app).open_dashboards)


async def close(app: App, pane_id: str) -> None:
    """Close one tab (the active one or not); a run no other tab shows is no longer followed."""
    tabs = editors(app)
    widget = tabs.get_pane(pane_id)
    if widget is None:
        return
    run_id = getattr(widget, "run_id", None)
    await tabs.remove_pane(pane_id)
    if run_id is not None and run_id not in [d.run_id for d in dashboards(app)]:
        cockpit(app).follower.unwatch(run_id)
