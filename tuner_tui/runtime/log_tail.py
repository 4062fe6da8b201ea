"""The end of a log file (worker.log), read from the end: the one tail reader for the cockpit, `show`, and
the supervisor. A multi-GB log costs one seek and one small read."""

from __future__ import annotations

import re
from pathlib import Path

_CHUNK = 64 * 1024
# "ValueError: ...", "torch.OutOfMemoryError: ...", "RuntimeError: ..." at the start of a line: the last one in
# a log is the exception that ended the process (Python prints the chain's last exception last).
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Interrupt|Exit)\b(?::.*)?$")


def tail_lines(path: Path | str, lines: int, start: int = 0) -> list[str]:
    """The last `lines` non-blank lines of the file from byte `start` on ([] when missing); invalid UTF-8 is
    replaced."""
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, 2)
            text = b""
            position = end
            while position > start and text.count(b"\n") + text.count(b"\r") <= lines:
                step = min(_CHUNK, position - start)
                position -= step
                fh.seek(position)
                text = fh.read(step) + text
    except OSError:
        return []
    # Progress bars redraw with \r: each redraw is a line of its own; blank lines say nothing.
    kept = [line for line in text.decode("utf-8", "replace").replace("\r", "\n").splitlines() if line.strip()]
    return kept[-lines:] if lines > 0 else []


def last_exception(lines: list[str]) -> str | None:
    """The last line that reads like a Python exception ("ValueError: A distributed_type must be ...")."""
    for line in reversed(lines):
        stripped = line.strip()
        if _EXCEPTION.match(stripped):
            return stripped
    return None
