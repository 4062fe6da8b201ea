"""A training row as a Rich Text: what the loss learns from, highlighted; what it only reads, dim.

Built from training_text.segments (the worker's own masks), for the cockpit's row browser and for any terminal
view that prints Rich (the `tuner data` X-ray can print the same Text). Row text is user data: it goes in
through `plain` (no markup, no control characters), styles are applied around it, never parsed from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text

from tuner_tui.domain.training_text import Segment
from tuner_tui.ui.plain_text import plain

# How each fate of a token looks (declared once: the row and its legend read it).
STYLES = {
    "trained": "bold #d7ffd7 on #1e4620",   # learned from: bold on a green tint
    "masked": "dim",                          # read as context, not learned
    "eos": "bold magenta",                    # an end-of-sequence token (on green when it is learned)
    "cut": "red strike",                      # past data.max_length: the model never sees it
}
LEARNED_EOS = "bold magenta on #1e4620"
ROLE = "bold reverse cyan"
CUT_MARK = "bold white on red"
CHECK_WORDS = {"train_on_nothing": "trains on nothing", "cut_before_end": "answer cut by max_length",
               "longer_than_max_length": "longer than max_length"}
MAX_CHARS = 12_000          # characters of one row shown (a Static re-lays out all it holds on each move)
MAX_CUT_CHARS = 600         # of those, past max_length: enough to see what was lost


def xray_text(parts: Sequence[Segment], max_length: int, max_chars: int = MAX_CHARS) -> Text:
    """The row's segments as one Text: a role tag where a turn starts, a marker where max_length cuts, and
    a note when the row is longer than `max_chars` (the rest is not drawn)."""
    out, role, shown, cut_shown, cut_marked = Text(), None, 0, 0, False
    for i, part in enumerate(parts):
        if part.role != role and part.state != "cut":
            role = part.role
            out.append(f" {role} ", style=ROLE)
            out.append(" ")
        if part.state == "cut" and not cut_marked:
            cut_marked = True
            out.append(f" ✂ cut at max_length {max_length}: the rest is never seen ", style=CUT_MARK)
            out.append("\n")
        room = max_chars - shown if part.state != "cut" else min(max_chars - shown, MAX_CUT_CHARS - cut_shown)
        text = part.text[:max(room, 0)]
        out.append_text(plain(text or ("⟨eos⟩" if part.state == "eos" else ""), style=_style(part)))
        shown += len(text)
        cut_shown += len(text) if part.state == "cut" else 0
        if len(text) < len(part.text):
            left = len(part.text) - len(text) + sum(len(p.text) for p in parts[i + 1:])
            out.append(f" … {left:,} more characters not shown", style="italic dim")
            break
    return out


def _style(part: Segment) -> str:
    return LEARNED_EOS if part.state == "eos" and part.learned else STYLES[part.state]


def legend() -> Text:
    """One line naming the styles, each drawn in its own style."""
    out = Text("key: ")
    names = {"trained": "trained (learned)", "masked": "masked (context)", "eos": "eos token",
             "cut": "cut (past max_length)"}
    for i, (state, name) in enumerate(names.items()):
        out.append(" · " if i else "")
        out.append(name, style=STYLES[state])
    return out


def row_header(position: int, rows: int, where: str, tokens: int, trained: int, checks: Iterable[str]) -> Text:
    """'row 12 of 300 · data/glaive.json:3012 · 412 tokens, 97 trained', then the row's flags."""
    out = plain(f"row {position} of {rows} · {where} · {tokens:,} tokens, {trained:,} trained", style="bold")
    for check in checks:
        out.append(f"  ⚑ {CHECK_WORDS.get(check, check)}", style="bold yellow")
    return out


def audit_summary(counts: dict, rows: int) -> Text:
    """The audit in one line: the rows that hurt first, then the token totals."""
    nothing, cut = counts.get("train_on_nothing", 0), counts.get("cut_before_end", 0)
    longer = counts.get("longer_than_max_length", 0)
    out = Text("audit: ")
    out.append(f"{nothing:,} of {rows:,} rows train on nothing", style="bold red" if nothing else "green")
    out.append(" · ")
    out.append(f"{cut:,} answers cut by max_length", style="bold yellow" if cut else "green")
    out.append(f" · {longer:,} rows longer than max_length · {counts.get('tokens', 0):,} tokens, "
               f"{counts.get('trained_tokens', 0):,} trained")
    return out


__all__ = ["STYLES", "audit_summary", "legend", "row_header", "xray_text"]
