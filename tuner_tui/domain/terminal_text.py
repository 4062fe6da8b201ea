"""Text from users and files, made safe to show on a terminal.

Run names, tags, notes, a recipe's `name:`, data rows, worker.log lines, event messages and exception messages
are all written by someone else (a colleague, a data set, a crashed library). Shown raw, `\\e[2J` clears the
screen, `\\e]0;...\\a` retitles the window, `\\e]52;...` writes the clipboard and `\\r` overwrites what was
printed before. `printable` drops every escape sequence whole and every other C0/C1 control character but
newline and tab, plus the bidirectional overrides that make text read differently from what it is
("Trojan source"). Markup is the other half: the CLI prints user text with Rich markup off
(`commands/common.py`), the cockpit passes it as Text, never as markup (`ui/shown.py`)."""

from __future__ import annotations

import re

# ESC followed by: a CSI sequence (ESC [ params final), an OSC/DCS/APC/PM/SOS string with its terminator
# (BEL or ESC \), or any other single character (ESC 7, ESC c: reset...). A string without its terminator
# (Rich drops BEL before we see it) loses only its ESC and opener: the rest stays, as harmless text.
_ESCAPE = r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|.)?"
# C1 CSI/OSC (0x9b, 0x9d) act like ESC [ and ESC ] on some terminals: their strings go too.
_C1_STRING = r"\x9b[0-?]*[ -/]*[@-~]?|[\x90\x9d\x9e\x9f][^\x07\x1b\x9c]*[\x07\x9c]"
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_UNSAFE = re.compile(f"{_ESCAPE}|{_C1_STRING}|{_CONTROL}", re.DOTALL)


def printable(text: object) -> str:
    """`text` as a string with no terminal control left in it (newlines and tabs stay)."""
    shown = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub("", shown)
