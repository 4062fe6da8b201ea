"""`tuner estimate RECIPE`: peak GPU memory for full, LoRA and QLoRA side by side, against the GPU's free memory.

Pure arithmetic (tuner_tui.domain.vram_estimate) on an architecture found offline (built-in table, local
config.json, Hugging Face cache). No torch; the GPU is read through the NVML sampler when there is one."""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from tuner_tui.commands.common import out, print_json, print_problems
from tuner_tui.domain.methods import label as method_label
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe
from tuner_tui.domain.vram_estimate import VramEstimate, gib, param_count
from tuner_tui.runtime.estimate import estimate_recipe
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.recipe_catalog import resolve_recipe

ROWS = (("weights", ("weights",)), ("gradients", ("gradients",)), ("optimizer", ("optimizer",)),
        ("activations", ("activations",)), ("logits (loss head)", ("logits",)),
        ("CUDA context+overhead", ("cuda_context", "overhead")))


def _data_rows(loaded: LoadedRecipe) -> int | None:
    """Rows of a local data file (the recommendation's "try prompting first" needs the count)."""
    from tuner_tui.domain.dataset_rows import is_local, prepare_local

    recipe = loaded.recipe
    if not is_local(recipe.data.path, loaded.base_dir):
        return None
    try:
        return prepare_local(recipe.data, loaded.base_dir, recipe.train.seed).rows
    except ProblemsFound:
        return None


def cmd_estimate(args: argparse.Namespace) -> int:
    home = Home.default()
    loaded = load_recipe(resolve_recipe(args.recipe, home), args.overrides)
    recipe = loaded.recipe
    found = estimate_recipe(loaded, home, _data_rows(loaded))
    if args.json:
        print_json(found.to_document(recipe.model.source))
        return 0
    print_problems(loaded.warnings)
    _print_table(recipe.method.kind, found.arch, found.estimates, found.corrections)
    command = " ".join(["tuner run", args.recipe, *(f"--set {o}" for o in args.overrides)])
    _print_fit(command, recipe.method.kind, found.gpu, found.gpu_reason, found.estimates, found.fits)
    rec = found.recommendation
    if rec is not None:
        out.print(Text.assemble(("Recommendation:", "bold"), f" {method_label(rec.method)}: {rec.reason}"))
    return 0


def _print_table(kind: str, arch, estimates: dict[str, VramEstimate], corrections) -> None:
    s = estimates[kind].settings
    table = Table(title=f"Peak GPU memory: {arch.name} ({_count(param_count(arch))} params)",
                  title_justify="left")
    table.add_column("", no_wrap=True)
    for m in estimates:
        table.add_column(f"{method_label(m)} *" if m == kind else method_label(m), justify="right",
                         no_wrap=True, style="bold" if m == kind else None)
    for label, keys in ROWS:
        table.add_row(label, *(gib(sum(e.breakdown[k] for k in keys)) for e in estimates.values()))
    table.add_row("trainable params", *(_count(e.trainable_params) for e in estimates.values()))
    table.add_row(Text("total", style="bold"), *(Text(gib(e.total_bytes), style="bold") for e in estimates.values()))
    out.print(table)
    checkpointing = "on" if s.gradient_checkpointing else "off"
    out.print(f"* the recipe's method. Batch {s.batch_size} × {s.seq_len} tokens, gradient checkpointing "
              f"{checkpointing}, optimizer {s.optimizer}. Figures: {arch.figures_from}.", markup=False)
    for m, c in corrections.items():
        out.print(f"{method_label(m)}: scaled by {c.ratio:.2f}, the median measured/estimated peak of {c.runs} past "
                  "run(s) of this model and method.", markup=False)


def _print_fit(command: str, kind: str, gpu, reason: str | None, estimates, fits) -> None:
    if gpu is None:
        out.print(f"GPU: none to compare with ({reason}).", markup=False)
        return
    free = gpu.memory_free
    fitting = [method_label(m) for m, (ok, _) in fits.items() if ok]
    out.print(f"GPU {gpu.index} {gpu.name}: {gib(free)} free. Fits: {', '.join(fitting) or 'none'}.", markup=False)
    ok, change = fits[kind]
    if not ok:
        advice = f"{command} {change}" if change else "no single setting is enough: a smaller model or more GPUs"
        out.print(f"The recipe's {method_label(kind)} needs {gib(estimates[kind].total_bytes)}. To fit: {advice}",
                  markup=False)


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)
