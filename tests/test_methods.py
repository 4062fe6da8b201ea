"""Methods are declared once (domain/methods.py) and IA3 proves it: added through the registry, it validates,
trains the smoke recipe with a falling loss, merges, and is estimated with its own trainable-parameter count.
A kind the registry does not declare is refused everywhere; nothing falls back to LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, json_lines, tuner
from tuner_tui.domain.architectures import lookup
from tuner_tui.domain.methods import KINDS, METHODS, UnknownMethod, method
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe_loader import load_recipe, load_recipe_text
from tuner_tui.domain.vram_estimate import EstimateSettings, estimate, settings_from_recipe
from tuner_tui.runtime.event_log import read_events

SMOKE = REPO / "recipes" / "smoke.yaml"
IA3 = ["method.kind=ia3"]
# The tiny random Llama is close to uniform, and 384 scaling vectors move it slowly: IA3 needs a rate well above
# its usual ~1e-2 to show a falling loss in the smoke recipe's 20 steps (measured: 1e-2 -0.01, 5e-2 -0.03,
# 2e-1 -0.08 between the first and last three logged losses).
IA3_SMOKE_LR = "train.learning_rate=0.2"

RECIPE = """\
name: m
model: {source: tiny-random-llama}
method:
  kind: ia3
%s
data: {path: data.jsonl}
"""


def problems_of(text: str, overrides: list[str] | None = None) -> list[str]:
    with pytest.raises(ProblemsFound) as caught:
        load_recipe_text(text, "r.yaml", overrides)
    return [p.format() for p in caught.value.problems]


# ----------------------------------------------------------------------------------------------- the registry

def test_every_method_kind_has_exactly_one_peft_builder_and_each_builds_what_the_registry_names():
    from tuner_tui.training.peft_builders import BUILDERS, peft_config

    assert set(BUILDERS) == set(METHODS), "registry kinds and PEFT builders differ"
    assert len(BUILDERS) == len(set(BUILDERS))
    for kind in KINDS:
        recipe = load_recipe(SMOKE, [f"method.kind={kind}"]).recipe
        config = peft_config(recipe)
        assert (type(config).__name__ if config is not None else None) == method(kind).peft_config, kind
    dora = peft_config(load_recipe(SMOKE, ["method.kind=dora"]).recipe)
    assert dora.use_dora and not peft_config(load_recipe(SMOKE, ["method.kind=lora"]).recipe).use_dora


def test_an_unknown_kind_can_never_become_lora():
    """Past validation (a record written by a newer tuner, a hand-edited resolved recipe): the loader, the
    estimator and the failure advice all refuse it by name instead of treating it as LoRA."""
    from tuner_tui.training.failures import oom_fix
    from tuner_tui.training.peft_builders import peft_config

    with pytest.raises(UnknownMethod, match="unknown method kind 'lorra'.*did you mean 'lora'"):
        method("lorra")
    recipe = load_recipe(SMOKE).recipe
    recipe.method.kind = "ia4"                      # pydantic does not re-validate assignments
    for use in (peft_config, oom_fix, settings_from_recipe, lambda r: r.quantization,
                lambda r: r.activation_checkpointing):
        with pytest.raises(UnknownMethod, match="'ia4'.*did you mean 'ia3'"):
            use(recipe)
    with pytest.raises(UnknownMethod):
        estimate(lookup("tiny-random-llama"), EstimateSettings(method="ia4"))


def test_a_recipe_with_an_unknown_kind_is_refused_with_a_did_you_mean(home, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text(encoding="utf-8").replace("kind: lora", "kind: ia4")
                   .replace("data/demo.jsonl", str(REPO / "recipes" / "data" / "demo.jsonl")), encoding="utf-8")
    proc = tuner("validate", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{bad}:10:9: error: method.kind: 'ia4' is not allowed" in proc.stderr
    assert "one of full, lora, qlora, dora, prefix, ia3" in proc.stderr and "did you mean 'ia3'?" in proc.stderr
    run = tuner("run", "smoke", "--set", "method.kind=IA3")
    assert run.returncode == 1 and "did you mean 'ia3'?" in run.stderr and "Traceback" not in run.stderr
    assert not list(home.runs_dir.iterdir()), "a refused recipe must not create a run"


def test_the_cli_lists_methods_from_the_registry():
    from tuner_tui.cli import build_parser

    assert build_parser().parse_args(["ls", "--method", "ia3"]).method == "ia3"
    schema = json.loads((REPO / "recipes" / "recipe.schema.json").read_text(encoding="utf-8"))
    kind = schema["$defs"]["MethodSpec"]["properties"]["kind"]
    assert kind["enum"] == list(KINDS) and "ia3: learned scaling vectors" in kind["description"]


# ----------------------------------------------------------------------------------------------- IA3 recipes

def test_method_kind_ia3_validates_with_peft_defaults_for_llama():
    loaded = load_recipe(SMOKE, IA3)
    recipe = loaded.recipe
    assert recipe.method.kind == "ia3" and recipe.method.ia3 is None
    assert recipe.ia3.target_modules == ["k_proj", "v_proj", "down_proj"]      # peft's own llama defaults
    assert recipe.ia3.feedforward_modules == ["down_proj"]
    assert recipe.quantization is None and recipe.activation_checkpointing is False
    # smoke carries a lora block: ignored under ia3, said so, as for the other methods
    assert [p.key for p in loaded.warnings] == ["method.lora"]
    assert "ignored: kind is ia3, lora settings apply to lora, qlora and dora" in loaded.warnings[0].format()
    proc = tuner("validate", "smoke", "--set", "method.kind=ia3")
    assert proc.returncode == 0 and "ok" in proc.stdout and "ia3 on tiny-random-llama" in proc.stdout


def test_ia3_settings_are_validated_like_the_others():
    own = "  ia3: {target_modules: [q_proj, down_proj], feedforward_modules: [down_proj]}"
    assert load_recipe_text(RECIPE % own, "r.yaml").recipe.ia3.target_modules == ["q_proj", "down_proj"]
    (typo,) = problems_of(RECIPE % "  ia3: {target_module: [q_proj]}")
    assert "r.yaml:5" in typo and "unknown key 'target_module'" in typo and "did you mean 'target_modules'?" in typo
    (stray,) = problems_of(RECIPE % "  ia3: {target_modules: [k_proj, v_proj], feedforward_modules: [down_proj]}")
    assert "method.ia3" in stray and "feedforward_modules ['down_proj'] are not in target_modules" in stray
    (empty,) = problems_of(RECIPE % "  ia3: {target_modules: []}")
    assert "target_modules is empty" in empty
    # an ia3 block under another kind is a warning, not an error, so --set method.kind=... works on any recipe
    loaded = load_recipe_text(RECIPE % "  ia3: {target_modules: [v_proj], feedforward_modules: []}", "r.yaml",
                              ["method.kind=lora"])
    assert any(p.key == "method.ia3" and "ia3 settings apply to ia3 only" in p.format() for p in loaded.warnings)
    # merging is allowed (IA3 folds into the weights), unlike prefix tuning
    assert load_recipe_text(RECIPE % "", "r.yaml", ["output.merge=true"]).recipe.output.merge


def test_ia3_estimated_trainable_count_equals_peft_on_the_tiny_model(home):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from tuner_tui.training.model_sources import materialize
    from tuner_tui.training.peft_builders import peft_config

    path = materialize("tiny-random-llama", home)
    arch = lookup("tiny-random-llama")
    custom = ["method.ia3.target_modules=[q_proj, o_proj, gate_proj, up_proj, down_proj]",
              "method.ia3.feedforward_modules=[up_proj, down_proj]"]
    counted = {}
    for name, overrides in (("defaults", IA3), ("custom", IA3 + custom)):
        recipe = load_recipe(SMOKE, overrides).recipe
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(path), peft_config(recipe))
        real = sum(p.numel() for p in model.parameters() if p.requires_grad)
        counted[name] = estimate(arch, settings_from_recipe(recipe)).trainable_params
        assert counted[name] == real, overrides
    # defaults: k_proj (32 out) + v_proj (32 out) + down_proj (128 in, feed-forward) per layer, 2 layers;
    # custom: q_proj 64 + o_proj 64 + gate_proj 128 out + up_proj 64 in + down_proj 128 in
    assert counted == {"defaults": 2 * (32 + 32 + 128), "custom": 2 * (64 + 64 + 128 + 64 + 128)}

    doc = json.loads(tuner("estimate", "smoke", "--set", "method.kind=ia3", "--json", check=True).stdout)
    assert list(doc["methods"]) == ["full", "lora", "qlora", "ia3"]
    assert doc["methods"]["ia3"]["trainable_params"] == 384 != doc["methods"]["lora"]["trainable_params"]
    table = tuner("estimate", "smoke", "--set", "method.kind=ia3", check=True).stdout
    assert "IA3 *" in table and "384" in table


def test_ia3_out_of_memory_advice_keeps_the_method(tmp_path):
    from tuner_tui.training.failures import oom_fix

    fix = oom_fix(load_recipe(SMOKE, IA3).recipe)
    assert fix == {"train.batch_size": 4, "train.grad_accum": 2, "train.gradient_checkpointing": True}
    assert oom_fix(load_recipe(SMOKE).recipe)["method.kind"] == "qlora"          # LoRA still gets QLoRA


# ----------------------------------------------------------------------------------------------- IA3 trains

@pytest.mark.slow
def test_smoke_recipe_trains_with_ia3_the_loss_falls_and_it_merges(home):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    proc = tuner("run", "smoke", "--set", "method.kind=ia3", "--set", IA3_SMOKE_LR, "--set", "output.merge=true",
                 "--json")
    assert proc.returncode == 0, proc.stderr
    first, record = json_lines(proc.stdout)[0], json_lines(proc.stdout)[-1]
    assert record["status"] == "finished" and record["method"] == "ia3"
    run_dir = Path(first["run_dir"])
    events = read_events(run_dir / "events.jsonl")
    curve = [e["loss"] for e in events if e["type"] == "log" and e.get("loss") is not None]
    assert sum(curve[-3:]) / 3 < sum(curve[:3]) / 3 - 0.03, curve
    evals = [e["eval_loss"] for e in events if e.get("eval_loss") is not None]
    assert evals[-1] < evals[0], evals
    started = next(e for e in events if e["type"] == "started")
    assert started["trainable_params"] == 384                     # what `tuner estimate` says
    adapter = json.loads((run_dir / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["peft_type"] == "IA3" and set(adapter["feedforward_modules"]) == {"down_proj"}
    assert any(e["type"] == "phase" and e["phase"] == "merging" for e in events)

    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    merged = AutoModelForCausalLM.from_pretrained(run_dir / "merged").eval()
    base = AutoModelForCausalLM.from_pretrained(started["model_path"])
    adapted = PeftModel.from_pretrained(base, run_dir / "adapter").eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
        with adapted.disable_adapter():
            assert not torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4), "nothing was learned"

    # `tuner merge` takes the same path for a run that did not merge at the end
    for f in (run_dir / "merged").iterdir():
        f.unlink()
    (run_dir / "merged").rmdir()
    again = json.loads(tuner("merge", first["run_id"], "--json", check=True).stdout)
    remerged = AutoModelForCausalLM.from_pretrained(again["merged"]).eval()
    with torch.no_grad():
        assert torch.allclose(remerged(ids).logits, merged(ids).logits, atol=1e-5)


@pytest.mark.slow
def test_ia3_takes_gradient_checkpointing_as_the_registry_says(home):
    """IA3 is declared checkpointable: the setting reaches the model's layers (prefix tuning's cannot)."""
    assert method("ia3").checkpointable and not method("prefix").checkpointable
    proc = tuner("run", "smoke", "--set", "method.kind=ia3", "--set", IA3_SMOKE_LR, "--set", "train.max_steps=4",
                 "--set", "train.gradient_checkpointing=true", "--json")
    assert proc.returncode == 0, proc.stderr
    events = read_events(Path(json_lines(proc.stdout)[0]["run_dir"]) / "events.jsonl")
    training = next(e for e in events if e["type"] == "phase" and e["phase"] == "training")
    assert training["gradient_checkpointing"] is True and events[-1]["type"] == "finished"
