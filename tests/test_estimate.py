"""The VRAM estimator: exact parameter counts, adapter counts, totals against published measurements, advice,
and `tuner estimate` as a user runs it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.conftest import tuner
from tuner_tui.domain.architectures import Architecture, cached_config, lookup, resolve_architecture
from tuner_tui.domain.parameter_counts import lora_params, prefix_params
from tuner_tui.domain.vram_estimate import (
    GIB,
    EstimateSettings,
    apply_correction,
    correction_factor,
    estimate,
    estimate_methods,
    fit_check,
    param_count,
    recommend,
)

# Totals as the models' own cards / model.num_parameters() report them.
PUBLISHED = {
    "meta-llama/Llama-3.1-8B-Instruct": 8_030_261_248,
    "meta-llama/Llama-3.2-1B": 1_235_814_400,
    "meta-llama/Llama-3.2-3B-Instruct": 3_212_749_824,
    "meta-llama/Llama-3.1-70B": 70_553_706_496,
    "Qwen/Qwen2.5-7B-Instruct": 7_615_616_512,
    "Qwen/Qwen2.5-0.5B-Instruct": 494_032_768,
    "Qwen/Qwen2.5-72B": 72_706_203_648,
    "mistralai/Mistral-7B-v0.3": 7_248_023_552,
    "google/gemma-2-2b-it": 2_614_341_888,
    "microsoft/Phi-3-mini-4k-instruct": 3_821_079_552,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 134_515_008,
}
LLAMA2_7B = Architecture("Llama-2-7b", "llama", 4096, 11008, 32, 32, 32, 32000, False)
LLAMA31_8B = lookup("meta-llama/Llama-3.1-8B-Instruct")


@pytest.mark.parametrize("model_id, expected", PUBLISHED.items())
def test_parameter_counts_match_the_published_totals(model_id, expected):
    arch = lookup(model_id)
    assert arch is not None, model_id
    assert param_count(arch) == expected


def test_llama2_7b_count_from_its_config():
    assert param_count(LLAMA2_7B) == 6_738_415_616


def test_hub_ids_resolve_case_insensitively_with_instruct_suffixes():
    assert lookup("META-LLAMA/llama-3.1-8b-instruct") is LLAMA31_8B
    assert lookup("unsloth/Llama-3.1-8B-Instruct") is LLAMA31_8B            # a mirror: the name part matches
    assert lookup("google/gemma-2-9b-it").name == "Gemma-2-9B"
    assert lookup("acme/not-a-model") is None


def test_lora_counts_follow_r_times_in_plus_out():
    square = Architecture("sq", "llama", 4096, 11008, 1, 32, 32, 32000, False)
    assert lora_params(square, 16, ("q_proj",)) == 131_072                   # 16 × (4096 + 4096)
    assert lora_params(LLAMA31_8B, 8, ("q_proj", "v_proj")) == 3_407_872     # what peft prints for Llama-3-8B
    assert lora_params(LLAMA31_8B, 16, "all-linear") == 41_943_040
    # DoRA adds one magnitude per output feature: q 4096 + v 1024 per layer.
    assert lora_params(LLAMA31_8B, 8, ("q_proj", "v_proj"), dora=True) == 3_407_872 + 32 * (4096 + 1024)


def test_phi3_fused_modules_and_unknown_targets():
    phi3 = lookup("microsoft/Phi-3-mini-4k-instruct")
    assert lora_params(phi3, 8, ("qkv_proj",)) == 32 * 8 * (3072 + 3 * 3072)
    with pytest.raises(ValueError, match="qkv_proj"):
        lora_params(phi3, 8, ("q_proj",))


def test_prefix_counts_use_the_key_value_width():
    qwen = lookup("Qwen/Qwen2.5-1.5B")                    # 2 kv heads × 128 = 256
    assert prefix_params(qwen, 20) == 20 * 28 * 2 * 256
    d = 256
    assert prefix_params(qwen, 20, projection=True) == 20 * d + d * d + d + d * 28 * 2 * d + 28 * 2 * d


def test_nf4_with_double_quant_saves_about_0_37_bit_per_weight():
    base = EstimateSettings(method="qlora", double_quant=False)
    single = estimate(LLAMA31_8B, base).breakdown["weights"]
    double = estimate(LLAMA31_8B, replace(base, double_quant=True)).breakdown["weights"]
    linear = param_count(LLAMA31_8B) - 1_050_673_152 - 32 * 2 * 4096 - 4096
    assert (single - double) * 8 / linear == pytest.approx(0.373, abs=0.005)


# Llama 3.1 8B, batch 1, 2048 tokens, gradient checkpointing, all-linear r=16 (as this project runs it).
OURS = EstimateSettings(batch_size=1, seq_len=2048, gradient_checkpointing=True, target_modules="all-linear")


def test_8b_totals_as_this_project_runs_them():
    est = estimate_methods(LLAMA31_8B, OURS)
    # QLoRA: 3.6 GB NF4 + 4.2 GB fp32 embeddings/lm_head (peft's upcast) + adapters + activations.
    assert 9.5 * GIB < est["qlora"].total_bytes < 12 * GIB
    assert 17 * GIB < est["lora"].total_bytes < 21 * GIB
    assert 62 * GIB < est["full"].total_bytes < 75 * GIB       # pure bf16: 8 bytes/param + the rest
    no_upcast = estimate(LLAMA31_8B, replace(OURS, method="qlora", upcast_non_quantized=False))
    saved = est["qlora"].allocated_bytes - no_upcast.allocated_bytes
    assert saved == 2 * (1_050_673_152 + 32 * 2 * 4096 + 4096)


def test_against_torchtune_measured_peaks():
    """torchtune README, Llama 3.1 8B on a 4090: batch 2, packed 2048, activation checkpointing, rank 8 on
    q/v/o + MLP, bf16 embeddings: LoRA 16.2 GiB, QLoRA 7.4 GiB peak allocated."""
    tt = replace(OURS, batch_size=2, lora_r=8, lora_dropout=0.0, upcast_non_quantized=False,
                 target_modules=("q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"))
    lora = estimate(LLAMA31_8B, replace(tt, method="lora")).allocated_bytes / GIB
    qlora = estimate(LLAMA31_8B, replace(tt, method="qlora")).allocated_bytes / GIB
    assert 16.2 * 0.95 < lora < 16.2 * 1.15
    assert 7.4 * 0.95 < qlora < 7.4 * 1.15


def test_against_llama_factory_7b_table():
    """LLaMA-Factory README hardware table, 7B: full pure bf16 60 GB, full AMP 120 GB, LoRA 16 GB, QLoRA-4 6 GB
    (settings unpublished; batch 1 and 2048 tokens with gradient checkpointing assumed)."""
    est = estimate_methods(LLAMA2_7B, replace(OURS, target_modules=("q_proj", "v_proj")))
    assert 55e9 < est["full"].total_bytes < 66e9
    assert 14e9 < est["lora"].total_bytes < 18e9
    assert 5.5e9 < est["qlora"].total_bytes < 8e9
    amp = estimate(LLAMA2_7B, replace(OURS, method="full", dtype="float32"))
    assert 110e9 < amp.total_bytes < 140e9                     # 18 bytes/param: fp32 + 16-bit copies + Adam


def test_gradient_checkpointing_and_batch_move_activations():
    on = estimate(LLAMA31_8B, replace(OURS, method="lora"))
    off = estimate(LLAMA31_8B, replace(OURS, method="lora", gradient_checkpointing=False))
    assert off.breakdown["activations"] > 10 * on.breakdown["activations"]
    double = estimate(LLAMA31_8B, replace(OURS, method="lora", gradient_checkpointing=False, batch_size=2))
    assert double.breakdown["activations"] == pytest.approx(2 * off.breakdown["activations"], rel=0.01)
    assert off.total_bytes == sum(off.breakdown.values())


def test_fit_check_proposes_the_cheapest_change_that_fits():
    s = replace(OURS, method="lora", batch_size=8, grad_accum=2, gradient_checkpointing=False)
    est = estimate(LLAMA31_8B, s)
    assert fit_check(est, est.total_bytes) == (True, None)
    checkpointed = estimate(LLAMA31_8B, replace(s, gradient_checkpointing=True))
    fits, change = fit_check(est, checkpointed.total_bytes)
    assert not fits and change == "--set train.gradient_checkpointing=true"
    halved = estimate(LLAMA31_8B, replace(s, gradient_checkpointing=True, batch_size=4, grad_accum=4))
    fits, change = fit_check(checkpointed, halved.total_bytes)
    assert change == "--set train.batch_size=4 --set train.grad_accum=4"    # same effective batch (16)
    fits, change = fit_check(estimate(LLAMA31_8B, replace(s, gradient_checkpointing=True, batch_size=1)),
                             12 * GIB)
    assert change == "--set method.kind=qlora"
    assert fit_check(est, 2 * GIB) == (False, None)              # an 8B model never fits in 2 GiB


def test_fit_check_stacks_changes_when_one_is_not_enough():
    est = estimate(LLAMA31_8B, replace(OURS, method="lora", batch_size=4, gradient_checkpointing=False))
    fits, change = fit_check(est, 11 * GIB)
    assert not fits and change is not None
    assert "--set train.gradient_checkpointing=true" in change and "--set method.kind=qlora" in change


def test_recommendation_follows_the_decision_framework():
    est = estimate_methods(LLAMA31_8B, OURS)
    assert recommend(est, 80 * GIB, data_rows=50).method == "prompting"
    assert recommend(est, 200 * GIB).method == "full"
    assert recommend(est, 40 * GIB).method == "lora"
    assert recommend(est, 12 * GIB).method == "qlora"
    tight = recommend(est, 10 * GIB)
    assert tight.method == "qlora" and "nothing fits" in tight.reason
    assert "--set data.max_length=1024" in tight.reason
    # 8 GB is too small for an 8B QLoRA here: peft keeps 4.2 GB of embeddings/lm_head in fp32.
    assert "smaller model" in recommend(est, 8 * GIB).reason
    assert recommend(est, None).method == "lora"


def test_correction_uses_the_median_ratio_of_past_runs():
    assert correction_factor([]) is None
    c = correction_factor([(100, 110), (100, 130), (100, 90), (0, 50)])
    assert (c.ratio, c.runs) == (1.1, 3)
    est = estimate(LLAMA31_8B, replace(OURS, method="qlora"))
    corrected = apply_correction(est, c)
    assert corrected.allocated_bytes == pytest.approx(1.1 * est.allocated_bytes, rel=1e-6)
    assert corrected.breakdown["cuda_context"] == est.breakdown["cuda_context"]


def test_local_folder_and_hf_cache_configs(tmp_path, monkeypatch):
    config = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
              "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
              "tie_word_embeddings": True}
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    arch = resolve_architecture(str(folder))
    assert param_count(arch) == 494_032_768 and "config.json" in arch.figures_from
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    snapshot = tmp_path / "hf" / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    assert cached_config("acme/tiny") == snapshot / "config.json"
    cached = resolve_architecture("acme/tiny")
    assert cached.num_hidden_layers == 1 and "cache" in cached.figures_from
    assert resolve_architecture("acme/absent") is None


# ------------------------------------------------------------------------------------------ the CLI

def test_cli_estimate_json_for_a_builtin_recipe(home):
    proc = tuner("estimate", "qlora-llama3.1-8b", "--json", check=True)
    doc = json.loads(proc.stdout)
    assert set(doc) == {"model", "methods", "gpu", "recommendation"}
    assert doc["model"]["params"] == 8_030_261_248 and "built-in table" in doc["model"]["figures_from"]
    assert set(doc["methods"]) == {"full", "lora", "qlora"}
    for entry in doc["methods"].values():
        assert entry["total_bytes"] == sum(entry["breakdown"].values())
        assert {"total_bytes", "trainable_params", "breakdown"} <= set(entry)
    qlora, lora = doc["methods"]["qlora"], doc["methods"]["lora"]
    assert qlora["trainable_params"] == 41_943_040                 # all-linear, r=16
    assert qlora["total_bytes"] < lora["total_bytes"] < doc["methods"]["full"]["total_bytes"]
    assert isinstance(doc["gpu"], dict) and "available" in doc["gpu"]
    assert doc["recommendation"]["method"] in ("full", "lora", "qlora", "prompting")


def test_cli_estimate_table_marks_the_recipes_method(home):
    proc = tuner("estimate", "smoke", "--set", "model.source=Qwen/Qwen2.5-7B-Instruct",
                 "--set", "method.kind=dora", env={"COLUMNS": "100"}, check=True)
    text = proc.stdout
    for row in ("weights", "gradients", "optimizer", "activations", "total", "trainable params"):
        assert row in text
    assert "DoRA *" in text and "QLoRA" in text and "Qwen2.5-7B" in text
    assert "Recommendation:" in text


def test_cli_estimate_unknown_model_says_what_to_do(home):
    proc = tuner("estimate", "smoke", "--set", "model.source=acme/not-a-model")
    assert proc.returncode == 1
    assert "not known offline" in proc.stderr and "local model folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_estimate_against_a_gpu_too_small_says_how_to_fit(home, monkeypatch, capsys):
    """With a 24 GiB GPU 20 GiB free, LoRA on an 8B model does not fit: the output names the --set that does."""
    from types import SimpleNamespace

    from tuner_tui.cli import main
    from tuner_tui.runtime import estimate as runtime_estimate

    gpu = SimpleNamespace(index=0, name="NVIDIA GeForce RTX 4090", memory_total=24 * GIB, memory_used=4 * GIB,
                          memory_free=20 * GIB)
    monkeypatch.setattr(runtime_estimate, "first_gpu", lambda: (gpu, None))
    lora = ["--set", "method.kind=lora", "--set", "method.quantization=null"]
    assert main(["estimate", "qlora-llama3.1-8b", *lora, "--set", "train.gradient_checkpointing=false"]) == 0
    text = capsys.readouterr().out
    assert "20.0 GiB free. Fits: none" in text
    assert ("To fit: tuner run qlora-llama3.1-8b --set method.kind=lora --set method.quantization=null --set "
            "train.gradient_checkpointing=false --set train.gradient_checkpointing=true --set train.batch_size=2 "
            "--set train.grad_accum=8") in text.replace("\n", " ")
    assert main(["estimate", "qlora-llama3.1-8b", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["gpu"]["available"] and doc["gpu"]["memory_free"] == 20 * GIB
    assert doc["methods"]["qlora"]["fits"] is True and doc["methods"]["full"]["fits"] is False
    assert doc["recommendation"]["method"] == "qlora"
