"""The training engine end to end, through the real CLI and real worker processes, on the tiny model.

Each test asserts what a user would notice: the run ends in the right state, the loss falls, the events tell
the story, a kill or a stop loses nothing."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, json_lines, tuner
from tuner_tui.domain.events import TERMINAL
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.store import RunStore

DEMO_DATA = REPO / "recipes" / "data" / "demo.jsonl"
LR = {"full": 1e-3, "lora": 5e-3, "dora": 5e-3, "qlora": 5e-3, "prefix": 5e-2}


def write_recipe(tmp_path: Path, kind: str = "lora", steps: int = 30, method: dict | None = None,
                 **train) -> Path:
    recipe = {
        "name": f"tiny-{kind}",
        "model": {"source": "tiny-random-llama"},
        "method": {"kind": kind},
        "data": {"path": str(DEMO_DATA), "format": "alpaca", "val_split": 0.05, "max_length": 128},
        "train": {"max_steps": steps, "batch_size": 8, "grad_accum": 1, "learning_rate": LR[kind],
                  "logging_steps": 2, "eval_steps": 10, "save": "steps", "save_steps": 10, "warmup_ratio": 0.0,
                  **train},
    }
    if kind in ("lora", "dora", "qlora"):
        recipe["method"]["lora"] = {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"}
    recipe["method"].update(method or {})
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def events_of(home, run_id: str) -> list[dict]:
    return read_events(home.run_dir(run_id) / "events.jsonl")


def losses(events: list[dict]) -> list[float]:
    return [e["loss"] for e in events if e["type"] == "log" and e.get("loss") is not None]


def wait_for(predicate, timeout: float = 120, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def run_json(recipe: Path, *extra: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict, dict]:
    proc = tuner("run", str(recipe), "--json", *extra, env=env)
    lines = json_lines(proc.stdout)
    assert lines, proc.stderr
    return proc, lines[0], lines[-1]


@pytest.mark.parametrize("kind", ["full", "lora", "dora", "qlora", "prefix"])
def test_each_method_trains_and_the_loss_falls(home, tmp_path, kind):
    proc, first, record = run_json(write_recipe(tmp_path, kind))
    assert proc.returncode == 0, proc.stderr
    assert set(first) == {"run_id", "run_dir"}
    assert record["status"] == "finished" and record["method"] == kind
    events = events_of(home, first["run_id"])
    curve = losses(events)
    assert sum(curve[-3:]) / 3 < sum(curve[:3]) / 3 - 0.03, curve
    started = next(e for e in events if e["type"] == "started")
    assert 0 < started["trainable_params"] <= started["total_params"]
    if kind == "full":
        assert started["trainable_params"] == started["total_params"]
        assert (home.run_dir(first["run_id"]) / "merged" / "config.json").is_file()
    else:
        assert started["trainable_params"] < started["total_params"] / 5
        assert (home.run_dir(first["run_id"]) / "adapter" / "adapter_config.json").is_file()
    if kind == "qlora":   # really 4-bit: bitsandbytes replaced the linear layers
        assert started["quantized_layers"].get("Linear4bit", 0) >= 14
    training = next(e for e in events if e["type"] == "phase" and e["phase"] == "training")
    # off unless the recipe asks (trl's SFTConfig defaults to on): as configured, and as read from the model's layers
    assert started["gradient_checkpointing"] is False and training["gradient_checkpointing"] is False
    assert "Trainable: " in (home.run_dir(first["run_id"]) / "worker.log").read_text()


def test_lora_on_an_8bit_base_with_gradient_checkpointing_and_early_stopping(home, tmp_path):
    recipe = write_recipe(tmp_path, "lora", steps=12, method={"quantization": {"bits": 8}},
                          gradient_checkpointing=True, early_stopping_patience=2, eval_steps=4)
    proc, first, record = run_json(recipe)
    assert proc.returncode == 0 and record["status"] == "finished", proc.stderr
    events = events_of(home, first["run_id"])
    started = next(e for e in events if e["type"] == "started")
    assert started["quantized_layers"].get("Linear8bitLt", 0) >= 14
    training = next(e for e in events if e["type"] == "phase" and e["phase"] == "training")
    assert started["gradient_checkpointing"] is True and training["gradient_checkpointing"] is True
    # early stopping saves at every evaluation so that the best checkpoint can be kept
    assert [e["step"] for e in events if e["type"] == "checkpoint"][:2] == [4, 8]


@pytest.mark.parametrize("kind", ["full", "lora", "dora", "qlora", "prefix"])
def test_gradient_checkpointing_reaches_the_model_for_every_method_but_prefix(home, tmp_path, kind):
    """lora and dora once trained without it although asked. The training phase event reads the model's layers once
    the Trainer has set it up. Prefix tuning cannot have it (its virtual tokens live in the KV cache that checkpointed
    layers drop), so the setting is reported as ignored and the run trains without it."""
    recipe, override = write_recipe(tmp_path, kind, steps=4), "train.gradient_checkpointing=true"
    warnings = [p.format() for p in load_recipe(recipe, [override]).warnings]
    assert any("train.gradient_checkpointing" in w and "KV cache" in w for w in warnings) is (kind == "prefix")
    proc, first, record = run_json(recipe, "--set", override)
    assert proc.returncode == 0 and record["status"] == "finished", proc.stderr
    events = events_of(home, first["run_id"])
    started = next(e for e in events if e["type"] == "started")
    training = next(e for e in events if e["type"] == "phase" and e["phase"] == "training")
    assert started["gradient_checkpointing"] is training["gradient_checkpointing"] is (kind != "prefix")
    assert losses(events) and all(math.isfinite(loss) for loss in losses(events))


def test_event_stream_is_complete_and_parseable(home, tmp_path):
    proc, first, _ = run_json(write_recipe(tmp_path, "lora", steps=20))
    assert proc.returncode == 0
    raw = (home.run_dir(first["run_id"]) / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in raw]          # every line is valid JSON
    assert all(e["v"] == 1 and isinstance(e["t"], float) for e in events)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "phase" and events[0]["phase"] == "loading"
    assert sum(k in TERMINAL for k in kinds) == 1 and kinds[-1] == "finished"
    for needed in ("started", "log", "memory", "checkpoint"):
        assert needed in kinds
    logs = [e for e in events if e["type"] == "log" and "loss" in e]
    assert {"step", "epoch", "loss", "learning_rate", "grad_norm", "tokens_per_s"} <= set(logs[-1])
    assert any("eval_loss" in e for e in events if e["type"] == "log")
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [10, 20]
    assert (home.run_dir(first["run_id"]).stat().st_mode & 0o777) == 0o700
    record = RunStore(home).get(first["run_id"])
    assert record["final"]["steps"] == 20 and record["final"]["best_eval_loss"] is not None
    # memory events name the phase they close, evaluation and saving included; the record's peak is their max
    memory = [e for e in events if e["type"] == "memory"]
    assert {"loading", "training", "evaluating", "saving"} <= {e["phase"] for e in memory}
    assert kinds[kinds.index("checkpoint") + 1] == "memory" and memory[-1]["phase"] == "saving"
    assert record["peak_memory"] == max(e.get("peak") or e["rss"] for e in memory)


def test_killing_the_attached_cli_leaves_the_run_to_finish(home, tmp_path):  # R1
    recipe = write_recipe(tmp_path, "lora", steps=40)
    cli = subprocess.Popen([sys.executable, "-m", "tuner_tui", "run", str(recipe), "--json"],
                           stdout=subprocess.PIPE, text=True, cwd=REPO)
    first = json.loads(cli.stdout.readline())
    wait_for(lambda: any(e["type"] == "log" for e in events_of(home, first["run_id"])))
    cli.send_signal(signal.SIGKILL)
    cli.wait()
    wait_for(lambda: any(e["type"] in TERMINAL for e in events_of(home, first["run_id"])), timeout=180)
    assert events_of(home, first["run_id"])[-1]["type"] == "finished"
    assert tuner("show", first["run_id"][:5], "--json", check=True).stdout.count('"finished"') >= 1


def test_a_worker_killed_with_sigkill_is_reported_crashed(home, tmp_path):  # R2
    proc, first, _ = run_json(write_recipe(tmp_path, "lora", steps=200), "--detach")
    run_id = first["run_id"]
    wait_for(lambda: any(e["type"] == "checkpoint" for e in events_of(home, run_id)))
    worker = RunStore(home).get(run_id)["worker_pid"]
    os.killpg(worker, signal.SIGKILL)                 # the worker (and its group); its supervisor sees it
    started = time.monotonic()
    record = wait_for(lambda: (r := json.loads(tuner("show", run_id, "--json").stdout))["status"] != "running" and r)
    assert record["status"] == "crashed" and "SIGKILL" in record["failure"]["message"]
    assert "resume" in record["failure"]["suggestion"] and "checkpoint-" in record["failure"]["suggestion"]
    assert events_of(home, run_id)[-1]["type"] == "crashed"          # the log tells the same story
    assert time.monotonic() - started < 30


def test_stop_then_resume_continues_at_the_checkpoint_with_the_same_schedule(home, tmp_path):  # R3
    recipe = write_recipe(tmp_path, "lora", steps=120, save_steps=1000, scheduler="linear")
    _, first, _ = run_json(recipe, "--detach")
    run_id = first["run_id"]
    wait_for(lambda: any(e["type"] == "log" and e["step"] >= 6 for e in events_of(home, run_id)))
    stopped = tuner("stop", run_id, "--json", check=True)
    assert json.loads(stopped.stdout)["status"] == "stopped"
    stop_event = events_of(home, run_id)[-1]
    assert stop_event["type"] == "stopped" and Path(stop_event["checkpoint"]).is_dir()
    at = stop_event["step"]
    assert 6 <= at < 120
    proc = tuner("resume", run_id, "--json")
    assert proc.returncode == 0, proc.stderr
    events = events_of(home, run_id)
    resumed = next(e for e in events if e["type"] == "resumed")
    assert resumed["from_step"] == at
    after = [e for e in events[events.index(resumed):] if e["type"] == "log" and "loss" in e]
    assert after[0]["step"] > at and events[-1]["type"] == "finished" and after[-1]["step"] == 120
    # The learning rate continues where the schedule was: same as an uninterrupted run at the same step.
    _, ref, _ = run_json(recipe)
    ref_lr = {e["step"]: e["learning_rate"] for e in events_of(home, ref["run_id"]) if e["type"] == "log"
              and "learning_rate" in e}
    for e in after[:3]:
        assert e["learning_rate"] == pytest.approx(ref_lr[e["step"]], rel=1e-6)


@pytest.mark.parametrize(("fault", "cause", "advice"), [
    ("oom", "oom", "--set train.batch_size=4 --set train.grad_accum=2 --set train.gradient_checkpointing=true"),
    ("disk_full", "disk_full", "free space"),
    ("nan", "nan_loss", "learning_rate"),
])
def test_failure_causes_are_named_with_a_fix(home, tmp_path, fault, cause, advice):
    proc, first, record = run_json(write_recipe(tmp_path, "lora", steps=30),
                                   env={"TUNER_TEST_FAULT": f"{fault}@4"})
    assert proc.returncode == 1
    assert record["status"] == "failed" and record["failure"]["cause"] == cause
    assert advice in record["failure"]["suggestion"]
    terminal = events_of(home, first["run_id"])[-1]
    assert terminal["type"] == "failed" and terminal["traceback_tail"]
    assert "Traceback" in (home.run_dir(first["run_id"]) / "worker.log").read_text()
    assert "Traceback" not in proc.stderr


def test_an_uncached_hub_model_is_refused_offline_before_any_worker_starts(home, tmp_path):
    # HF_HUB_OFFLINE=1 (the home fixture): the worker could never load it. Online: tests/test_hub_models.py.
    proc = tuner("run", str(write_recipe(tmp_path, "lora")), "--set", "model.source=no-such-org/no-such-model",
                 env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert proc.returncode == 1
    assert "model.source: no-such-org/no-such-model is a hub id that is not in the local cache" in proc.stderr
    assert "HF_HUB_OFFLINE=1 forbids downloading it" in proc.stderr
    assert RunStore(home).all() == []


def test_bad_data_is_refused_before_any_worker_starts(home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a"\n', encoding="utf-8")
    proc = tuner("run", str(write_recipe(tmp_path, "lora")), "--set", f"data.path={bad}")
    assert proc.returncode == 1
    assert f"{bad}:2" in proc.stderr and "not valid JSON" in proc.stderr
    assert not list(home.runs_dir.iterdir())


def test_merged_model_reloads_and_matches_the_adapter(home, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    proc, first, record = run_json(write_recipe(tmp_path, "lora", steps=10), "--set", "output.merge=true")
    assert proc.returncode == 0, proc.stderr
    run_dir = home.run_dir(first["run_id"])
    events = events_of(home, first["run_id"])
    assert any(e["type"] == "phase" and e["phase"] == "merging" for e in events)
    base_path = events[[e["type"] for e in events].index("started")]["model_path"]
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    merged = AutoModelForCausalLM.from_pretrained(run_dir / "merged").eval()
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), run_dir / "adapter").eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
    answers = json.loads(tuner("try", first["run_id"], "--prompt", "Name a planet.", "--max-new-tokens", "8",
                               "--json", check=True).stdout)
    assert set(answers) >= {"base", "tuned", "prompt"} and answers["formatted_prompt"].startswith("### Instruction:")


def test_two_cpu_ranks_under_accelerate_give_one_event_stream(home, tmp_path):
    proc, first, record = run_json(write_recipe(tmp_path, "lora", steps=6), "--set", "launch.num_processes=2")
    assert proc.returncode == 0, proc.stderr + (home.run_dir(first["run_id"]) / "worker.log").read_text()[-3000:]
    events = events_of(home, first["run_id"])
    started = [e for e in events if e["type"] == "started"]
    assert len(started) == 1 and started[0]["world_size"] == 2
    assert sum(e["type"] in TERMINAL for e in events) == 1 and record["status"] == "finished"


def test_a_data_folder_goes_through_datasets_and_tokens_never_reach_disk(home, tmp_path):
    """The hub code path (`datasets.load_dataset`) exercised offline on a local folder; HF_TOKEN stays in env."""
    folder = tmp_path / "my_set"
    folder.mkdir()
    (folder / "train.jsonl").write_text(DEMO_DATA.read_text(encoding="utf-8"), encoding="utf-8")
    secret = "hf_tunerTestSecret0123456789"
    proc, first, record = run_json(write_recipe(tmp_path, "lora", steps=4), "--set", f"data.path={folder}",
                                   env={"HF_TOKEN": secret})
    assert proc.returncode == 0 and record["status"] == "finished", proc.stderr
    started = next(e for e in events_of(home, first["run_id"]) if e["type"] == "started")
    assert started["dataset_rows"] == 410
    for path in [home.runs_db, *home.run_dir(first["run_id"]).rglob("*")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_ctrl_c_detaches_and_says_how_to_reattach(home, tmp_path):
    # Long enough (thousands of tiny steps) that the run is certainly still going when Ctrl-C arrives.
    recipe = write_recipe(tmp_path, "lora", steps=5000, save_steps=100000, eval_steps=100000)
    cli = subprocess.Popen([sys.executable, "-m", "tuner_tui", "run", str(recipe)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    run_id = wait_for(lambda: next(iter(home.runs_dir.iterdir()), None)).name
    wait_for(lambda: any(e["type"] == "log" for e in events_of(home, run_id)))
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 0
    assert f"tuner logs -f {run_id}" in err and f"tuner stop {run_id}" in err and "goes on" in err
    seen = max(e["step"] for e in events_of(home, run_id) if e["type"] == "log")
    wait_for(lambda: max(e["step"] for e in events_of(home, run_id) if e["type"] == "log") > seen + 10)
    assert json.loads(tuner("stop", run_id, "--json", check=True).stdout)["status"] == "stopped"
