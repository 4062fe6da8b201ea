"""Fixes tuner can propose for a failed run, as `--set` overrides (pure: the worker and the supervisor both
propose them). The OOM fix keeps the effective batch the same."""

from __future__ import annotations

from tuner_tui.domain.methods import method
from tuner_tui.domain.recipe import Recipe

DISK_FULL_FIX = ("free space in TUNER_HOME (old runs' checkpoints: `tuner rm RUN --files`) or lower "
                 "train.save_total_limit")


def oom_fix(recipe: Recipe) -> dict[str, object]:
    """Halve batch and double grad_accum (same effective batch), checkpoint activations where the method can,
    LoRA/DoRA -> QLoRA (the registry's `to_qlora`). Switching full fine-tuning to LoRA changes what is trained,
    so a failed run is not told to; `tuner estimate` proposes it."""
    train, fix = recipe.train, dict[str, object]()
    if train.batch_size > 1:
        fix["train.batch_size"] = train.batch_size // 2
        fix["train.grad_accum"] = train.grad_accum * 2
    m = method(recipe.method.kind)
    if not train.gradient_checkpointing and m.checkpointable:
        fix["train.gradient_checkpointing"] = True
    if "to_qlora" in m.oom_fixes and recipe.quantization is None:
        fix["method.kind"] = "qlora"
    return fix


def as_sets(fix: dict[str, object]) -> str:
    """The fix as command-line overrides: `--set train.batch_size=2 --set ...`."""
    return " ".join(f"--set {k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fix.items())
