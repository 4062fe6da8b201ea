"""A recipe editor tab: YAML with highlighting, validated as you type (errors go to Problems with their line).

Validation is the same code as `tuner validate` (a few ms per keystroke burst, debounced). Built-in recipes
are never overwritten: saving one stores your copy under TUNER_HOME/recipes/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from tuner_tui.ui.plain_text import plain

if TYPE_CHECKING:
    from textual.timer import Timer

    from tuner_tui.domain.recipe_loader import LoadedRecipe

VALIDATE_AFTER_S = 0.3


class RecipeEditor(Vertical):
    @dataclass
    class Validated(Message):
        editor: RecipeEditor
        problems: list            # domain Problems (errors and warnings)

    def __init__(self, text: str, path: Path | None, origin: str, parent: dict | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = text
        self.path = path
        self.origin = origin                 # built-in | yours | path | relaunch
        self.parent_run = parent                 # the run being re-launched with edits, if any
        self.saved_text = None if parent is not None else text     # a draft is unsaved from the start
        self.loaded: LoadedRecipe | None = None   # of the last valid text
        self.problems: list = []
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="editor-header")
        yield TextArea.code_editor(self.text, language="yaml", theme="vscode_dark", id="recipe-text")

    @property
    def dirty(self) -> bool:
        return self.text != self.saved_text

    def on_mount(self) -> None:
        if not self.is_attached or not self.query(TextArea):   # its tab was closed while it was mounting
            return
        self.validate_now()
        self.query_one(TextArea).focus()

    @property
    def name_hint(self) -> str:
        if self.parent_run is not None:
            return f"{self.parent_run['name']}-edit"
        return self.path.stem if self.path else "new-recipe"

    def _header(self) -> Text:
        where = f"re-launch of run {self.parent_run['id']} (F5 launches it as a child run)" if self.parent_run else (
            str(self.path) if self.path else "unsaved")
        state = " ● modified" if self.dirty else ""
        count = len([p for p in self.problems if p.severity == "error"])
        problems = f"  ✖ {count} error(s)" if count else ("  ✔ valid" if self.loaded is not None else "")
        return plain(f"{self.origin}: {where}{state}{problems}")     # a path, never markup

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area.text == self.text:
            return
        self.text = event.text_area.text
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(VALIDATE_AFTER_S, self.validate_now)
        self._refresh_header()

    def validate_now(self) -> None:
        from tuner_tui.domain.problems import ProblemsFound
        from tuner_tui.runtime.run_actions import check

        shown = f"re-launch draft of {self.parent_run['id']}" if self.parent_run and self.origin == "relaunch" \
            else None
        try:
            self.loaded = check(self.text, self.path, shown)
            self.problems = list(self.loaded.warnings)
        except ProblemsFound as found:
            self.loaded, self.problems = None, found.problems
        self._refresh_header()
        self.post_message(self.Validated(self, self.problems))

    def _refresh_header(self) -> None:
        self.query_one(".editor-header", Static).update(self._header())

    def go_to(self, line: int, column: int) -> None:
        area = self.query_one(TextArea)
        area.move_cursor((max(0, line - 1), max(0, column - 1)), center=True)
        area.focus()

    def launched(self) -> None:
        """A re-launch draft that became a run: its text is kept as that run's recipe, so closing loses nothing."""
        self.saved_text = self.text
        self._refresh_header()

    def saved_as(self, path: Path, text: str) -> None:
        self.path, self.origin = path, "yours"
        if text != self.text:
            self.text = text
            self.query_one(TextArea).load_text(text)
        self.saved_text = text
        self.validate_now()
