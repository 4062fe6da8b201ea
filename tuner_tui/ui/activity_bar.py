"""The activity bar: the icons on the far left that pick what the side bar shows (as in VS Code)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

# Narrow, unambiguous glyphs only: U+2630 (☰) became double-width in Unicode 16 and garbles rows in tmux.
VIEWS = (("recipes", "≡", "Recipes (F2, Ctrl+Shift+E)"), ("runs", "»", "Runs (F3, Ctrl+Shift+R)"),
         ("gpu", "▦", "GPU panel (Ctrl+G)"))


class ActivityBar(Vertical):
    @dataclass
    class ViewChosen(Message):
        view: str

    def compose(self) -> ComposeResult:
        for view, icon, tip in VIEWS:
            item = Static(icon, classes="activity", id=f"activity-{view}")
            item.tooltip = tip
            yield item

    def on_click(self, event) -> None:
        widget = event.widget
        if widget is not None and widget.id and widget.id.startswith("activity-"):
            self.post_message(self.ViewChosen(widget.id.removeprefix("activity-")))

    def show_active(self, view: str) -> None:
        for item in self.query(".activity"):
            item.set_class(item.id == f"activity-{view}", "-active")
