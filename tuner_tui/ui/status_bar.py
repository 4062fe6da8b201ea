"""The status bar: GPU memory, active runs, the home folder. Updated at most once a second."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    def show(self, gpu: str, active_runs: int, home: str, note: str = "") -> None:
        runs = f"{active_runs} running" if active_runs else "no runs active"
        parts = [gpu, runs, home] + ([note] if note else [])
        self.update("  ·  ".join(parts))
