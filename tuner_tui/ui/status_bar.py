"""The status bar: GPU memory, active runs, the home folder. Updated at most once a second."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    _shown_text = ""

    def show(self, gpu: str, active_runs: int, home: str, note: str = "") -> None:
        runs = f"{active_runs} running" if active_runs else "no runs active"
        parts = [gpu, runs, home] + ([note] if note else [])
        text = "  ·  ".join(parts)
        if text != self._shown_text:                 # one line, fixed height: a repaint, never a relayout
            self._shown_text = text
            self.update(text, layout=False)
