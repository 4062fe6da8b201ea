"""What the cockpit's action mixins (recipe_commands, run_commands) and its tabs use of the app, for the type
checker.

At run time `CockpitHost` is `object`: the mixins are plain classes and TunerApp provides everything below.
Under TYPE_CHECKING it is an App that declares those attributes, so mypy checks the mixins against them (a
mixin cannot subclass TunerApp itself, which subclasses the mixins)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import subprocess

    from textual.app import App

    from tuner_tui.domain.recipe_loader import LoadedRecipe
    from tuner_tui.runtime.follower import RunFollower
    from tuner_tui.runtime.home import Home
    from tuner_tui.runtime.run_service import RunService
    from tuner_tui.runtime.store import RunStore
    from tuner_tui.ui.bottom_panel import BottomPanel
    from tuner_tui.ui.runs_explorer import RunsExplorer

    class CockpitHost(App[Any]):        # returns what `tuner` prints on exit
        home: Home
        store: RunStore | None                      # None until loaded after the first frame
        records: list[dict]
        follower: RunFollower
        workers_started: list[subprocess.Popen]
        open_dashboards: set

        @property
        def bottom(self) -> BottomPanel: ...
        @property
        def runs_explorer(self) -> RunsExplorer: ...
        def load_home(self) -> object: ...
        def show_active_run_in_panel(self, force: bool = False) -> None: ...
        def open_run(self, run_id: str, record: dict | None = None) -> None: ...
        def open_draft(self, text: str, parent: dict) -> None: ...
        def start_run(self, loaded: LoadedRecipe, checked: object = None,
                      parent: dict | None = None) -> dict | None: ...
        def run_service(self) -> RunService: ...
else:
    CockpitHost = object


def cockpit(app: object) -> CockpitHost:
    """A widget's `self.app`, as the cockpit it is mounted in."""
    return cast("CockpitHost", app)
