"""Row problems: the same fault in many rows is one Problem, not one copy per row.

A file whose columns do not match data.format fails the same way on every row: 200 copies of one message, cut at
MAX_REPORTED, hide the fix and every other problem behind them. Here rows are grouped by what is wrong with them
(the field, and the kind of fault), and each group is one Problem, "180 of 200 rows have no field 'output' (lines
1, 2, 3, ...)", at the first row's line, with one hint from column_hints made from that first row. Unreadable lines
(bad JSON) group the same way, by their message, keeping the first line and column exact.

Cost: a dict lookup per bad row; the message and the hint are made once per group, so 100k bad rows cost what
100k dict appends cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tuner_tui.domain.column_hints import column_hint
from tuner_tui.domain.problems import Problem
from tuner_tui.domain.recipe import DataSpec

SHOWN = 3           # lines (or rows) named per message, as the data lints name them


def percent(count: int, total: int) -> str:
    """A share of rows as the messages say it: '<1%' rather than a misleading '0%'."""
    share = count / total
    return "<1%" if 0 < share < 0.01 else f"{share:.0%}"


def first_few(numbers: list[int], word: str) -> str:
    """'lines 3, 17, 42, ...' (the first SHOWN numbers), or 'line 3' for one."""
    listed = ", ".join(map(str, numbers[:SHOWN])) + (", ..." if len(numbers) > SHOWN else "")
    return f"{word}s {listed}" if len(numbers) > 1 else f"{word} {listed}"


@dataclass
class _Group:
    first: Problem                      # what the group's first row (or line) alone would say
    fault: str                          # the same, without the row: "field 'output' is a number, expected text"
    values: dict[str, Any] | None       # that row's values, for the hint; None for an unreadable line
    missing: bool                       # the rows lack the field (key) altogether
    rows: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


class RowProblems:
    """What is wrong with a file's rows, collected while they are read; `problems()` gives one Problem per fault."""

    def __init__(self, source: str, spec: DataSpec) -> None:
        self.source, self.spec = source, spec
        self._groups: dict[tuple[str, str, str], _Group] = {}
        self._unread_lines = 0

    def __bool__(self) -> bool:
        return bool(self._groups)

    def add_row(self, number: int, line: int | None, values: dict[str, Any], key: str, message: str,
                hint: str | None, missing: bool) -> None:
        """One row's fault. Rows lacking the same field are one fault whatever else they hold."""
        group_key = (key, "" if missing else message, "row")
        group = self._groups.get(group_key)
        if group is None:
            where = f"row {number}" + (f" (line {line})" if line else "")
            first = Problem(self.source, f"{where}: {message}", key=key, line=line, hint=hint)
            group = self._groups[group_key] = _Group(first, message, values, missing)
        group.rows.append(number)
        if line:
            group.lines.append(line)

    def add_unreadable(self, problems: list[Problem]) -> None:
        """What the reader could not read. Lines with the same message group; others (no line) stay apart."""
        for p in problems:
            self._unread_lines += p.line is not None
            apart = "line" if p.line is not None else f"#{len(self._groups)}"
            group = self._groups.setdefault((p.key, p.message, apart), _Group(p, p.message, None, missing=False))
            if p.line is not None:
                group.lines.append(p.line)

    def problems(self, rows_checked: int) -> list[Problem]:
        """One Problem per fault, in the order of their first line. `rows_checked`: rows formatted (good or bad)."""
        total = rows_checked + self._unread_lines
        found = [self._problem(g, total) for g in self._groups.values()]
        return sorted(found, key=lambda p: (p.line is None, p.line or 0))

    def _problem(self, group: _Group, total: int) -> Problem:
        n = max(len(group.rows), len(group.lines))
        hint = (column_hint(self.spec, group.values) if group.values is not None else None) or group.first.hint
        if group.missing and group.values is not None and n * 2 < total:
            # A minority of rows spells the column differently: a data.columns mapping would break the others.
            import difflib

            key = group.first.key or ""
            close = difflib.get_close_matches(key, [str(c) for c in group.values], n=1, cutoff=0.6)
            spelled = f" (did you mean '{close[0]}'? rename it)" if close else ""
            hint = (f"the other rows have '{key}': give these rows that field in the file{spelled}; a "
                    "data.columns mapping would apply to every row")
        if n <= 1:
            return replace(group.first, hint=hint)
        numbers, word = (group.lines, "line") if len(group.lines) == n else (group.rows, "row")
        where = first_few(numbers, word)
        if group.missing and group.values is not None:
            has = ", ".join(map(str, group.values)) or "no fields"
            message = f"{n} of {total} rows have no field '{group.first.key}' ({where}; {word} {numbers[0]} has: {has})"
        else:
            message = f"{group.fault}, in {n} of {total} rows ({where})"
        return replace(group.first, message=message, hint=hint)
