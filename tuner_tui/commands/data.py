"""`tuner data RECIPE`: the loss-mask X-ray (what the model reads and what it learns, token by token) and the
data audit, on exactly the input_ids/labels the worker trains on (domain/training_text, domain/data_audit).

No torch: the model's tokenizer.json is read with `tokenizers` and its chat template with jinja2.

Human output marks what is trained with style on a colour terminal (bold green; the rest dim; end-of-sequence
tokens reversed; tokens past max_length struck through in red, after a "✂ cut at max_length N" marker). Without
colour (piped, NO_COLOR, TERM=dumb) trained text is put in [[double brackets]] instead; the same legend line says
which marking is in use. Each turn carries its role in a left column.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.text import Text

from tuner_tui.commands.common import out, print_json, print_problems
from tuner_tui.domain.data_audit import DataAudit, audit
from tuner_tui.domain.data_lints import lint_data
from tuner_tui.domain.dataset_rows import PreparedData, is_local, prepare_local
from tuner_tui.domain.model_sources import source_kind
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe
from tuner_tui.domain.token_counts import TemplateLimit, model_folder
from tuner_tui.domain.training_text import (
    Segment,
    TrainingText,
    describe,
    render_dataset,
    segments,
    training_text,
)
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.preflight import template_problem
from tuner_tui.runtime.recipe_catalog import resolve_recipe

DEFAULT_ROWS = 3
ROLE_WIDTH = 9                     # "tool_call"
OPEN, CLOSE = "[[", "]]"           # trained text, without colour
CHECKS = (("train_on_nothing", "train on nothing"), ("cut_before_end", "answer cut by max_length"),
          ("longer_than_max_length", "longer than max_length"), ("placeholders", "placeholders"),
          ("template_markers", "template markers in rows"), ("duplicated_system", "system prompt twice"))
STYLE = {"trained": "bold green", "masked": "dim", "cut": "strike red"}


def cmd_data(args: argparse.Namespace) -> int:
    home = Home.default()
    loaded = load_recipe(resolve_recipe(args.recipe, home), args.overrides)
    name = str(loaded.path or args.recipe)
    data = _prepared(loaded, name)
    text = _training_text(loaded, home, name)
    try:
        found = audit(data, text, render_dataset(text, data), loaded.recipe.data.max_length)
    except TemplateLimit as limit:
        raise ProblemsFound([template_problem(loaded, name, limit)]) from None
    try:
        picked = _picked(data, args.rows or [])
    except ProblemsFound as unknown:
        print_problems(unknown.problems)
        return 2                        # a usage error: the data is fine
    # The same warnings pre-flight gives (duplicates, conflicting answers, turns after the last answer, ...):
    # `tuner data` is where a user looks at the data, so nothing validate says may be missing here.
    found.problems = [*data.warnings, *lint_data(data, loaded.recipe.data, truncation=False), *found.problems]
    if args.json:
        print_json(_document(found, picked))
    else:
        print_problems(loaded.warnings)
        _print_human(found, picked, _plain(out))
        print_problems(found.blocking + found.problems)
    return 1 if found.blocking else 0


def _prepared(loaded: LoadedRecipe, name: str) -> PreparedData:
    spec = loaded.recipe.data
    if not is_local(spec.path, loaded.base_dir):
        raise ProblemsFound([Problem(name, f"{spec.path!r} is a hub data set or a folder: `tuner data` reads "
                                     "local data files (.jsonl, .json, .csv, .parquet)", key="data.path",
                                     hint="save the rows to a file and point data.path at it, e.g. "
                                     "datasets.load_dataset(...)['train'].to_json('rows.jsonl')")])
    return prepare_local(spec, loaded.base_dir, loaded.recipe.train.seed)


def _training_text(loaded: LoadedRecipe, home: Home, name: str) -> TrainingText:
    model = loaded.recipe.model
    folder = model_folder(model.source, loaded.base_dir, home.models_dir, model.revision)
    text = training_text(loaded.recipe.data, folder, name)
    if text is None:
        raise ProblemsFound([_no_tokenizer(model.source, folder, loaded, name)])
    return text


def _no_tokenizer(source: str, folder: Path | None, loaded: LoadedRecipe, name: str) -> Problem:
    """What to do when the model's tokenizer.json is not on this machine: `tuner data` never downloads."""
    kind = source_kind(source, loaded.base_dir)
    if kind == "hub":
        return Problem(name, f"the tokenizer of {source} is not on this machine (not in the Hugging Face cache): "
                       "`tuner data` reads the model's tokenizer.json and never downloads", key="model.source",
                       hint=f"download it with `huggingface-cli download {source} --include 'tokenizer*' "
                       "'*.json' '*.jinja'` (no weights, a few MB), or set model.source to a local folder "
                       "that holds tokenizer.json")
    if kind == "builtin":
        return Problem(name, f"the built-in model {source} is not built on this machine yet", key="model.source",
                       hint="the first `tuner run` of a recipe on it builds it (seconds for tiny-random-llama, "
                       "~40 s for smollm2-135m-instruct); then run `tuner data` again")
    where = folder or source
    return Problem(name, f"{where} has no readable tokenizer.json (a fast tokenizer), which `tuner data` reads",
                   key="model.source", hint="save one with AutoTokenizer.from_pretrained(...).save_pretrained(FOLDER)")


def _picked(data: PreparedData, rows: list[int]) -> list[int]:
    """Example indexes of the rows asked for (numbered from 1 in file order); the first 3 without --row."""
    numbers = [origin[0] for origin in data.origins] or list(range(1, data.rows + 1))
    if not rows:
        return list(range(min(DEFAULT_ROWS, data.rows)))
    index = {number: i for i, number in enumerate(numbers)}
    missing = [n for n in rows if n not in index]
    if missing:
        raise ProblemsFound([Problem(data.source, f"no row {n}: the data has {data.rows} rows, numbered 1 to "
                                     f"{numbers[-1]}", key="--row") for n in missing])
    return [index[n] for n in rows]


# ------------------------------------------------------------------------------------------------ JSON

def _document(found: DataAudit, picked: list[int]) -> dict:
    data = found.prepared
    numbers = [origin[0] for origin in data.origins] or list(range(1, data.rows + 1))
    return {"rows_total": data.rows, "data": data.source, "rendering": describe(found.text),
            "max_length": found.max_length, "audit": found.counts(),
            "audit_rows": {check: [numbers[i] for i in indexes] for check, indexes in found.found.items()},
            "problems": [p.to_dict() for p in found.blocking + found.problems],
            "rows": [found.row_json(i) for i in picked]}


# ------------------------------------------------------------------------------------------------ human

def _plain(console: Console) -> bool:
    """No colour to mark trained text with: piped, NO_COLOR, TERM=dumb."""
    return not console.is_terminal or console.no_color or console.color_system is None


def _print_human(found: DataAudit, picked: list[int], plain: bool) -> None:
    data, width = found.prepared, found.max_length
    out.print(Text.assemble((_shown(data.source), "bold"), f" · {data.rows} rows"))
    out.print(f"{describe(found.text)} · max_length {width}")
    out.print(_legend(plain))
    for i in picked:
        out.print()
        _print_row(found, i, plain)
    out.print()
    _print_audit(found)


def _shown(path: str) -> str:
    """A data path as the user would type it from here: relative to the working directory when under it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:                  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative


def _legend(plain: bool) -> Text:
    if plain:
        return Text(f"{OPEN}trained{CLOSE}; the rest is read, not trained; ✂ marks the cut at max_length")
    return Text.assemble("legend: ", ("trained", STYLE["trained"]), " ", ("read, not trained", STYLE["masked"]),
                         " ", ("end token", "reverse"), " ", ("past max_length", STYLE["cut"]))


def _print_row(found: DataAudit, index: int, plain: bool) -> None:
    row = found.row_json(index)
    labels = dict(CHECKS)
    checks = f" · {', '.join(labels.get(c, c) for c in row['checks'])}" if row["checks"] else ""
    out.print(Text.assemble((f"row {row['row']}", "bold"), f" · {_shown(row['source'])} · {row['tokens']} tokens, "
                            f"{row['trained_tokens']} trained"), Text(checks, style="yellow"), sep="")
    parts = segments(found.rendered[index], found.rows[index], found.max_length, found.text.encoder.eos_id)
    width = max(20, out.width - ROLE_WIDTH - 3)
    marked = [False]                    # the cut marker, once per row
    for role, turn in _turns(parts):
        lines = list(_turn_text(turn, found.max_length, plain, marked).wrap(out, width, overflow="fold"))
        while len(lines) > 1 and not lines[0].plain.strip():
            lines.pop(0)                # the blank line a layout puts between turns: the role label shows it
        for k, line in enumerate(lines):
            line.rstrip()
            gap = " " if line.plain else ""
            out.print(Text.assemble((f"{role if k == 0 else '':<{ROLE_WIDTH}} │{gap}", "cyan"), line), soft_wrap=True)


def _turns(parts: list[Segment]) -> list[tuple[str, list[Segment]]]:
    """Segments grouped by turn (a new group where the role changes)."""
    turns: list[tuple[str, list[Segment]]] = []
    for part in parts:
        if turns and turns[-1][0] == part.role:
            turns[-1][1].append(part)
        else:
            turns.append((part.role, [part]))
    return turns


def _turn_text(turn: list[Segment], max_length: int, plain: bool, marked: list[bool]) -> Text:
    text, inside = Text(), False
    for part in turn:
        if part.state == "cut" and not marked[0]:
            inside = _close(text, inside)
            text.append(f" ✂ cut at max_length {max_length} ✂ ", "bold red")
            marked[0] = True
        if plain and part.trained and not inside:
            text.append(OPEN)
            inside = True
        elif plain and inside and not part.trained:
            inside = _close(text, inside)
        text.append(part.text, _style(part))
    _close(text, inside)
    text.rstrip()                       # the turn's closing newline: the next turn starts a line anyway
    return text


def _close(text: Text, inside: bool) -> bool:
    """Close a [[ before the trained text's trailing newlines, so ]] ends the line it belongs to."""
    if inside:
        tail = text.plain[len(text.plain.rstrip()):]
        text.rstrip()
        text.append(CLOSE + tail)
    return False


def _style(part: Segment) -> str:
    if part.state == "eos":
        return "reverse bold green" if part.trained else "reverse dim"
    return STYLE[part.state]


def _print_audit(found: DataAudit) -> None:
    counts, rows = found.counts(), found.rows
    out.print(Text.assemble(("audit", "bold"), f" · {len(rows)} rows · {counts['tokens']:,} tokens, "
                            f"{counts['trained_tokens']:,} trained"))
    for check, label in CHECKS:
        indexes = found.found.get(check, [])
        head = f"  {label:<24}{len(indexes):>5}  "
        examples = Text(_examples(found, check, indexes)).wrap(out, max(20, out.width - len(head)), overflow="fold")
        for k, line in enumerate(examples or [Text()]):
            shown = ((head if k == 0 else " " * len(head)) + line.plain).rstrip()
            out.print(Text(shown, style="yellow" if indexes else ""))
    turns = found.turns
    for kind, label in (("assistant_turns", "assistant turns"), ("tool_calls", "tool-call turns")):
        present, trained = turns.get(kind, 0), turns.get(kind + "_trained", 0)
        out.print(Text(f"  {label:<24}{present:>5}  {trained} trained", style="yellow" if trained < present else ""))
    out.print(Text(f"lengths in tokens (max_length {found.max_length})", style="bold"))
    _print_histogram(counts["length_histogram"], found.max_length)


def _examples(found: DataAudit, check: str, indexes: list[int]) -> str:
    if not indexes:
        return ""
    data = found.prepared
    where = ", ".join(f"row {data.origins[i][0]}" + (f" (line {data.origins[i][1]})" if data.origins[i][1] else "")
                      if data.origins else f"row {i + 1}" for i in indexes[:3]) + (", ..." if len(indexes) > 3 else "")
    seen = list(found.seen.get(check, {}))
    return where + (": " + ", ".join(seen[:3]) if seen and check != "duplicated_system" else "")


def _print_histogram(buckets: list[dict], max_length: int) -> None:
    """Rows per length bucket; a bucket reaching past max_length is red (its rows may be cut)."""
    most = max((b["rows"] for b in buckets), default=0) or 1
    for bucket in buckets:
        edge = bucket["up_to"]
        label = f"≤ {edge:,}" if edge is not None else "more"
        bar = "█" * max(1 if bucket["rows"] else 0, round(40 * bucket["rows"] / most))
        past = edge is None or edge > max_length
        out.print(Text.assemble(f"  {label:>8} ", (bar, "red" if past else "green"), f" {bucket['rows']}"))
