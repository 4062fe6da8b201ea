"""The audit of a whole data set as the model will see it: counts over the rendered, tokenized rows.

Runs on exactly what the worker trains on (training_text), so its counts are the worker's: rows that train on
nothing, answers cut by max_length, tokens in all. Pre-flight blocks a launch when more than BLOCK_SHARE of the
rows would train on nothing (`--force` launches anyway); `tuner data` prints it with the rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuner_tui.domain.dataset_rows import PreparedData
from tuner_tui.domain.problems import Problem
from tuner_tui.domain.training_text import Rendered, TokenizedRow, TrainingText, segments, tokenize

BLOCK_SHARE = 0.05          # rows training on nothing above this share block the launch
SHOWN = 3                   # example lines named per message
HISTOGRAM_EDGES = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


@dataclass
class DataAudit:
    prepared: PreparedData
    text: TrainingText
    rendered: list[Rendered]
    rows: list[TokenizedRow]
    max_length: int
    found: dict[str, list[int]] = field(default_factory=dict)      # check -> example indexes (0-based)
    problems: list[Problem] = field(default_factory=list)          # warnings
    blocking: list[Problem] = field(default_factory=list)          # refuse the launch unless forced

    def counts(self) -> dict:
        """The audit's figures, as `tuner data --json` gives them under "audit"."""
        out: dict = {name: len(indexes) for name, indexes in self.found.items()}
        out["tokens"] = sum(r.tokens for r in self.rows)
        out["trained_tokens"] = sum(r.trained_tokens for r in self.rows)
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
    _messages(found)
    return found


def _where(audit: DataAudit, indexes: list[int]) -> str:
    origins = audit.prepared.origins
    has_lines = bool(origins) and origins[indexes[0]][1] is not None
    numbers = [origins[i][1] if has_lines else (origins[i][0] if origins else i + 1) for i in indexes[:SHOWN]]
    word = "line" if has_lines else "row"
    return f"{word}{'s' if len(indexes) > 1 else ''} " + ", ".join(map(str, numbers)) + \
        (", ..." if len(indexes) > SHOWN else "")


def _line(audit: DataAudit, indexes: list[int]) -> int | None:
    return audit.prepared.origins[indexes[0]][1] if audit.prepared.origins else None


def _pct(count: int, total: int) -> str:
    share = count / total
    return "<1%" if 0 < share < 0.01 else f"{share:.0%}"


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
            f"answer cut before its end by data.max_length {limit} (the longest row is {longest} tokens): the "
            "model learns to stop mid-answer", key="data.max_length", line=_line(audit, cut_rows),
            hint="raise data.max_length (activation memory grows with it) or drop those rows", severity="warning"))
