"""Data lints: the seed's "when not to fine-tune" checks, counted on the user's own rows.

Warnings, never errors: the data trains, but probably not the way its owner hopes. Each message says how many rows,
which ones (file lines, first few), and what to do. They run on the examples pre-flight already formatted, so
they see exactly what the worker trains on.

Cost: counting runs in C builtins (map, set, list.count); a Python loop runs only where a count says there is
something to report. 100k clean alpaca rows: well under a second on a 2-core box shared with other jobs
(tests/test_data_lints.py holds it under 1.5 s). Token counts are not made here: data_audit counts them exactly
from the rendered rows; without the model's tokenizer, truncation is estimated at ~4 characters a token. Line
numbers are looked up only for the rows a message names (a second read of the file).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from pathlib import Path

from tuner_tui.domain.dataset_rows import PreparedData, read_rows
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.row_problems import percent as _pct

__all__ = ["lint_data"]

SHOWN = 3                   # example lines named per message
MOSTLY = 0.5                # "most rows": the share above which a column mapping looks wrong
SHORT_ANSWER = 3            # characters; answers shorter than this look like labels or ids
MIN_DISTINCT_PROMPTS = 20
CHARS_PER_TOKEN = 4         # the estimate when no tokenizer.json is at hand (English prose, BPE tokenizers)
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"       # where str.splitlines() (and so dataset_rows) breaks
_LINE = re.compile(f"[^{_BREAKS}]*(?:\r\n|[{_BREAKS}]|$)")
_QUESTION = ("?", "?\n", "? ", "?\r\n")


def lint_data(prepared: PreparedData, data_cfg: DataSpec, truncation: bool = True) -> list[Problem]:
    """Every data lint, as warnings. Truncation is estimated here (~4 characters a token) only when
    `truncation`: with the model's tokenizer at hand, data_audit counts it exactly from the rendered rows."""
    rows = _Rows.of(prepared, data_cfg)
    return [*_empty_answers(rows), *_duplicates(rows, prepared), *_conflicts(rows), *_low_diversity(rows),
            *_alpaca_columns(rows), *_trailing_turns(rows),
            *(_truncation(rows) if truncation else [])]


# ------------------------------------------------------------------------------------------------ the rows

@dataclass
class _Rows:
    """What every lint needs, computed once: per example its prompt and its answer as plain strings."""
    source: str
    spec: DataSpec
    examples: list[dict]
    prompts: list[str | None]       # None for plain text; the turns before the answer, joined
    answers: list[str]              # the last assistant answer
    origins: list[tuple[int, int | None]] = field(default_factory=list)
    _lines: list[int] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, prepared: PreparedData, spec: DataSpec) -> _Rows:
        examples = prepared.examples
        pairs = [_prompt_answer(e) for e in examples]
        return cls(prepared.source, spec, examples, [p for p, _ in pairs], [a for _, a in pairs], prepared.origins)

    @cached_property
    def instructions(self) -> list[str]:
        return list(map(operator.itemgetter("instruction"), self.examples))

    @property
    def n(self) -> int:
        return len(self.examples)

    # Counting is done with C-level builtins (map, set, list.count) over all rows; a Python loop runs only once
    # a count says there is something to report. That keeps 100k rows well under a second.
    @cached_property
    def answer_lengths(self) -> list[int]:
        return list(map(len, self.answers))

    def keys(self) -> zip[tuple[str | None, str]]:
        return zip(self.prompts, self.answers, strict=True)

    @cached_property
    def distinct_keys(self) -> int:
        if self.spec.format != "text" and self.distinct_prompts == self.n:
            return self.n                       # every prompt differs, so every row does: skip the pair set
        return len(set(self.answers if self.spec.format == "text" else self.keys()))

    @cached_property
    def distinct_prompts(self) -> int:
        return len(set(self.prompts))

    def warn(self, indexes: list[int], message: str, key: str = "", hint: str | None = None) -> Problem:
        """A warning naming the first few rows; `{where}` in the message becomes "lines 3, 17, 42, ..."."""
        lines = self.lines(indexes[:SHOWN])
        numbers, word = (lines, "line") if lines else ([i + 1 for i in indexes[:SHOWN]], "row")
        where = f"{word}s " if len(indexes) > 1 else f"{word} "
        where += ", ".join(map(str, numbers)) + (", ..." if len(indexes) > SHOWN else "")
        return Problem(self.source, message.replace("{where}", where), key=key, line=lines[0] if lines else None,
                       hint=hint, severity="warning")

    def lines(self, indexes: list[int]) -> list[int] | None:
        """File lines of rows (0-based indexes); None for formats without lines (parquet, a hub set)."""
        if self.origins and indexes and max(indexes) < len(self.origins):
            found = [self.origins[i][1] for i in indexes]
            return None if None in found else found      # type: ignore[return-value]  # None was ruled out
        path = Path(self.source)
        if not indexes or path.suffix.lower() not in (".jsonl", ".csv"):
            return None
        if self._lines is None or len(self._lines) <= max(indexes):
            self._lines = _row_lines(path, max(indexes) + 1)
        return [self._lines[i] for i in indexes] if len(self._lines) > max(indexes) else None


def _row_lines(path: Path, upto: int) -> list[int]:
    """The line each row starts on, for the first `upto` rows, read the way dataset_rows reads them."""
    try:
        if path.suffix.lower() == ".jsonl":
            text = path.read_bytes().decode("utf-8-sig")
            lines = []
            for number, match in enumerate(_LINE.finditer(text), start=1):   # lazy: stops at `upto`
                if match.group().strip():
                    lines.append(number)
                    if len(lines) >= upto:
                        break
            return lines
        found = []
        for row in read_rows(path):
            found.append(row.line or 0)
            if len(found) >= upto:
                break
        return found
    except (OSError, UnicodeDecodeError, ProblemsFound):   # the file changed since it was prepared
        return []


def _prompt_answer(example: dict) -> tuple[str | None, str]:
    if "text" in example:
        return None, example["text"]
    messages = example["messages"]
    if len(messages) == 2 and messages[1]["role"] == "assistant":     # the common case: one question, one answer
        return messages[0]["content"], messages[1]["content"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    answer = messages[last]["content"] or str(messages[last].get("tool_calls") or "")
    return "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in messages[:last]), answer


def _answer_column(spec: DataSpec) -> tuple[str, str]:
    """(field, the user's column) holding what the model learns to write."""
    name = {"alpaca": "output", "text": "text"}.get(spec.format, "content")
    default = "value" if spec.format == "sharegpt" and name == "content" else name
    return name, spec.columns.get(name, default)


# ------------------------------------------------------------------------------------------------ the lints

def _empty_answers(rows: _Rows) -> list[Problem]:
    if not rows.answer_lengths.count(0) + list(map(str.isspace, rows.answers)).count(True):
        return []
    empty = [i for i, answer in enumerate(rows.answers) if not answer or answer.isspace()]
    name, column = _answer_column(rows.spec)
    what = "text" if rows.spec.format == "text" else "answer"
    hint = (f"that is most rows: data.columns.{name} probably maps the wrong column (it reads '{column}')"
            if len(empty) > rows.n * MOSTLY else "fill them in or drop them")
    return [rows.warn(empty, f"{len(empty)} of {rows.n} rows ({_pct(len(empty), rows.n)}) have an empty {what} "
                      "({where}): they teach the model to answer with nothing", key=f"data.columns.{name}",
                      hint=hint)]


def _duplicates(rows: _Rows, prepared: PreparedData) -> list[Problem]:
    if rows.distinct_keys == rows.n:
        return []
    first: dict[tuple[str | None, str], int] = {}
    copies = [i for i, key in enumerate(rows.keys()) if first.setdefault(key, i) != i]
    message = (f"{len(copies)} of {rows.n} rows ({_pct(len(copies), rows.n)}) are exact copies of an earlier row "
               "({where}): each copy counts that example once more")
    held = set(prepared.eval_index)
    trained = {key for i, key in enumerate(rows.keys()) if i not in held}
    leaked = sum((rows.prompts[i], rows.answers[i]) in trained for i in prepared.eval_index)
    if leaked:
        message += (f"; {leaked} of the {len(prepared.eval_index)} held-out rows are also training rows, so eval "
                    "loss will look better than it is")
    return [rows.warn(copies, message, key="data.path", hint="drop the copies, keeping the first of each")]


def _conflicts(rows: _Rows) -> list[Problem]:
    if rows.spec.format == "text" or rows.distinct_prompts == rows.distinct_keys:   # one answer per prompt
        return []
    first: dict[str | None, int] = {}
    torn: set[str | None] = set()
    pair: list[int] = []
    for i, prompt in enumerate(rows.prompts):
        j = first.setdefault(prompt, i)
        if j != i and prompt not in torn and rows.answers[j] != rows.answers[i]:
            torn.add(prompt)
            pair = pair or [j, i]
    if not torn:
        return []
    involved = sum(p in torn for p in rows.prompts)
    return [rows.warn(pair, f"{len(torn)} prompts appear with different answers ({involved} of {rows.n} rows, "
                      f"{_pct(involved, rows.n)}; first at {{where}}): the model learns to blur them",
                      key="data.path", hint="keep one answer per prompt, or put what tells them apart into the "
                      "prompt (e.g. the input column)")]


def _low_diversity(rows: _Rows) -> list[Problem]:
    distinct = rows.distinct_keys if rows.spec.format == "text" else rows.distinct_prompts
    if distinct == rows.n or (distinct >= MIN_DISTINCT_PROMPTS and distinct >= rows.n * 0.1):
        return []
    what = "texts" if rows.spec.format == "text" else "prompts"
    return [Problem(rows.source, f"only {distinct} distinct {what} in {rows.n} rows: the model memorises them "
                    "instead of learning the task", key="data.path", severity="warning",
                    hint=f"add varied {what}: a few hundred different ones teach a task, a handful teach a "
                    "lookup table")]


def _alpaca_columns(rows: _Rows) -> list[Problem]:
    """Signs that data.columns maps the wrong fields: answers that repeat, are labels, or ask the question."""
    if rows.spec.format != "alpaca":
        return []
    cols, n, out = rows.spec.columns, rows.n, []
    instructions, answers = rows.instructions, rows.answers
    o, ins = f"'{cols.get('output', 'output')}'", f"'{cols.get('instruction', 'instruction')}'"
    most = n * MOSTLY
    # Each check first counts an upper bound in C (map + list.count); rows are inspected only past "most".
    same = [] if list(map(operator.eq, instructions, answers)).count(True) + \
        list(map(str.startswith, instructions, answers)).count(True) <= most else [
        i for i, (q, a) in enumerate(zip(instructions, answers, strict=True)) if a.strip() and q.strip() == a.strip()]
    if len(same) > most:
        out.append(rows.warn(same, f"the answer equals the instruction in {len(same)} of {n} rows "
                             f"({_pct(len(same), n)}; {{where}}): output ({o}) and instruction ({ins}) look like "
                             "the same column", key="data.columns.output",
                             hint="map output to the column holding the answers"))
    lengths = rows.answer_lengths           # a label padded with a space or a line break still counts
    short = [] if sum(map(lengths.count, range(1, SHORT_ANSWER + 2))) <= most else [
        i for i, (a, length) in enumerate(zip(answers, lengths, strict=True))
        if length < SHORT_ANSWER + 2 and 0 < len(a.strip()) < SHORT_ANSWER]
    if len(short) > most:
        out.append(rows.warn(short, f"{len(short)} of {n} answers ({_pct(len(short), n)}; {{where}}) are shorter "
                             f"than {SHORT_ANSWER} characters: output reads {o}, which looks like a label or id "
                             "column", key="data.columns.output", hint="map output to the column with the "
                             "answers; for pure labels a classifier may suit better than fine-tuning an LLM"))
    asked = [] if list(map(str.endswith, answers, repeat(_QUESTION))).count(True) <= most else [
        i for i, a in enumerate(answers) if a.rstrip().endswith("?")]
    if len(asked) > most > sum(q.strip().endswith("?") for q in instructions):
        out.append(rows.warn(asked, f"{len(asked)} of {n} answers ({_pct(len(asked), n)}; {{where}}) are "
                             "questions while the instructions are not: instruction and output look swapped",
                             key="data.columns", hint=f"swap them in data.columns (output reads {o}, instruction "
                             f"reads {ins})"))
    blank = [] if list(map(str.isspace, map(_first_or_space, instructions))).count(True) <= most else [
        i for i, q in enumerate(instructions) if not q.strip()]
    if len(blank) > most:
        out.append(rows.warn(blank, f"the instruction ({ins}) is empty in {len(blank)} of {n} rows "
                             f"({_pct(len(blank), n)}; {{where}})", key="data.columns.instruction",
                             hint="map instruction to the column holding the questions"))
    if "input" in cols and not any(map(operator.itemgetter("input"), rows.examples)):
        out.append(Problem(rows.source, f"data.columns.input reads '{cols['input']}', which is empty or missing in "
                           f"all {n} rows", key="data.columns.input", severity="warning",
                           hint="check the column name, or remove the mapping"))
    return out


def _first_or_space(text: str) -> str:
    return text[:1] or " "


def _trailing_turns(rows: _Rows) -> list[Problem]:
    """Conversations that go on after the last assistant answer: those turns are dropped (or learned)."""
    spec = rows.spec
    if spec.format not in ("sharegpt", "messages"):
        return []
    if spec.trained != "all":         # format_row cut them and counted them
        trailing = [i for i, e in enumerate(rows.examples) if e.get("trailing")]
    else:
        trailing = [i for i, e in enumerate(rows.examples) if e["messages"][-1]["role"] != "assistant"]
    if not trailing:
        return []
    effect = ("those turns are dropped, nothing is learned from them" if spec.trained != "all"
              else "the model also learns to write those turns")
    return [rows.warn(trailing, f"{len(trailing)} of {rows.n} conversations ({_pct(len(trailing), rows.n)}; "
                      f"{{where}}) go on after the last assistant answer: {effect}", key="data.path",
                      hint="end each conversation with the assistant's answer, or split it into several rows")]


def _plain(example: dict) -> str:
    """A row's text without a template, for estimates: each turn's text on its own line."""
    if "text" in example:
        return example["text"]
    return "\n".join(m["content"] for m in example["messages"])


def _characters(rows: _Rows) -> list[int]:
    return list(map(len, map(_plain, rows.examples)))


def _truncation(rows: _Rows) -> list[Problem]:
    """Rows longer than max_length, estimated from the turns' text when the model's tokenizer is not here."""
    limit = rows.spec.max_length
    lengths = _characters(rows)
    longest = max(lengths)
    if longest <= limit * CHARS_PER_TOKEN:
        return []
    over = [i for i, length in enumerate(lengths) if length > limit * CHARS_PER_TOKEN]
    return [rows.warn(over, f"{len(over)} of {rows.n} rows ({_pct(len(over), rows.n)}; {{where}}) are longer than "
                      f"data.max_length {limit} tokens (estimated at ~{CHARS_PER_TOKEN} characters per token: the "
                      f"model's tokenizer.json is not on this machine); the longest is ~"
                      f"{-(-longest // CHARS_PER_TOKEN)}: they lose their ends, often the answer",
                      key="data.max_length",
                      hint="raise data.max_length (activation memory grows with it) or drop those rows")]
