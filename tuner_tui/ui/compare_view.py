"""Compare runs: loss curves overlaid, the recipe differences and the final figures side by side.

The runs' logs are read in a worker thread (a long run's log can be large); the tab shows as soon as the
recipes are diffed."""

from __future__ import annotations

from pathlib import Path

import yaml
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.recipe_diff import diff_many
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.runtime.event_log import read_events
from tuner_tui.ui.charts import Chart

FIGURES = ("steps", "train_loss", "best_eval_loss", "tokens", "train_tokens_per_s", "runtime_s", "peak_memory")


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
        yield Static(f"[b]Compare[/b] {names}")
        yield Static("[b]Recipe differences[/b]")          # what changed first, then what it did
        yield DataTable(id="compare-diff", cursor_type="row")
        yield Chart("train loss", id="compare-loss")
        yield Chart("eval loss", id="compare-eval")
        yield Static("[b]Final figures[/b]")
        yield DataTable(id="compare-figures", cursor_type="row")

    def on_mount(self) -> None:
        ids = [r["id"] for r in self.records]
        diff_table = self.query_one("#compare-diff", DataTable)
        diff_table.add_columns("key", *ids)
        recipes = []
        for r in self.records:
            try:
                recipes.append(yaml.safe_load((Path(r["run_dir"]) / "recipe.yaml").read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError):
                recipes.append({})
        differences = diff_many(recipes)
        for key, values in differences.items():
            diff_table.add_row(key, *[_fmt(v) for v in values])
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
        progress = []
        for r in self.records:
            p = RunProgress()
            p.feed(read_events(Path(r["run_dir"]) / "events.jsonl"))
            progress.append(p)
        self.app.call_from_thread(self._draw, progress)

    def _draw(self, progress: list[RunProgress]) -> None:
        labels = [f"{r['id'][:6]} {r['name']}"[:24] for r in self.records]
        self.query_one("#compare-loss", Chart).draw([(lab, p.series["loss"]) for lab, p in zip(labels, progress, strict=True)])
        self.query_one("#compare-eval", Chart).draw([(lab, p.series["eval_loss"])
                                                     for lab, p in zip(labels, progress, strict=True)])
