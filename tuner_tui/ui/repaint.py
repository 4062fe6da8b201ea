"""Updating a Static only when what it shows changed, and relayouting only when its height may have.

`Static.update` asks for a layout pass of the whole screen by default: every widget arranged again and the
changed regions re-rendered. Panels fed once a second (GPU, status, a run's header) mostly show the same
lines with new numbers, so a repaint of the widget itself is enough (bench/ui_idle.py measures the cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.visual import VisualType


def plain(content: object) -> str:
    """The text a renderable shows, one line per row (enough to tell whether it changed and its height)."""
    if isinstance(content, Table):
        rows = zip(*(column._cells for column in content.columns), strict=False)
        return f"{content.title or ''}\n" + "\n".join("|".join(str(cell) for cell in row) for row in rows)
    return str(content)


def show(static: Static, content: VisualType) -> None:
    """static.update(content) when its text changed; with a layout pass only when its line count changed."""
    text = plain(content)
    shown = getattr(static, "_repaint_shown", None)
    if text == shown:
        return
    static._repaint_shown = text                       # type: ignore[attr-defined]
    static.update(content, layout=shown is None or shown.count("\n") != text.count("\n"))
