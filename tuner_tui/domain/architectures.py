"""The shapes of popular models, offline: what the VRAM estimator needs to know about an architecture.

Figures are copied from each model's published config.json (hidden_size, intermediate_size, layers, heads,
key/value heads, vocab_size, tie_word_embeddings, head_dim where it differs from hidden/heads). A model that
is not in the table is read from a local folder's config.json or from the Hugging Face cache
($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). Nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from tuner_tui.domain.model_sources import SMOLLM2, TINY_RANDOM_LLAMA, resolve_local, source_kind

# Model types whose q/k/v projections carry a bias (Qwen2 and Qwen2.5 do; Llama, Mistral, Gemma don't).
_QKV_BIAS_TYPES = {"qwen2"}
# Gemma 2 has four norms per layer (pre/post attention, pre/post feed-forward); the others two.
_FOUR_NORM_TYPES = {"gemma2", "gemma3_text"}


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer's shape: enough to count parameters exactly and size activations."""

    name: str
    model_type: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool
    head_dim: int | None = None       # only where it differs from hidden_size // num_attention_heads
    figures_from: str = "built-in table"

    @property
    def head_size(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_size

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_size

    @property
    def qkv_bias(self) -> bool:
        return self.model_type in _QKV_BIAS_TYPES

    @property
    def norms_per_layer(self) -> int:
        return 4 if self.model_type in _FOUR_NORM_TYPES else 2

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each Linear in one decoder layer, by module name (what target_modules names).

        Phi-3 fuses q/k/v into qkv_proj and gate/up into gate_up_proj: the same totals under other names."""
        h, i, q, kv = self.hidden_size, self.intermediate_size, self.q_dim, self.kv_dim
        if self.model_type == "phi3":
            return {"qkv_proj": (h, q + 2 * kv), "o_proj": (q, h), "gate_up_proj": (h, 2 * i), "down_proj": (i, h)}
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}


def _arch(name: str, model_type: str, h: int, i: int, layers: int, heads: int, kv: int, vocab: int,
          tied: bool, head_dim: int | None = None) -> Architecture:
    return Architecture(name, model_type, h, i, layers, heads, kv, vocab, tied, head_dim,
                        figures_from=f"built-in table ({name}, from its published config.json)")


# name -> (architecture, hub ids that use it). Instruct/-it variants share the base model's config.
_TABLE: list[tuple[Architecture, tuple[str, ...]]] = [
    (_arch("Llama-3.2-1B", "llama", 2048, 8192, 16, 32, 8, 128256, True, 64),
     ("meta-llama/Llama-3.2-1B",)),
    (_arch("Llama-3.2-3B", "llama", 3072, 8192, 28, 24, 8, 128256, True, 128),
     ("meta-llama/Llama-3.2-3B",)),
    (_arch("Llama-3.1-8B", "llama", 4096, 14336, 32, 32, 8, 128256, False),
     ("meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3-8B")),
    (_arch("Llama-3.1-70B", "llama", 8192, 28672, 80, 64, 8, 128256, False),
     ("meta-llama/Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-70B", "meta-llama/Llama-3.3-70B",
      "meta-llama/Meta-Llama-3-70B")),
    (_arch("Qwen2.5-0.5B", "qwen2", 896, 4864, 24, 14, 2, 151936, True), ("Qwen/Qwen2.5-0.5B",)),
    (_arch("Qwen2.5-1.5B", "qwen2", 1536, 8960, 28, 12, 2, 151936, True), ("Qwen/Qwen2.5-1.5B",)),
    (_arch("Qwen2.5-3B", "qwen2", 2048, 11008, 36, 16, 2, 151936, True), ("Qwen/Qwen2.5-3B",)),
    (_arch("Qwen2.5-7B", "qwen2", 3584, 18944, 28, 28, 4, 152064, False), ("Qwen/Qwen2.5-7B",)),
    (_arch("Qwen2.5-14B", "qwen2", 5120, 13824, 48, 40, 8, 152064, False), ("Qwen/Qwen2.5-14B",)),
    (_arch("Qwen2.5-32B", "qwen2", 5120, 27648, 64, 40, 8, 152064, False), ("Qwen/Qwen2.5-32B",)),
    (_arch("Qwen2.5-72B", "qwen2", 8192, 29568, 80, 64, 8, 152064, False), ("Qwen/Qwen2.5-72B",)),
    (_arch("Mistral-7B-v0.3", "mistral", 4096, 14336, 32, 32, 8, 32768, False),
     ("mistralai/Mistral-7B-v0.3", "mistralai/Mistral-7B-Instruct-v0.3")),
    (_arch("Gemma-2-2B", "gemma2", 2304, 9216, 26, 8, 4, 256000, True, 256), ("google/gemma-2-2b",)),
    (_arch("Gemma-2-9B", "gemma2", 3584, 14336, 42, 16, 8, 256000, True, 256), ("google/gemma-2-9b",)),
    (_arch("Phi-3-mini-4k", "phi3", 3072, 8192, 32, 32, 32, 32064, False),
     ("microsoft/Phi-3-mini-4k-instruct",)),
    (_arch("SmolLM2-135M", "llama", 576, 1536, 30, 9, 3, 49152, True, 64),
     ("HuggingFaceTB/SmolLM2-135M", SMOLLM2)),
    # Built locally by tuner_tui.training.model_sources (vocab = its trained byte-level BPE: 981 tokens).
    (_arch("tiny-random-llama", "llama", 64, 128, 2, 4, 2, 981, False, 16), (TINY_RANDOM_LLAMA,)),
]

_SUFFIXES = ("-instruct", "-it", "-chat")


def _normalize(model_id: str) -> str:
    key = model_id.strip().lower()
    for suffix in _SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def _index() -> dict[str, Architecture]:
    index: dict[str, Architecture] = {}
    for arch, ids in _TABLE:
        for model_id in (arch.name, *ids):
            key = _normalize(model_id)
            index[key] = arch
            index.setdefault(key.rsplit("/", 1)[-1], arch)     # mirrors: unsloth/Llama-3.2-1B-Instruct
    return index


_INDEX = _index()


def known_architectures() -> list[Architecture]:
    return [arch for arch, _ in _TABLE]


def lookup(model_id: str) -> Architecture | None:
    """The built-in entry for a hub id or built-in name: case-insensitive, -Instruct/-it/-chat tolerated."""
    key = _normalize(model_id)
    return _INDEX.get(key) or _INDEX.get(key.rsplit("/", 1)[-1])


class ConfigUnreadable(ValueError):
    """A config.json that exists but does not describe a decoder we can size."""


def from_config(config: dict, name: str, figures_from: str) -> Architecture:
    """An Architecture from a transformers config.json dict (text_config of multimodal wrappers too)."""
    cfg = config.get("text_config") or config
    model_type = str(cfg.get("model_type") or config.get("model_type") or "unknown")
    try:
        heads = int(cfg["num_attention_heads"])
        arch = Architecture(
            name=name, model_type=model_type, hidden_size=int(cfg["hidden_size"]),
            intermediate_size=int(cfg["intermediate_size"]), num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=heads, num_key_value_heads=int(cfg.get("num_key_value_heads") or heads),
            vocab_size=int(cfg["vocab_size"]),
            # transformers' own default is True, but Llama/Qwen2/Mistral/Phi-3 configs default to False.
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", model_type.startswith("gemma"))),
            head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None, figures_from=figures_from,
        )
    except KeyError as missing:
        raise ConfigUnreadable(f"{figures_from}: no {missing.args[0]} (not a decoder-only language model?)") from None
    except (TypeError, ValueError) as exc:
        raise ConfigUnreadable(f"{figures_from}: {exc}") from exc
    if arch.head_dim == arch.hidden_size // heads:
        arch = replace(arch, head_dim=None)
    return arch


def read_config_file(path: Path, name: str) -> Architecture:
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigUnreadable(f"{path}: cannot read: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigUnreadable(f"{path}: not a JSON object")
    return from_config(config, name, f"config.json in {path.parent}")


def hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or str(Path("~/.cache/huggingface").expanduser())
    return Path(home).expanduser() / "hub"


def cached_config(model_id: str, revision: str | None = None) -> Path | None:
    """config.json of a hub model already in the local Hugging Face cache (the revision's, else the newest)."""
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", model_id):
        return None
    repo = hf_hub_cache() / ("models--" + model_id.replace("/", "--"))
    if revision:
        ref = repo / "refs" / revision
        commit = ref.read_text().strip() if ref.is_file() else revision
        candidate = repo / "snapshots" / commit / "config.json"
        if candidate.is_file():
            return candidate
    try:
        found = list((repo / "snapshots").glob("*/config.json"))
    except OSError:
        return None
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def resolve_architecture(source: str, base_dir: Path | None = None, models_dir: Path | None = None,
                         revision: str | None = None) -> Architecture | None:
    """The architecture of a recipe's model source, offline, or None when nothing local describes it.

    Order: a local folder's config.json; a built-in model's converted folder (models_dir/<name>); the hub
    cache's config.json (exactly the revision you have); the built-in table. Raises ConfigUnreadable for a
    config.json that exists but cannot be used."""
    kind = source_kind(source, base_dir)
    if kind == "local":
        path = resolve_local(source, base_dir) / "config.json"
        return read_config_file(path, Path(source).name) if path.is_file() else None
    if kind == "builtin" and models_dir is not None and (Path(models_dir) / source / "config.json").is_file():
        return read_config_file(Path(models_dir) / source / "config.json", source)
    if kind == "hub":
        cached = cached_config(source, revision)
        if cached is not None:
            arch = read_config_file(cached, source)
            return replace(arch, figures_from=f"Hugging Face cache: {cached}")
    return lookup(source)
