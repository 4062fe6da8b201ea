"""Recipe actions of the cockpit: open in the editor, save, save as, and launch through the pre-flight view.

Pre-flight (data read and checked, VRAM estimated) runs in a worker thread; the launch itself only starts a
detached worker process, so the UI never waits on training."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from tuner_tui.domain.run_dir import RunDir
from tuner_tui.ui.cockpit_host import CockpitHost
from tuner_tui.ui.recipes_explorer import RecipesExplorer
from tuner_tui.ui.tabs import active_content, editors, open_tab

if TYPE_CHECKING:                   # imported when first used: not needed for the first frame
    from tuner_tui.ui.bottom_panel import BottomPanel


def _tab_id(prefix: str, name: str) -> str:
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


class RecipeCommands(CockpitHost):
    """Mixed into TunerApp."""

    # ------------------------------------------------------------------------------------------ open

    def on_recipes_explorer_recipe_opened(self, event: RecipesExplorer.RecipeOpened) -> None:
        self.open_recipe(Path(event.entry.path), event.entry.origin)

    def open_recipe(self, path: Path, origin: str):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            self.notify(f"cannot open {path}: {err}", severity="error")
            return None
        from tuner_tui.ui.recipe_editor import RecipeEditor  # TextArea + tree-sitter: not at start-up

        tab_id = _tab_id("recipe", f"{origin}-{path.stem}")
        editor, created = open_tab(self, tab_id, path.name, lambda: RecipeEditor(text, path, origin))
        if not created and editor.is_mounted:      # already open (maybe edited): show it, keep its text
            editor.query_one("#recipe-text").focus()
        return editor

    def open_draft(self, text: str, parent: dict) -> None:
        """A re-launch draft: the parent's recipe, launched (F5) as a child run that records the parent."""
        from tuner_tui.ui.recipe_editor import RecipeEditor

        path = RunDir.of(parent["run_dir"]).recipe
        tab_id = _tab_id("draft", parent["id"])
        open_tab(self, tab_id, f"✎ {parent['name']}", lambda: RecipeEditor(text, path, "relaunch", parent=parent))

    def active_editor(self):
        """The active tab's RecipeEditor, or None (without importing the editor when none was ever opened)."""
        module = sys.modules.get("tuner_tui.ui.recipe_editor")
        widget = active_content(self)
        return widget if module is not None and isinstance(widget, module.RecipeEditor) else None

    def on_recipe_editor_validated(self, event) -> None:
        if event.editor is self.active_editor() or self.active_editor() is None:
            self.bottom.show_problems(event.problems)

    def on_bottom_panel_problem_chosen(self, event: BottomPanel.ProblemChosen) -> None:
        editor = self.active_editor()
        if editor is not None:
            editor.go_to(event.line, event.column)

    # ------------------------------------------------------------------------------------------ save

    def action_save(self) -> None:
        editor = self.active_editor()
        if editor is None:
            self.notify("nothing to save: open a recipe first", severity="warning")
            return
        if editor.origin in ("yours", "path") and editor.path is not None:
            self._save(editor, editor.path)
            return
        # Built-in recipes are never overwritten, and a copy under the same name would silently shadow the
        # built-in in `tuner run NAME`: ask for a name, proposing a new one.
        self.action_save_as(suggest=f"my-{editor.name_hint}" if editor.origin == "built-in" else None)

    def action_save_as(self, suggest: str | None = None) -> None:
        editor = self.active_editor()
        if editor is None:
            return

        def chosen(name: str | None) -> None:
            if not name:
                return
            stem = Path(name).stem if name.endswith((".yaml", ".yml")) else name
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem):
                self.notify(f"'{name}' cannot be a recipe name: use letters, digits, '.', '_' and '-'",
                            severity="error")
                self._ask_name(name, chosen)            # ask again, keeping what was typed
                return
            target = self.home.recipes_dir / f"{stem}.yaml"
            if target.exists() and target != editor.path:
                from tuner_tui.ui.dialogs import ConfirmScreen

                self.push_screen(ConfirmScreen(f"{target} exists. Replace it?", yes="Replace"),
                                 lambda ok: self._save(editor, target, rename=True) if ok else None)
            else:
                self._save(editor, target, rename=True)

        self._ask_name(suggest or editor.name_hint, chosen)

    def _ask_name(self, value: str, chosen) -> None:
        from tuner_tui.ui.dialogs import TextPromptScreen

        self.push_screen(TextPromptScreen("Save the recipe as (in your recipes):", "my-recipe", value), chosen)

    def _save(self, editor, target: Path, rename: bool = False) -> None:
        from tuner_tui.runtime.recipe_catalog import builtin_dir
        from tuner_tui.runtime.run_actions import renamed, save_recipe

        if not editor.is_mounted:                  # its tab was closed while the name was asked
            self.notify("the recipe's tab was closed: nothing saved", severity="warning")
            return

        text = renamed(editor.text, target.stem) if rename else editor.text
        try:
            notes = save_recipe(text, target, editor.path)
        except OSError as err:
            self.notify(f"could not save {target}: {err}", severity="error")
            return
        if (builtin_dir() / target.name).exists():
            notes.append(f"your '{target.stem}' now shadows the built-in one (`tuner run {target.stem}` uses yours)")
        editor.saved_as(target, target.read_text(encoding="utf-8"))
        if editor.id:                              # the editor is its tab's pane
            editors(self).set_label(editor.id, target.name)
        self.notify(f"saved {target}" + "".join(f"\n{n}" for n in notes))
        self.load_home()

    # ------------------------------------------------------------------------------------------ launch

    def action_launch(self) -> None:
        editor = self.active_editor()
        if editor is None:
            entry = self.query_one(RecipesExplorer).selected()
            if entry is None:
                self.notify("open a recipe (Enter on the Recipes explorer), then F5", severity="warning")
                return
            if self.open_recipe(Path(entry.path), entry.origin) is not None:
                self.call_after_refresh(self.action_launch)       # once the editor tab is mounted
            return
        editor.validate_now()
        if editor.loaded is None:
            self.bottom.remove_class("-hidden")
            self.notify("the recipe has errors: see Problems (Enter on one jumps to its line)", severity="error")
            return
        self.notify("pre-flight: reading the data, estimating memory…")
        self.run_preflight(editor)

    @work(thread=True, exclusive=True, group="preflight")
    def run_preflight(self, editor) -> None:
        from tuner_tui.domain.problems import ProblemsFound
        from tuner_tui.runtime.preflight import PreflightBlocked, preflight

        loaded = editor.loaded
        blocked = None
        try:
            checked = preflight(loaded, self.home)
        except PreflightBlocked as stopped:     # what --force launches past: shown, with its rows
            checked, blocked = stopped.checked, stopped.problems
            self.call_from_thread(self._preflight_failed, blocked, notify=False)
        except ProblemsFound as found:
            self.call_from_thread(self._preflight_failed, found.problems)
            return
        estimate, fit = self._estimate(loaded, checked)
        self.call_from_thread(self._confirm_launch, editor, loaded, checked, estimate, fit, checked.samples,
                              blocked)

    def _estimate(self, loaded, checked) -> tuple[dict | None, str | None]:
        """The estimator's JSON document (for the table) and one line on whether it fits the GPU."""
        from tuner_tui.domain.event_text import human_bytes

        found = checked.estimate
        if found is None:
            return None, None
        document = found.to_document(loaded.recipe.model.source)
        kind = loaded.recipe.method.kind
        if found.gpu is None:
            fit = f"no GPU to compare with ({found.gpu_reason})"
        else:
            fits = found.fits.get(kind, (True, None))[0]
            fit = (f"GPU {found.gpu.index} {found.gpu.name}: {human_bytes(found.gpu.memory_free)} free; "
                   f"{kind} needs ~{human_bytes(found.estimates[kind].total_bytes)}: "
                   + ("fits" if fits else "does not fit"))
        if found.recommendation is not None:
            fit += f"\nrecommendation: {found.recommendation.method}: {found.recommendation.reason}"
        return document, fit

    def _preflight_failed(self, problems: list, notify: bool = True) -> None:
        self.bottom.remove_class("-hidden")
        self.bottom.show_problems(problems)
        if notify:
            self.notify(f"pre-flight stopped the launch: {problems[0].format()}", severity="error", timeout=10)

    def _confirm_launch(self, editor, loaded, checked, estimate, fit, samples, blocked=None) -> None:
        """The pre-flight view; `blocked` (what --force launches past) makes its launch a 'launch anyway'."""
        from tuner_tui.ui.preflight_screen import PreflightScreen

        def answered(go: bool | None) -> None:
            if not go:
                return
            if blocked:
                checked.launch_anyway()         # the blocking problems become the run's warnings, as --force does
            if self.start_run(loaded, checked, editor.parent_run) and editor.parent_run is not None \
                    and editor.is_mounted:
                editor.launched()

        self.push_screen(PreflightScreen(loaded.recipe.name, loaded.recipe.method.kind, checked, estimate, fit,
                                         samples, blocked), answered)

    def start_run(self, loaded, checked=None, parent: dict | None = None) -> dict | None:
        """Start the worker; the new run's record, or None (and a notification) when it could not start."""
        from tuner_tui.domain.problems import ProblemsFound

        try:
            launched = self.run_service().start(loaded, parent=parent, checked=checked)
        except ProblemsFound as found:
            self._preflight_failed(found.problems)
            return None
        except OSError as err:
            self.notify(f"could not start the worker: {err}", severity="error")
            return None
        self.workers_started.append(launched.process)
        self.notify(f"launched run {launched.record['id']} ({launched.record['name']})")
        self.records = [launched.record, *self.records]
        self.open_run(launched.record["id"], launched.record)
        return launched.record
