"""How much GPU memory a fine-tuning run needs, per method, before anything is loaded. Pure: no torch.

Parameters are counted exactly from the architecture. Memory follows what this project's worker does
(transformers + peft + TRL SFTTrainer, one GPU), term by term:

- weights: the recipe's dtype (auto = bf16, assuming an Ampere-or-newer GPU; fp32 for full fine-tuning with
  precision fp16, as training/loading.py does). Full fine-tuning in bf16 is "pure bf16": no fp32 master copy.
  fp32 weights under bf16/fp16 autocast add a 16-bit copy of every Linear weight (autocast caches the casts
  of trainable leaves for the backward pass): 18 bytes/param for AdamW, LLaMA-Factory's "Full (bf16 or fp16)"
  row. QLoRA stores decoder Linear weights as NF4: 0.5 byte/param plus one fp32 absmax per 64-weight block, or
  with double quantization one 8-bit absmax per block plus one fp32 constant per 256 blocks. Embeddings,
  lm_head, norms and biases stay unquantized and peft's prepare_model_for_kbit_training upcasts them to fp32
  (4.2 GB on Llama-3.1-8B, whose vocabulary is 128k).
- adapters: peft keeps LoRA/DoRA/prefix/IA3 weights in fp32 (autocast_adapter_dtype), so their gradients and
  AdamW states are fp32 too. torch's AdamW keeps its two states in the parameter's dtype (bf16 for pure-bf16
  full fine-tuning); 8-bit Adam keeps two 1-byte states.
- activations, per layer and token, 16-bit, with SDPA (flash / memory-efficient) attention so no seq² score
  matrix is stored: both RMSNorms save their fp32 upcast input and 16-bit output (12·h), the attention saves
  q, k, v, its output and o_proj's input (6·q_dim + 4·kv_dim), the MLP its input and gate, SiLU, up and
  product tensors (2·h + 8·intermediate). Each LoRA module adds its dropout mask and 16-bit input (3·d_in); each
  IA3 attention target its unscaled 16-bit output (2·d_out, for the vector's gradient), each IA3 feed-forward
  target the fp32 upcast of its input (4·d_in; the Linear then saves the rescaled input instead of the
  original, same size). This is Korthikanti et al.'s per-layer count (34·s·b·h + 5·a·s²·b) redone for
  SwiGLU/GQA without the attention scores. Gradient checkpointing keeps only each layer's 16-bit input plus one
  layer being recomputed.
- loss head: TRL's SFTTrainer scores tokens through a fused, tiled LM head and never materializes the
  batch × seq × vocab logits: one [≤4096 tokens × ≤32768 vocab] 16-bit tile, the fp32 hidden-state gradient,
  and for full fine-tuning the fp32 lm_head gradient it accumulates.
- CUDA context (~500 MiB) and allocator overhead (10% of the rest).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field, replace

from tuner_tui.domain.architectures import Architecture
from tuner_tui.domain.methods import method
from tuner_tui.domain.parameter_counts import (
    layer_linear_params,
    lora_modules,
    param_count,
    unquantized_params,
)
from tuner_tui.domain.recipe import Recipe

GIB = 1024**3
CUDA_CONTEXT_BYTES = 500 * 1024**2
ALLOCATOR_OVERHEAD = 0.10
NF4_BLOCK = 64            # weights per absmax constant (bitsandbytes blocksize for 4-bit)
DQ_BLOCK = 256            # absmax constants per second-level fp32 constant (double quantization)
LOSS_TOKEN_TILE = 4096    # TRL chunked_logprob TOKEN_CHUNK_SIZE
LOSS_VOCAB_TILE = 32768   # TRL _CHUNKED_LOGPROB_CHUNK_SIZE
COMPARED_METHODS = ("full", "lora", "qlora")     # the seed's decision framework compares these three
BREAKDOWN_KEYS = ("weights", "gradients", "optimizer", "activations", "logits", "cuda_context", "overhead")


@dataclass(frozen=True)
class EstimateSettings:
    """The recipe settings memory depends on (one method; copy with replace() to compare another)."""

    method: str = "lora"
    batch_size: int = 1
    grad_accum: int = 1
    seq_len: int = 2048
    gradient_checkpointing: bool = True
    dtype: str = "auto"                 # model.dtype
    precision: str = "auto"             # train.precision
    optimizer: str = "adamw_torch"
    lora_r: int = 16
    target_modules: tuple[str, ...] | str = ("q_proj", "v_proj")
    lora_dropout: float = 0.05
    quant_bits: int | None = None       # lora/dora on an 8- or 4-bit base; qlora is always 4
    double_quant: bool = True
    num_virtual_tokens: int = 20
    prefix_projection: bool = False
    ia3_target_modules: tuple[str, ...] = ("k_proj", "v_proj", "down_proj")
    ia3_feedforward_modules: tuple[str, ...] = ("down_proj",)
    upcast_non_quantized: bool = True   # peft's prepare_model_for_kbit_training (torchtune doesn't)

    @property
    def weight_bytes(self) -> int:
        trains_base = method(self.method).trains_base      # fp32 master weights unless bf16 (loading.py)
        if self.dtype == "float32" or (self.dtype == "auto" and trains_base and self.precision == "fp16"):
            return 4
        return 2

    @property
    def mixed_precision(self) -> bool:
        return self.precision != "fp32"

    @property
    def quantized_bits(self) -> int | None:
        rule = method(self.method).quantization
        if rule == "required_4bit":
            return 4
        return self.quant_bits if rule == "optional" else None


def settings_from_recipe(recipe: Recipe) -> EstimateSettings:
    lora, quant, t = recipe.lora, recipe.method.quantization, recipe.train
    targets = lora.target_modules if isinstance(lora.target_modules, str) else tuple(lora.target_modules)
    return EstimateSettings(
        method=method(recipe.method.kind).kind, batch_size=t.batch_size, grad_accum=t.grad_accum,
        seq_len=recipe.data.max_length, gradient_checkpointing=recipe.activation_checkpointing,
        dtype=recipe.model.dtype, precision=t.precision, optimizer=t.optimizer, lora_r=lora.r,
        target_modules=targets, lora_dropout=lora.dropout, quant_bits=quant.bits if quant else None,
        double_quant=quant.double_quant if quant else True, num_virtual_tokens=recipe.prefix.num_virtual_tokens,
        prefix_projection=recipe.prefix.prefix_projection, ia3_target_modules=tuple(recipe.ia3.target_modules),
        ia3_feedforward_modules=tuple(recipe.ia3.feedforward_modules),
    )


# ------------------------------------------------------------------------------------------ parameter counts

def trainable_params(arch: Architecture, s: EstimateSettings) -> int:
    """The method's own count (domain/parameter_counts.py, named by the registry)."""
    return method(s.method).trainable_params(arch, s)


# ------------------------------------------------------------------------------------------ bytes

def quantized_bytes(arch: Architecture, bits: int, double_quant: bool) -> int:
    """Decoder Linear weights stored by bitsandbytes, with their quantization constants."""
    total = 0
    for d_in, d_out in arch.linear_shapes().values():
        n = d_in * d_out
        if bits == 8:                       # LLM.int8: one byte per weight, one fp32 scale per output row
            total += n + 4 * d_out
            continue
        blocks = math.ceil(n / NF4_BLOCK)
        constants = blocks + 4 * math.ceil(blocks / DQ_BLOCK) if double_quant else 4 * blocks
        total += math.ceil(n / 2) + constants
    return arch.num_hidden_layers * total


def _weights(arch: Architecture, s: EstimateSettings, trainable: int) -> int:
    bits, wb = s.quantized_bits, s.weight_bytes
    if bits is not None:
        frozen = quantized_bytes(arch, bits, s.double_quant)
        frozen += unquantized_params(arch) * (4 if s.upcast_non_quantized else wb)
    else:
        frozen = param_count(arch) * wb
    trains_base = method(s.method).trains_base
    weights = frozen if trains_base else frozen + trainable * 4      # adapters: fp32
    if wb == 4 and s.mixed_precision and bits is None:
        # 16-bit casts of the Linear weights, kept for the backward pass (per layer only when checkpointing
        # frozen weights: trainable ones stay in autocast's cache for the whole forward).
        layers = arch.num_hidden_layers if trains_base or not s.gradient_checkpointing else 1
        weights += 2 * layers * layer_linear_params(arch)
    return weights


def _optimizer_bytes_per_param(s: EstimateSettings, param_bytes: int, hidden: int) -> float:
    if s.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        return 2
    if s.optimizer == "paged_adamw_32bit":
        return 8
    if s.optimizer == "adafactor":          # factored second moment: rows + cols per matrix
        return 4 * 2 / hidden
    if s.optimizer == "sgd":                # transformers' default SGD has no momentum buffer
        return 0
    return 2 * param_bytes                  # torch AdamW: exp_avg + exp_avg_sq in the parameter's dtype


def activation_bytes_per_token_layer(arch: Architecture, s: EstimateSettings) -> int:
    """Saved for backward by one decoder layer, per token (see the module docstring)."""
    h, q, kv, i = arch.hidden_size, arch.q_dim, arch.kv_dim, arch.intermediate_size
    saved = 12 * h + 6 * q + 4 * kv + 2 * h + 8 * i
    if arch.norms_per_layer == 4:
        saved += 12 * h
    saved += _adapter_saved(arch, s)
    return saved if s.mixed_precision or s.weight_bytes == 2 else 2 * saved


def _adapter_saved(arch: Architecture, s: EstimateSettings) -> int:
    """What the adapter's own modules save for backward, per token and layer (by the method's settings section)."""
    section = method(s.method).section
    if section == "lora":
        per_input = 3 if s.lora_dropout > 0 else 2
        return sum(per_input * d_in for d_in, _ in lora_modules(arch, s.target_modules).values())
    if section == "ia3":
        feedforward = set(s.ia3_feedforward_modules)
        return sum(4 * d_in if name in feedforward else 2 * d_out
                   for name, (d_in, d_out) in lora_modules(arch, s.ia3_target_modules).items())
    return 0


def _activations(arch: Architecture, s: EstimateSettings) -> int:
    tokens = s.batch_size * s.seq_len
    if method(s.method).section == "prefix":         # the virtual tokens lengthen every sequence
        tokens = s.batch_size * (s.seq_len + s.num_virtual_tokens)
    per_layer = activation_bytes_per_token_layer(arch, s) * tokens
    if s.gradient_checkpointing:
        kept = arch.num_hidden_layers * 2 * arch.hidden_size * tokens + per_layer
    else:
        kept = arch.num_hidden_layers * per_layer
    mask = s.batch_size * s.seq_len * s.seq_len       # the padded batch's boolean 4-D attention mask
    return kept + mask + 2 * arch.hidden_size * tokens  # + the embedding output


def _logits(arch: Architecture, s: EstimateSettings) -> int:
    tokens = s.batch_size * s.seq_len
    tile = min(tokens, LOSS_TOKEN_TILE) * min(arch.vocab_size, LOSS_VOCAB_TILE) * 2
    hidden = tokens * arch.hidden_size * (2 + 4)           # scored positions + their fp32 gradient
    head_grad = arch.vocab_size * arch.hidden_size * 4 if method(s.method).trains_base else 0
    return tile + hidden + head_grad


@dataclass(frozen=True)
class VramEstimate:
    """Peak GPU memory of one method; breakdown in bytes (BREAKDOWN_KEYS), total = their sum."""

    method: str
    total_bytes: int
    trainable_params: int
    breakdown: dict[str, int]
    arch: Architecture = field(repr=False)
    settings: EstimateSettings = field(repr=False)

    @property
    def allocated_bytes(self) -> int:
        """What torch.cuda.max_memory_allocated would report: no CUDA context, no allocator slack."""
        return self.total_bytes - self.breakdown["cuda_context"] - self.breakdown["overhead"]

    def to_dict(self) -> dict:
        s = self.settings
        return {"total_bytes": self.total_bytes, "trainable_params": self.trainable_params,
                "breakdown": dict(self.breakdown),
                "settings": {"batch_size": s.batch_size, "seq_len": s.seq_len,
                             "gradient_checkpointing": s.gradient_checkpointing, "weight_bytes": s.weight_bytes,
                             "quantized_bits": s.quantized_bits, "optimizer": s.optimizer}}


def estimate(arch: Architecture, s: EstimateSettings) -> VramEstimate:
    trainable = trainable_params(arch, s)
    param_bytes = s.weight_bytes if method(s.method).trains_base else 4
    parts = {
        "weights": _weights(arch, s, trainable),
        "gradients": trainable * param_bytes,
        "optimizer": round(trainable * _optimizer_bytes_per_param(s, param_bytes, arch.hidden_size)),
        "activations": _activations(arch, s),
        "logits": _logits(arch, s),
    }
    parts["cuda_context"] = CUDA_CONTEXT_BYTES
    parts["overhead"] = round(ALLOCATOR_OVERHEAD * sum(v for k, v in parts.items() if k != "cuda_context"))
    return VramEstimate(s.method, sum(parts.values()), trainable, parts, arch, s)


def estimate_methods(arch: Architecture, s: EstimateSettings) -> dict[str, VramEstimate]:
    """Full, LoRA and QLoRA side by side (same batch, length and LoRA settings), plus the recipe's own method.

    A full-fine-tuning recipe carries no LoRA targets; its LoRA columns fall back to all-linear where the
    default targets (q_proj, v_proj) don't exist (Phi-3)."""
    if method(s.method).section != "lora":
        try:
            lora_modules(arch, s.target_modules)
        except ValueError:
            s = replace(s, target_modules="all-linear")

    def optional_base(kind: str) -> bool:
        return method(kind).quantization == "optional"

    own_base = s.quant_bits if optional_base(s.method) else None     # LoRA on an 8-bit base stays so
    methods = dict.fromkeys((*COMPARED_METHODS, s.method))
    return {m: estimate(arch, replace(s, method=m, quant_bits=own_base if optional_base(m) else None))
            for m in methods}


# ------------------------------------------------------------------------------------------ advice

def _set(**changes: object) -> str:
    return " ".join(f"--set {key.replace('__', '.')}={value}" for key, value in changes.items())


def _candidates(s: EstimateSettings) -> list[tuple[dict, EstimateSettings]]:
    """Changes in order of what they cost the user: time, then nothing, then quality, then data."""
    out: list[tuple[dict, EstimateSettings]] = []
    if not s.gradient_checkpointing and method(s.method).checkpointable:
        out.append(({"train__gradient_checkpointing": "true"}, replace(s, gradient_checkpointing=True)))
    batch, accum = s.batch_size, s.grad_accum
    while batch > 1:                                    # same effective batch, fewer activations
        batch, accum = batch // 2, accum * 2
        out.append(({"train__batch_size": batch, "train__grad_accum": accum},
                    replace(s, batch_size=batch, grad_accum=accum)))
    fixes = method(s.method).oom_fixes
    if s.optimizer in ("adamw_torch", "paged_adamw_32bit") and "adamw_8bit" in fixes:
        out.append(({"train__optimizer": "adamw_8bit"}, replace(s, optimizer="adamw_8bit")))
    if "to_lora" in fixes:
        out.append(({"method__kind": "lora"}, replace(s, method="lora")))
    if "to_qlora" in fixes and s.quant_bits != 4:
        out.append(({"method__kind": "qlora"}, replace(s, method="qlora", quant_bits=4)))
    length = s.seq_len
    while length > 256:
        length //= 2
        out.append(({"data__max_length": length}, replace(s, seq_len=length)))
    return out


def fit_check(est: VramEstimate, free_bytes: int) -> tuple[bool, str | None]:
    """Does it fit in free_bytes? If not, the cheapest change that makes it fit, as --set flags.

    Single changes are tried cheapest first; if none fits alone they are stacked in the same order. None
    when even all of them together don't fit."""
    if est.total_bytes <= free_bytes:
        return True, None
    stacked: dict = {}
    settings = est.settings
    for changes, changed in _candidates(settings):
        if estimate(est.arch, changed).total_bytes <= free_bytes:
            return False, _set(**changes)
    for changes, _ in _candidates(settings):
        stacked.update(changes)
        settings = _apply(settings, changes)
        if estimate(est.arch, settings).total_bytes <= free_bytes:
            return False, _set(**stacked)
    return False, None


def _apply(s: EstimateSettings, changes: dict) -> EstimateSettings:
    fields = {"train__batch_size": "batch_size", "train__grad_accum": "grad_accum", "train__optimizer": "optimizer",
              "data__max_length": "seq_len"}
    for key, value in changes.items():
        if key == "method__kind":
            s = replace(s, method=value, quant_bits=4 if method(value).quantization == "required_4bit"
                        else s.quant_bits)
        elif key == "train__gradient_checkpointing":
            s = replace(s, gradient_checkpointing=True)
        else:
            s = replace(s, **{fields[key]: value})
    return s


@dataclass(frozen=True)
class Recommendation:
    method: str            # full | lora | qlora | prompting
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


FEW_ROWS = 100
LARGE_BUDGET = 0.5         # full fine-tuning when it needs at most half the free memory


def recommend(estimates: dict[str, VramEstimate], free_bytes: int | None,
              data_rows: int | None = None) -> Recommendation:
    """The seed's decision framework: too little data → prompt first; a large budget → full; plenty → LoRA;
    around 8 GB → QLoRA."""
    if data_rows is not None and data_rows < FEW_ROWS:
        return Recommendation("prompting", f"only {data_rows} rows: with fewer than {FEW_ROWS} examples, try "
                              "prompting (few-shot examples in the prompt) before fine-tuning")
    need = {m: estimates[m].total_bytes for m in COMPARED_METHODS}
    sizes = ", ".join(f"{method(m).long_label} {gib(b)}" for m, b in need.items())
    if free_bytes is None:
        return Recommendation("lora", f"no GPU information; LoRA is the usual choice (needs {sizes})")
    free = f"{gib(free_bytes)} free"
    if need["full"] <= LARGE_BUDGET * free_bytes:
        return Recommendation("full", f"{free}: full fine-tuning fits with room to spare (needs {gib(need['full'])})")
    if need["lora"] <= free_bytes:
        return Recommendation("lora", f"{free}: LoRA fits (needs {gib(need['lora'])}); full fine-tuning "
                              f"needs {gib(need['full'])}")
    if need["qlora"] <= free_bytes:
        return Recommendation("qlora", f"{free}: only QLoRA fits (needs {gib(need['qlora'])}; LoRA "
                              f"{gib(need['lora'])})")
    _, change = fit_check(estimates["qlora"], free_bytes)
    hint = f"; QLoRA fits with {change}" if change else "; use a smaller model or more GPUs"
    return Recommendation("qlora", f"{free}: nothing fits as configured (QLoRA needs "
                          f"{gib(need['qlora'])}){hint}")


# ------------------------------------------------------------------------------------------ calibration

@dataclass(frozen=True)
class Correction:
    """Median of measured peak / estimated allocation over past runs of the same model and method."""

    ratio: float
    runs: int

    def to_dict(self) -> dict:
        return asdict(self)


def correction_factor(pairs: list[tuple[int, int]]) -> Correction | None:
    """pairs: (estimated allocated bytes, measured peak allocated bytes). None without usable pairs."""
    ratios = [measured / estimated for estimated, measured in pairs if estimated and measured and measured > 0]
    if not ratios:
        return None
    return Correction(round(statistics.median(ratios), 3), len(ratios))


def apply_correction(est: VramEstimate, correction: Correction) -> VramEstimate:
    """Scale what torch allocates by the measured ratio; the CUDA context is fixed, overhead follows."""
    parts = {k: round(v * correction.ratio) for k, v in est.breakdown.items()
             if k not in ("cuda_context", "overhead")}
    parts["cuda_context"] = est.breakdown["cuda_context"]
    parts["overhead"] = round(ALLOCATOR_OVERHEAD * sum(v for k, v in parts.items() if k != "cuda_context"))
    return replace(est, total_bytes=sum(parts.values()), breakdown=parts)


def gib(n: int | float) -> str:
    """16.2 GiB; 350 MiB under one GiB."""
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 1024**2:.0f} MiB"
