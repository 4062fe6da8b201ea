"""Compare runs: loss curves overlaid, the recipe differences and the final figures side by side.

The runs' logs are read in a worker thread (a long run's log can be large); the tab shows as soon as the
recipes are diffed."""

from __future__ import annotations

import yaml
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.metrics import FINAL_FIGURES, METRICS
from tuner_tui.domain.recipe_diff import diff_many
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.runtime.series_cache import RunSeries
from tuner_tui.ui.charts import CHART_POINTS, Chart
from tuner_tui.ui.plain_text import plain

FIGURES = (*(key for key, _ in FINAL_FIGURES), "peak_memory")
COMPARED = tuple(m for m in METRICS if m.compared)


def _fmt(value: object, key: str = "") -> str:
    if value is None:
        return "—"
    if key == "peak_memory" and isinstance(value, (int, float)):
        return human_bytes(value)
    if key == "runtime_s" and isinstance(value, (int, float)):
        return f"{value:,.0f} s"
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


class CompareView(VerticalScroll):
    def __init__(self, records: list[dict], id: str | None = None) -> None:
        super().__init__(id=id)
        self.records = records

    def compose(self) -> ComposeResult:
        names = ", ".join(f"{r['id']} {r['name']}" for r in self.records)
        yield Static(Text.assemble(("Compare", "bold"), " ", plain(names)))
        yield Static("[b]Recipe differences[/b]")          # what changed first, then what it did
        yield DataTable(id="compare-diff", cursor_type="row")
        for m in COMPARED:
            yield Chart(m.title, id=f"compare-{m.key}")
        yield Static("[b]Final figures[/b]")
        yield DataTable(id="compare-figures", cursor_type="row")

    def on_mount(self) -> None:
        ids = [r["id"] for r in self.records]
        diff_table = self.query_one("#compare-diff", DataTable)
        diff_table.add_columns("key", *ids)
        recipes = []
        for r in self.records:
            try:
                recipes.append(yaml.safe_load(RunDir.of(r["run_dir"]).recipe.read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError):
                recipes.append({})
        differences = diff_many(recipes)
        for key, values in differences.items():
            diff_table.add_row(key, *[plain(_fmt(v)) for v in values])     # keys: schema paths
        if not differences:
            diff_table.add_row("(the recipes are identical)", *["" for _ in ids])
        figures = self.query_one("#compare-figures", DataTable)
        figures.add_columns("figure", *ids)
        for key in FIGURES:
            source = [r.get(key) if key == "peak_memory" else (r.get("final") or {}).get(key) for r in self.records]
            figures.add_row(key.replace("_", " "), *[_fmt(v, key) for v in source])
        figures.add_row("status", *[r.get("status", "?") for r in self.records])
        self.load_curves()

    @work(thread=True, exclusive=True)
    def load_curves(self) -> None:
        progress = [RunSeries.open(r["run_dir"]).progress for r in self.records]   # cached: no full re-parse
        self.app.call_from_thread(self._draw, progress)

    def _draw(self, progress: list[RunProgress]) -> None:
        labels = [f"{r['id'][:6]} {r['name']}"[:24] for r in self.records]
        for m in COMPARED:
            self.query_one(f"#compare-{m.key}", Chart).draw(
                [(lab, p.downsampled(m.key, CHART_POINTS)) for lab, p in zip(labels, progress, strict=True)])
