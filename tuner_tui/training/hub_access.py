"""A hub model that is not in the local cache: one short request before the worker loads anything.

Without it, `from_pretrained` on an unreachable hub retries with back-off (1+2+4+8+8 s per file, measured:
46 s for the tokenizer alone) and then says "couldn't connect"; a typo'd id takes the same detour. One
`model_info` call (~0.1-0.5 s when the hub answers, at most HUB_CHECK_TIMEOUT_S when it does not) tells the
cases apart, before torch is even imported: no network, no such model (or a private one without a token), no
such revision, a gated model without a token. Each ends the run `model_not_found` with what to do.

Also says, in the user's words, what the loading phase is doing (`loading_step`): a `phase` event with a
`detail` (readers that predate it see one more `loading`) and the same line in worker.log."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.model_sources import (
    WEIGHT_SUFFIXES,
    hub_cache_dir,
    hub_offline,
    hub_snapshot,
    shown_path,
    source_kind,
)
from tuner_tui.training.model_sources import ModelSourceError

HUB_CHECK_TIMEOUT_S = float(os.environ.get("TUNER_HUB_CHECK_TIMEOUT_S") or 8.0)
_LOCAL_FIX = "or download it elsewhere (hf download {id}) and set model.source to that folder"


def loading_step(writer, detail: str) -> None:
    """What loading is doing now: an event readers show (tuner logs, show, the cockpit) and a worker.log line."""
    writer.emit("phase", phase="loading", detail=detail)
    print(f"loading: {detail}", flush=True)


def needs_hub_check(source: str, revision: str | None, base_dir: Path | None) -> bool:
    return source_kind(source, base_dir) == "hub" and hub_snapshot(source, revision) is None


def check_hub_model(source: str, revision: str | None) -> int | None:
    """Raise ModelSourceError unless the hub will serve `source` to this machine; else its weights' size in
    bytes (None when the hub does not say). Costs one HTTPS request, bounded by HUB_CHECK_TIMEOUT_S."""
    offline = hub_offline()
    if offline:
        raise ModelSourceError(
            f"{source} is not in the local cache ({shown_path(hub_cache_dir())}) and {offline}=1 forbids "
            "downloading it", f"unset {offline}, {_LOCAL_FIX.format(id=source)}")
    outcome: dict = {}
    worker = threading.Thread(target=_ask_hub, args=(source, revision, outcome), daemon=True,
                              name="tuner-hub-check")
    worker.start()
    worker.join(HUB_CHECK_TIMEOUT_S + 2)        # name resolution is not always bound by the request timeout
    if "info" in outcome:
        return _checked(source, outcome["info"])
    raise _explain(source, revision, outcome.get("error")) from outcome.get("error")


def _ask_hub(source: str, revision: str | None, outcome: dict) -> None:
    from huggingface_hub import model_info

    try:
        outcome["info"] = model_info(source, revision=revision, timeout=HUB_CHECK_TIMEOUT_S, files_metadata=True)
    except BaseException as exc:  # noqa: BLE001 - every way it fails is explained by _explain
        outcome["error"] = exc


def _checked(source: str, info) -> int | None:
    from huggingface_hub import get_token

    if getattr(info, "gated", False) and not get_token():
        raise ModelSourceError(
            f"{source} is a gated model: the hub serves its files only with a token, after you accept its "
            "licence", f"accept it on https://huggingface.co/{source}, then set HF_TOKEN (or run hf auth login)")
    return weights_bytes([(s.rfilename, getattr(s, "size", None)) for s in getattr(info, "siblings", None) or []])


def weights_bytes(files: list[tuple[str, int | None]]) -> int | None:
    """The size of the weights from_pretrained loads: top-level safetensors, else top-level .bin files."""
    for suffix in WEIGHT_SUFFIXES:
        named = [size for name, size in files if "/" not in name and name.endswith(suffix)]
        if named:
            sizes = [size for size in named if isinstance(size, int)]
            return sum(sizes) if len(sizes) == len(named) else None
    return None


def folder_weights_bytes(path: str) -> int | None:
    """The same, for a local folder or cached snapshot (a few stats)."""
    folder = Path(path)
    try:
        return weights_bytes([(p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file()]) \
            if folder.is_dir() else None
    except OSError:
        return None


def weights_step(path: str, revision: str | None) -> str:
    """The last loading step in words: the weights, with their size when they are on this machine."""
    folder = Path(path) if os.path.isabs(path) else hub_snapshot(path, revision)
    size = folder_weights_bytes(str(folder)) if folder is not None else None
    if folder is None:
        return f"model weights of {path} (downloading them from the hub)"
    return f"model weights ({human_bytes(size)})" if size else "model weights"


def _explain(source: str, revision: str | None, exc: BaseException | None) -> ModelSourceError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    token = "HF_TOKEN is set" if _has_token() else "no HF_TOKEN is set"
    if exc is None:
        return ModelSourceError(
            f"the hub did not answer within {HUB_CHECK_TIMEOUT_S + 2:.0f} s about {source} (not in the local "
            "cache, so it must be downloaded)", f"check this machine's network (and HTTPS_PROXY), "
            f"{_LOCAL_FIX.format(id=source)}")
    if isinstance(exc, RevisionNotFoundError):
        return ModelSourceError(f"the hub model {source} has no revision {revision!r}",
                                "check model.revision (a branch, tag or commit of that model)")
    if isinstance(exc, GatedRepoError):
        return ModelSourceError(f"{source} is a gated model and the token does not grant access ({token})",
                                f"accept its licence on https://huggingface.co/{source} with the token's account")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelSourceError(
            f"the hub has no model {source} (or it is private and the token does not grant access; {token})",
            "check model.source for a typo (hub ids look like Qwen/Qwen2.5-0.5B-Instruct); for a private model "
            "set HF_TOKEN")
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        return ModelSourceError(f"the hub answered HTTP {status} about {source}: {_first_line(exc)}",
                                f"try again later, {_LOCAL_FIX.format(id=source)}")
    from huggingface_hub import constants

    return ModelSourceError(
        f"cannot reach the hub ({constants.ENDPOINT}) to download {source} (it is not in the local cache, "
        f"{shown_path(hub_cache_dir())}): {type(exc).__name__}: {_first_line(exc)}",
        f"this machine needs network access to the hub (check HTTPS_PROXY), {_LOCAL_FIX.format(id=source)}")


def _has_token() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"
