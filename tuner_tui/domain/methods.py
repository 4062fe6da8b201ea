"""The fine-tuning methods, each declared once: what the recipe, the estimator, the worker, the failure advice
and the CLI need to know about it. Pure: no torch, no pydantic.

Adding a method = one `Method` here, one PEFT builder in training/peft_builders.py (a test checks that the two
tables name the same kinds), its settings section in domain/recipe.py when it has one, and its trainable-parameter
count in domain/parameter_counts.py. A kind that is not here is refused everywhere (`method()` raises): nothing
falls back to LoRA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tuner_tui.domain import parameter_counts as counts
from tuner_tui.domain.architectures import Architecture
from tuner_tui.domain.problems import did_you_mean

if TYPE_CHECKING:
    from tuner_tui.domain.vram_estimate import EstimateSettings

# How a method treats method.quantization: required_4bit (a 4-bit base by default; other bits refused),
# optional (unquantized unless asked, 8- or 4-bit), ignored (a warning: it loads the base unquantized),
# refused (an error: the quantized weights would have to train).
QuantizationRule = Literal["required_4bit", "optional", "ignored", "refused"]
Section = Literal["lora", "prefix", "ia3"]        # method.<section> holds the method's settings
# Method-specific ways out of an out-of-memory (smaller batches, shorter rows and gradient checkpointing,
# where the method allows it, apply to every method).
OomFix = Literal["adamw_8bit", "to_lora", "to_qlora"]


@dataclass(frozen=True)
class Method:
    kind: str                          # what method.kind says
    label: str                         # short, for table columns: "QLoRA"
    long_label: str                    # in sentences: "full fine-tuning"
    summary: str                       # the schema's description of the kind
    section: Section | None            # its settings live under method.<section>; None: it has none
    quantization: QuantizationRule
    trains_base: bool                  # every base weight trains: gradients + optimizer state for all of them
    mergeable: bool                    # output.merge / `tuner merge` fold its adapter into the base
    checkpointable: bool               # train.gradient_checkpointing applies
    output: Literal["merged", "adapter"]   # the run-dir folder its trained weights are saved to
    trainable_params: Callable[[Architecture, EstimateSettings], int]   # the estimator's count
    peft_config: str | None            # the peft config class its builder (training/peft_builders.py) makes
    oom_fixes: tuple[OomFix, ...] = ()


_DECLARED = (
    Method("full", "full", "full fine-tuning", "train every weight (most memory)", None, "refused",
           trains_base=True, mergeable=False, checkpointable=True, output="merged",
           trainable_params=counts.full_trainable, peft_config=None, oom_fixes=("adamw_8bit", "to_lora")),
    Method("lora", "LoRA", "LoRA", "low-rank adapters", "lora", "optional",
           trains_base=False, mergeable=True, checkpointable=True, output="adapter",
           trainable_params=counts.lora_trainable, peft_config="LoraConfig", oom_fixes=("to_qlora",)),
    Method("qlora", "QLoRA", "QLoRA", "LoRA on a 4-bit NF4 base (least memory)", "lora", "required_4bit",
           trains_base=False, mergeable=True, checkpointable=True, output="adapter",
           trainable_params=counts.lora_trainable, peft_config="LoraConfig"),
    Method("dora", "DoRA", "DoRA", "weight-decomposed LoRA", "lora", "optional",
           trains_base=False, mergeable=True, checkpointable=True, output="adapter",
           trainable_params=counts.dora_trainable, peft_config="LoraConfig", oom_fixes=("to_qlora",)),
    # Prefix tuning's virtual tokens travel in the KV cache, which transformers drops inside a checkpointed
    # layer (the attention mask then no longer matches the keys): it cannot checkpoint, and has nothing to merge.
    Method("prefix", "prefix", "prefix tuning", "prefix tuning", "prefix", "ignored",
           trains_base=False, mergeable=False, checkpointable=False, output="adapter",
           trainable_params=counts.prefix_trainable, peft_config="PrefixTuningConfig"),
    Method("ia3", "IA3", "IA3", "learned scaling vectors on a few modules (IA3: fewest trainable parameters; "
           "wants a high learning rate, ~1e-2)", "ia3", "optional",
           trains_base=False, mergeable=True, checkpointable=True, output="adapter",
           trainable_params=counts.ia3_trainable, peft_config="IA3Config"),
)
METHODS: dict[str, Method] = {m.kind: m for m in _DECLARED}
KINDS: tuple[str, ...] = tuple(METHODS)

if TYPE_CHECKING:
    MethodKind = str
else:
    MethodKind = Literal[KINDS]        # what pydantic validates (and `tuner schema` lists) for method.kind


class UnknownMethod(LookupError):
    """A method kind the registry does not declare (a typo, or a run recorded by a newer tuner)."""

    def __init__(self, kind: object) -> None:
        hint = did_you_mean(kind, KINDS)
        super().__init__(f"unknown method kind {kind!r}: the methods are {', '.join(KINDS)}"
                         + (f"; {hint}" if hint else ""))


def method(kind: str) -> Method:
    """The declaration of `kind`; raises UnknownMethod rather than guess."""
    try:
        return METHODS[kind]
    except KeyError:
        raise UnknownMethod(kind) from None


def kinds_using(section: Section) -> tuple[str, ...]:
    """The kinds whose settings live under method.<section> (for "lora settings apply to lora, qlora and dora")."""
    return tuple(m.kind for m in _DECLARED if m.section == section)


def spoken_list(words: tuple[str, ...]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def label(kind: str) -> str:
    """The method's short label, or the word itself for what is not a method (the advice "prompting")."""
    return METHODS[kind].label if kind in METHODS else kind
