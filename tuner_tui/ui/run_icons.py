"""How a run's status looks everywhere in the cockpit (explorer, dashboard, compare)."""

from __future__ import annotations

from rich.text import Text

ICONS = {"queued": ("…", "cyan"), "running": ("▶", "bold green"), "finished": ("✔", "green"),
         "stopped": ("■", "yellow"), "failed": ("✖", "bold red"), "crashed": ("✖", "red")}


def status_text(status: str, with_word: bool = False) -> Text:
    icon, style = ICONS.get(status, ("?", "dim"))
    return Text(f"{icon} {status}" if with_word else icon, style=style)
