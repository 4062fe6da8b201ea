"""How a run's status looks everywhere in the cockpit (explorer, dashboard, compare)."""

from __future__ import annotations

from rich.text import Text

ICONS = {"queued": ("…", "cyan"), "running": ("▶", "bold green"), "finished": ("✔", "green"),
         "stopped": ("■", "yellow"), "failed": ("✖", "bold red"), "crashed": ("✖", "red")}


def status_text(status: str, with_word: bool = False) -> Text:
    icon, style = ICONS.get(status, ("?", "dim"))
    return Text(f"{icon} {status}" if with_word else icon, style=style)


def record_status_text(record: dict, with_word: bool = False) -> Text:
    """A run's status as shown: a live worker that has gone silent is `stalled` (it is never called crashed)."""
    stall = record.get("stall")
    if not stall:
        return status_text(record.get("status", "?"), with_word)
    from tuner_tui.domain.liveness import short_duration

    return Text(f"‖ stalled {short_duration(stall['silent_s'])}" if with_word else "‖", style="bold yellow")
