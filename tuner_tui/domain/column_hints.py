"""Column hints: what to write in the recipe when a data file's columns do not match data.format.

Data arrives laid out the way its source wrote it: prompt/response pairs, question/answer, a `conversations` list
of from/value turns read as alpaca, a typo ('reponse'). Pre-flight knows that a row lacks a field; this module says
which column holds it ("did you mean 'reponse'?"), which data.columns mapping reads a known layout, or which
data.format the rows are in. The knowledge lives here once, as the names people give their columns.

Pure. It reads one row's values, once per problem (not per row), so its cost does not grow with the file.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from tuner_tui.domain.recipe import DataSpec

# The names people give each field's column, the field's own name first, then the usual others. `input` also holds
# the instruction in input/target data, so it is the instruction's last resort (and then alpaca's own Input block
# must be mapped away from it: see _alpaca).
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "prompt", "question", "query", "input"),
    "input": ("input", "context"),
    "output": ("output", "response", "answer", "completion", "target"),
    "text": ("text", "content", "document", "body"),
}
ALPACA_FIELDS = ("instruction", "input", "output")

# Chat rows: the field holding the list of turns, and the keys a turn has (its role, its text).
CHAT_FIELDS: dict[str, tuple[str, str, str]] = {
    "sharegpt": ("conversations", "from", "value"),
    "messages": ("messages", "role", "content"),
}
FORMATS = ("alpaca", "sharegpt", "messages", "text")

CLOSE = 0.75        # difflib ratio of "a close spelling": from/form 0.75, reponse/response 0.93, input/output 0.55
_PLAIN = re.compile(r"[A-Za-z_][\w.-]*")


@dataclass(frozen=True)
class Layout:
    """How a row reads: the data.format, the data.columns that format needs (field -> the row's column, every
    field found, even where it is the default) and the fields found by a close spelling (said as "did you mean").
    `name` says what the rows look like, in words."""
    format: str
    columns: dict[str, str]
    respelled: frozenset[str]
    name: str


def column_hint(spec: DataSpec, values: dict[str, Any]) -> str | None:
    """What to change in the recipe so that rows like this one read, or None when nothing known fits."""
    layout = detect_layout(values, prefer=spec.format)
    if layout is None:
        return None
    changes = {f: c for f, c in layout.columns.items() if spec.columns.get(f, _default(layout.format, f)) != c}
    if layout.format != spec.format:
        mapping = f" and {_columns(changes)}" if changes else ""
        return f"these rows look like {layout.format} data ({layout.name}): set data.format: {layout.format}{mapping}"
    if not changes:
        return None
    respelled = [f for f in changes if f in layout.respelled]
    if len(changes) == 1:
        ((f, c),) = changes.items()
        said = f"did you mean '{c}'?" if respelled else f"'{c}' looks like the {f}:"
        return f"{said} map it with {_columns(changes)}"
    said = "".join(f"for '{f}', did you mean '{changes[f]}'? " for f in respelled)
    return f"{said}these are {layout.name}: map them with {_columns(changes)}"


def detect_layout(values: dict[str, Any], prefer: str = "alpaca") -> Layout | None:
    """The layout one row reads as, trying the `prefer`red format first; None when its columns look like nothing
    known."""
    readers = {"alpaca": _alpaca, "sharegpt": _chat, "messages": _chat, "text": _text}
    for fmt in sorted(FORMATS, key=lambda f: f != prefer):
        layout = readers[fmt](values, fmt)
        if layout is not None:
            return layout
    return None


# ------------------------------------------------------------------------------------------------ the layouts

def _alpaca(values: dict[str, Any], fmt: str) -> Layout | None:
    found, respelled = _find({f: COLUMN_NAMES[f] for f in ALPACA_FIELDS}, _scalar_columns(values))
    if "instruction" not in found or "output" not in found:
        return None
    if "input" not in found and "input" in found.values():
        found["input"] = ""         # input/target data: the instruction is 'input', so no Input block reads it too
    columns = {f: found[f] for f in ALPACA_FIELDS if f in found}
    name = "/".join(_usual_name(f, found[f]) for f in ALPACA_FIELDS if found.get(f)) + " columns"    # in words
    return Layout(fmt, columns, frozenset(respelled), name)


def _text(values: dict[str, Any], fmt: str) -> Layout | None:
    found, respelled = _find({"text": COLUMN_NAMES["text"]}, _scalar_columns(values))
    if "text" not in found:
        return None
    return Layout(fmt, found, frozenset(respelled), f"a '{found['text']}' column of text")


def _chat(values: dict[str, Any], fmt: str) -> Layout | None:
    """A column holding a list of turns whose keys are this format's (or close spellings of them)."""
    list_field, role, content = CHAT_FIELDS[fmt]
    usual = {f for f, _, _ in CHAT_FIELDS.values()}
    for column in sorted(_turn_lists(values), key=lambda c: c not in usual):      # 'conversations' before 'tags'
        keys = {k for turn in values[column] if isinstance(turn, dict) for k in turn}
        found, respelled = _find({"role": (role,), "content": (content,)}, sorted(map(str, keys)))
        if len(found) < 2:
            continue
        if _close(list_field, column) and column != list_field:
            respelled.add(list_field)
        return Layout(fmt, {list_field: column, **found}, frozenset(respelled),
                      f"a '{column}' list of {found['role']}/{found['content']} turns")
    return None


# ------------------------------------------------------------------------------------------------ finding columns

def _find(wanted: dict[str, tuple[str, ...]], columns: list[str]) -> tuple[dict[str, str], set[str]]:
    """field -> column, for every field a column is named for: exact names (ignoring case) first, in the fields'
    order, then close spellings among the columns left. Also the fields found by their spelling."""
    free, found, respelled = list(columns), {}, set()
    for by_spelling in (False, True):
        for f, names in wanted.items():
            column = None if f in found else _named(names, free, by_spelling)
            if column is not None:
                found[f] = column
                free.remove(column)
                if by_spelling or column not in names:      # 'reponse' for 'response', 'Prompt' for 'prompt'
                    respelled.add(f)
    return found, respelled


def _named(names: tuple[str, ...], columns: list[str], by_spelling: bool) -> str | None:
    for name in names:
        close = (difflib.get_close_matches(name, columns, 1, CLOSE) if by_spelling else
                 [c for c in columns if c.lower() == name])
        if close:
            return close[0]
    return None


def _close(name: str, column: str) -> bool:
    return difflib.SequenceMatcher(None, name, column.lower()).ratio() >= CLOSE


def _usual_name(field: str, column: str) -> str:
    """The usual name a column was taken for ('response' for 'reponse'), to name the layout in words."""
    names = COLUMN_NAMES[field]
    return next((n for n in names if n == column.lower()), None) or max(
        names, key=lambda n: difflib.SequenceMatcher(None, n, column.lower()).ratio())


def _scalar_columns(values: dict[str, Any]) -> list[str]:
    return [str(k) for k, v in values.items() if not isinstance(v, (list, dict))]


def _turn_lists(values: dict[str, Any]) -> list[str]:
    return [str(k) for k, v in values.items() if isinstance(v, list) and any(isinstance(t, dict) for t in v)]


def _default(fmt: str, field: str) -> str:
    """The column a format reads for a field when data.columns does not say."""
    if fmt in CHAT_FIELDS and field in ("role", "content"):
        return CHAT_FIELDS[fmt][1 if field == "role" else 2]
    return field


def _columns(changes: dict[str, str]) -> str:
    """The recipe text: `data.columns.output: reponse`, or `data.columns: {instruction: prompt, output: reponse}`."""
    if len(changes) == 1:
        ((f, c),) = changes.items()
        return f"data.columns.{f}: {_yaml(c)}"
    return "data.columns: {" + ", ".join(f"{f}: {_yaml(c)}" for f, c in changes.items()) + "}"


def _yaml(name: str) -> str:
    return name if _PLAIN.fullmatch(name) else json.dumps(name)
