"""The Recipes explorer: built-in recipes and yours, a preview of the highlighted one, Enter opens it.

The tree is mounted right after the first frame (it is empty until the recipe list loads anyway, and a Tree
costs ~40 ms to style and mount); recipes given before it is mounted are shown once it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, Tree

from tuner_tui.domain.terminal_text import printable
from tuner_tui.ui.after_first_frame import AfterFirstFrame
from tuner_tui.ui.plain_text import plain

if TYPE_CHECKING:
    from tuner_tui.runtime.recipe_catalog import RecipeEntry


class RecipesExplorer(Vertical):
    @dataclass
    class RecipeOpened(Message):
        entry: RecipeEntry

    @dataclass
    class RecipeHighlighted(Message):
        entry: RecipeEntry

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.recipe_tree: Tree = Tree("recipes", id="recipe-tree")
        self.recipe_tree.show_root = False
        self.recipe_tree.guide_depth = 2
        self._waiting: tuple[list, str | None] | None = None    # set_recipes() before the tree was mounted

    def compose(self) -> ComposeResult:
        yield Static("RECIPES", classes="sidebar-title")
        yield AfterFirstFrame(lambda: self.recipe_tree, then=self._tree_mounted)
        yield Static("loading recipes…", id="recipe-preview")

    def _tree_mounted(self) -> None:
        if self._waiting is not None:
            self.set_recipes(*self._waiting)

    def set_recipes(self, entries: list, select: str | None = None) -> None:
        """Fill the tree (built-in / yours); highlight `select` (a recipe name) when given."""
        tree = self.recipe_tree
        if not tree.is_mounted:
            self._waiting = (entries, select)
            return
        self._waiting = None
        tree.clear()
        wanted = None
        for origin, label in (("built-in", "Built-in"), ("yours", "Yours")):
            group = tree.root.add(label, expand=True)
            mine = [e for e in entries if e.origin == origin]
            if not mine:
                group.add_leaf(Text("(none yet: save a recipe with Ctrl+S)", style="dim"))
            for entry in mine:
                mark = "" if entry.valid else " ⚠"
                node = group.add_leaf(plain(f"{entry.name}{mark}"), data=entry)
                if entry.name == select and wanted is None:
                    wanted = node
        if wanted is not None:
            node = wanted
            self.call_after_refresh(lambda: tree.move_cursor(node))   # lines exist after the next refresh
            self._preview(wanted.data)
        if not self.app.focused or self.app.focused.id in (None, "recipe-tree"):
            tree.focus()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if event.node.data is not None:
            self._preview(event.node.data)
            self.post_message(self.RecipeHighlighted(event.node.data))

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:
            self.post_message(self.RecipeOpened(event.node.data))

    def selected(self):
        node = self.recipe_tree.cursor_node if self.recipe_tree.is_mounted else None
        return node.data if node is not None else None

    def _preview(self, entry) -> None:
        preview = self.query_one("#recipe-preview", Static)
        if not entry.valid:
            preview.update(plain(f"{entry.name}: has errors — open it (Enter) to see them", style="bold red"))
            return
        text = Text()
        text.append(printable(entry.name), style="bold")
        text.append(printable(f"  {entry.method} · {entry.origin}\n"))
        text.append(printable(f"{entry.model}\n"), style="italic")
        if entry.description:
            text.append(printable(entry.description.strip().split("\n")[0][:200]))
        preview.update(text)
