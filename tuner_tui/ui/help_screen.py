"""F1: every key, VS Code's where they exist."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Everywhere", [("Ctrl+P", "command palette: every action"), ("Ctrl+B", "toggle the side bar"),
                    ("Ctrl+J", "toggle the panel (Problems, Logs, Events)"),
                    ("F8", "the panel's next tab: Problems → Logs → Events"), ("Ctrl+G", "toggle the GPU panel"),
                    ("F2 / F3 (Ctrl+Shift+E / R)", "show recipes / runs"),
                    ("Tab / Shift+Tab", "move focus: side bar, tabs, editor, panel"),
                    ("Escape then Tab", "leave the recipe editor (Tab indents inside it)"),
                    ("Ctrl+Tab, Ctrl+PgDn / Ctrl+PgUp", "next / previous tab"),
                    ("Ctrl+W, or click its ×", "close the tab"),
                    ("F1", "this help"), ("Ctrl+Q", "quit (runs go on)")]),
    ("Recipes", [("Enter", "open in the editor"), ("Ctrl+S", "save (a built-in asks for a name for your copy)"),
                 ("Ctrl+Shift+S / Ctrl+P → Save as", "save as…"), ("F5", "pre-flight, then launch (F5 again)"),
                 ("Enter on a problem", "jump to its line")]),
    ("Runs", [("Enter", "open the dashboard"), ("Shift+F5 / s", "stop (asks first)"), ("F6", "re-launch with "
              "the proposed fix (after an OOM)"), ("e", "re-launch with edits"), ("Space", "mark; c compares the "
              "marked runs"), ("t / n", "tag / note"), ("Delete", "delete (asks first)"), ("o", "cycle the sort"),
              ("Ctrl+P → Resume, Merge, Try", "the rest of a run's actions")]),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for group, keys in KEYS:
            table.add_row(f"[b]{group}[/b]", "")
            for key, what in keys:
                table.add_row(key, what)
            table.add_row("", "")
        with VerticalScroll(classes="dialog"):
            yield Static(table)
            yield Static("[dim]Escape closes[/dim]")
