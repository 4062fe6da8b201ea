"""Pre-flight: what must be true before a worker starts. Blocking problems raise; the rest are warnings.

Cheap by design (no torch): the model source is checked without loading it, and local data is read and
formatted with the same pure code the worker uses, so bad rows are refused here, naming file and line."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuner_tui.domain.dataset_rows import PreparedData, is_local, prepare_local
from tuner_tui.domain.model_sources import check_source
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe

FEW_ROWS = 100


@dataclass
class Preflight:
    data: PreparedData | None
    warnings: list[Problem] = field(default_factory=list)


def preflight(loaded: LoadedRecipe) -> Preflight:
    recipe, name = loaded.recipe, str(loaded.path or "<recipe>")
    errors: list[Problem] = []
    warnings = list(loaded.warnings)
    problem = check_source(recipe.model.source, loaded.base_dir)
    if problem:
        errors.append(Problem(name, problem.message, key="model.source", hint=problem.suggestion))
    data = None
    if is_local(recipe.data.path, loaded.base_dir):
        try:
            data = prepare_local(recipe.data, loaded.base_dir, recipe.train.seed)
            warnings += data.warnings
        except ProblemsFound as found:
            errors += found.problems
    if errors:
        raise ProblemsFound(errors)
    if recipe.model.trust_remote_code:
        warnings.append(Problem(name, "runs Python code from the model repository (trust_remote_code: true)",
                                key="model.trust_remote_code", severity="warning"))
    if data is not None and data.rows < FEW_ROWS:
        warnings.append(Problem(data.source, f"only {data.rows} rows: fine-tuning on fewer than {FEW_ROWS} "
                                "examples rarely beats a good prompt", severity="warning"))
    if data is not None and not data.eval_index:
        warnings.append(Problem(name, "no held-out rows (data.val_split: 0): no eval loss, no overfitting "
                                "watch", key="data.val_split", severity="warning"))
    return Preflight(data, warnings)
