"""Data lints: the seed's "when not to fine-tune" checks, counted on the user's own rows.

Warnings, never errors: the data trains, but probably not the way its owner hopes. Each message says how many rows,
which ones (file lines, first few), and what to do. They run on the examples pre-flight already formatted, so
they see exactly what the worker trains on.

Cost: counting runs in C builtins (map, set, list.count); a Python loop runs only where a count says there is
something to report. 100k clean alpaca rows: 0.4 s with the ~4-characters-per-token estimate, on a 2-core box
shared with other jobs (tests/test_data_lints.py holds it under 1.5 s). A real tokenizer adds encode_batch: the
410-row demo takes 0.02-0.16 s, 100k rows of ~80 tokens ~14 s on 2 busy cores, so for big sets count in a
background worker or pass no counter. Line numbers are looked up only for the rows a message names (a second read
of the file); chat data with completion_only re-reads the file once to see the turns after the last answer.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import cast

from tuner_tui.domain.dataset_rows import (
    PreparedData,
    RowError,
    alpaca_prompt,
    format_row,
    read_rows,
)
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.token_counts import (
    ChatTemplate,
    TokenCounter,
    load_chat_template,
    load_token_counter,
    render_example,
    render_prompt,
)

__all__ = ["format_samples", "lint_data", "load_chat_template", "load_token_counter"]

SHOWN = 3                   # example lines named per message
MOSTLY = 0.5                # "most rows": the share above which a column mapping looks wrong
SHORT_ANSWER = 3            # characters; answers shorter than this look like labels or ids
MIN_DISTINCT_PROMPTS = 20
CHARS_PER_TOKEN = 4         # the estimate when no tokenizer.json is at hand (English prose, BPE tokenizers)
_HEAD, _TAIL = alpaca_prompt("\x00").split("\x00")
_INPUT = "\n\n### Input:\n"
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"       # where str.splitlines() (and so dataset_rows) breaks
_LINE = re.compile(f"[^{_BREAKS}]*(?:\r\n|[{_BREAKS}]|$)")
_QUESTION = ("?", "?\n", "? ", "?\r\n")


def format_samples(prepared: PreparedData, n: int = 2, chat_template: ChatTemplate | None = None) -> list[str]:
    """The first n training samples as the model reads them, for the pre-flight preview.

    Alpaca and text are exact. Chat rows go through `chat_template` (load_chat_template: the model folder's own or
    data.chat_template), else ChatML. The trainer appends the end-of-text token after each."""
    order = prepared.train_index or list(range(prepared.rows))
    return [render_example(prepared.examples[i], chat_template) for i in order[:n]]


def lint_data(prepared: PreparedData, data_cfg: DataSpec, tokenizer_count: TokenCounter | None = None,
              chat_template: ChatTemplate | None = None) -> list[Problem]:
    """Every data lint, as warnings. `tokenizer_count` (load_token_counter) makes the truncation count exact."""
    rows = _Rows.of(prepared, data_cfg)
    return [*_empty_answers(rows), *_duplicates(rows, prepared), *_conflicts(rows), *_low_diversity(rows),
            *_alpaca_columns(rows), *_trailing_turns(rows), *_truncation(rows, tokenizer_count, chat_template)]


# ------------------------------------------------------------------------------------------------ the rows

@dataclass
class _Rows:
    """What every lint needs, computed once: per example its prompt and its answer as plain strings."""
    source: str
    spec: DataSpec
    examples: list[dict]
    prompts: list[str | None]       # None for plain text
    answers: list[str]
    _lines: list[int] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, prepared: PreparedData, spec: DataSpec) -> _Rows:
        examples = prepared.examples
        if spec.format == "alpaca":         # the common case, without a call per row
            return cls(prepared.source, spec, examples, list(map(operator.itemgetter("prompt"), examples)),
                       list(map(operator.itemgetter("completion"), examples)))
        pairs = [_prompt_answer(e) for e in examples]
        return cls(prepared.source, spec, examples, [p for p, _ in pairs], [a for _, a in pairs])

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
        """File lines of rows (0-based indexes), for .jsonl and .csv; None for formats without lines."""
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
    prompt = example.get("prompt")
    if isinstance(prompt, str):
        return prompt, example["completion"]
    messages = example.get("messages") or [*prompt, *example["completion"]]  # type: ignore[misc]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in messages[:last]), messages[last]["content"]


def _pct(count: int, total: int) -> str:
    share = count / total
    return "<1%" if 0 < share < 0.01 else f"{share:.0%}"


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


def _instruction(prompt: str) -> str:
    body = prompt[len(_HEAD):len(prompt) - len(_TAIL)]
    cut = body.find(_INPUT)
    return body if cut < 0 else body[:cut]


def _alpaca_columns(rows: _Rows) -> list[Problem]:
    """Signs that data.columns maps the wrong fields: answers that repeat, are labels, or ask the question."""
    if rows.spec.format != "alpaca":
        return []
    cols, n, out = rows.spec.columns, rows.n, []
    prompts, answers, start = cast(list[str], rows.prompts), rows.answers, len(_HEAD)
    o, ins = f"'{cols.get('output', 'output')}'", f"'{cols.get('instruction', 'instruction')}'"
    most = n * MOSTLY
    # Each check first counts an upper bound in C (map + list.count); rows are inspected only past "most".
    same = [] if list(map(str.startswith, prompts, answers, repeat(start))).count(True) <= most else [
        i for i, (p, a) in enumerate(zip(prompts, answers, strict=True))
        if a.strip() and p.startswith(a, start) and _instruction(p).strip() == a.strip()]
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
    if len(asked) > most > sum(_instruction(p).strip().endswith("?") for p in prompts):
        out.append(rows.warn(asked, f"{len(asked)} of {n} answers ({_pct(len(asked), n)}; {{where}}) are "
                             "questions while the instructions are not: instruction and output look swapped",
                             key="data.columns", hint=f"swap them in data.columns (output reads {o}, instruction "
                             f"reads {ins})"))
    first_characters = map(operator.itemgetter(start), prompts)    # "\n" when the instruction is empty
    blank = [] if list(map(str.isspace, first_characters)).count(True) <= most else [
        i for i, p in enumerate(prompts) if not _instruction(p).strip()]
    if len(blank) > most:
        out.append(rows.warn(blank, f"the instruction ({ins}) is empty in {len(blank)} of {n} rows "
                             f"({_pct(len(blank), n)}; {{where}})", key="data.columns.instruction",
                             hint="map instruction to the column holding the questions"))
    if "input" in cols and not any(_INPUT in p for p in prompts):
        out.append(Problem(rows.source, f"data.columns.input reads '{cols['input']}', which is empty or missing in "
                           f"all {n} rows", key="data.columns.input", severity="warning",
                           hint="check the column name, or remove the mapping"))
    return out


def _trailing_turns(rows: _Rows) -> list[Problem]:
    """Conversations that go on after the last assistant answer: those turns are dropped (or learned)."""
    spec = rows.spec
    if spec.format not in ("sharegpt", "messages"):
        return []
    if spec.completion_only:      # the examples were cut at the last answer: read the whole turns again
        conversations = _whole_conversations(rows)
    else:
        conversations = [e["messages"] for e in rows.examples]
    trailing = [i for i, turns in enumerate(conversations) if turns[-1]["role"] != "assistant"]
    if not trailing:
        return []
    effect = ("those turns are dropped, nothing is learned from them" if spec.completion_only
              else "the model also learns to write those turns")
    return [rows.warn(trailing, f"{len(trailing)} of {rows.n} conversations ({_pct(len(trailing), rows.n)}; "
                      f"{{where}}) go on after the last assistant answer: {effect}", key="data.path",
                      hint="end each conversation with the assistant's answer, or split it into several rows")]


def _whole_conversations(rows: _Rows) -> list[list[dict]]:
    path, whole = Path(rows.source), rows.spec.model_copy(update={"completion_only": False})
    if not path.is_file():
        return []
    conversations: list[list[dict]] = []
    try:
        for row in read_rows(path):
            if len(conversations) >= rows.n:
                break
            conversations.append(format_row(row.values, whole)["messages"])
    except (ProblemsFound, RowError):
        return []
    return conversations


def _estimate(texts: list[str]) -> list[int]:
    return [math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts]


def _characters(rows: _Rows) -> list[int]:
    if rows.spec.format == "alpaca":        # no need to build the joined strings just to measure them
        return list(map(operator.add, map(len, rows.prompts), rows.answer_lengths))  # type: ignore[arg-type]
    return list(map(len, map(render_example, rows.examples)))


def _truncation(rows: _Rows, count: TokenCounter | None, template: ChatTemplate | None) -> list[Problem]:
    limit, spec = rows.spec.max_length, rows.spec
    counter = count or _estimate
    # Without a tokenizer, compare characters with limit × 4 and divide only what gets reported.
    scale = 1 if count else CHARS_PER_TOKEN
    lengths = count([render_example(e, template) for e in rows.examples]) if count else _characters(rows)
    longest = max(lengths)
    if longest <= limit * scale:
        return []
    over = [i for i, length in enumerate(lengths) if length > limit * scale]
    approx = "" if count else "~"
    how = "" if count else f" (estimated at ~{CHARS_PER_TOKEN} characters per token: no tokenizer.json for the model)"
    out = [rows.warn(over, f"{len(over)} of {rows.n} rows ({_pct(len(over), rows.n)}; {{where}}) are longer than "
                     f"data.max_length {limit} tokens{how}; the longest is {approx}{-(-longest // scale)}: they lose their "
                     "ends, often the answer", key="data.max_length",
                     hint="raise data.max_length (activation memory grows with it) or drop those rows")]
    if spec.completion_only and spec.format != "text":
        prompts = ([rows.prompts[i] or "" for i in over] if spec.format == "alpaca"   # prompt tokens, over rows
                   else [render_prompt(rows.examples[i], template) or "" for i in over])
        starved = [i for i, length in zip(over, counter(prompts), strict=True) if length >= limit]
        if starved:
            out.append(rows.warn(starved, f"{len(starved)} of {rows.n} rows ({{where}}) have a prompt of "
                                 f"{approx}{limit} tokens or more: with completion-only loss they train on nothing",
                                 key="data.max_length", hint="raise data.max_length or shorten those prompts"))
    return out
