"""`tuner estimate RECIPE`: peak GPU memory for full, LoRA and QLoRA side by side, against the GPU's free memory.

Pure arithmetic (tuner_tui.domain.vram_estimate) on an architecture found offline (built-in table, local
config.json, Hugging Face cache). No torch; the GPU is read through the NVML sampler when there is one."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from tuner_tui.commands.common import out, print_json, print_problems
from tuner_tui.domain.architectures import ConfigUnreadable, resolve_architecture
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe
from tuner_tui.domain.vram_estimate import (
    Correction,
    VramEstimate,
    apply_correction,
    correction_factor,
    estimate,
    estimate_methods,
    fit_check,
    gib,
    param_count,
    recommend,
    settings_from_recipe,
)
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.recipe_catalog import resolve_recipe

LABELS = {"full": "full", "lora": "LoRA", "qlora": "QLoRA", "dora": "DoRA", "prefix": "prefix"}
ROWS = (("weights", ("weights",)), ("gradients", ("gradients",)), ("optimizer", ("optimizer",)),
        ("activations", ("activations",)), ("logits (loss head)", ("logits",)),
        ("CUDA context+overhead", ("cuda_context", "overhead")))


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
            past = load_recipe(run_dir / "recipe.yaml").recipe
            pairs.append((estimate(arch, settings_from_recipe(past)).allocated_bytes, int(record["peak_memory"])))
        except (ProblemsFound, OSError, ValueError):
            continue
    return pairs


def _ran_on_gpu(run_dir: Path) -> bool:
    try:
        with open(run_dir / "events.jsonl", encoding="utf-8") as fh:
            return any('"type": "memory"' in line and '"device": "cuda"' in line for line in fh)
    except OSError:
        return False


def _data_rows(loaded: LoadedRecipe) -> int | None:
    from tuner_tui.runtime.preflight import preflight

    try:
        data = preflight(loaded).data
    except ProblemsFound:
        return None
    return data.rows if data is not None else None


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


def cmd_estimate(args: argparse.Namespace) -> int:
    home = Home.default()
    loaded = load_recipe(resolve_recipe(args.recipe, home), args.overrides)
    recipe = loaded.recipe
    arch, estimates, corrections = _estimates(loaded, home)
    gpu, gpu_reason = first_gpu()
    free = getattr(gpu, "memory_free", None) if gpu is not None else None
    recommendation = recommend(estimates, free, _data_rows(loaded))
    fits = {m: fit_check(e, free) for m, e in estimates.items()} if free is not None else {}
    if args.json:
        print_json(_document(recipe.model.source, arch, estimates, corrections, gpu, gpu_reason, fits,
                             recommendation))
        return 0
    print_problems(loaded.warnings)
    _print_table(recipe.method.kind, arch, estimates, corrections)
    command = " ".join(["tuner run", args.recipe, *(f"--set {o}" for o in args.overrides)])
    _print_fit(command, recipe.method.kind, gpu, gpu_reason, estimates, fits)
    out.print(f"[bold]Recommendation:[/] {LABELS.get(recommendation.method, recommendation.method)}: "
              f"{recommendation.reason}", markup=True)
    return 0


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
        "recommendation": recommendation.to_dict(),
    }


def _print_table(kind: str, arch, estimates: dict[str, VramEstimate], corrections) -> None:
    s = estimates[kind].settings
    table = Table(title=f"Peak GPU memory: {arch.name} ({param_count(arch) / 1e9:.2f} B params)",
                  title_justify="left")
    table.add_column("", no_wrap=True)
    for m in estimates:
        table.add_column(f"{LABELS[m]} *" if m == kind else LABELS[m], justify="right", no_wrap=True,
                         style="bold" if m == kind else None)
    for label, keys in ROWS:
        table.add_row(label, *(gib(sum(e.breakdown[k] for k in keys)) for e in estimates.values()))
    table.add_row("trainable params", *(_count(e.trainable_params) for e in estimates.values()))
    table.add_row("[bold]total[/]", *(f"[bold]{gib(e.total_bytes)}[/]" for e in estimates.values()))
    out.print(table)
    checkpointing = "on" if s.gradient_checkpointing else "off"
    out.print(f"* the recipe's method. Batch {s.batch_size} × {s.seq_len} tokens, gradient checkpointing "
              f"{checkpointing}, optimizer {s.optimizer}. Figures: {arch.figures_from}.", markup=False)
    for m, c in corrections.items():
        out.print(f"{LABELS[m]}: scaled by {c.ratio:.2f}, the median measured/estimated peak of {c.runs} past "
                  "run(s) of this model and method.", markup=False)


def _print_fit(command: str, kind: str, gpu, reason: str | None, estimates, fits) -> None:
    if gpu is None:
        out.print(f"GPU: none to compare with ({reason}).", markup=False)
        return
    free = gpu.memory_free
    fitting = [LABELS[m] for m, (ok, _) in fits.items() if ok]
    out.print(f"GPU {gpu.index} {gpu.name}: {gib(free)} free. Fits: {', '.join(fitting) or 'none'}.", markup=False)
    ok, change = fits[kind]
    if not ok:
        advice = f"{command} {change}" if change else "no single setting is enough: a smaller model or more GPUs"
        out.print(f"The recipe's {LABELS[kind]} needs {gib(estimates[kind].total_bytes)}. To fit: {advice}",
                  markup=False)


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)
