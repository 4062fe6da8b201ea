"""Loading the base model the way the recipe's method needs it, and wrapping it with PEFT.

full: every weight trains (dtype from the recipe). lora/dora: LoraConfig (use_dora for DoRA) on a frozen base,
optionally loaded in 8 or 4 bits. qlora: BitsAndBytesConfig 4-bit (nf4/fp4, double quantization, compute
dtype) + prepare_model_for_kbit_training. prefix: PrefixTuningConfig. Activation checkpointing is not set here:
the Trainer turns it on (sft_config) for every method but prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from peft import LoraConfig, PeftConfig, PrefixTuningConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from tuner_tui.domain.chat_templates import template_for
from tuner_tui.domain.recipe import Recipe

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class Precision:
    bf16: bool
    fp16: bool
    use_cpu: bool
    weights: torch.dtype

    @property
    def label(self) -> str:
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"


def cpu_has_native_bf16() -> bool:
    """bf16 autocast on a CPU without AVX512-BF16/AMX is emulated and ~10x slower than fp32 (measured)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_precision(recipe: Recipe) -> Precision:
    """auto: bf16 where supported, fp16 on older GPUs; on CPU bf16 autocast only where the CPU has it."""
    cuda = torch.cuda.is_available()
    wanted = recipe.train.precision
    if wanted == "auto":
        if cuda:
            wanted = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            wanted = "bf16" if cpu_has_native_bf16() else "fp32"
    if not cuda and wanted == "fp16":
        wanted = "bf16"          # fp16 autocast is a GPU feature; bf16 is the CPU's half precision
    dtype = recipe.model.dtype
    if dtype == "auto":
        # Full fine-tuning keeps fp32 master weights unless bf16 is native (fp16 weights cannot be unscaled).
        if not cuda or (recipe.method.kind == "full" and wanted != "bf16"):
            dtype = "float32"
        else:
            dtype = "bfloat16" if wanted == "bf16" else "float16"
    return Precision(bf16=wanted == "bf16", fp16=wanted == "fp16", use_cpu=not cuda, weights=DTYPES[dtype])


def load_tokenizer(path: str, recipe: Recipe):
    tokenizer = AutoTokenizer.from_pretrained(path, revision=recipe.model.revision,
                                              trust_remote_code=recipe.model.trust_remote_code)
    if recipe.data.chat_template:
        tokenizer.chat_template = template_for(recipe.data.chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _quantization_config(recipe: Recipe, precision: Precision) -> BitsAndBytesConfig | None:
    q = recipe.quantization
    if q is None:
        return None
    if q.bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=q.quant_type,
                              bnb_4bit_use_double_quant=q.double_quant,
                              bnb_4bit_compute_dtype=DTYPES[q.compute_dtype])


def load_model(path: str, recipe: Recipe, precision: Precision):
    quant = _quantization_config(recipe, precision)
    kwargs: dict = {"dtype": precision.weights, "revision": recipe.model.revision,
                    "trust_remote_code": recipe.model.trust_remote_code}
    if quant is not None:
        kwargs["quantization_config"] = quant
        # Quantized weights must sit on this rank's device from the start.
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))} if not precision.use_cpu else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if quant is not None:
        # Freezes the base and upcasts its norms only. Activation checkpointing is the Trainer's job for every method
        # (sft_config), and SFTTrainer enables input grads on PEFT models when it is on.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    kind = recipe.method.kind
    if kind == "full":
        return model
    if kind == "prefix":
        p = recipe.prefix
        config: PeftConfig = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=p.num_virtual_tokens,
                                    prefix_projection=p.prefix_projection)
        return get_peft_model(model, config)
    lora = recipe.lora
    config = LoraConfig(task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=lora.target_modules, bias=lora.bias, use_dora=kind == "dora")
    return get_peft_model(model, config)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total), counting 4-bit packed weights at their real element count."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if hasattr(param, "quant_state") or type(param).__name__ == "Params4bit":
            n *= 2           # two 4-bit values per stored byte
        total += n
        if param.requires_grad:
            trainable += n
    return trainable, total


def trainable_line(trainable: int, total: int) -> str:
    """As the seed prints it."""
    return f"Trainable: {trainable:,} / {total:,} ({100 * trainable / max(total, 1):.2f}%)"


def quantized_layers(model) -> dict[str, int]:
    """How many linear layers bitsandbytes quantized, by class (Linear4bit / Linear8bitLt): proof, not hope."""
    counts: dict[str, int] = {}
    for module in model.modules():
        name = type(module).__name__
        if name in ("Linear4bit", "Linear8bitLt"):
            counts[name] = counts.get(name, 0) + 1
    return counts
