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
from tuner_tui.domain.terminal_text import printable

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
        self._pending_problems: list | None = None
        self._unshown: list[str] = []           # Events lines waiting for the tab to be visible

    def compose(self) -> ComposeResult:
        with TabbedContent(id="panel-tabs"):
            with TabPane("Problems", id="tab-problems"):
                yield OptionList(id="problems")
            with TabPane("Logs", id="tab-logs"):
                yield Log(id="worker-log", max_lines=2000)
            with TabPane("Events", id="tab-events"):
                yield Log(id="events-log", max_lines=2000)

    # ---------------------------------------------------------------------------------------- problems

    def on_mount(self) -> None:
        if self._pending_problems is not None:
            self.show_problems(self._pending_problems)
        refresh = getattr(self.app, "show_active_run_in_panel", None)   # a run opened before we were mounted
        if refresh is not None:
            self.call_after_refresh(refresh, True)

    def show_problems(self, problems: list) -> None:
        if not self.is_mounted:           # mounted just after the first frame: show them then
            self._pending_problems = problems
            return
        listing = self.query_one("#problems", OptionList)
        listing.clear_options()
        for i, p in enumerate(problems):
            style = "bold red" if p.severity == "error" else "yellow"
            where = f"{Path(p.file).name}:{p.line}" if p.line else Path(p.file).name
            text = Text.assemble(("✖ " if p.severity == "error" else "⚠ ", style), (printable(where), "bold"), " ",
                                 (printable(f"{p.key}: ") if p.key else "", "cyan"), printable(p.message),
                                 printable(f" (expected {p.expected})") if p.expected else "",
                                 (printable(f". {p.hint}") if p.hint else "", "italic"))
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
        if not self.is_mounted:
            return
        log = self.query_one("#worker-log", Log)
        log.clear()
        self.log_path, self.log_offset = path, 0
        if path is not None and path.exists():
            self.log_offset = max(0, path.stat().st_size - LOG_TAIL_BYTES)
        self.poll_log()

    def poll_log(self) -> None:
        """Append what the worker wrote since the last poll (a stat when nothing changed)."""
        if self.log_path is None or not self.is_mounted or not self.shows("#worker-log"):
            return                    # read when shown (the offset waits): a hidden Log still relayouts
        try:
            size = self.log_path.stat().st_size
            if size <= self.log_offset:
                return
            self.log_offset = max(self.log_offset, size - LOG_TAIL_BYTES)
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
        if not self.is_mounted:
            return
        log = self.query_one("#events-log", Log)
        log.clear()
        self._unshown.clear()
        self.events_run = run_id
        self.add_events(run_id, events[-1000:])

    def add_events(self, run_id: str | None, events: list[dict]) -> None:
        """New events of the shown run. While the Events tab is not visible they wait in a buffer: writing
        to a hidden Log still costs a layout pass of the screen, every second, for nobody."""
        if run_id != self.events_run or not events or not self.is_mounted:
            return
        self._unshown.extend(describe(e) for e in events if e.get("type") != "memory")
        self._flush_events()

    def _flush_events(self) -> None:
        log = self.query_one("#events-log", Log)
        if self._unshown and self.shows("#events-log"):
            log.write_lines(self._unshown[-2000:])
            self._unshown.clear()

    def shows(self, selector: str) -> bool:
        return not self.has_class("-hidden") and self.query_one(selector).region.area > 0

    def became_visible(self) -> None:
        self.call_after_refresh(self._catch_up)

    def _catch_up(self) -> None:
        self._flush_events()
        self.poll_log()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.became_visible()
