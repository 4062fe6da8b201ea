"""The bottom panel: Problems (recipe errors, click or Enter jumps to the line), Logs (the run's worker.log
tail) and Events (the run's events, for people).

Problems is a list whose entries wrap: the message, the expected values and the "did you mean" must be
readable at any width, which table columns cannot promise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Log, OptionList, TabbedContent, TabPane
from textual.widgets.option_list import Option

from tuner_tui.domain.event_text import describe

LOG_TAIL_BYTES = 64 * 1024         # on opening a run: its last 64 KiB of worker.log, then follow


class BottomPanel(Vertical):
    @dataclass
    class ProblemChosen(Message):
        line: int
        column: int

    def __init__(self) -> None:
        super().__init__()
        self.log_path: Path | None = None
        self.log_offset = 0
        self.events_run: str | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(id="panel-tabs"):
            with TabPane("Problems", id="tab-problems"):
                yield OptionList(id="problems")
            with TabPane("Logs", id="tab-logs"):
                yield Log(id="worker-log", max_lines=2000)
            with TabPane("Events", id="tab-events"):
                yield Log(id="events-log", max_lines=2000)

    # ---------------------------------------------------------------------------------------- problems

    def show_problems(self, problems: list) -> None:
        listing = self.query_one("#problems", OptionList)
        listing.clear_options()
        for i, p in enumerate(problems):
            style = "bold red" if p.severity == "error" else "yellow"
            where = f"{Path(p.file).name}:{p.line}" if p.line else Path(p.file).name
            text = Text.assemble(("✖ " if p.severity == "error" else "⚠ ", style), (where, "bold"), " ",
                                 (f"{p.key}: " if p.key else "", "cyan"), p.message,
                                 f" (expected {p.expected})" if p.expected else "",
                                 (f". {p.hint}" if p.hint else "", "italic"))
            listing.add_option(Option(text, id=f"{i}:{p.line or 0}:{p.column or 1}"))
        label = f"Problems ({len(problems)})" if problems else "Problems"
        self.query_one(TabbedContent).get_tab("tab-problems").label = label

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "problems" and event.option.id:
            _, line, column = event.option.id.split(":")
            if int(line):
                self.post_message(self.ProblemChosen(int(line), int(column)))

    # ---------------------------------------------------------------------------------------- logs

    def follow_log(self, path: Path | None) -> None:
        """Show the tail of this worker.log and follow it (called when the active run changes)."""
        log = self.query_one("#worker-log", Log)
        log.clear()
        self.log_path, self.log_offset = path, 0
        if path is not None and path.exists():
            self.log_offset = max(0, path.stat().st_size - LOG_TAIL_BYTES)
        self.poll_log()

    def poll_log(self) -> None:
        """Append what the worker wrote since the last poll (a stat when nothing changed)."""
        if self.log_path is None:
            return
        try:
            size = self.log_path.stat().st_size
            if size <= self.log_offset:
                return
            with open(self.log_path, "rb") as fh:
                fh.seek(self.log_offset)
                chunk = fh.read(size - self.log_offset)
        except OSError:
            return
        self.log_offset += len(chunk)
        text = chunk.decode("utf-8", "replace").replace("\r", "\n")
        self.query_one("#worker-log", Log).write(text)

    # ---------------------------------------------------------------------------------------- events

    def show_events(self, run_id: str | None, events: list[dict]) -> None:
        log = self.query_one("#events-log", Log)
        log.clear()
        self.events_run = run_id
        self.add_events(run_id, events[-1000:])

    def add_events(self, run_id: str | None, events: list[dict]) -> None:
        if run_id != self.events_run or not events:
            return
        lines = [describe(e) for e in events if e.get("type") != "memory"]
        if lines:
            self.query_one("#events-log", Log).write_lines(lines)
