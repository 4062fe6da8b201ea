"""Training data: read local rows, check them, and turn them into examples the trainer understands.

Pure Python so that pre-flight can refuse bad data *before* a worker starts (and in the CLI, without torch).
The worker runs the very same functions, so what pre-flight accepted is what trains.

Examples are one of:
  {"messages": [messages], "tools"?: [schemas], "trailing"?: N}    alpaca, sharegpt, messages
  {"text": str}                                                     text
training_text renders them through the recipe's template and masks the loss per turn.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.row_problems import RowProblems, first_few

LOCAL_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
MAX_REPORTED = 20           # distinct problems listed per file (each names all its rows); the rest are counted
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "function_call": "tool_call",
                  "observation": "tool", "user": "user", "assistant": "assistant", "tool": "tool"}
# What an unknown role most likely is, for the hint (a wrong guess would train on the user's turns).
LIKELY_ROLES = {"bot": "assistant", "model": "assistant", "ai": "assistant", "chatgpt": "assistant",
                "gemini": "assistant", "claude": "assistant", "answer": "assistant", "response": "assistant",
                "person": "user", "customer": "user", "question": "user", "prompter": "user", "client": "user",
                "function": "tool", "function_response": "tool", "ipython": "tool", "tool_response": "tool",
                "developer": "system", "instruction": "system", "tool_call": "tool_call", "function_calls": "tool_call"}
CHAT_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "tool"}


def alpaca_prompt(instruction: str, input_text: str = "") -> str:
    """The seed's Alpaca prompt, exactly; the Input block only when there is input. Training renders it through
    chat_templates.ALPACA, which gives this very text (a test pins both)."""
    if input_text:
        return f"### Instruction:\n{instruction}\n\n### Input:\n{input_text}\n\n### Response:\n"
    return f"### Instruction:\n{instruction}\n\n### Response:\n"


@dataclass
class Row:
    values: dict[str, Any]
    number: int                 # 1-based row number
    line: int | None            # line in the file, where the format has lines


@dataclass
class PreparedData:
    source: str
    examples: list[dict]
    train_index: list[int]
    eval_index: list[int]
    warnings: list[Problem] = field(default_factory=list)
    origins: list[tuple[int, int | None]] = field(default_factory=list)   # (row number, file line) per example

    @property
    def rows(self) -> int:
        return len(self.examples)

    def where_many(self, indexes: list[int]) -> str:
        """'lines 3, 17, 42, ...' (or 'rows ...' where the format has no lines) for examples, as messages name them."""
        origins = self.origins
        has_lines = bool(origins) and origins[indexes[0]][1] is not None
        numbers = [origins[i][1] if has_lines else (origins[i][0] if origins else i + 1) for i in indexes]
        return first_few(numbers, "line" if has_lines else "row")       # type: ignore[arg-type]  # lines checked

    def where(self, index: int) -> str:
        """'FILE:LINE' of an example (or 'FILE row N' where the format has no lines)."""
        number, line = self.origins[index] if index < len(self.origins) else (index + 1, None)
        return f"{self.source}:{line}" if line else f"{self.source} row {number}"


class RowError(ValueError):
    """What is wrong with one row: the field (key), what, and how to fix it. `missing`: the row lacks the field
    altogether (rows lacking the same field are one problem, whatever else they hold); None reads it from the
    message ("missing field ..."), for raises that do not say."""

    def __init__(self, key: str, message: str, hint: str | None = None, missing: bool | None = None):
        super().__init__(message)
        self.key, self.hint = key, hint
        self.missing = message.startswith("missing field ") if missing is None else missing


# ------------------------------------------------------------------------------------------------ reading

def is_local(path: str, base_dir: Path) -> bool:
    """A local data *file* (read here, checked before launch). Folders and hub ids go through `datasets`."""
    p = Path(path).expanduser()
    if (base_dir / p).is_dir():
        return False
    return (base_dir / p).exists() or p.is_absolute() or path.startswith(".") or p.suffix in LOCAL_SUFFIXES


def is_local_folder(path: str, base_dir: Path) -> bool:
    """A folder of data files (or a saved hub snapshot): loaded with `datasets.load_dataset(folder)`."""
    return local_path(path, base_dir).is_dir()


def local_path(path: str, base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a local file; raises ProblemsFound naming the file and line for what cannot be read."""
    name = str(path)
    if not path.is_file():
        raise ProblemsFound([Problem(name, "no such data file", key="data.path",
                                     hint="paths are relative to the recipe's folder")])
    suffix = path.suffix.lower()
    if suffix not in LOCAL_SUFFIXES:
        raise ProblemsFound([Problem(name, f"unsupported data file type '{suffix or '(none)'}'", key="data.path",
                                     expected="one of " + ", ".join(LOCAL_SUFFIXES))])
    if suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    raw = _text_bytes(path, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ProblemsFound([Problem(name, f"not valid UTF-8 (byte 0x{raw[err.start]:02x})", line=line,
                                     hint="save the file as UTF-8")]) from None
    reader = {".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows}[suffix]
    yield from reader(text, name)


# Text data never holds NUL bytes; a binary file (or a sparse one: `truncate -s 2G`) does in its first KiB.
SNIFF_BYTES = 1024


def _text_bytes(path: Path, name: str) -> bytes:
    """The file's bytes, after its first KiB says it is text: a 2 GB binary is refused in microseconds, not
    after reading it whole (19 s, 2 GB of memory)."""
    binary = ProblemsFound([Problem(name, "binary file: expected UTF-8 text (JSON lines, JSON or CSV)",
                                    key="data.path")])
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        if b"\x00" in head:
            raise binary
        raw = head + fh.read()
    if b"\x00" in raw[:65536]:
        raise binary
    return raw


def _jsonl_rows(text: str, name: str) -> Iterator[Row]:
    problems, number = [], 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(Problem(name, f"not valid JSON: {err.msg}", line=line_no, column=err.colno))
            continue
        except (ValueError, RecursionError) as err:   # absurd nesting, 4300+ digit numbers
            problems.append(Problem(name, f"not readable JSON: {_short(err)}", line=line_no))
            continue
        if not isinstance(value, dict):
            problems.append(Problem(name, f"each line must be a JSON object, got {type(value).__name__}",
                                    line=line_no))
            continue
        yield Row(value, number, line_no)
    if problems:
        raise ProblemsFound(problems)      # prepare_rows merges them with row problems and caps the list


def _json_rows(text: str, name: str) -> Iterator[Row]:
    if not text.strip():
        raise ProblemsFound([Problem(name, "the dataset is empty: no rows to train on", key="data.path")])
    if text.lstrip().startswith("["):
        yield from _json_list_rows(text, name)
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProblemsFound([Problem(name, f"not valid JSON: {err.msg}", line=err.lineno, column=err.colno,
                                     hint="for one object per line, name the file .jsonl")]) from None
    except (ValueError, RecursionError) as err:
        raise ProblemsFound([Problem(name, f"not readable JSON: {_short(err)}")]) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise ProblemsFound([Problem(name, "expected a JSON list of rows (or an object holding one list)")])
        value = lists[0]
    if not isinstance(value, list):
        raise ProblemsFound([Problem(name, f"expected a JSON list of rows, got {type(value).__name__}")])
    yield from _listed_rows([(v, None) for v in value], name)


_SPACE = frozenset(" \t\n\r")


def _json_list_rows(text: str, name: str) -> Iterator[Row]:
    """A JSON list, element by element (the C decoder does each one), so each row knows the line it starts on:
    LLaMA-Factory's data sets are JSON lists, and "line 3012" beats "row 377" in a 40,000-line file."""
    decoder, at, end = json.JSONDecoder(), text.index("[") + 1, len(text)
    values: list[tuple[Any, int | None]] = []
    line, counted = 1, 0
    try:
        while True:
            while at < end and text[at] in _SPACE:
                at += 1
            if at < end and text[at] == "]" and not values:
                break
            value, after = decoder.raw_decode(text, at)
            line += text.count("\n", counted, at)
            counted = at
            values.append((value, line))
            at = after
            while at < end and text[at] in _SPACE:
                at += 1
            if at < end and text[at] == ",":
                at += 1
                continue
            if at < end and text[at] == "]":
                break
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        if text[at + 1:].strip():
            raise json.JSONDecodeError("Extra data", text, at + 1 + (len(text[at + 1:]) - len(text[at + 1:].lstrip())))
    except json.JSONDecodeError as err:
        raise ProblemsFound([Problem(name, f"not valid JSON: {err.msg}", line=err.lineno, column=err.colno,
                                     hint="for one object per line, name the file .jsonl")]) from None
    except (ValueError, RecursionError) as err:
        raise ProblemsFound([Problem(name, f"not readable JSON: {_short(err)}")]) from None
    yield from _listed_rows(values, name)


def _listed_rows(values: Sequence[tuple[Any, int | None]], name: str) -> Iterator[Row]:
    bad: dict[str, list[int]] = {}          # type -> rows: one problem per type, not per row
    for i, (v, _) in enumerate(values, start=1):
        if not isinstance(v, dict):
            bad.setdefault(type(v).__name__, []).append(i)
    if bad:
        raise ProblemsFound([Problem(name, f"row {rows[0]} is a {kind}, not an object" if len(rows) == 1 else
                                     f"{len(rows)} of {len(values)} rows are a {kind}, not an object "
                                     f"({first_few(rows, 'row')})", line=values[rows[0] - 1][1])
                             for kind, rows in bad.items()])
    for i, (v, line) in enumerate(values, start=1):
        yield Row(v, i, line)


def _csv_rows(text: str, name: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for number, values in enumerate(reader, start=1):
            if None in values:
                raise ProblemsFound([Problem(name, "row has more fields than the header", line=reader.line_num)])
            if any(v is None for v in values.values()):
                raise ProblemsFound([Problem(name, "row has fewer fields than the header", line=reader.line_num,
                                             hint="quote fields that contain commas or line breaks")])
            yield Row(dict(values), number, reader.line_num)
    except csv.Error as err:
        raise ProblemsFound([Problem(name, f"not valid CSV: {err}", line=reader.line_num)]) from None


def _parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq  # only for parquet files; comes with `datasets`
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - any reader failure is the file's problem
        raise ProblemsFound([Problem(str(path), f"cannot read parquet: {err}")]) from None
    for i, values in enumerate(table.to_pylist(), start=1):
        yield Row(values, i, None)


def _short(err: BaseException) -> str:
    return str(err).splitlines()[0][:120] if str(err) else type(err).__name__


def _capped(problems: list[Problem]) -> list[Problem]:
    """At most MAX_REPORTED distinct problems (each already names every row it covers); the rest are counted."""
    if len(problems) <= MAX_REPORTED:
        return problems
    rest = len(problems) - MAX_REPORTED
    return [*problems[:MAX_REPORTED], Problem(problems[0].file, f"... and {rest} more, different problems")]


# ------------------------------------------------------------------------------------------------ formatting

def format_row(values: dict[str, Any], spec: DataSpec) -> dict:
    """One row -> one conversation (or plain text), or RowError naming the field and what is wrong.

    Every format but text becomes {"messages": [...]} (plus "tools" when the row has tool schemas), rendered
    later through one template (training_text). Alpaca's optional `system` and `history` columns become turns;
    sharegpt's `system` column a system turn, `function_call` turns tool calls, `observation` turns tool
    results. Turns after the last assistant answer are dropped (counted in "trailing") unless train_on is all."""
    col = spec.columns
    if spec.format == "text":
        return {"text": _text(values, "text", col)}
    if spec.format == "alpaca":
        return _alpaca(values, spec)
    messages = _conversation(values, spec)
    system = _text(values, "system", col, required=False)
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    elif system and messages[0]["content"] != system:
        raise RowError(col.get("system", "system"), "the row has a system column and a different system turn: "
                       "only one can be the system prompt", hint="drop one of them, or move the column's text into "
                       "the turn")
    example = _cut_after_last_answer(messages, spec, "conversations" if spec.format == "sharegpt" else "messages")
    tools = _tools(values, col)
    if tools:
        example["tools"] = tools
    return example


def _alpaca(values: dict, spec: DataSpec) -> dict:
    col = spec.columns
    instruction = _text(values, "instruction", col)
    input_text = _text(values, "input", col, required=False)
    output = _text(values, "output", col)
    messages: list[dict] = []
    system = _text(values, "system", col, required=False)
    if system:
        messages.append({"role": "system", "content": system})
    messages += _history(values, col)
    # The alpaca layout writes the input as its own block; a chat template gets it as a paragraph of the turn.
    joiner = ALPACA_INPUT if spec.rendering == "alpaca" else "\n\n"
    messages.append({"role": "user", "content": instruction + (joiner + input_text if input_text else "")})
    messages.append({"role": "assistant", "content": output})
    return {"messages": messages, "instruction": instruction, "input": input_text}


ALPACA_INPUT = "\n\n### Input:\n"


def _history(values: dict, columns: dict[str, str]) -> list[dict]:
    """LLaMA-Factory's alpaca `history`: earlier [instruction, answer] pairs, as turns before this one."""
    key = columns.get("history", "history")
    pairs = values.get(key)
    if pairs in (None, "", []):
        return []
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str)
                                                                                          for x in p) for p in pairs):
        raise RowError(key, f"field '{key}' must be a list of [instruction, answer] pairs of text")
    turns = []
    for question, answer in pairs:
        turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return turns


def _cut_after_last_answer(messages: list[dict], spec: DataSpec, field_name: str) -> dict:
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        raise RowError(spec.columns.get(field_name, field_name), "has no assistant turn to learn from")
    if spec.trained == "all" or last == len(messages) - 1:
        return {"messages": messages}
    return {"messages": messages[:last + 1], "trailing": len(messages) - last - 1}


def _tools(values: dict, columns: dict[str, str]) -> list | None:
    """The `tools` column (function schemas): a JSON string or a list; passed to the template as tools=."""
    key = columns.get("tools", "tools")
    value = values.get(key)
    if value in (None, "", [], "[]"):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise RowError(key, f"field '{key}' is not valid JSON (expected a list of function schemas)") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise RowError(key, f"field '{key}' must be a list of function schemas (objects), got {_kind(value)}")
    # glaive/sharegpt rows hold bare {name, description, parameters}; servers (vLLM's OpenAI endpoint,
    # transformers' tools=) pass {"type": "function", "function": {...}}: train on the form the model is served.
    return [t if "function" in t or "name" not in t else {"type": "function", "function": t} for t in value] or None


def _text(values: dict, field_name: str, columns: dict[str, str], required: bool = True) -> str:
    key = columns.get(field_name, field_name)
    value = values.get(key)
    if value is None:
        if required:
            present = ", ".join(map(str, values)) or "none"
            raise RowError(key, f"missing field '{key}' (row has: {present})",
                           hint=f"map your column with data.columns.{field_name}", missing=True)
        return ""
    if not isinstance(value, str):
        raise RowError(key, f"field '{key}' is {_kind(value)}, expected text")
    return value


def _kind(value: object) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), f"a {type(value).__name__}")


def _conversation(values: dict, spec: DataSpec) -> list[dict]:
    sharegpt = spec.format == "sharegpt"
    key = spec.columns.get("conversations" if sharegpt else "messages", "conversations" if sharegpt else "messages")
    role_key, content_key = ("from", "value") if sharegpt else ("role", "content")
    role_key, content_key = spec.columns.get("role", role_key), spec.columns.get("content", content_key)
    known = {**(SHAREGPT_ROLES if sharegpt else CHAT_ROLES), **spec.roles}
    turns = values.get(key)
    if not isinstance(turns, list) or not turns:
        raise RowError(key, f"field '{key}' must be a non-empty list of turns" if key in values else
                       f"missing field '{key}' (row has: {', '.join(map(str, values)) or 'none'})",
                       hint=None if key in values else f"map your column with data.columns.{key}")
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RowError(f"{key}[{i}]", f"turn {i} needs '{role_key}' and text '{content_key}'")
        role = turn.get(role_key)
        if not isinstance(role, str):
            raise RowError(f"{key}[{i}].{role_key}", f"turn {i} has no text '{role_key}' (the speaker's role)")
        if role not in known:
            guess = LIKELY_ROLES.get(role.lower())
            example = f"data.roles: {{{role}: {guess}}}" if guess else \
                f"data.roles: {{{role}: user}} for a person's turns, {{{role}: assistant}} for the model's"
            raise RowError(f"{key}[{i}].{role_key}", f"unknown role {role!r}",
                           hint=f"known: {', '.join(known)}; map others with data.roles, e.g. {example}")
        target, content, calls = known[role], turn.get(content_key), turn.get("tool_calls")
        if target == "assistant" and calls:               # messages: an assistant turn calling tools
            message = {"role": "assistant", "content": content if isinstance(content, str) else "",
                       "tool_calls": _calls(calls, f"{key}[{i}].tool_calls")}
        elif not isinstance(content, str):
            raise RowError(f"{key}[{i}]", f"turn {i} needs '{role_key}' and text '{content_key}'")
        elif target == "tool_call":                       # sharegpt: function_call's value is the call, as JSON
            message = {"role": "assistant", "content": "", "tool_calls": _calls(content, f"{key}[{i}]")}
        else:
            message = {"role": target, "content": content}
        messages.append(message)
    return messages


def _calls(value: object, where: str) -> list[dict]:
    """Tool calls in the shape chat templates read: [{"type": "function", "function": {name, arguments}}]."""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise RowError(where, "a function_call turn must hold JSON {\"name\": ..., \"arguments\": {...}}, "
                           f"got {text[:60]!r}") from None
    calls = value if isinstance(value, list) else [value]
    out = []
    for call in calls:
        function = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise RowError(where, "a tool call needs a \"name\" (and \"arguments\")")
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):          # arguments given as a JSON string: the templates dump them again
            with contextlib.suppress(ValueError, RecursionError):
                arguments = json.loads(arguments)
        out.append({"type": "function", "function": {"name": function["name"], "arguments": arguments}})
    return out


def _is_empty(example: dict) -> bool:
    if "text" in example:
        return not example["text"].strip()
    return not any(m["content"].strip() or m.get("tool_calls") for m in example["messages"]
                   if m["role"] == "assistant")


# ------------------------------------------------------------------------------------------------ preparing

def split_index(rows: int, val_split: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic held-out split: same rows, same seed -> same split (resume relies on it)."""
    order = list(range(rows))
    random.Random(seed).shuffle(order)
    held = math.ceil(rows * val_split) if val_split > 0 else 0
    return sorted(order[held:]), sorted(order[:held])


def prepare_rows(rows: Iterator[Row], spec: DataSpec, source: str, seed: int) -> PreparedData:
    """Format every row, collect every problem (one per fault, naming its rows), refuse data that cannot train."""
    examples: list[dict] = []
    origins: list[tuple[int, int | None]] = []
    problems = RowProblems(source, spec)
    empty = checked = 0
    columns: dict[str, int] = {}            # column -> first row holding it: an unread one may be a typo
    try:
        for row in rows:
            if spec.max_rows and len(examples) >= spec.max_rows:
                continue     # keep reading: an unreadable line further down is still reported
            checked += 1
            try:
                example = format_row(row.values, spec)
            except RowError as err:
                problems.add_row(row.number, row.line, row.values, err.key, str(err), err.hint, err.missing)
                continue
            empty += _is_empty(example)
            examples.append(example)
            origins.append((row.number, row.line))
            if len(columns) < 100:
                for name in row.values:
                    columns.setdefault(name, len(origins) - 1)
    except ProblemsFound as unreadable:      # the reader raises at the end, after yielding the good rows
        problems.add_unreadable(unreadable.problems)
    if problems:
        raise ProblemsFound(_capped(problems.problems(checked)))
    prepared = finish(examples, spec, source, seed, empty, origins)
    prepared.warnings += _unread_columns(columns, spec, prepared)
    return prepared


# The fields each format reads (before data.columns); an optional one the rows lack, next to a column nobody
# reads with a close spelling, is most likely a typo: `inputs`, `histroy`, `system_prompt` were dropped silently.
FORMAT_FIELDS = {"alpaca": ("instruction", "input", "output", "system", "history"),
                 "sharegpt": ("conversations", "system", "tools"), "messages": ("messages", "system", "tools"),
                 "text": ("text",)}
SPELLINGS = {"system": ("system_prompt", "sys", "system_message"), "input": ("inputs", "context"),
             "history": ("histories", "chat_history")}


def _unread_columns(columns: dict[str, int], spec: DataSpec, prepared: PreparedData) -> list[Problem]:
    import difflib

    fields = FORMAT_FIELDS[spec.format]
    read = {spec.columns.get(f, f) for f in fields} | set(spec.columns.values())
    out = []
    for name in columns:
        if name in read or not isinstance(name, str):
            continue
        free = [f for f in fields if spec.columns.get(f, f) not in columns]
        close = difflib.get_close_matches(name.lower(), free, n=1, cutoff=0.75) or \
            [f for f in free if name.lower() in SPELLINGS.get(f, ())][:1]
        if close:
            index = columns[name]
            out.append(Problem(prepared.source, f"column '{name}' is never read (from {prepared.where(index)}): did "
                               f"you mean '{close[0]}'? its text is dropped", key=f"data.columns.{close[0]}",
                               line=prepared.origins[index][1] if prepared.origins else None,
                               hint=f"map it with data.columns.{close[0]}: {name}", severity="warning"))
    return out


def finish(examples: list[dict], spec: DataSpec, source: str, seed: int, empty: int,
           origins: list[tuple[int, int | None]] | None = None) -> PreparedData:
    rows = len(examples)
    if rows == 0:
        raise ProblemsFound([Problem(source, "the dataset is empty: no rows to train on", key="data.path")])
    if empty == rows:
        raise ProblemsFound([Problem(source, f"all {rows} rows are empty after formatting", key="data.columns",
                                     hint="check data.format and data.columns against your fields")])
    if rows < 2:
        raise ProblemsFound([Problem(source, f"the dataset has {rows} row; at least 2 are needed to train "
                                     "(and more to hold some out)", key="data.path")])
    train, held = split_index(rows, spec.val_split, seed)
    warnings = []
    if empty:
        warnings.append(Problem(source, f"{empty} of {rows} rows have an empty answer", severity="warning"))
    return PreparedData(source, examples, train, held, warnings, origins or [])


def prepare_local(spec: DataSpec, base_dir: Path, seed: int) -> PreparedData:
    path = local_path(spec.path, base_dir)
    return prepare_rows(read_rows(path), spec, str(path), seed)
