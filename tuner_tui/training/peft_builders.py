"""One PEFT config builder per method kind of the registry (domain/methods.py), in one table.

Each builder turns the recipe's settings section into the peft config the method trains with; full fine-tuning
has none. tests/test_methods.py checks that this table and the registry name the same kinds, and that each
builder makes the config class the registry names, so a method added to one and not the other fails a test
instead of training as something else."""

from __future__ import annotations

from collections.abc import Callable

from peft import IA3Config, LoraConfig, PeftConfig, PrefixTuningConfig

from tuner_tui.domain.methods import method
from tuner_tui.domain.recipe import Recipe


def _full(recipe: Recipe) -> None:
    return None                      # every weight trains: no adapter


def _lora(recipe: Recipe, use_dora: bool = False) -> LoraConfig:
    lora = recipe.lora
    return LoraConfig(task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, bias=lora.bias, use_dora=use_dora)


def _dora(recipe: Recipe) -> LoraConfig:
    return _lora(recipe, use_dora=True)


def _prefix(recipe: Recipe) -> PrefixTuningConfig:
    p = recipe.prefix
    return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=p.num_virtual_tokens,
                              prefix_projection=p.prefix_projection)


def _ia3(recipe: Recipe) -> IA3Config:
    ia3 = recipe.ia3
    return IA3Config(task_type="CAUSAL_LM", target_modules=list(ia3.target_modules),
                     feedforward_modules=list(ia3.feedforward_modules))


BUILDERS: dict[str, Callable[[Recipe], PeftConfig | None]] = {
    "full": _full,
    "lora": _lora,
    "qlora": _lora,                  # the 4-bit base is the loader's part (recipe.quantization)
    "dora": _dora,
    "prefix": _prefix,
    "ia3": _ia3,
}


def peft_config(recipe: Recipe) -> PeftConfig | None:
    """The recipe's method as a peft config (None: train the model itself). An undeclared kind raises."""
    kind = method(recipe.method.kind).kind
    if kind not in BUILDERS:
        raise LookupError(f"method {kind!r} is declared in domain/methods.py but has no PEFT builder in "
                          "training/peft_builders.py")
    return BUILDERS[kind](recipe)
