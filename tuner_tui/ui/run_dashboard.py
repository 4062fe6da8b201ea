"""A run's dashboard tab: header (status, step/total, epoch, ETA, tokens/s), what changed against the parent,
the failure with its fix, charts (loss + eval loss, learning rate, VRAM timeline with phases) and the summary.

Events arrive from the app's follower (`feed`); charts are redrawn at most once a second and only when
something new arrived, so watching a run costs almost nothing between log lines."""

from __future__ import annotations

import time
from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.metrics import CHARTS, FINAL_FIGURES, HEADLINE, on_chart
from tuner_tui.domain.progress_text import duration_text
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.domain.terminal_text import printable
from tuner_tui.runtime.log_tail import tail_lines
from tuner_tui.ui.charts import CHART_POINTS, Chart, vram_lines
from tuner_tui.ui.cockpit_host import cockpit
from tuner_tui.ui.plain_text import plain
from tuner_tui.ui.repaint import show
from tuner_tui.ui.run_icons import record_status_text

# Charts of a live run: a plotext render costs ~10-30 ms per chart on a small CPU, and a curve of thousands of
# steps gains nothing from a redraw every second (the header does tick every second). They are redrawn every
# CHART_REDRAW_S at most, less often when their last renders were slow (drawing them is kept under
# CHART_CPU_SHARE of one core, bench/ui_idle.py), and every CHART_LATEST_S at least. A finished run's charts
# are drawn at once.
CHART_REDRAW_S = 5.0
CHART_LATEST_S = 15.0
CHART_CPU_SHARE = 0.003


class RunDashboard(VerticalScroll):
    def __init__(self, record: dict, id: str | None = None) -> None:
        super().__init__(id=id)
        self.record = record
        self.progress = RunProgress()
        self._dirty = True
        self._charts_dirty = True
        self._charts_drawn_at = 0.0
        self.recent: deque[dict] = deque(maxlen=1000)      # for the Events panel
        # Held, not queried: the app's tick updates them every second.
        self.header = Static(classes="dash-header")
        self.edits = Static(classes="dash-edits")
        self.failure = Static(classes="dash-failure -hidden")
        self.summary = Static(classes="dash-summary")
        self.charts = {spec.key: Chart(spec.title, id=f"chart-{spec.key}") for spec in CHARTS}

    def events_for_panel(self) -> list[dict]:
        return list(self.recent)

    @property
    def run_id(self) -> str:
        return self.record["id"]

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.edits
        yield self.failure
        with Grid(classes="charts"):
            yield from self.charts.values()
        yield self.summary

    def on_mount(self) -> None:
        cockpit(self.app).open_dashboards.add(self)    # the app's one-second tick calls redraw_if_dirty: one frame
        self.on_resize()
        self._redraw()

    def on_unmount(self) -> None:
        cockpit(self.app).open_dashboards.discard(self)

    def on_resize(self, event=None) -> None:
        self.query_one(".charts", Grid).styles.grid_size_columns = 2 if self.size.width >= 100 else 1

    def feed(self, events: list[dict]) -> None:
        self.progress.feed(events)
        self.recent.extend(e for e in events if e.get("type") != "memory")
        self._dirty = self._charts_dirty = True

    def set_record(self, record: dict) -> None:
        if record != self.record:
            self.record = record
            self._dirty = True

    def redraw_if_dirty(self) -> None:
        if self.region.area == 0:            # a background tab: draw when it is shown again
            return
        if self._dirty:
            self._redraw()
        elif self.record.get("status") == "running":
            show(self.header, self._header())      # the ETA/elapsed tick

    def on_show(self) -> None:
        self._redraw()

    def history_loaded(self, progress: RunProgress, recent: list[dict]) -> None:
        """The run as opened (from its series cache, `RunSeries.open`) and its last events for the Events
        panel: draw the charts now, not at the next chart slot. Events followed after this are fed."""
        self.progress = progress
        self.recent.extend(e for e in recent if e.get("type") != "memory")
        self._dirty = self._charts_dirty = True
        self._charts_drawn_at = 0.0

    def _redraw(self) -> None:
        self._dirty = False
        show(self.header, self._header())
        show(self.edits, self._edits())
        failure_text = self._failure_text()
        self.failure.set_class(not failure_text, "-hidden")
        show(self.failure, failure_text)
        now = time.monotonic()
        if self._charts_dirty and (now - self._charts_drawn_at >= self._chart_interval_s()
                                   or self.record.get("status") not in ("queued", "running")):
            self._charts_dirty, self._charts_drawn_at = False, now
            self._draw_charts()
        elif self._charts_dirty:
            self._dirty = True                # come back for the charts at the next tick
        show(self.summary, self._summary())

    def _chart_interval_s(self) -> float:
        paced = sum(c.render_s for c in self.charts.values()) / CHART_CPU_SHARE
        return min(CHART_LATEST_S, max(CHART_REDRAW_S, paced))

    def _draw_charts(self) -> None:
        p = self.progress
        warn_steps = [(float(w["step"]), w.get("kind", "")) for w in p.warnings
                      if w.get("kind") in ("overfitting", "loss_spike")]
        for spec in CHARTS:
            if spec.memory:
                self.charts[spec.key].draw(vram_lines(p.memory, p.started_t), xlabel="minutes", scatter=True)
                continue
            lines = [(m.legend, p.downsampled(m.key, CHART_POINTS)) for m in on_chart(spec.key)]
            self.charts[spec.key].draw(lines, markers=warn_steps if spec.warnings else None)

    # ------------------------------------------------------------------------------------------ text

    def _header(self) -> Text:
        r, p = self.record, self.progress
        text = Text()
        text.append(printable(f"{r.get('name')} "), style="bold")
        text.append(f"{r['id']}  ", style="dim")
        text.append_text(record_status_text(r, with_word=True))
        what = " · ".join(str(v) for v in (r.get("method"), r.get("model")) if v)
        text.append(printable(f"  {what}\n" if what else "\n"))
        total = p.total_steps or (r.get("final") or {}).get("steps")
        text.append(f"step {p.step}/{total or '?'}")
        if p.epoch is not None:
            text.append(f" · epoch {p.epoch:.2f}")
        if p.phase and r.get("status") == "running":
            text.append(f" · {p.phase}", style="bold cyan")
            if p.phase_detail:                                  # loading: what it is doing now
                text.append(printable(f": {p.phase_detail}"), style="cyan")
        if r.get("status") == "running":
            text.append(f" · ETA {duration_text(p.eta_s(time.time()))}")
            elapsed = time.time() - p.started_t if p.started_t else None
            text.append(f" · elapsed {duration_text(elapsed)}")
        runtime = (r.get("final") or {}).get("runtime_s")
        if r.get("status") not in ("queued", "running") and runtime:
            text.append(f" · took {duration_text(runtime)}")
        for key, which, shown in HEADLINE:
            value = {"last": p.last, "best": p.best, "base": p.base}[which](key)
            if value is not None:
                text.append(" · " + shown.format(value))
        if p.warnings:              # one line: the newest warning; all of them are in the Events panel
            last = p.warnings[-1]
            more = f" (+{len(p.warnings) - 1} more in Events)" if len(p.warnings) > 1 else ""
            line = f"⚠ {last.get('kind')}: {last.get('message')}{more}"
            width = max(20, self.size.width - 4)
            text.append(printable("\n" + (line if len(line) <= width else line[: width - 1] + "…")), style="yellow")
        return text

    def _edits(self) -> Text | str:
        edits = self.record.get("edits") or {}
        if not self.record.get("parent_id"):
            return ""
        changed = ", ".join(f"{k}: {old} → {new}" for k, (old, new) in edits.items()) or "no changes"
        return plain(f"re-launch of {self.record['parent_id']}: {changed}")

    def _failure_text(self) -> Text | str:
        failure = self.record.get("failure")
        if not failure or self.record.get("status") not in ("failed", "crashed"):
            return ""
        lines = [f"✖ {failure.get('cause')}: {failure.get('message')}"]
        if failure.get("suggestion"):
            lines.append(f"→ {failure['suggestion']}")
        if failure.get("fix"):
            lines.append("press F6 to re-launch with this fix")
        tail = tail_lines(RunDir.of(self.record["run_dir"]).log, 6)
        if tail:
            lines.append("last lines of worker.log:")
            lines += [f"  {line}" for line in tail]
        return plain("\n".join(lines))

    def _summary(self) -> Text:
        """Label/value lines as plain text (a rich Table would be measured again on every change)."""
        final = self.record.get("final") or {}
        p, rows = self.progress, []
        started = p.started
        if started:
            rows.append(("trainable", f"{started.get('trainable_params', 0):,} of {started.get('total_params', 0):,}"
                                      " params"))
            rows.append(("data", f"{started.get('train_rows', started.get('rows', '?'))} rows"))
            if started.get("quantized_layers"):
                rows.append(("quantized", f"{started['quantized_layers']} layers (bitsandbytes)"))
        if p.phase_peaks:
            rows.append(("peak memory", " · ".join(f"{k} {human_bytes(v)}" for k, v in p.phase_peaks.items())))
        for key, on_dashboard in FINAL_FIGURES:
            if on_dashboard and final.get(key) is not None:
                value = final[key]
                rows.append((key.replace("_", " "), f"{value:.4g}" if isinstance(value, float) else str(value)))
        text = Text()
        for label, value in rows:
            text.append(f"{label:<20}", style="dim")
            text.append(f"{value}\n")
        return text
