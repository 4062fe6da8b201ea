"""The pre-flight row browser: one training row at a time, as the model sees it, trained text highlighted.

Reads the DataAudit pre-flight already made (rendered and tokenized rows, the rows each check found); a move
computes one row's segments (microseconds to a few ms for a long row) and replaces one Static's content, and
nothing runs while it is idle. The keys are the screen's (PreflightScreen), so they work whatever has focus.
"""

from __future__ import annotations

from bisect import bisect_right

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tuner_tui.domain.data_audit import DataAudit
from tuner_tui.domain.training_text import segments
from tuner_tui.ui.xray_text import audit_summary, legend, row_header, xray_text

FLAGS = ("train_on_nothing", "cut_before_end")      # what `f` jumps to: rows that train wrong, not just long


class RowBrowser(Vertical):
    def __init__(self, audit: DataAudit, start: int = 0) -> None:
        super().__init__(id="row-browser")
        self.audit = audit
        self.checks: dict[int, list[str]] = {}
        for name, indexes in sorted(audit.found.items()):
            for i in indexes:
                self.checks.setdefault(i, []).append(name)
        self.flagged = sorted({i for name in FLAGS for i in audit.found.get(name, [])})
        self.index = min(max(start, 0), max(len(audit.rows) - 1, 0))

    def compose(self) -> ComposeResult:
        yield Static(audit_summary(self.audit.counts(), len(self.audit.rows)), classes="browser-summary")
        yield Static(legend(), classes="browser-legend")
        yield Static(id="row-header")
        with VerticalScroll(id="row-scroll"):
            yield Static(id="row-text")

    def on_mount(self) -> None:
        self.show(self.index)

    def show(self, index: int) -> None:
        audit = self.audit
        if not audit.rows:
            self.query_one("#row-header", Static).update("no rows")
            return
        self.index = index = min(max(index, 0), len(audit.rows) - 1)
        row = audit.rows[index]
        origins = audit.prepared.origins
        number = origins[index][0] if index < len(origins) else index + 1
        self.query_one("#row-header", Static).update(row_header(
            number, len(audit.rows), audit.prepared.where(index), row.tokens, row.trained_tokens,
            self.checks.get(index, [])))
        parts = segments(audit.rendered[index], row, audit.max_length, audit.text.encoder.eos_id)
        self.query_one("#row-text", Static).update(xray_text(parts, audit.max_length))

    def step(self, delta: int) -> None:
        self.show(self.index + delta)

    def next_flagged(self) -> bool:
        """To the next row that trains on nothing or has its answer cut (round to the first); False if none."""
        if not self.flagged:
            return False
        after = bisect_right(self.flagged, self.index)
        self.show(self.flagged[after % len(self.flagged)])
        return True


__all__ = ["FLAGS", "RowBrowser"]
