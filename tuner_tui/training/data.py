"""Training data in the worker: the same pure preparation, rendering and tokenizing pre-flight and `tuner data`
ran (domain/training_text), then `datasets` objects of `input_ids` and `labels`.

trl gets the rows tokenized, with their labels: it then neither renders, tokenizes nor masks anything itself,
so what the X-ray showed is what trains, token for token. Rows that train on nothing are dropped (pre-flight
refused the launch over 5% of them unless forced; trl would drop them too, silently).

Hub ids are loaded through `datasets.load_dataset` (real users have the hub) and checked row by row with the
same formatter as local files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

from tuner_tui.domain.data_audit import DataAudit, audit
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
from tuner_tui.domain.token_counts import model_folder
from tuner_tui.domain.training_text import TrainingText, render_dataset, training_text, training_text_of


@dataclass
class TrainingData:
    prepared: PreparedData
    train: Dataset
    eval: Dataset | None
    truncated: int              # rows longer than data.max_length
    text: TrainingText          # the template saved with the outputs
    audit: DataAudit
    dropped: int                # rows that train on nothing, left out


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


def worker_text(recipe: Recipe, base_dir: Path, model_path: str, tokenizer, source: str,
                models_dir: Path) -> TrainingText:
    """The model's tokenizer.json and template, read as pre-flight reads them; a model without tokenizer.json (a
    slow tokenizer converted on load) falls back to the loaded tokenizer's own backend."""
    path = Path(model_path)
    folder = path if path.is_dir() else model_folder(recipe.model.source, base_dir, models_dir, recipe.model.revision)
    found = training_text(recipe.data, folder, source)
    if found is not None:
        return found
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ProblemsFound([Problem(source, "the model's tokenizer has no fast (tokenizers) version, which "
                                     "tuner needs to mask the loss per token", key="model.source",
                                     hint="use a model folder with tokenizer.json")])
    return training_text_of(recipe.data, backend, tokenizer.chat_template or "", tokenizer.bos_token or "",
                            tokenizer.eos_token or "", source)


def build(recipe: Recipe, base_dir: Path, tokenizer, model_path: str, models_dir: Path) -> TrainingData:
    prepared = load_prepared(recipe, base_dir)
    text = worker_text(recipe, base_dir, model_path, tokenizer, prepared.source, models_dir)
    found = audit(prepared, text, render_dataset(text, prepared), recipe.data.max_length)
    rows = found.rows
    nothing = set(found.found["train_on_nothing"])
    if len(nothing) == len(rows):
        raise ProblemsFound([Problem(prepared.source, f"all {len(rows)} rows train on nothing", key="data.train_on",
                                     hint="`tuner data RECIPE` shows what each row trains")])

    def dataset(indexes: list[int]) -> Dataset | None:
        kept = [{"input_ids": rows[i].ids, "labels": rows[i].labels} for i in indexes if i not in nothing]
        return Dataset.from_list(kept) if kept else None

    train = dataset(prepared.train_index)
    if train is None:
        raise ProblemsFound([Problem(prepared.source, "no training row trains on anything", key="data.train_on")])
    return TrainingData(prepared, train, dataset(prepared.eval_index), len(found.found["longer_than_max_length"]),
                        text, found, len(nothing))
