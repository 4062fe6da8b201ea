"""Pre-flight: what must be true before a worker starts. Blocking problems raise; the rest are warnings.
Those `--force` launches past (rows that train on nothing, a run that does not fit) are all collected first
and raise PreflightBlocked, which carries the whole pre-flight (the cockpit shows its rows and can launch anyway).

Cheap by design (no torch): the model source is checked without loading it; local data is read and formatted
with the same pure code the worker uses, so bad rows are refused here, naming file and line; the data lints
count what will hurt (duplicates, empty answers, truncation by max_length, suspicious column mappings); and
the VRAM estimate is compared with the chosen GPU's free memory, so a run that cannot fit is stopped with
the cheapest change that fits (unless forced) instead of failing an hour in."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from tuner_tui.domain.data_audit import DataAudit, audit
from tuner_tui.domain.data_lints import lint_data
from tuner_tui.domain.dataset_rows import PreparedData, is_local, prepare_local
from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.model_sources import check_source, hub_offline, uncached_hub_model
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe
from tuner_tui.domain.token_counts import (
    RENDER_MAX_CHARS,
    RENDER_TIME_S,
    TemplateLimit,
    model_folder,
)
from tuner_tui.domain.training_text import RenderError, TrainingText, render_dataset, renderer, training_text
from tuner_tui.domain.yaml_source import parse
from tuner_tui.runtime.home import Home

FEW_ROWS = 100
EXACT_COUNT_ROWS = 20_000      # above this, truncation is estimated (~4 chars/token): exact counting of 100k
                               # rows costs ~14 s on 2 cores, too long to wait for before every launch


@dataclass
class Preflight:
    data: PreparedData | None
    warnings: list[Problem] = field(default_factory=list)
    estimate: Any = None          # runtime.estimate.RecipeEstimate, when the model is known offline
    samples: list[str] = field(default_factory=list)
    text: TrainingText | None = None      # how rows render and tokenize, when the model's tokenizer is here
    audit: DataAudit | None = None        # the rendered, tokenized rows and their counts
    blocking: list[Problem] = field(default_factory=list)   # what stops the launch unless forced

    def launch_anyway(self) -> Preflight:
        """What `--force` does: the blocking problems become warnings that say the launch went ahead."""
        self.warnings += [Problem(p.file, p.message + " (launching anyway: --force)", key=p.key, line=p.line,
                                  hint=p.hint, severity="warning") for p in self.blocking]
        self.blocking = []
        return self


class PreflightBlocked(ProblemsFound):
    """Problems that `--force` launches past (data that trains on nothing, a run that does not fit the GPU),
    raised with the whole pre-flight, so a viewer can show the rows behind them and launch anyway."""

    def __init__(self, checked: Preflight):
        super().__init__([Problem(p.file, p.message, key=p.key, line=p.line,
                                  hint=(p.hint + "; " if p.hint else "") + "or launch anyway with --force")
                          for p in checked.blocking])
        self.checked = checked


def preflight(loaded: LoadedRecipe, home: Home | None = None, force: bool = False) -> Preflight:
    home = home or Home.default()
    recipe, name = loaded.recipe, str(loaded.path or "<recipe>")
    errors: list[Problem] = []
    warnings = list(loaded.warnings)
    source, line = recipe.model.source, _source_line(loaded)
    problem = check_source(source, loaded.base_dir)
    if problem:
        errors.append(Problem(name, problem.message, key="model.source", line=line, hint=problem.suggestion))
    elif uncached := uncached_hub_model(source, loaded.base_dir, recipe.model.revision):
        (errors if hub_offline() else warnings).append(
            Problem(name, uncached.message, key="model.source", line=line, hint=uncached.suggestion,
                    severity="error" if hub_offline() else "warning"))
    data = None
    if is_local(recipe.data.path, loaded.base_dir):
        try:
            data = prepare_local(recipe.data, loaded.base_dir, recipe.train.seed)
        except ProblemsFound as found:
            errors += found.problems
    if errors:
        raise ProblemsFound(errors)
    checked = Preflight(data, warnings)
    if recipe.model.trust_remote_code:
        warnings.append(Problem(name, "runs Python code from the model repository (trust_remote_code: true)",
                                key="model.trust_remote_code", severity="warning"))
    if data is not None:
        _data_checks(checked, loaded, home, name)
    _memory_checks(checked, loaded, home, name)
    if checked.blocking and not force:
        raise PreflightBlocked(checked)
    xray = checked.audit
    if xray is not None and len(xray.found["train_on_nothing"]) == len(xray.rows):
        # --force launches past a few rows that train on nothing; with none left, the worker could only fail.
        raise ProblemsFound([Problem(p.file, p.message, key=p.key, line=p.line,
                                     hint=(p.hint + "; " if p.hint else "") + "--force cannot help: not one row "
                                     "would train") for p in xray.blocking])
    return checked.launch_anyway()


def _source_line(loaded: LoadedRecipe) -> int | None:
    """The line of model.source in the recipe file, unless --set replaced it (then no line names it)."""
    if loaded.path is None:
        return None
    try:
        doc = parse(loaded.path.read_text(encoding="utf-8"), str(loaded.path))
    except (OSError, UnicodeDecodeError):
        return None
    written = (doc.data or {}).get("model") if isinstance(doc.data, dict) else None
    if not isinstance(written, dict) or written.get("source") != loaded.recipe.model.source:
        return None
    position = doc.values.get(("model", "source"))
    return position[0] if position else None


def _data_checks(checked: Preflight, loaded: LoadedRecipe, home: Home, name: str) -> None:
    recipe, data = loaded.recipe, checked.data
    assert data is not None
    try:
        checked.text = text = training_text(recipe.data, model_folder(
            recipe.model.source, loaded.base_dir, home.models_dir, recipe.model.revision), name)
        exact = text is not None and data.rows <= EXACT_COUNT_ROWS
        if exact:
            assert text is not None
            checked.audit = audit(data, text, render_dataset(text, data), recipe.data.max_length)
        lints = lint_data(data, recipe.data, truncation=not exact)
    except TemplateLimit as limit:
        raise ProblemsFound([template_problem(loaded, name, limit)]) from None
    found = checked.audit
    order = data.train_index or list(range(data.rows))
    if found is not None:
        checked.samples = [found.rendered[i].text for i in order[:2]]
        lints += found.problems
        checked.blocking += found.blocking
    else:
        checked.samples = _samples(checked, loaded, name, order[:2])
    # The lints name the lines of empty answers; the reader's bare count would say the same thing twice.
    repeats = "empty answer" if any("empty answer" in p.message for p in lints) else None
    checked.warnings += [p for p in data.warnings if not (repeats and repeats in p.message)] + lints
    if data.rows < FEW_ROWS:
        checked.warnings.append(Problem(data.source, f"only {data.rows} rows: fine-tuning on fewer than "
                                        f"{FEW_ROWS} examples rarely beats a good prompt", severity="warning"))
    if not data.eval_index:
        checked.warnings.append(Problem(name, "no held-out rows (data.val_split: 0): no eval loss, no "
                                        "overfitting watch", key="data.val_split", severity="warning"))


def _samples(checked: Preflight, loaded: LoadedRecipe, name: str, picked: list[int]) -> list[str]:
    """Two rows rendered without the audit (too many rows, or no tokenizer here: then without the model's own
    template and special tokens, which only the worker has), or none when they cannot be rendered here."""
    assert checked.data is not None
    try:
        how = checked.text.renderer if checked.text else renderer(loaded.recipe.data, None, "", "", False, name)
        return [how.render(checked.data.examples[i]).text for i in picked]
    except (ProblemsFound, RenderError, TemplateLimit):
        return []


def template_problem(loaded: LoadedRecipe, name: str, limit: TemplateLimit) -> Problem:
    """The bound a chat template passed, at the recipe's data.chat_template line (or the model's template)."""
    if not loaded.recipe.data.chat_template:
        return Problem(name, f"{limit} (the model's own chat template)", key="model.source",
                       hint="set data.chat_template (e.g. chatml) to use another one")
    line = None
    if loaded.path is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = loaded.path.read_text(encoding="utf-8")
            found = re.search(r"^[ \t{]*chat_template\s*:", text, re.MULTILINE) or \
                re.search(r"chat_template\s*:", text)
            line = text.count("\n", 0, found.start()) + 1 if found else None
    return Problem(name, str(limit), key="data.chat_template", line=line,
                   hint=f"a template renders a row in milliseconds; the bounds are {RENDER_TIME_S:g} s and "
                   f"{RENDER_MAX_CHARS:,} characters a row: simplify its loops, or use a named one (chatml)")


def _memory_checks(checked: Preflight, loaded: LoadedRecipe, home: Home, name: str) -> None:
    """The estimate against the first GPU's free memory; other processes on that GPU."""
    from tuner_tui.runtime.estimate import estimate_recipe

    recipe = loaded.recipe
    try:
        found = estimate_recipe(loaded, home, checked.data.rows if checked.data else None)
    except ProblemsFound as unknown:
        checked.warnings.append(Problem(name, f"no memory estimate: {unknown.problems[0].message}",
                                        key="model.source", severity="warning"))
        return
    checked.estimate = found
    gpu, kind = found.gpu, recipe.method.kind
    if gpu is None or kind not in found.fits:
        return
    others = [p for p in getattr(gpu, "processes", []) or [] if not p.run_id]
    if others:
        listing = ", ".join(f"pid {p.pid} {p.name or '?'} ({human_bytes(p.used_memory)})" for p in others[:5])
        checked.warnings.append(Problem(name, f"other processes hold memory on GPU {gpu.index}: {listing}",
                                        severity="warning"))
    fits, change = found.fits[kind]
    if fits:
        return
    need, free = found.estimates[kind].total_bytes, gpu.memory_free
    message = (f"{kind} needs ~{human_bytes(need)} but GPU {gpu.index} ({gpu.name}) has {human_bytes(free)} "
               "free")
    hint = f"the cheapest change that fits: {change}" if change else "no single setting is enough: a " \
        "smaller model, a shorter max_length or more GPUs"
    checked.blocking.append(Problem(name, message, key="method.kind", hint=hint))
