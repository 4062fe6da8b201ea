"""Pre-flight before a launch: the VRAM estimate against free memory, the data lints, trainable parameters and
two training samples exactly as the model will see them. Launch or go back and edit."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.ui.plain_text import plain


def estimate_table(estimate: dict | None, method: str) -> Table | Text:
    """The estimator's JSON document as a table: rows are memory parts, columns full / LoRA / QLoRA."""
    if not estimate or not estimate.get("methods"):
        return Text("no VRAM estimate for this model (unknown architecture offline)", style="dim")
    methods = estimate["methods"]
    table = Table(title="VRAM estimate", title_justify="left", box=None, padding=(0, 2))
    table.add_column("")
    for name in methods:
        table.add_column(f"{name} ◀" if name == method else name, justify="right")
    parts = list(next(iter(methods.values())).get("breakdown", {}))
    for part in parts:
        table.add_row(part.replace("_", " "), *[human_bytes(m["breakdown"].get(part)) for m in methods.values()])
    table.add_row("[b]total[/b]", *[f"[b]{human_bytes(m['total_bytes'])}[/b]" for m in methods.values()])
    table.add_row("trainable params", *[f"{m['trainable_params']:,}" for m in methods.values()])
    return table


class PreflightScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Back"), Binding("f5", "launch", "Launch")]

    def __init__(self, recipe_name: str, method: str, checked, estimate: dict | None, fit: str | None,
                 samples: list[str]) -> None:
        super().__init__()
        self.recipe_name, self.method, self.checked = recipe_name, method, checked
        self.estimate, self.fit, self.samples = estimate, fit, samples

    def compose(self) -> ComposeResult:
        warnings = Text()
        for p in self.checked.warnings:
            warnings.append_text(plain(f"⚠ {p.format()}\n", style="yellow"))
        rows = self.checked.data.rows if self.checked.data is not None else None
        parts: list[RenderableType] = [plain(f"Pre-flight: {self.recipe_name} ({self.method})", style="bold"),
                 Text(f"{rows} rows of data" if rows is not None else "data: loaded by the worker (hub or folder)"),
                 estimate_table(self.estimate, self.method)]
        if self.fit:
            parts.append(Text(self.fit, style="bold"))
        parts.append(warnings if warnings else Text("✔ no data warnings", style="green"))
        for i, sample in enumerate(self.samples[:2], start=1):
            parts.append(Panel(plain(sample[:1500]), title=f"sample {i}, as the model sees it", title_align="left"))
        with Vertical(classes="dialog"):
            with VerticalScroll():
                yield Static(Group(*parts))
            yield Static("F5 launches · Escape goes back to the editor · ↑↓ scroll", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Back (Esc)", id="cancel")
                yield Button("Launch (F5)", variant="success", id="launch")

    def on_mount(self) -> None:
        self.query_one("#launch", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "launch")

    def action_launch(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
