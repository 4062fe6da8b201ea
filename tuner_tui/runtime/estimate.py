"""Estimating a recipe's peak GPU memory with what this machine knows: the architecture found offline, the
first GPU's free memory (NVML sampler), and the measured peaks of past runs of the same model and method.

The arithmetic is pure (domain.vram_estimate); this module gathers its inputs. `tuner estimate`, pre-flight
and the cockpit's pre-flight view all go through `estimate_recipe`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner_tui.domain.architectures import ConfigUnreadable, resolve_architecture
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.vram_estimate import (
    Correction,
    Recommendation,
    VramEstimate,
    apply_correction,
    correction_factor,
    estimate,
    estimate_methods,
    fit_check,
    param_count,
    recommend,
    settings_from_recipe,
)
from tuner_tui.runtime.home import Home


@dataclass
class RecipeEstimate:
    arch: Any
    estimates: dict[str, VramEstimate]
    corrections: dict[str, Correction]
    gpu: Any | None          # runtime.gpu.GpuInfo (or a stand-in in tests)
    gpu_reason: str | None
    fits: dict[str, tuple[bool, str | None]] = field(default_factory=dict)
    recommendation: Recommendation | None = None

    def to_document(self, source: str) -> dict:
        return _document(source, self.arch, self.estimates, self.corrections, self.gpu, self.gpu_reason,
                         self.fits, self.recommendation)


def estimate_recipe(loaded: LoadedRecipe, home: Home, data_rows: int | None = None) -> RecipeEstimate:
    """Raises ProblemsFound when the model's architecture is not known offline."""
    arch, estimates, corrections = _estimates(loaded, home)
    gpu, gpu_reason = first_gpu()
    free = getattr(gpu, "memory_free", None) if gpu is not None else None
    fits = {m: fit_check(e, free) for m, e in estimates.items()} if free is not None else {}
    return RecipeEstimate(arch, estimates, corrections, gpu, gpu_reason, fits,
                          recommend(estimates, free, data_rows))


def first_gpu() -> tuple[object | None, str | None]:
    """The first visible GPU (the one a single-process run trains on), or None and why not."""
    try:
        from tuner_tui.runtime.gpu import read_gpus
    except ImportError:
        return None, "GPU sampler not available"
    try:
        report = read_gpus()
    except Exception as exc:  # noqa: BLE001 - a broken driver must not break an estimate
        return None, f"GPU sampler failed: {exc}"
    gpus = list(getattr(report, "gpus", None) or [])
    if not gpus:
        return None, getattr(report, "reason", None) or "no GPU found"
    return gpus[0], None


def _peak_pairs(home: Home, model: str, method: str, arch) -> list[tuple[int, int]]:
    """(estimate, measured peak) for finished past runs of this model and method, re-estimated from their
    saved recipe.yaml. Only GPU peaks count (CPU runs report process RSS)."""
    from tuner_tui.runtime.store import RunStore

    pairs = []
    for record in RunStore(home).all():
        if (record.get("model"), record.get("method")) != (model, method) or not record.get("peak_memory"):
            continue
        if record.get("status") not in ("finished", "stopped"):
            continue
        run_dir = Path(record.get("run_dir") or home.run_dir(record["id"]))
        if not _ran_on_gpu(run_dir):
            continue
        try:
            past = load_recipe(RunDir(run_dir).recipe).recipe
            pairs.append((estimate(arch, settings_from_recipe(past)).allocated_bytes, int(record["peak_memory"])))
        except (ProblemsFound, OSError, ValueError):
            continue
    return pairs


def _ran_on_gpu(run_dir: Path) -> bool:
    try:
        with open(RunDir(run_dir).events, encoding="utf-8") as fh:
            return any('"type": "memory"' in line and '"device": "cuda"' in line for line in fh)
    except OSError:
        return False


def _unknown_model(loaded: LoadedRecipe, message: str) -> ProblemsFound:
    return ProblemsFound([Problem(
        str(loaded.path or "<recipe>"), message, key="model.source",
        hint="give a local model folder with config.json (--set model.source=./my-model), or use a known id "
             "such as meta-llama/Llama-3.1-8B-Instruct or Qwen/Qwen2.5-7B-Instruct; a model already in the "
             "Hugging Face cache is read from there")])


def _estimates(loaded: LoadedRecipe, home: Home):
    recipe = loaded.recipe
    source = recipe.model.source
    try:
        arch = resolve_architecture(source, loaded.base_dir, home.models_dir, recipe.model.revision)
    except ConfigUnreadable as exc:
        raise _unknown_model(loaded, str(exc)) from None
    if arch is None:
        raise _unknown_model(loaded, f"model {source!r} is not known offline: not in the built-in table, no "
                             "local config.json, not in the Hugging Face cache")
    try:
        estimates = estimate_methods(arch, settings_from_recipe(recipe))
    except ValueError as exc:
        raise ProblemsFound([Problem(str(loaded.path or "<recipe>"), str(exc),
                                     key="method.lora.target_modules")]) from None
    corrections: dict[str, Correction] = {}
    for method, est in estimates.items():
        found = correction_factor(_peak_pairs(home, source, method, arch))
        if found is not None:
            corrections[method] = found
            estimates[method] = apply_correction(est, found)
    return arch, estimates, corrections


def _document(source, arch, estimates, corrections, gpu, gpu_reason, fits, recommendation) -> dict:
    methods = {}
    for m, e in estimates.items():
        entry = e.to_dict()
        entry["correction"] = corrections[m].to_dict() if m in corrections else None
        if m in fits:
            entry["fits"], entry["cheapest_change"] = fits[m]
        methods[m] = entry
    if gpu is None:
        gpu_doc: dict = {"available": False, "reason": gpu_reason}
    else:
        gpu_doc = {"available": True, **{k: getattr(gpu, k, None) for k in
                                         ("index", "name", "memory_total", "memory_used", "memory_free")}}
    return {
        "model": {"name": arch.name, "source": source, "params": param_count(arch),
                  "figures_from": arch.figures_from, "model_type": arch.model_type,
                  "hidden_size": arch.hidden_size, "num_hidden_layers": arch.num_hidden_layers,
                  "vocab_size": arch.vocab_size},
        "methods": methods,
        "gpu": gpu_doc,
        "recommendation": recommendation.to_dict() if recommendation else None,
    }
