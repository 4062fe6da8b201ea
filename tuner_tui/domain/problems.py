"""A Problem is one thing wrong (or suspicious) in a user's input, located precisely enough to fix.

Every error a user sees about a recipe or a data file is a Problem: file, line, column, key path, what was
found, what was expected and a "did you mean". They are collected and reported together, never one at a time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    key: str = ""
    line: int | None = None
    column: int | None = None
    expected: str | None = None
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: "
        if self.key:
            text += f"{self.key}: "
        text += self.message
        if self.expected:
            text += f" (expected {self.expected})"
        if self.hint:
            text += f". {self.hint}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


class ProblemsFound(Exception):
    """Raised with every problem found, so the user sees them all at once."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


# Names people bring from the seed's LoraConfig / TrainingArguments / BitsAndBytesConfig.
KNOWN_ALIASES = {
    "rank": "r", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout", "target": "target_modules",
    "num_train_epochs": "epochs", "per_device_train_batch_size": "batch_size", "lr": "learning_rate",
    "gradient_accumulation_steps": "grad_accum", "lr_scheduler_type": "scheduler", "optim": "optimizer",
    "warmup": "warmup_ratio", "bnb_4bit_quant_type": "quant_type", "bnb_4bit_use_double_quant": "double_quant",
    "bnb_4bit_compute_dtype": "compute_dtype", "load_in_4bit": "bits", "load_in_8bit": "bits",
    "model_name": "source", "model_id": "source", "dataset": "path", "max_seq_length": "max_length",
    "save_strategy": "save", "method": "kind", "type": "kind", "torch_dtype": "dtype",
}


def did_you_mean(word: object, choices: Iterable[object]) -> str | None:
    """'did you mean ...?' for a typo, or None when nothing is close."""
    options = [str(c) for c in choices]
    alias = KNOWN_ALIASES.get(str(word))
    if alias in options:
        return f"did you mean '{alias}'?"
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        if str(word).lower() in lowered:
            close = [lowered[str(word).lower()]]
    return f"did you mean '{close[0]}'?" if close else None
