"""Why a run failed, in the user's words, with the cheapest fix we can name.

Each cause maps to one of the contract's failure causes (oom, nan_loss, data_error, model_not_found,
disk_full, killed, error). The OOM suggestion is a concrete recipe change that keeps the effective batch."""

from __future__ import annotations

import errno
import traceback
from dataclasses import dataclass, field

from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe import Recipe


@dataclass
class Failure:
    cause: str
    message: str
    suggestion: str
    fix: dict[str, object] = field(default_factory=dict)       # --set overrides that apply the suggestion
    traceback_tail: str = ""


class NanLoss(Exception):
    pass


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


def _sets(fix: dict[str, object]) -> str:
    return " ".join(f"--set {k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fix.items())


def classify(exc: BaseException, recipe: Recipe | None, run_id: str) -> Failure:
    tail = "".join(traceback.format_exception(exc)[-12:])
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if isinstance(exc, ProblemsFound):
        return Failure("data_error", "\n".join(p.format() for p in exc.problems),
                       "fix the rows named above (or data.columns / data.format) and relaunch", traceback_tail=tail)
    if isinstance(exc, NanLoss):
        return Failure("nan_loss", str(exc), "lower train.learning_rate (e.g. halve it), or use precision: bf16 "
                       "instead of fp16; the last good checkpoint is kept", {}, tail)
    if _is_oom(exc, lowered):
        fix = oom_fix(recipe) if recipe else {}
        relaunch = f"tuner relaunch {run_id} {_sets(fix)}" if fix else "use a smaller model or shorter max_length"
        return Failure("oom", f"out of memory: {exc}".strip(), f"try: {relaunch}", fix, tail)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Failure("disk_full", f"disk full: {exc}", "free space in TUNER_HOME (old runs' checkpoints: "
                       "`tuner rm RUN --files`) or lower train.save_total_limit", traceback_tail=tail)
    if _is_model_missing(exc, lowered):
        return Failure("model_not_found", f"model not found: {exc}".strip(), "check model.source: a hub id needs "
                       "network access (and HF_TOKEN for gated models, after accepting the licence); a local "
                       "folder needs config.json", traceback_tail=tail)
    return Failure("error", text, f"see the traceback in worker.log; `tuner resume {run_id}` continues from the "
                   "last checkpoint once fixed", traceback_tail=tail)


def _is_oom(exc: BaseException, lowered: str) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return "out of memory" in lowered or "can't allocate memory" in lowered or "defaultcpuallocator" in lowered


def _is_model_missing(exc: BaseException, lowered: str) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    if names & {"RepositoryNotFoundError", "GatedRepoError", "LocalEntryNotFoundError", "RevisionNotFoundError",
                "ModelSourceError", "OfflineModeIsEnabled"}:
        return True
    return ("is not a local folder and is not a valid model identifier" in lowered
            or "we couldn't connect to" in lowered or "does not appear to have a file named config.json" in lowered)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out
