"""Parameter counts from an architecture alone, exactly as the loaded model would report them. Pure: no torch.

The method registry (domain/methods.py) points at one `*_trainable` function per method; the VRAM estimator
asks the registry, so a method's trainable count lives in exactly one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuner_tui.domain.architectures import Architecture

if TYPE_CHECKING:
    from tuner_tui.domain.vram_estimate import EstimateSettings


def layer_linear_params(arch: Architecture) -> int:
    return sum(d_in * d_out for d_in, d_out in arch.linear_shapes().values())


def unquantized_params(arch: Architecture) -> int:
    """Everything bitsandbytes leaves alone: embeddings, lm_head (unless tied), norms, biases."""
    embeddings = arch.vocab_size * arch.hidden_size * (1 if arch.tie_word_embeddings else 2)
    norms = arch.num_hidden_layers * arch.norms_per_layer * arch.hidden_size + arch.hidden_size
    biases = arch.num_hidden_layers * (arch.q_dim + 2 * arch.kv_dim) if arch.qkv_bias else 0
    return embeddings + norms + biases


def param_count(arch: Architecture) -> int:
    """Exact total, as model.num_parameters() reports it (tied embeddings counted once)."""
    return arch.num_hidden_layers * layer_linear_params(arch) + unquantized_params(arch)


def lora_modules(arch: Architecture, target_modules: tuple[str, ...] | str) -> dict[str, tuple[int, int]]:
    """The per-layer Linear modules a target_modules setting adapts (all-linear: all of them, not lm_head)."""
    shapes = arch.linear_shapes()
    if target_modules == "all-linear":
        return shapes
    wanted = {target_modules} if isinstance(target_modules, str) else set(target_modules)
    found = {name: shape for name, shape in shapes.items() if name in wanted}
    if not found:
        raise ValueError(f"target_modules {sorted(wanted)} match no module of {arch.name}; its Linear "
                         f"modules are {', '.join(shapes)} (or use all-linear)")
    return found


def lora_params(arch: Architecture, r: int, target_modules: tuple[str, ...] | str, dora: bool = False) -> int:
    """r × (d_in + d_out) per adapted module per layer; DoRA adds a magnitude vector of d_out."""
    per_layer = sum(r * (d_in + d_out) + (d_out if dora else 0)
                    for d_in, d_out in lora_modules(arch, target_modules).values())
    return arch.num_hidden_layers * per_layer


def prefix_params(arch: Architecture, num_virtual_tokens: int, projection: bool = False) -> int:
    """peft's PrefixEncoder: token_dim = kv heads × head dim; an Embedding(n, layers × 2 × token_dim), or with
    projection Embedding(n, d) → Linear(d, d) → Tanh → Linear(d, layers × 2 × d)."""
    d, out = arch.kv_dim, arch.num_hidden_layers * 2 * arch.kv_dim
    if not projection:
        return num_virtual_tokens * out
    return num_virtual_tokens * d + (d * d + d) + (d * out + out)


def ia3_params(arch: Architecture, target_modules: tuple[str, ...], feedforward_modules: tuple[str, ...]) -> int:
    """peft's IA3Layer learns one vector per targeted Linear: it scales the output (out_features) of an
    attention target and the input (in_features) of a feed-forward target."""
    feedforward = set(feedforward_modules)
    per_layer = sum(d_in if name in feedforward else d_out
                    for name, (d_in, d_out) in lora_modules(arch, target_modules).items())
    return arch.num_hidden_layers * per_layer


# One per method, named in the registry: (architecture, the estimate's settings) -> trainable parameters.

def full_trainable(arch: Architecture, s: EstimateSettings) -> int:
    return param_count(arch)


def lora_trainable(arch: Architecture, s: EstimateSettings) -> int:
    return lora_params(arch, s.lora_r, s.target_modules)


def dora_trainable(arch: Architecture, s: EstimateSettings) -> int:
    return lora_params(arch, s.lora_r, s.target_modules, dora=True)


def prefix_trainable(arch: Architecture, s: EstimateSettings) -> int:
    return prefix_params(arch, s.num_virtual_tokens, s.prefix_projection)


def ia3_trainable(arch: Architecture, s: EstimateSettings) -> int:
    return ia3_params(arch, s.ia3_target_modules, s.ia3_feedforward_modules)
