"""User and file text for a widget: never markup, never terminal control (domain/terminal_text.py says why).

A `str` given to `Static`, `DataTable` cells, `Tree` labels, `notify` or a Rich `Panel` is parsed as markup:
a run named `[/x]` raises MarkupError there, `[link=...]` makes a link. A `Text` is shown as it is."""

from __future__ import annotations

from rich.text import Text

from tuner_tui.domain.terminal_text import printable


def plain(value: object, style: str = "") -> Text:
    """`value` as a Text with no markup parsed and no control characters (newlines and tabs kept)."""
    return Text(printable("" if value is None else value), style=style)
