"""The Runs explorer: every run, newest first, with a filter box that matches as you type and a sort key.

Filtering is the domain's `filter_runs` (one pass over small dicts: ~50 ms at 10,000 runs), debounced so a
fast typist costs one pass, and the table shows at most MAX_ROWS rows: nobody scrolls 10,000 lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tuner_tui.domain.run_query import RunFilter, RunSearch
from tuner_tui.ui.plain_text import plain
from tuner_tui.ui.run_icons import record_status_text

if TYPE_CHECKING:
    from textual.timer import Timer

MAX_ROWS = 500
SORTS = ("created", "best_eval_loss", "name", "status", "method", "peak_memory")


class RunsExplorer(Vertical):
    BINDINGS = [
        Binding("s", "app.stop_run", "Stop"),
        Binding("e", "app.relaunch", "Re-launch with edits"),
        Binding("space", "toggle_mark", "Mark for compare"),
        Binding("c", "app.compare", "Compare"),
        Binding("t", "app.tag", "Tag"),
        Binding("n", "app.note", "Note"),
        Binding("delete", "app.delete_run", "Delete"),
        Binding("o", "cycle_sort", "Sort"),
    ]

    @dataclass
    class RunOpened(Message):
        run_id: str

    @dataclass
    class RunHighlighted(Message):
        run_id: str

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.records: list[dict] = []
        self.search = RunSearch([])
        self.marked: set[str] = set()
        self.sort = "created"
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("RUNS", classes="sidebar-title")
        yield Input(placeholder="filter: words in name, model, tags…", id="run-filter")
        yield Static("sort: created (o)", id="run-sort")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=False, id="run-table")
        table.add_columns(" ", "id", "name", "eval")
        yield table
        yield Static("", id="run-count")

    def on_mount(self) -> None:
        self.refill()

    def set_records(self, records: list[dict]) -> None:
        self.records = records
        self.search = RunSearch(records)
        if self.is_mounted:               # else on_mount fills the table
            self.refill()

    def refill(self) -> None:
        text = self.query_one("#run-filter", Input).value
        shown = self.search.filter(RunFilter(text=text or None, sort=self.sort))
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for r in shown[:MAX_ROWS]:
            best = (r.get("final") or {}).get("best_eval_loss")
            name = plain(("◆" if r["id"] in self.marked else "") + str(r.get("name") or ""))
            for tag in r.get("tags") or []:                   # tags ride with the name: the side bar is narrow
                name.append_text(plain(f" #{tag}", style="cyan"))
            table.add_row(record_status_text(r), r["id"], name,
                          f"{best:.3f}" if isinstance(best, (int, float)) else "", key=r["id"])
        if shown:
            table.move_cursor(row=min(keep, len(shown[:MAX_ROWS]) - 1))
        more = f" (showing {MAX_ROWS}: type to narrow)" if len(shown) > MAX_ROWS else ""
        marked = f" · {len(self.marked)} marked" if self.marked else ""
        self.query_one("#run-count", Static).update(f"{len(shown)} of {len(self.records)} runs{more}{marked}")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.15, self.refill)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_key(self, event) -> None:
        """Down from the filter box goes into the list, as in VS Code's quick pick."""
        if event.key == "down" and self.query_one("#run-filter", Input).has_focus:
            self.query_one(DataTable).focus()
            event.stop()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(self.RunOpened(event.row_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.post_message(self.RunHighlighted(event.row_key.value))

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:        # the cursor is past the rows (table refilled): nothing selected
            return None

    def selected_id_or_none(self) -> str | None:
        return self.selected_id() if self.is_mounted else None

    def action_toggle_mark(self) -> None:
        run_id = self.selected_id()
        if run_id:
            self.marked ^= {run_id}
            self.refill()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.query_one("#run-sort", Static).update(f"sort: {self.sort.replace('_', ' ')} (o)")
        self.refill()
