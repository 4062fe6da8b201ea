"""Fixes tuner can propose for a failed run, as `--set` overrides (pure: the worker and the supervisor both
propose them). The OOM fix keeps the effective batch the same."""

from __future__ import annotations

from tuner_tui.domain.recipe import Recipe


def oom_fix(recipe: Recipe) -> dict[str, object]:
    """Halve batch and double grad_accum (same effective batch), checkpoint activations, LoRA -> QLoRA."""
    train, fix = recipe.train, dict[str, object]()
    if train.batch_size > 1:
        fix["train.batch_size"] = train.batch_size // 2
        fix["train.grad_accum"] = train.grad_accum * 2
    if not train.gradient_checkpointing and recipe.method.kind != "prefix":    # prefix cannot checkpoint
        fix["train.gradient_checkpointing"] = True
    if recipe.method.kind in ("lora", "dora") and recipe.quantization is None:
        fix["method.kind"] = "qlora"
    return fix


def as_sets(fix: dict[str, object]) -> str:
    """The fix as command-line overrides: `--set train.batch_size=2 --set ...`."""
    return " ".join(f"--set {k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fix.items())
