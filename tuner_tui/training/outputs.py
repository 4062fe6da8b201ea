"""What a run leaves behind: merging an adapter into full weights, and answering prompts with base and tuned
models side by side (`tuner try`)."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from tuner_tui.domain.recipe import Recipe
from tuner_tui.domain.training_text import prompt_for
from tuner_tui.training.data import worker_text


def merge_adapter(run_dir: Path, recipe: Recipe, base_path: str) -> Path:
    """Base (unquantized, even for QLoRA) + adapter -> merged safetensors + tokenizer in RUN_DIR/merged."""
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype, revision=recipe.model.revision,
                                                trust_remote_code=recipe.model.trust_remote_code)
    merged = PeftModel.from_pretrained(base, str(run_dir / "adapter")).merge_and_unload()
    target = run_dir / "merged"
    merged.save_pretrained(str(target), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(run_dir / "adapter")).save_pretrained(str(target))
    return target


def prompt_text(recipe: Recipe, tokenizer, prompt: str, base_path: str, models_dir: Path,
                base_dir: Path, system: str | None = None, tools: list | None = None) -> str:
    """The prompt exactly as training rendered it: through the template training used (and saved with the
    outputs), from the same code that rendered the rows (domain/training_text)."""
    text = worker_text(recipe, base_dir, base_path, tokenizer, "<try>", models_dir)
    return prompt_for(text, prompt, system, tools)


@torch.inference_mode()
def generate(model, tokenizer, text: str, max_new_tokens: int) -> str:
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def base_and_tuned(run_dir: Path, recipe: Recipe, base_path: str, prompt: str, max_new_tokens: int,
                   models_dir: Path, base_dir: Path, system: str | None = None, tools: list | None = None) -> dict:
    """Greedy answers of the base model and of the tuned one (adapter on top, or merged/full weights)."""
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    text = prompt_text(recipe, tokenizer, prompt, base_path, models_dir, base_dir, system, tools)
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype,
                                                trust_remote_code=recipe.model.trust_remote_code).to(device)  # type: ignore[arg-type]  # transformers' typed .to() loses its signature
    base.eval()
    base_answer = generate(base, tokenizer, text, max_new_tokens)
    if (run_dir / "adapter").is_dir():
        tuned = PeftModel.from_pretrained(base, str(run_dir / "adapter"))
    else:
        tuned = AutoModelForCausalLM.from_pretrained(str(run_dir / "merged"), dtype=dtype).to(device)  # type: ignore[arg-type]  # as above
    tuned.eval()
    return {"prompt": prompt, "formatted_prompt": text, "base": base_answer,
            "tuned": generate(tuned, tokenizer, text, max_new_tokens)}
