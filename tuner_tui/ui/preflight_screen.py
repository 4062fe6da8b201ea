"""Pre-flight before a launch: the VRAM estimate against free memory, the data lints, trainable parameters and
the rows exactly as the model will see them, trained text highlighted (the row browser; two plain samples when
there is no audit). Launch, go back and edit, or, when pre-flight stopped the launch, launch anyway."""

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
from tuner_tui.ui.row_browser import FLAGS, RowBrowser


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
    """Dismissed with True to launch. `blocked`: the problems that stopped pre-flight; then the launch button
    launches anyway (the CLI's --force) and F5 does not."""

    BINDINGS = [Binding("escape", "cancel", "Back"), Binding("f5", "launch", "Launch"),
                Binding("right_square_bracket,n", "row(1)", "Next row"),
                Binding("left_square_bracket,p", "row(-1)", "Previous row"),
                Binding("f", "flagged", "Next flagged row")]

    def __init__(self, recipe_name: str, method: str, checked, estimate: dict | None, fit: str | None,
                 samples: list[str], blocked: list | None = None) -> None:
        super().__init__()
        self.recipe_name, self.method, self.checked = recipe_name, method, checked
        self.estimate, self.fit, self.samples = estimate, fit, samples
        self.blocked = blocked or []

    def compose(self) -> ComposeResult:
        audit = self.checked.audit
        with Vertical(classes="dialog"):
            with VerticalScroll(id="preflight-top", classes="" if audit is not None else "-alone"):
                yield Static(Group(*self._summary()), id="preflight-summary")
                if audit is None:
                    yield Static(Group(*self._samples()))
            if audit is not None:                   # below, in its own scroll, so a row is in view at once
                yield RowBrowser(audit, start=_first_flagged(audit) if self.blocked else 0)
            yield Static(self._hint(audit is not None), classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Back (Esc)", id="cancel")
                if self.blocked:
                    yield Button("Launch anyway (--force)", variant="error", id="force")
                else:
                    yield Button("Launch (F5)", variant="success", id="launch")

    def _summary(self) -> list[RenderableType]:
        rows = self.checked.data.rows if self.checked.data is not None else None
        title = f"Pre-flight: {self.recipe_name} ({self.method})"
        parts: list[RenderableType] = [plain(title + (": stopped the launch" if self.blocked else ""),
                                             style="bold red" if self.blocked else "bold")]
        for p in self.blocked:
            parts.append(plain(f"✖ {p.format()}", style="red"))
        parts += [Text(f"{rows:,} rows of data" if rows is not None else "data: loaded by the worker (hub or folder)"),
                  estimate_table(self.estimate, self.method)]
        if self.fit:
            parts.append(Text(self.fit, style="bold"))
        warnings = Text()
        for p in self.checked.warnings:
            warnings.append_text(plain(f"⚠ {p.format()}\n", style="yellow"))
        parts.append(warnings if warnings else Text("✔ no data warnings", style="green"))
        return parts

    def _samples(self) -> list[RenderableType]:
        parts: list[RenderableType] = []
        why = no_browser_reason(self.checked)
        if why:
            parts.append(Text(why, style="italic"))
        for i, sample in enumerate(self.samples[:2], start=1):
            parts.append(Panel(plain(sample[:1500]), title=f"sample {i}, as the model sees it", title_align="left"))
        return parts

    def _hint(self, browsing: bool) -> Text:
        rows = "] [ rows · f next flagged · " if browsing else ""
        go = "Tab, Enter: launch anyway" if self.blocked else "F5 launches"
        return Text(f"{go} · Esc goes back to the editor · {rows}Tab, ↑↓ scroll")

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.blocked else "#launch", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id in ("launch", "force"))

    def action_launch(self) -> None:
        if self.blocked:
            self.notify("pre-flight stopped this launch: 'Launch anyway' launches past it (like --force)",
                        severity="warning")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_row(self, delta: int) -> None:
        browser = self._browser()
        if browser is not None:
            browser.step(delta)
            browser.query_one("#row-scroll").scroll_home(animate=False)

    def action_flagged(self) -> None:
        browser = self._browser()
        if browser is None:
            return
        if not browser.next_flagged():
            self.notify("no row trains on nothing or has its answer cut", timeout=3)
            return
        browser.query_one("#row-scroll").scroll_home(animate=False)

    def _browser(self) -> RowBrowser | None:
        found = self.query(RowBrowser)
        return found.first() if found else None


def _first_flagged(audit) -> int:
    flagged = [i for name in FLAGS for i in audit.found.get(name, [])]
    return min(flagged, default=0)


def no_browser_reason(checked) -> str | None:
    """Why pre-flight has no row audit to browse, in a line; None when it has one or has no local data."""
    from tuner_tui.runtime.preflight import EXACT_COUNT_ROWS

    if checked.audit is not None or checked.data is None:
        return None
    if checked.text is None:
        return ("no row browser: the model's tokenizer is not on this machine yet (the worker fetches it); the "
                "samples below are rendered without the model's special tokens")
    return (f"no row browser: {checked.data.rows:,} rows are more than pre-flight audits before a launch "
            f"({EXACT_COUNT_ROWS:,}); `tuner data RECIPE --row N` shows any row")
