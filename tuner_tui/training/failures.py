"""Why a run failed, in the user's words, with the cheapest fix we can name.

Each cause maps to one of the contract's failure causes (oom, nan_loss, data_error, model_not_found,
disk_full, killed, error). The OOM suggestion is a concrete recipe change that keeps the effective batch."""

from __future__ import annotations

import errno
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tuner_tui.domain.failure_fixes import DISK_FULL_FIX, oom_fix
from tuner_tui.domain.failure_fixes import as_sets as _sets
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe import Recipe
from tuner_tui.training.model_sources import ModelSourceError

MODEL_FIX = ("check model.source: a hub id needs network access (and HF_TOKEN for gated models, after accepting "
             "the licence); a local folder needs config.json")


@dataclass
class Failure:
    cause: str
    message: str
    suggestion: str
    fix: dict[str, object] = field(default_factory=dict)       # --set overrides that apply the suggestion
    traceback_tail: str = ""


class NanLoss(Exception):
    pass


class RunDirLost(Exception):
    """The run's directory was deleted (or replaced) under the worker: nothing more can be saved there."""


# What a write that ran out of space says, wrapped or not: OSError/IOError text, safetensors' Rust io::Error.
NO_SPACE_TEXT = ("no space left on device", "os error 28", "errno 28", "disk quota exceeded", "os error 122")
# torch.save on a full disk names no errno ("[enforce fail at inline_container.cc] unexpected pos", "file write
# failed", "basic_ios::clear: iostream error"): such a write failure counts as disk full when the disk is.
WRITE_FAILURE_TEXT = ("inline_container.cc", "pytorchstreamwriter", "file write failed", "iostream error")


def classify(exc: BaseException, recipe: Recipe | None, run_id: str, run_dir: Path | None = None) -> Failure:
    tail = "".join(traceback.format_exception(exc)[-12:])
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if isinstance(exc, RunDirLost):
        return Failure("error", str(exc), f"tuner rm {run_id} removes the run from the index", traceback_tail=tail)
    if is_disk_full(exc, run_dir):
        return Failure("disk_full", f"disk full: {exc}", DISK_FULL_FIX, traceback_tail=tail)
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
    if isinstance(exc, ModelSourceError):      # ours: it already says what is wrong and what to do
        return Failure("model_not_found", exc.message, exc.suggestion or MODEL_FIX, traceback_tail=tail)
    if _is_model_missing(exc, lowered):
        return Failure("model_not_found", f"model not found: {exc}".strip(), MODEL_FIX, traceback_tail=tail)
    return Failure("error", text, f"see the traceback in worker.log; `tuner resume {run_id}` continues from the "
                   "last checkpoint once fixed", traceback_tail=tail)


def is_disk_full(exc: BaseException, run_dir: Path | None = None) -> bool:
    """ENOSPC/EDQUOT anywhere in the exception chain, or its text in any message of it (RuntimeError from
    torch.save, SafetensorError), or a torch write failure while the run's disk has next to no space left."""
    chain = _chain(exc)
    if any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in chain):
        return True
    texts = [str(e).lower() for e in chain]
    if any(marker in text for text in texts for marker in NO_SPACE_TEXT):
        return True
    if run_dir is not None and any(marker in text for text in texts for marker in WRITE_FAILURE_TEXT):
        from tuner_tui.runtime.disk_reserve import nearly_full

        return nearly_full(run_dir)
    return False


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
