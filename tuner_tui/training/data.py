"""Training data in the worker: the same pure preparation pre-flight ran, then `datasets` objects.

Hub ids are loaded through `datasets.load_dataset` (real users have the hub) and checked row by row with the
same formatter as local files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

from tuner_tui.domain.dataset_rows import (
    PreparedData,
    Row,
    is_local,
    is_local_folder,
    local_path,
    prepare_local,
    prepare_rows,
)
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import Recipe


@dataclass
class TrainingData:
    prepared: PreparedData
    train: Dataset
    eval: Dataset | None
    truncated: int


def load_prepared(recipe: Recipe, base_dir: Path) -> PreparedData:
    spec, seed = recipe.data, recipe.train.seed
    if is_local(spec.path, base_dir):
        return prepare_local(spec, base_dir, seed)
    from datasets import load_dataset

    # The hub path (real users have the hub); a local folder of data files takes the same route.
    source = str(local_path(spec.path, base_dir)) if is_local_folder(spec.path, base_dir) else spec.path
    try:
        dataset = load_dataset(source, split=spec.split)
    except (FileNotFoundError, ValueError) as err:
        raise ProblemsFound([Problem(spec.path, f"cannot load the data set: {str(err).splitlines()[0]}",
                                     key="data.path", hint="a hub id needs network access (HF_TOKEN for "
                                     "private sets); check data.split")]) from None
    rows = (Row(values, i, None) for i, values in enumerate(dataset, start=1))
    return prepare_rows(rows, spec, source, seed)


def _length(example: dict, tokenizer) -> int:
    if "text" in example:
        return len(tokenizer(example["text"]).input_ids)
    if isinstance(example.get("prompt"), str):
        return len(tokenizer(example["prompt"] + example["completion"]).input_ids)
    messages = example.get("messages") or [*example["prompt"], *example["completion"]]
    return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def build(recipe: Recipe, base_dir: Path, tokenizer) -> TrainingData:
    prepared = load_prepared(recipe, base_dir)
    conversational = any("messages" in e or not isinstance(e.get("prompt", ""), str) for e in prepared.examples)
    if conversational and not tokenizer.chat_template:
        raise ProblemsFound([Problem(prepared.source, "the model's tokenizer has no chat template, which "
                                     f"{recipe.data.format} data needs", key="data.chat_template",
                                     hint="set data.chat_template: chatml")])
    truncated = sum(_length(e, tokenizer) > recipe.data.max_length for e in prepared.examples)
    train = Dataset.from_list([prepared.examples[i] for i in prepared.train_index])
    held = Dataset.from_list([prepared.examples[i] for i in prepared.eval_index]) if prepared.eval_index else None
    return TrainingData(prepared, train, held, truncated)
