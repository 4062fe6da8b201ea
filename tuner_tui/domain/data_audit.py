"""The audit of a whole data set as the model will see it: counts over the rendered, tokenized rows.

Runs on exactly what the worker trains on (training_text), so its counts are the worker's: rows that train on
nothing, answers cut by max_length, tokens in all. Pre-flight blocks a launch when more than BLOCK_SHARE of the
rows would train on nothing (`--force` launches anyway); `tuner data` prints it with the rows themselves.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from tuner_tui.domain import row_text_checks as checks
from tuner_tui.domain.dataset_rows import PreparedData
from tuner_tui.domain.problems import Problem
from tuner_tui.domain.row_problems import percent as _pct
from tuner_tui.domain.training_text import Rendered, TokenizedRow, TrainingText, segments, tokenize

BLOCK_SHARE = 0.05          # rows training on nothing above this share block the launch
HISTOGRAM_EDGES = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


@dataclass
class DataAudit:
    prepared: PreparedData
    text: TrainingText
    rendered: list[Rendered]
    rows: list[TokenizedRow]
    max_length: int
    found: dict[str, list[int]] = field(default_factory=dict)      # check -> example indexes (0-based)
    turns: dict[str, int] = field(default_factory=dict)            # assistant / tool-call turns, trained or not
    seen: dict[str, dict[str, int]] = field(default_factory=dict)  # check -> what it found -> rows
    problems: list[Problem] = field(default_factory=list)          # warnings
    blocking: list[Problem] = field(default_factory=list)          # refuse the launch unless forced

    def counts(self) -> dict:
        """The audit's figures, as `tuner data --json` gives them under "audit"."""
        out: dict = {name: len(indexes) for name, indexes in self.found.items()}
        out["tokens"] = sum(r.tokens for r in self.rows)
        out["trained_tokens"] = sum(r.trained_tokens for r in self.rows)
        out.update(self.turns)
        out["length_histogram"] = length_histogram([r.tokens for r in self.rows])
        out["template"] = self.text.renderer.kind
        out["train_on"] = self.text.renderer.train_on
        return out

    def row_json(self, index: int) -> dict:
        """One row of the X-ray (contract: row, source, segments, tokens, trained_tokens)."""
        rendered, row = self.rendered[index], self.rows[index]
        number = self.prepared.origins[index][0] if self.prepared.origins else index + 1
        parts = segments(rendered, row, self.max_length, self.text.encoder.eos_id)
        return {"row": number, "source": self.prepared.where(index), "segments": [p.as_json() for p in parts],
                "tokens": row.tokens, "trained_tokens": row.trained_tokens,
                "checks": sorted(name for name, indexes in self.found.items() if index in set(indexes))}


def length_histogram(lengths: list[int]) -> list[dict]:
    """Rows per length bucket in tokens: [{"up_to": 64, "rows": 12}, ..., {"up_to": null, "rows": 1}]."""
    counts = [0] * (len(HISTOGRAM_EDGES) + 1)
    for length in lengths:
        counts[next((i for i, edge in enumerate(HISTOGRAM_EDGES) if length <= edge), len(HISTOGRAM_EDGES))] += 1
    last = max((i for i, c in enumerate(counts) if c), default=0)
    first = min((i for i, c in enumerate(counts) if c), default=0)
    return [{"up_to": HISTOGRAM_EDGES[i] if i < len(HISTOGRAM_EDGES) else None, "rows": counts[i]}
            for i in range(first, last + 1)]


def audit(prepared: PreparedData, text: TrainingText, rendered: list[Rendered], max_length: int) -> DataAudit:
    rows = tokenize(rendered, text.encoder, max_length)
    found = DataAudit(prepared, text, rendered, rows, max_length)
    found.found["train_on_nothing"] = [i for i, r in enumerate(rows) if r.trained_tokens == 0]
    found.found["cut_before_end"] = [i for i, r in enumerate(rows) if r.cut_before_end and r.trained_tokens]
    found.found["longer_than_max_length"] = [i for i, r in enumerate(rows) if r.tokens > max_length]
    _row_text_checks(found, special_tokens(text))
    found.turns = _turn_counts(found)
    _messages(found)
    _row_text_messages(found)
    return found


def special_tokens(text: TrainingText) -> list[str]:
    """The tokenizer's special tokens (<|im_end|>, <s>, ...): in a row's text they tokenize as control tokens."""
    try:
        added = text.encoder.tokenizer.get_added_tokens_decoder().values()
    except AttributeError:              # a tokenizer object without added tokens (tests' stand-ins)
        return []
    return [t.content for t in added if getattr(t, "special", False) and len(t.content) > 1]


def _row_text_checks(audit: DataAudit, special: list[str]) -> None:
    """The checks of row_text_checks over every row: indexes in `found`, what they found in `seen`."""
    for name in ("placeholders", "template_markers", "duplicated_system"):
        audit.found[name], audit.seen[name] = [], {}
    for i, example in enumerate(audit.prepared.examples):
        texts = checks.own_texts(example)
        hits = {"placeholders": [p for t in texts for p in checks.placeholders(t, special)],
                "template_markers": [] if "text" in example else
                [m for t in texts for m in checks.template_markers(t, special)],
                "duplicated_system": ["system"] if "messages" in example and
                checks.duplicated_system(example["messages"]) else []}
        for name, what in hits.items():
            if what:
                audit.found[name].append(i)
                for item in dict.fromkeys(what):
                    audit.seen[name][item] = audit.seen[name].get(item, 0) + 1


def _turn_counts(audit: DataAudit) -> dict[str, int]:
    """Assistant turns and tool-call turns present and trained (at least one token learned, after the cut):
    how a user sees that function calls are learned, not only read."""
    out = dict.fromkeys(("assistant_turns", "assistant_turns_trained", "tool_calls", "tool_calls_trained"), 0)
    for example, rendered, row in zip(audit.prepared.examples, audit.rendered, audit.rows, strict=True):
        for message, turn in zip(example.get("messages", ()), rendered.turns, strict=False):
            if message["role"] != "assistant":
                continue
            learned = _turn_trained(turn.start, turn.end, rendered, row, audit.max_length)
            kind = "tool_calls" if message.get("tool_calls") else "assistant_turns"
            out[kind] += 1
            out[kind + "_trained"] += learned
    return out


def _turn_trained(start: int, end: int, rendered: Rendered, row: TokenizedRow, max_length: int) -> bool:
    """Whether a token starting inside [start, end) and inside a trained span survives the cut."""
    cut = row.starts[max_length] if len(row.starts) > max_length else len(rendered.text) + 1
    for span_start, span_end in rendered.trained:
        low, high = max(start, span_start), min(end, span_end, cut)
        k = bisect_left(row.starts, low)
        if low < high and k < len(row.starts) and row.starts[k] < high:
            return True
    return False


def _where(audit: DataAudit, indexes: list[int]) -> str:
    return audit.prepared.where_many(indexes)


def _line(audit: DataAudit, indexes: list[int]) -> int | None:
    return audit.prepared.origins[indexes[0]][1] if audit.prepared.origins else None


def _messages(audit: DataAudit) -> None:
    n, source, limit = len(audit.rows), audit.prepared.source, audit.max_length
    nothing = audit.found["train_on_nothing"]
    if nothing:
        cut = sum(1 for i in nothing if audit.rows[i].trained_uncut)
        why = (f"{cut} of them have their answers past data.max_length {limit}" if cut else
               "their answers are empty or the template leaves no assistant turn to train")
        message = (f"{len(nothing)} of {n} rows ({_pct(len(nothing), n)}; {_where(audit, nothing)}) train on "
                   f"nothing: {why}; `tuner data RECIPE --row N` shows one")
        hint = "raise data.max_length or shorten those prompts" if cut else \
            "check data.format, data.columns, data.roles and data.train_on"
        problem = Problem(source, message, key="data.max_length" if cut else "data.train_on",
                          line=_line(audit, nothing), hint=hint)
        if len(nothing) > n * BLOCK_SHARE:
            audit.blocking.append(problem)
        else:
            audit.problems.append(Problem(source, message, key=problem.key, line=problem.line, hint=hint,
                                          severity="warning"))
    cut_rows = audit.found["cut_before_end"]
    if cut_rows:
        longest = max(audit.rows[i].tokens for i in cut_rows)
        audit.problems.append(Problem(
            source, f"{len(cut_rows)} of {n} rows ({_pct(len(cut_rows), n)}; {_where(audit, cut_rows)}) have an "
            f"answer cut before its end by data.max_length {limit} (the longest of them is {longest} tokens): the "
            "model learns to stop mid-answer", key="data.max_length", line=_line(audit, cut_rows),
            hint="raise data.max_length (activation memory grows with it) or drop those rows", severity="warning"))


ROW_TEXT_MESSAGES = {
    "placeholders": ("hold unrendered placeholders ({seen}): the model learns them literally",
                     "fill them in before training (LLaMA-Factory's identity.json expects {{name}} and {{author}} "
                     "replaced by your model's name and yours)"),
    "template_markers": ("hold chat-template markers in their own text ({seen}): they look rendered already and "
                         "will be rendered a second time, and special tokens in text tokenize as control tokens",
                         "give the raw turns (data.format: sharegpt or messages), or data.format: text for text "
                         "rendered on purpose"),
    "duplicated_system": ("say their system prompt twice (a system column and a system turn, a system turn "
                          "repeated, or the system text pasted into a turn)",
                          "keep one: drop the system column or the system turns"),
}


def _row_text_messages(audit: DataAudit) -> None:
    n, source = len(audit.rows), audit.prepared.source
    for name, (what, hint) in ROW_TEXT_MESSAGES.items():
        rows = audit.found[name]
        if not rows:
            continue
        common = sorted(audit.seen[name], key=lambda item: -audit.seen[name][item])
        seen = ", ".join(common[:4]) + (", ..." if len(common) > 4 else "")
        audit.problems.append(Problem(source, f"{len(rows)} of {n} rows ({_pct(len(rows), n)}; "
                                      f"{_where(audit, rows)}) " + what.format(seen=seen), key="data.path",
                                      line=_line(audit, rows), hint=hint, severity="warning"))
    turns = audit.turns
    if turns.get("tool_calls") and not turns.get("tool_calls_trained"):
        cut = audit.text.renderer.train_on == "assistant"      # then only the cut at max_length can lose them
        audit.problems.append(Problem(source, f"{turns['tool_calls']} tool-call turns are read but none is "
                                      "trained: the model never learns to call the functions",
                                      key="data.max_length" if cut else "data.train_on",
                                      hint="the calls lie past data.max_length: raise it" if cut else
                                      "data.train_on: assistant trains every assistant turn, tool calls "
                                      "included", severity="warning"))
